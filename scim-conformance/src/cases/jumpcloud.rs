//! The JumpCloud lifecycle (`shared/research/jumpcloud.md` §2 and §4): Test Connection,
//! look-up, create with the captured body A, full and minimal PUTs (B, C), deactivation
//! by PUT, the repeated activation test, and group management by PATCH. Bodies A–C are
//! real captures; only the names and ids are made unique per run.

use serde_json::{json, Value};

use super::rfc7644_3_4::check_envelope;
use super::{
    attr, email_of_type, has_string, id_of, member_ids, sorted, Want, ENTERPRISE, GROUP, USER,
};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::JumpCloud, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(JumpCloud, "jumpcloud", [], jumpcloud_test_connection_lists_users),
        case!(JumpCloud, "jumpcloud", [Filter], jumpcloud_lookup_of_an_unknown_user_is_an_empty_list),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_create_with_captured_body_a),
        case!(JumpCloud, "jumpcloud", [Filter], jumpcloud_lookup_finds_the_created_user),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_minimal_put_c_with_echoed_id_and_null_emails),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_minimal_put_c_keeps_external_id_and_emails),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_full_put_b_with_empty_lists_and_nested_extension),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_deactivate_and_reactivate_by_full_put),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_activation_test_repeats_create_update_delete),
        case!(JumpCloud, "jumpcloud", [Filter], jumpcloud_group_takeover_lookup_then_create),
        case!(JumpCloud, "jumpcloud", [Patch], jumpcloud_group_add_members_value_list_repeated),
        case!(JumpCloud, "jumpcloud", [Patch], jumpcloud_group_remove_members_with_value_list),
        case!(JumpCloud, "jumpcloud", [Patch], jumpcloud_group_remove_member_by_filter_path),
        case!(JumpCloud, "jumpcloud", [Patch], jumpcloud_group_rename_by_patch),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_group_rename_by_put_with_members),
        case!(JumpCloud, "jumpcloud", [], jumpcloud_group_delete_keeps_its_users),
    ]
}

/// A JumpCloud object id: 24 hex digits.
fn object_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

/// Body A: the test user JumpCloud creates on Activate (placeholder values included).
fn body_a(user_name: &str, external_id: &str) -> Value {
    json!({
        "active": true,
        "addresses": [{"country": "US", "locality": "locality", "postalCode": "80027",
                       "primary": true, "region": "region",
                       "streetAddress": "street-address", "type": "work"}],
        "displayName": "displayname",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "externalId": external_id,
        "locale": "en-US",
        "name": {"familyName": "lastname", "givenName": "firstname"},
        "phoneNumbers": [{"primary": true, "type": "work", "value": "tel:+1-555-555-5555"}],
        "preferredLanguage": "en-US",
        "schemas": [USER, ENTERPRISE],
        "userName": user_name
    })
}

/// Body B: a full attribute update, with our id echoed, empty lists and the enterprise
/// extension nested under its URN.
fn body_b(id: &str, user_name: &str, email: &str, external_id: &str, active: bool) -> Value {
    json!({
        "active": active,
        "addresses": [],
        "displayName": "John Doe",
        "emails": [{"primary": true, "type": "work", "value": email}],
        "externalId": external_id,
        "id": id,
        "locale": "en-US",
        "name": {"familyName": "Doe", "givenName": "John"},
        "phoneNumbers": [],
        "photos": [{"value": "https://img.example.com/2a27d237-db8c-4f82-84fb-5824dfaedc87.png"}],
        "preferredLanguage": "en-US",
        "schemas": [ENTERPRISE, USER],
        "title": "Captain",
        ENTERPRISE: {"department": "C-Suite"},
        "userName": user_name
    })
}

/// Body C: the minimal update of the Activate test: id echoed, `emails: null`, no
/// externalId.
fn body_c(id: &str, user_name: &str) -> Value {
    json!({
        "active": true,
        "emails": null,
        "id": id,
        "name": {"familyName": "lastname", "givenName": "firstname"},
        "schemas": [USER],
        "userName": user_name
    })
}

