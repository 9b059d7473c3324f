//! RFC 7644 §3.5.2: modifying with PATCH (add §3.5.2.1, remove §3.5.2.2, replace
//! §3.5.2.3). State is checked with a fresh GET, so a 200 and a 204 are judged alike.

use std::time::Duration;

use serde_json::{json, Value};

use super::{
    attr, email_of_type, id_of, member_ids, patch_body, sorted, want_error, Want, ENTERPRISE,
};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_answers_200_with_the_resource_or_204),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_operations_are_atomic),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_operations_apply_in_order),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_read_only_attribute_is_400_mutability),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_malformed_path_is_400_invalid_path),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_unknown_resource_is_404),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_primary_true_demotes_the_other_values),
        case!(Rfc, "rfc7644-3.5.2", [Patch], rfc7644_3_5_2_concurrent_member_adds_are_all_kept),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_sets_a_single_valued_attribute),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_without_path_merges_attributes),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_appends_to_a_multi_valued_attribute),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_merges_into_a_complex_attribute),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_members),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_of_an_existing_member_changes_nothing),
        case!(Rfc, "rfc7644-3.5.2.1", [Patch], rfc7644_3_5_2_1_add_without_value_is_400),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_without_path_is_400_no_target),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_a_single_valued_attribute),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_a_sub_attribute),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_values_matched_by_a_filter),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_member_by_filter),
        case!(Rfc, "rfc7644-3.5.2.2", [Patch], rfc7644_3_5_2_2_remove_all_members),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_a_single_valued_attribute),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_without_path),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_a_multi_valued_attribute),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_a_sub_attribute_through_a_filter),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_a_sub_attribute_keeps_its_siblings),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_of_an_unset_attribute_adds_it),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_an_extension_attribute_by_urn),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_members_sets_the_list),
        case!(Rfc, "rfc7644-3.5.2.3", [Patch], rfc7644_3_5_2_3_replace_through_an_unmatched_filter_is_400_no_target),
    ]
}

/// A fresh user with a work and a home email (work is primary).
fn user_with_two_emails(ctx: &mut Ctx) -> Result<(String, Value), Verdict> {
    let name = ctx.user_name();
    let mut body = super::user_body(&name);
    body["emails"] = json!([
        {"value": name, "type": "work", "primary": true},
        {"value": format!("home-{name}"), "type": "home"}
    ]);
    let user = ctx.create_user(&body)?;
    Ok((format!("/Users/{}", id_of(&user)), user))
}

fn new_user_path(ctx: &mut Ctx) -> Result<String, Verdict> {
    Ok(format!("/Users/{}", id_of(&ctx.new_user()?)))
}

/// "the server either MUST return a 200 OK response code and the entire resource ... or
/// MAY return HTTP status code 204 (No Content)".
fn rfc7644_3_5_2_answers_200_with_the_resource_or_204(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let ops = json!([{"op": "replace", "path": "displayName", "value": "Patched"}]);
    let r = ctx
        .http
        .patch(&path, &patch_body(ops))?
        .want_any(&[200, 204], "PATCH")?;
    if r.status == 200 {
        ensure!(
            attr(&r.body, "displayName") == "Patched" && !r.body["id"].is_null(),
            "200 without the changed resource: {}",
            r.snippet()
        );
    } else {
        ensure!(r.text.trim().is_empty(), "204 with a body: {}", r.snippet());
    }
    Ok(())
}

/// "A patch request, regardless of the number of operations, SHALL be treated as
/// atomic. If a single operation encounters an error condition, the original SCIM
/// resource MUST be restored."
fn rfc7644_3_5_2_operations_are_atomic(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let ops = json!([
        {"op": "replace", "path": "displayName", "value": "Half Applied"},
        {"op": "replace", "path": "emails[type eq \"work\"", "value": "x@example.com"}
    ]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    ensure!(
        r.status == 400,
        "a PATCH with a malformed second operation answered {}",
        r.status
    );
    let after = ctx.fetch(&path)?;
    ensure!(
        attr(&after, "displayName") == "Ada Lovelace",
        "the first operation stuck although the request failed: displayName is {}",
        attr(&after, "displayName")
    );
    Ok(())
}

/// Operations apply in sequence: each sees the result of the one before.
fn rfc7644_3_5_2_operations_apply_in_order(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([
            {"op": "add", "path": "nickName", "value": "first"},
            {"op": "replace", "path": "nickName", "value": "second"},
            {"op": "add", "path": "title", "value": "Temporary"},
            {"op": "remove", "path": "title"}
        ]),
    )?;
    ensure!(
        attr(&after, "nickName") == "second",
        "nickName is {}",
        attr(&after, "nickName")
    );
    ensure!(
        attr(&after, "title").is_null(),
        "title is {}",
        attr(&after, "title")
    );
    Ok(())
}

