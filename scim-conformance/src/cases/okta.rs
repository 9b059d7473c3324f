//! Okta's documented SCIM 2.0 sequence (developer.okta.com, "Okta and SCIM Version 2.0"):
//! look-up by `userName eq` with paging parameters, create, read back, full PUT for
//! profile updates, path-less PATCH `replace` of `active` (and of `password` when the
//! server supports it), and Group Push: POST, rename with `{"id", "displayName"}` in a
//! path-less replace, member add/remove, delete.

use serde_json::{json, Value};

use super::rfc7644_3_4::check_envelope;
use super::{attr, email_of_type, id_of, member_ids, resource_ids, Want, GROUP, USER};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Okta, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Okta, "okta", [Filter], okta_lookup_with_paging_parameters),
        case!(Okta, "okta", [], okta_create_with_documented_body),
        case!(Okta, "okta", [Filter], okta_lookup_finds_the_created_user),
        case!(Okta, "okta", [], okta_profile_update_by_full_put),
        case!(Okta, "okta", [Patch], okta_deactivate_and_reactivate_by_path_less_replace),
        case!(Okta, "okta", [Patch, ChangePassword], okta_sync_password_by_path_less_replace),
        case!(Okta, "okta", [], okta_reprovision_after_delete),
        case!(Okta, "okta", [], okta_push_group_with_members),
        case!(Okta, "okta", [Patch], okta_push_group_rename_with_id_in_value),
        case!(Okta, "okta", [Patch], okta_push_group_remove_and_add_in_one_request),
        case!(Okta, "okta", [], okta_import_lists_groups),
        case!(Okta, "okta", [], okta_push_group_delete),
    ]
}

/// Okta's create body: `groups: []`, a `password`, and Okta's user id as externalId.
fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": format!("00u{}", &uuid::Uuid::new_v4().simple().to_string()[..17]),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn create(ctx: &mut Ctx) -> Result<(String, String, Value), Verdict> {
    let user_name = ctx.user_name();
    let body = okta_user(&user_name);
    let user = ctx.create_user(&body)?;
    Ok((id_of(&user), user_name, body))
}

fn lookup(ctx: &mut Ctx, user_name: &str) -> Result<Value, Verdict> {
    let list = ctx.query(
        "/Users",
        &format!("userName eq \"{user_name}\""),
        "&startIndex=1&count=100",
    )?;
    check_envelope(&list, Some(100))?;
    Ok(list)
}

fn okta_lookup_with_paging_parameters(ctx: &mut Ctx) -> CaseResult {
    let user_name = ctx.user_name();
    let list = lookup(ctx, &user_name)?;
    ensure!(
        list["totalResults"] == 0,
        "totalResults is {}",
        list["totalResults"]
    );
    Ok(())
}

fn okta_create_with_documented_body(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, _) = create(ctx)?;
    let stored = ctx.fetch(&format!("/Users/{id}"))?;
    ensure!(
        attr(&stored, "userName") == user_name.as_str(),
        "userName is {}",
        attr(&stored, "userName")
    );
    ensure!(attr(&stored, "password").is_null(), "password was returned");
    Ok(())
}

/// Okta stores the id the look-up returns and uses it from then on.
fn okta_lookup_finds_the_created_user(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, _) = create(ctx)?;
    let list = lookup(ctx, &user_name)?;
    ensure!(
        resource_ids(&list) == vec![id],
        "found {:?}",
        resource_ids(&list)
    );
    Ok(())
}

/// Profile updates are a full PUT with the id (and Okta's usual extras) in the body.
fn okta_profile_update_by_full_put(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, mut body) = create(ctx)?;
    body["id"] = json!(id);
    body["name"] = json!({"givenName": "Another", "familyName": "User"});
    body["emails"] =
        json!([{"primary": true, "value": format!("new-{user_name}"), "type": "work"}]);
    ctx.http
        .put(&format!("/Users/{id}"), &body)?
        .want(200, "PUT")?;
    let stored = ctx.fetch(&format!("/Users/{id}"))?;
    ensure!(
        attr(&stored, "name")["givenName"] == "Another",
        "name is {}",
        attr(&stored, "name")
    );
    ensure!(
        email_of_type(&stored, "work") == Some(format!("new-{user_name}").as_str()),
        "emails are {}",
        attr(&stored, "emails")
    );
    Ok(())
}