/// Creates the body-A user; returns (id, userName, externalId).
fn create_a(ctx: &mut Ctx) -> Result<(String, String, String), Verdict> {
    let user_name = ctx.user_name();
    let external_id = object_id();
    let user = ctx.create_user(&body_a(&user_name, &external_id))?;
    Ok((id_of(&user), user_name, external_id))
}

fn lookup(ctx: &mut Ctx, user_name: &str) -> Result<Value, Verdict> {
    let list = ctx.query("/Users", &format!("userName eq \"{user_name}\""), "")?;
    check_envelope(&list, None)?;
    Ok(list)
}

/// Test Connection "will try to read a list of users": 200 and a ListResponse, even
/// when the directory is empty.
fn jumpcloud_test_connection_lists_users(ctx: &mut Ctx) -> CaseResult {
    let list = ctx.fetch("/Users")?;
    check_envelope(&list, None)
}

/// Before a create, JumpCloud looks the user up: no match is 200 with 0, never 404.
fn jumpcloud_lookup_of_an_unknown_user_is_an_empty_list(ctx: &mut Ctx) -> CaseResult {
    let user_name = ctx.user_name();
    let list = lookup(ctx, &user_name)?;
    ensure!(
        list["totalResults"] == 0,
        "totalResults is {}",
        list["totalResults"]
    );
    Ok(())
}

/// Body A as captured: `tel:` URI, placeholder names, the enterprise URN in `schemas`
/// with no extension object.
fn jumpcloud_create_with_captured_body_a(ctx: &mut Ctx) -> CaseResult {
    let (id, _, external_id) = create_a(ctx)?;
    let stored = ctx.fetch(&format!("/Users/{id}"))?;
    ensure!(
        attr(&stored, "externalId") == external_id.as_str(),
        "externalId is {}",
        attr(&stored, "externalId")
    );
    ensure!(
        attr(&stored, "phoneNumbers")[0]["value"] == "tel:+1-555-555-5555",
        "phoneNumbers is {}",
        attr(&stored, "phoneNumbers")
    );
    ensure!(
        attr(&stored, "addresses")[0]["postalCode"] == "80027",
        "addresses is {}",
        attr(&stored, "addresses")
    );
    ensure!(
        attr(&stored, "name")["givenName"] == "firstname",
        "name is {}",
        attr(&stored, "name")
    );
    Ok(())
}

fn jumpcloud_lookup_finds_the_created_user(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, _) = create_a(ctx)?;
    for name in [user_name.clone(), user_name.to_uppercase()] {
        let list = lookup(ctx, &name)?;
        ensure!(
            super::resource_ids(&list) == vec![id.clone()],
            "userName eq \"{name}\" found {:?}",
            super::resource_ids(&list)
        );
    }
    Ok(())
}

/// Body C must not be refused for its echoed `id` or its `"emails": null`.
fn jumpcloud_minimal_put_c_with_echoed_id_and_null_emails(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, _) = create_a(ctx)?;
    let r = ctx
        .http
        .put(&format!("/Users/{id}"), &body_c(&id, &user_name))?
        .want(200, "PUT body C")?;
    ensure!(r.body["id"] == id.as_str(), "id is {}", r.body["id"]);
    ensure!(
        attr(&r.body, "name")["givenName"] == "firstname",
        "name is {}",
        attr(&r.body, "name")
    );
    ensure!(
        attr(&r.body, "active") == true,
        "active is {}",
        attr(&r.body, "active")
    );
    Ok(())
}