/// "a client MUST NOT modify an attribute that has mutability readOnly ... An operation
/// that is not compatible with an attribute's mutability ... SHALL return the appropriate
/// HTTP response status code" (§3.12: 400 `mutability`).
fn rfc7644_3_5_2_read_only_attribute_is_400_mutability(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let ops = json!([{"op": "replace", "path": "id", "value": uuid::Uuid::new_v4().to_string()}]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    want_error(&r, 400, Some("mutability"), "PATCH replace id")
}

/// §3.12 `invalidPath`: "The path attribute was invalid or malformed".
fn rfc7644_3_5_2_malformed_path_is_400_invalid_path(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let ops = json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    want_error(
        &r,
        400,
        Some("invalidPath"),
        "PATCH with path emails[type eq \"work\"",
    )
}

fn rfc7644_3_5_2_unknown_resource_is_404(ctx: &mut Ctx) -> CaseResult {
    let ops = json!([{"op": "replace", "path": "displayName", "value": "x"}]);
    let r = ctx.http.patch(
        &format!("/Users/{}", uuid::Uuid::new_v4()),
        &patch_body(ops),
    )?;
    want_error(&r, 404, None, "PATCH /Users/<unknown id>")
}

/// "a PATCH operation that sets a value's primary sub-attribute to true SHALL cause the
/// server to automatically set primary to false for any other values in the array."
fn rfc7644_3_5_2_primary_true_demotes_the_other_values(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "emails",
                "value": [{"value": "second@example.com", "type": "home", "primary": true}]}]),
    )?;
    let emails = attr(&after, "emails")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    ensure!(
        primaries.len() == 1 && primaries[0]["value"] == "second@example.com",
        "after adding a primary email, the primaries are {primaries:?}"
    );
    Ok(())
}

fn rfc7644_3_5_2_1_add_sets_a_single_valued_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "nickName", "value": "Countess"}]),
    )?;
    ensure!(
        attr(&after, "nickName") == "Countess",
        "nickName is {}",
        attr(&after, "nickName")
    );
    Ok(())
}

/// "If omitted, the target location is assumed to be the resource itself. The value
/// parameter contains a set of attributes to be added to the resource."
fn rfc7644_3_5_2_1_add_without_path_merges_attributes(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "value": {"nickName": "Countess", "title": "Analyst"}}]),
    )?;
    ensure!(
        attr(&after, "nickName") == "Countess",
        "nickName is {}",
        attr(&after, "nickName")
    );
    ensure!(
        attr(&after, "title") == "Analyst",
        "title is {}",
        attr(&after, "title")
    );
    ensure!(
        attr(&after, "name")["givenName"] == "Ada",
        "name was lost: {}",
        attr(&after, "name")
    );
    Ok(())
}

/// "If the target location specifies a multi-valued attribute, a new value is added".
fn rfc7644_3_5_2_1_add_appends_to_a_multi_valued_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "emails", "value": [{"value": "home@example.com", "type": "home"}]}]),
    )?;
    ensure!(
        email_of_type(&after, "home") == Some("home@example.com"),
        "home email missing: {}",
        attr(&after, "emails")
    );
    ensure!(
        email_of_type(&after, "work").is_some(),
        "work email lost: {}",
        attr(&after, "emails")
    );
    Ok(())
}

/// "If the target location specifies a complex attribute, a set of sub-attributes SHALL
/// be specified": the others stay.
fn rfc7644_3_5_2_1_add_merges_into_a_complex_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "name", "value": {"middleName": "King"}}]),
    )?;
    let name = attr(&after, "name");
    ensure!(
        name["middleName"] == "King",
        "name.middleName missing: {name}"
    );
    ensure!(name["givenName"] == "Ada", "name.givenName lost: {name}");
    Ok(())
}