/// `{"op": "replace", "value": {"active": false}}`: no path.
fn okta_deactivate_and_reactivate_by_path_less_replace(ctx: &mut Ctx) -> CaseResult {
    let (id, _, _) = create(ctx)?;
    for active in [false, true] {
        let after = ctx.patch_ok(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": active}}]),
        )?;
        ensure!(
            attr(&after, "active") == active,
            "active is {} after replace {active}",
            attr(&after, "active")
        );
    }
    Ok(())
}

fn okta_sync_password_by_path_less_replace(ctx: &mut Ctx) -> CaseResult {
    let (id, _, _) = create(ctx)?;
    let after = ctx.patch_ok(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"password": "n3wPassw0rd!"}}]),
    )?;
    ensure!(attr(&after, "password").is_null(), "password was returned");
    Ok(())
}

/// A user deleted on the server is provisioned again by a POST of the same userName.
fn okta_reprovision_after_delete(ctx: &mut Ctx) -> CaseResult {
    let (id, user_name, _) = create(ctx)?;
    ctx.http
        .delete(&format!("/Users/{id}"))?
        .want(204, "DELETE")?;
    let again = ctx.create_user(&okta_user(&user_name))?;
    ensure!(
        again["id"] != id.as_str(),
        "the new user reuses the deleted id"
    );
    Ok(())
}

fn push_group(ctx: &mut Ctx, members: &[(&str, &str)]) -> Result<String, Verdict> {
    let name = ctx.group_name();
    let members: Vec<Value> = members
        .iter()
        .map(|(v, d)| json!({"value": v, "display": d}))
        .collect();
    let group =
        ctx.create_group(&json!({"schemas": [GROUP], "displayName": name, "members": members}))?;
    Ok(format!("/Groups/{}", id_of(&group)))
}

fn okta_push_group_with_members(ctx: &mut Ctx) -> CaseResult {
    let (a, a_name, _) = create(ctx)?;
    let path = push_group(ctx, &[(&a, &a_name)])?;
    let stored = ctx.fetch(&path)?;
    ensure!(
        member_ids(&stored) == vec![a],
        "members are {:?}",
        member_ids(&stored)
    );
    Ok(())
}

/// Okta renames with the group's own id inside a path-less replace; replacing `id` with
/// its current value must not be refused.
fn okta_push_group_rename_with_id_in_value(ctx: &mut Ctx) -> CaseResult {
    let (a, a_name, _) = create(ctx)?;
    let path = push_group(ctx, &[(&a, &a_name)])?;
    let gid = path.rsplit('/').next().unwrap_or_default().to_owned();
    let name = ctx.group_name();
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "replace", "value": {"id": gid, "displayName": name}}]),
    )?;
    ensure!(
        attr(&after, "displayName") == name.as_str(),
        "displayName is {}",
        attr(&after, "displayName")
    );
    ensure!(after["id"] == gid.as_str(), "id is {}", after["id"]);
    ensure!(
        member_ids(&after) == vec![a],
        "a rename changed members to {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// Okta's membership update: a filtered remove and an add in one request.
fn okta_push_group_remove_and_add_in_one_request(ctx: &mut Ctx) -> CaseResult {
    let (a, a_name, _) = create(ctx)?;
    let (b, b_name, _) = create(ctx)?;
    let path = push_group(ctx, &[(&a, &a_name)])?;
    let after = ctx.patch_ok(
        &path,
        json!([
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "add", "path": "members", "value": [{"value": b, "display": b_name}]}
        ]),
    )?;
    ensure!(
        member_ids(&after) == vec![b],
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

fn okta_import_lists_groups(ctx: &mut Ctx) -> CaseResult {
    push_group(ctx, &[])?;
    let list = ctx.fetch("/Groups?startIndex=1&count=100")?;
    check_envelope(&list, Some(100))?;
    ensure!(
        list["totalResults"].as_u64().unwrap_or(0) >= 1,
        "totalResults is {}",
        list["totalResults"]
    );
    Ok(())
}

fn okta_push_group_delete(ctx: &mut Ctx) -> CaseResult {
    let (a, a_name, _) = create(ctx)?;
    let path = push_group(ctx, &[(&a, &a_name)])?;
    ctx.http.delete(&path)?.want(204, "DELETE /Groups/{id}")?;
    ctx.http.get(&path)?.want(404, "GET after DELETE")?;
    Ok(())
}