/// JumpCloud profile expectation, beyond the RFC (which lets a PUT clear omitted
/// attributes): body C carries no externalId and `emails: null`, yet JumpCloud keeps
/// using both to match the user, so a server that wipes them unlinks the user
/// (`jumpcloud.md` Q2, Q3).
fn jumpcloud_minimal_put_c_keeps_external_id_and_emails(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, external_id) = create_a(ctx)?;
    ctx.http
        .put(&format!("/Users/{id}"), &body_c(&id, &user_name))?
        .want(200, "PUT body C")?;
    let stored = ctx.fetch(&format!("/Users/{id}"))?;
    ensure!(
        attr(&stored, "externalId") == external_id.as_str(),
        "externalId became {} after a PUT that omitted it",
        attr(&stored, "externalId")
    );
    ensure!(
        email_of_type(&stored, "work") == Some(user_name.as_str()),
        "emails became {} after a PUT with \"emails\": null",
        attr(&stored, "emails")
    );
    Ok(())
}

fn jumpcloud_full_put_b_with_empty_lists_and_nested_extension(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, external_id) = create_a(ctx)?;
    let email = format!("john.doe-{user_name}");
    let r = ctx
        .http
        .put(
            &format!("/Users/{id}"),
            &body_b(&id, &user_name, &email, &external_id, true),
        )?
        .want(200, "PUT body B")?;
    let stored = ctx.fetch(&format!("/Users/{id}"))?;
    for resource in [&r.body, &stored] {
        ensure!(
            attr(resource, ENTERPRISE)["department"] == "C-Suite",
            "the enterprise extension is {}",
            attr(resource, ENTERPRISE)
        );
        ensure!(
            has_string(&resource["schemas"], ENTERPRISE),
            "schemas lacks the extension: {}",
            resource["schemas"]
        );
        ensure!(
            attr(resource, "title") == "Captain",
            "title is {}",
            attr(resource, "title")
        );
        ensure!(
            email_of_type(resource, "work") == Some(email.as_str()),
            "emails are {}",
            attr(resource, "emails")
        );
        ensure!(
            attr(resource, "phoneNumbers")
                .as_array()
                .is_none_or(Vec::is_empty),
            "phoneNumbers: [] left {}",
            attr(resource, "phoneNumbers")
        );
    }
    Ok(())
}

/// Suspension is the full PUT with `"active": false`; reactivation the same with true.
fn jumpcloud_deactivate_and_reactivate_by_full_put(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, external_id) = create_a(ctx)?;
    for active in [false, true] {
        ctx.http
            .put(
                &format!("/Users/{id}"),
                &body_b(&id, &user_name, &user_name, &external_id, active),
            )?
            .want(200, &format!("PUT body B with active {active}"))?;
        let stored = ctx.fetch(&format!("/Users/{id}"))?;
        ensure!(
            attr(&stored, "active") == active,
            "active is {} after PUT active {active}",
            attr(&stored, "active")
        );
    }
    Ok(())
}

/// Activate creates, updates and deletes a test user, and runs again on every edit of
/// the configuration: the same userName must be creatable after its DELETE.
fn jumpcloud_activation_test_repeats_create_update_delete(ctx: &mut Ctx) -> CaseResult {
    let user_name = ctx.user_name();
    let external_id = object_id();
    for round in 1..=2 {
        let user = ctx.create_user(&body_a(&user_name, &external_id))?;
        let id = id_of(&user);
        ctx.http
            .put(&format!("/Users/{id}"), &body_c(&id, &user_name))?
            .want(200, &format!("round {round}: PUT body C"))?;
        ctx.http
            .delete(&format!("/Users/{id}"))?
            .want(204, &format!("round {round}: DELETE"))?;
    }
    Ok(())
}

/// JumpCloud adopts an existing group of the same name, so it looks the name up first.
fn jumpcloud_group_takeover_lookup_then_create(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.group_name();
    let filter = format!("displayName eq \"{name}\"");
    let before = ctx.query("/Groups", &filter, "")?;
    ensure!(
        before["totalResults"] == 0,
        "lookup before create found {}",
        before["totalResults"]
    );
    let group = ctx.create_group(&json!({"schemas": [GROUP], "displayName": name}))?;
    let after = ctx.query("/Groups", &filter, "")?;
    ensure!(
        super::resource_ids(&after) == vec![id_of(&group)],
        "lookup after create found {:?}",
        super::resource_ids(&after)
    );
    Ok(())
}