fn rfc7644_3_5_2_1_add_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[])?));
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
    )?;
    ensure!(
        member_ids(&after) == sorted(&[&a, &b]),
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// "If the target location already contains the value specified, no changes SHOULD be
/// made ... this operation SHALL NOT change the modify timestamp of the resource."
fn rfc7644_3_5_2_1_add_of_an_existing_member_changes_nothing(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a])?));
    let before = ctx.fetch(&path)?;
    // Past a one-second clock tick, so a server that does bump the timestamp shows it.
    std::thread::sleep(Duration::from_millis(1100));
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    )?;
    ensure!(
        member_ids(&after) == vec![a],
        "members are {:?}",
        member_ids(&after)
    );
    ensure!(
        after["meta"]["lastModified"] == before["meta"]["lastModified"],
        "meta.lastModified moved from {} to {}",
        before["meta"]["lastModified"],
        after["meta"]["lastModified"]
    );
    ensure!(
        after["meta"]["version"] == before["meta"]["version"],
        "meta.version moved from {} to {}",
        before["meta"]["version"],
        after["meta"]["version"]
    );
    Ok(())
}

/// "The operation MUST contain a value member".
fn rfc7644_3_5_2_1_add_without_value_is_400(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let r = ctx.http.patch(
        &path,
        &patch_body(json!([{"op": "add", "path": "nickName"}])),
    )?;
    want_error(&r, 400, None, "PATCH add without value")
}

/// "If path is unspecified, the operation fails with HTTP status code 400 and a scimType
/// error code of noTarget."
fn rfc7644_3_5_2_2_remove_without_path_is_400_no_target(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let r = ctx
        .http
        .patch(&path, &patch_body(json!([{"op": "remove"}])))?;
    want_error(&r, 400, Some("noTarget"), "PATCH remove without path")
}

fn rfc7644_3_5_2_2_remove_a_single_valued_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "nickName", "value": "Countess"}]),
    )?;
    let after = ctx.patch_ok(&path, json!([{"op": "remove", "path": "nickName"}]))?;
    ensure!(
        attr(&after, "nickName").is_null(),
        "nickName is still {}",
        attr(&after, "nickName")
    );
    Ok(())
}

fn rfc7644_3_5_2_2_remove_a_sub_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(&path, json!([{"op": "remove", "path": "name.givenName"}]))?;
    let name = attr(&after, "name");
    ensure!(
        name["givenName"].is_null(),
        "name.givenName is still {}",
        name["givenName"]
    );
    ensure!(
        name["familyName"] == "Lovelace",
        "name.familyName lost: {name}"
    );
    Ok(())
}

/// "If the target location is a multi-valued attribute and a complex filter is
/// specified comparing a value, the values matched by the filter are removed."
fn rfc7644_3_5_2_2_remove_values_matched_by_a_filter(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = user_with_two_emails(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    )?;
    ensure!(
        email_of_type(&after, "home").is_none(),
        "home email still there: {}",
        attr(&after, "emails")
    );
    ensure!(
        email_of_type(&after, "work").is_some(),
        "work email removed too: {}",
        attr(&after, "emails")
    );
    Ok(())
}

fn rfc7644_3_5_2_2_remove_member_by_filter(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a, &b])?));
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    )?;
    ensure!(
        member_ids(&after) == vec![b],
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// "If the target location is a multi-valued attribute and no filter is specified, the
/// attribute and all values are removed."
fn rfc7644_3_5_2_2_remove_all_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a, &b])?));
    let after = ctx.patch_ok(&path, json!([{"op": "remove", "path": "members"}]))?;
    ensure!(
        member_ids(&after).is_empty(),
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

fn rfc7644_3_5_2_3_replace_a_single_valued_attribute(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "displayName", "value": "A. A. Lovelace"}]),
    )?;
    ensure!(
        attr(&after, "displayName") == "A. A. Lovelace",
        "displayName is {}",
        attr(&after, "displayName")
    );
    Ok(())
}

/// Without a path, "the value parameter contains a set of attributes to be replaced".
fn rfc7644_3_5_2_3_replace_without_path(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "value": {"displayName": "Countess", "nickName": "Ada"}}]),
    )?;
    ensure!(
        attr(&after, "displayName") == "Countess",
        "displayName is {}",
        attr(&after, "displayName")
    );
    ensure!(
        attr(&after, "nickName") == "Ada",
        "nickName is {}",
        attr(&after, "nickName")
    );
    ensure!(
        attr(&after, "name")["familyName"] == "Lovelace",
        "name was lost: {}",
        attr(&after, "name")
    );
    Ok(())
}

/// "If the target location is a multi-valued attribute and no filter is specified, the
/// attribute and all values are replaced."
fn rfc7644_3_5_2_3_replace_a_multi_valued_attribute(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = user_with_two_emails(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com", "type": "other"}]}]),
    )?;
    let emails = attr(&after, "emails")
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        emails.len() == 1 && emails[0]["value"] == "only@example.com",
        "emails are {}",
        attr(&after, "emails")
    );
    Ok(())
}

/// "the matching sub-attribute of all matching records is replaced" (and only those).
fn rfc7644_3_5_2_3_replace_a_sub_attribute_through_a_filter(ctx: &mut Ctx) -> CaseResult {
    let (path, user) = user_with_two_emails(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new-work@example.com"}]),
    )?;
    ensure!(
        email_of_type(&after, "work") == Some("new-work@example.com"),
        "emails are {}",
        attr(&after, "emails")
    );
    ensure!(
        email_of_type(&after, "home") == email_of_type(&user, "home"),
        "the home email changed too: {}",
        attr(&after, "emails")
    );
    Ok(())
}

fn rfc7644_3_5_2_3_replace_a_sub_attribute_keeps_its_siblings(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "name.familyName", "value": "King"}]),
    )?;
    let name = attr(&after, "name");
    ensure!(
        name["familyName"] == "King",
        "name.familyName is {}",
        name["familyName"]
    );
    ensure!(name["givenName"] == "Ada", "name.givenName lost: {name}");
    Ok(())
}

/// "If the target location path specifies an attribute that does not exist, the service
/// provider SHALL treat the operation as an add."
fn rfc7644_3_5_2_3_replace_of_an_unset_attribute_adds_it(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "nickName", "value": "Countess"}]),
    )?;
    ensure!(
        attr(&after, "nickName") == "Countess",
        "nickName is {}",
        attr(&after, "nickName")
    );
    Ok(())
}

/// §3.10: an extension attribute is named by its schema URN, then `:` and its name.
fn rfc7644_3_5_2_3_replace_an_extension_attribute_by_urn(ctx: &mut Ctx) -> CaseResult {
    let path = new_user_path(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Engines"}]),
    )?;
    let department = &attr(&after, ENTERPRISE)["department"];
    ensure!(
        department == "Engines",
        "{ENTERPRISE}:department is {department}"
    );
    Ok(())
}

fn rfc7644_3_5_2_3_replace_members_sets_the_list(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a])?));
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "members", "value": [{"value": b}]}]),
    )?;
    ensure!(
        member_ids(&after) == vec![b],
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// "If the target location is a multi-valued attribute for which a value selection
/// filter ("valuePath") has been supplied and no record match was made, the service
/// provider SHALL indicate failure by returning HTTP status code 400 and a scimType
/// error code of noTarget." Some servers create the value instead, to tolerate clients
/// that replace values they never added; that is a deviation, and this case says so.
fn rfc7644_3_5_2_3_replace_through_an_unmatched_filter_is_400_no_target(
    ctx: &mut Ctx,
) -> CaseResult {
    let path = new_user_path(ctx)?;
    let ops = json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "home@example.com"}]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    want_error(
        &r,
        400,
        Some("noTarget"),
        "PATCH replace emails[type eq \"home\"].value on a user without a home email",
    )
}

/// Every PATCH that answered 2xx took effect, even when several hit one group at once
/// (Entra and Okta push in parallel). A read-modify-write of the member list loses some.
fn rfc7644_3_5_2_concurrent_member_adds_are_all_kept(ctx: &mut Ctx) -> CaseResult {
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(id_of(&ctx.new_user()?));
    }
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[])?));
    let http = &ctx.http;
    let answers: Vec<Result<u16, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = users
            .iter()
            .map(|u| {
                let ops = json!([{"op": "add", "path": "members", "value": [{"value": u}]}]);
                let path = &path;
                s.spawn(move || http.patch(path, &patch_body(ops)).map(|r| r.status))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    let mut kept = Vec::new();
    for (user, answer) in users.iter().zip(answers) {
        match answer? {
            200 | 204 => kept.push(user.as_str()),
            // A server may refuse a concurrent change (409, 412, 503); it must say so.
            s if (400..600).contains(&s) => {}
            s => return crate::runner::fail(format!("a concurrent PATCH answered {s}")),
        }
    }
    let after = ctx.fetch(&path)?;
    let missing: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|u| !member_ids(&after).iter().any(|m| m == u))
        .collect();
    ensure!(
        missing.is_empty(),
        "{} of {} concurrent adds answered 2xx but are not members: {missing:?}",
        missing.len(),
        kept.len()
    );
    ensure!(!kept.is_empty(), "no concurrent add succeeded");
    Ok(())
}