/// A group as JumpCloud creates it (no members) and two of its users.
fn group_and_two_users(ctx: &mut Ctx) -> Result<(String, String, String), Verdict> {
    let (a, _, _) = create_a(ctx)?;
    let (b, _, _) = create_a(ctx)?;
    let name = ctx.group_name();
    let group = ctx.create_group(&json!({"schemas": [GROUP], "displayName": name}))?;
    Ok((format!("/Groups/{}", id_of(&group)), a, b))
}

/// Example E, sent twice: JumpCloud repeats adds of members the group already has.
fn jumpcloud_group_add_members_value_list_repeated(ctx: &mut Ctx) -> CaseResult {
    let (path, a, b) = group_and_two_users(ctx)?;
    let ops = json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]);
    ctx.patch_ok(&path, ops.clone())?;
    let after = ctx.patch_ok(&path, ops)?;
    ensure!(
        member_ids(&after) == sorted(&[&a, &b]),
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// Example F: `remove` on `members` with a value list means "these members", not all.
fn jumpcloud_group_remove_members_with_value_list(ctx: &mut Ctx) -> CaseResult {
    let (path, a, b) = group_and_two_users(ctx)?;
    ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
    )?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "remove", "path": "members", "value": [{"value": a}]}]),
    )?;
    ensure!(
        member_ids(&after) == vec![b],
        "after removing one member by value list, members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

fn jumpcloud_group_remove_member_by_filter_path(ctx: &mut Ctx) -> CaseResult {
    let (path, a, b) = group_and_two_users(ctx)?;
    ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
    )?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
    )?;
    ensure!(
        member_ids(&after) == vec![a],
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// "Group renaming is supported", by an unknown method: both PATCH forms, members kept.
fn jumpcloud_group_rename_by_patch(ctx: &mut Ctx) -> CaseResult {
    let (path, a, _) = group_and_two_users(ctx)?;
    ctx.patch_ok(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    )?;
    let first = ctx.group_name();
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "path": "displayName", "value": first}]),
    )?;
    ensure!(
        attr(&after, "displayName") == first.as_str(),
        "displayName is {}",
        attr(&after, "displayName")
    );
    let second = ctx.group_name();
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "value": {"displayName": second}}]),
    )?;
    ensure!(
        attr(&after, "displayName") == second.as_str(),
        "displayName is {}",
        attr(&after, "displayName")
    );
    ensure!(
        member_ids(&after) == vec![a],
        "a rename changed members to {:?}",
        member_ids(&after)
    );
    Ok(())
}

fn jumpcloud_group_rename_by_put_with_members(ctx: &mut Ctx) -> CaseResult {
    let (a, _, _) = create_a(ctx)?;
    let group = ctx.new_group(&[&a])?;
    let gid = id_of(&group);
    let name = ctx.group_name();
    let body =
        json!({"schemas": [GROUP], "id": gid, "displayName": name, "members": [{"value": a}]});
    ctx.http
        .put(&format!("/Groups/{gid}"), &body)?
        .want(200, "PUT /Groups/{id}")?;
    let stored = ctx.fetch(&format!("/Groups/{gid}"))?;
    ensure!(
        attr(&stored, "displayName") == name.as_str(),
        "displayName is {}",
        attr(&stored, "displayName")
    );
    ensure!(
        member_ids(&stored) == vec![a],
        "members are {:?}",
        member_ids(&stored)
    );
    Ok(())
}

/// "Managed groups deleted in JumpCloud are deleted in the application"; users stay.
fn jumpcloud_group_delete_keeps_its_users(ctx: &mut Ctx) -> CaseResult {
    let (a, _, _) = create_a(ctx)?;
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a])?));
    ctx.http.delete(&path)?.want(204, "DELETE /Groups/{id}")?;
    ctx.http.get(&path)?.want(404, "GET after DELETE")?;
    ctx.fetch(&format!("/Users/{a}"))?;
    Ok(())
}
