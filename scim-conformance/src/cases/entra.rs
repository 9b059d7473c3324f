//! Microsoft Entra's provisioning requests (Microsoft Learn, "SCIM request examples" and
//! "Known issues ... SCIM 2.0 protocol compliance"): the `userName eq` probe, the
//! create body, PATCH with capitalised ops, string booleans, path-less replace with
//! dotted keys, `emails[type eq "work"].value`, `manager` as a bare id, group reads with
//! `excludedAttributes=members`, and member add/remove with value lists.

use serde_json::{json, Value};

use super::{
    attr, email_of_type, id_of, member_ids, resource_ids, sorted, Want, ENTERPRISE, GROUP, USER,
};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Entra, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Entra, "entra", [Filter], entra_probe_of_an_unknown_user_is_an_empty_list),
        case!(Entra, "entra", [], entra_create_with_documented_body),
        case!(Entra, "entra", [Filter], entra_lookup_by_user_name),
        case!(Entra, "entra", [Patch], entra_capitalised_replace_and_add),
        case!(Entra, "entra", [Patch], entra_replace_work_email_through_filter),
        case!(Entra, "entra", [Patch], entra_replace_user_name),
        case!(Entra, "entra", [Patch], entra_disable_and_enable_with_string_booleans),
        case!(Entra, "entra", [Patch], entra_path_less_replace_with_dotted_keys),
        case!(Entra, "entra", [Patch], entra_manager_as_a_bare_id_then_removed),
        case!(Entra, "entra", [], entra_create_group_with_documented_body),
        case!(Entra, "entra", [], entra_get_group_excluding_members),
        case!(Entra, "entra", [Filter], entra_lookup_group_by_display_name_excluding_members),
        case!(Entra, "entra", [Patch], entra_add_members_with_null_ref),
        case!(Entra, "entra", [Patch], entra_remove_members_with_value_list),
        case!(Entra, "entra", [Patch], entra_rename_group),
        case!(Entra, "entra", [], entra_delete_user_and_group),
    ]
}

const AD_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

fn create(ctx: &mut Ctx) -> Result<(String, String), Verdict> {
    let user_name = ctx.user_name();
    let user = ctx.create_user(&entra_user(&user_name))?;
    Ok((format!("/Users/{}", id_of(&user)), user_name))
}

/// A group as Entra creates it. `documented` adds the Microsoft schema URN Entra lists
/// in `schemas`; the other group cases leave it out, so that one refusal of that URN
/// fails one case, not every group case.
fn create_group(ctx: &mut Ctx, documented: bool) -> Result<(String, String), Verdict> {
    let name = ctx.group_name();
    let schemas = if documented {
        json!([GROUP, AD_GROUP])
    } else {
        json!([GROUP])
    };
    let group = ctx.create_group(&json!({
        "schemas": schemas,
        "externalId": uuid::Uuid::new_v4().to_string(),
        "displayName": name,
        "meta": {"resourceType": "Group"}
    }))?;
    Ok((format!("/Groups/{}", id_of(&group)), name))
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Entra's first request: a filter for a userName that does not exist.
fn entra_probe_of_an_unknown_user_is_an_empty_list(ctx: &mut Ctx) -> CaseResult {
    let user_name = format!("{}non-existent-user", ctx.prefix());
    let list = ctx.query("/Users", &format!("userName eq \"{user_name}\""), "")?;
    ensure!(
        list["totalResults"] == 0,
        "totalResults is {}",
        list["totalResults"]
    );
    Ok(())
}

/// With `meta` (readOnly, ignored), `roles: []` and the enterprise URN without object.
fn entra_create_with_documented_body(ctx: &mut Ctx) -> CaseResult {
    let (path, user_name) = create(ctx)?;
    let stored = ctx.fetch(&path)?;
    ensure!(
        attr(&stored, "userName") == user_name.as_str(),
        "userName is {}",
        attr(&stored, "userName")
    );
    ensure!(
        attr(&stored, "name")["givenName"] == "givenName",
        "name is {}",
        attr(&stored, "name")
    );
    Ok(())
}

fn entra_lookup_by_user_name(ctx: &mut Ctx) -> CaseResult {
    let (path, user_name) = create(ctx)?;
    let list = ctx.query("/Users", &format!("userName eq \"{user_name}\""), "")?;
    ensure!(
        resource_ids(&list) == vec![last_segment(&path)],
        "found {:?}",
        resource_ids(&list)
    );
    Ok(())
}

/// `"op": "Replace"` and `"op": "Add"`, capitalised.
fn entra_capitalised_replace_and_add(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = create(ctx)?;
    let after = ctx.patch_ok(
        &path,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Updated Name"},
            {"op": "Add", "path": "nickName", "value": "Babs"}
        ]),
    )?;
    ensure!(
        attr(&after, "displayName") == "Updated Name",
        "displayName is {}",
        attr(&after, "displayName")
    );
    ensure!(
        attr(&after, "nickName") == "Babs",
        "nickName is {}",
        attr(&after, "nickName")
    );
    Ok(())
}

fn entra_replace_work_email_through_filter(ctx: &mut Ctx) -> CaseResult {
    let (path, user_name) = create(ctx)?;
    let new = format!("updated-{user_name}");
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": new}]),
    )?;
    ensure!(
        email_of_type(&after, "work") == Some(new.as_str()),
        "emails are {}",
        attr(&after, "emails")
    );
    Ok(())
}

fn entra_replace_user_name(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = create(ctx)?;
    let new = ctx.user_name();
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Replace", "path": "userName", "value": new}]),
    )?;
    ensure!(
        attr(&after, "userName") == new.as_str(),
        "userName is {}",
        attr(&after, "userName")
    );
    Ok(())
}

/// Without the `aadOptscim062020` flag Entra sends `"False"` and `"True"` as strings;
/// they must be read as booleans and come back as JSON booleans.
fn entra_disable_and_enable_with_string_booleans(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = create(ctx)?;
    for (sent, want) in [("False", false), ("True", true)] {
        let after = ctx.patch_ok(
            &path,
            json!([{"op": "Replace", "path": "active", "value": sent}]),
        )?;
        ensure!(
            attr(&after, "active") == want,
            "active is {} after \"{sent}\"",
            attr(&after, "active")
        );
    }
    Ok(())
}

/// Entra's path-less replace carries sub-attribute paths as keys.
fn entra_path_less_replace_with_dotted_keys(ctx: &mut Ctx) -> CaseResult {
    let (path, user_name) = create(ctx)?;
    let email = format!("dotted-{user_name}");
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Replace", "value": {
            "displayName": "Pvlo Pkqf",
            "name.givenName": "Pvlo",
            "name.familyName": "Pkqf",
            "emails[type eq \"work\"].value": email,
            format!("{ENTERPRISE}:employeeNumber"): "Eqpj"
        }}]),
    )?;
    ensure!(
        attr(&after, "displayName") == "Pvlo Pkqf",
        "displayName is {}",
        attr(&after, "displayName")
    );
    let name = attr(&after, "name");
    ensure!(
        name["givenName"] == "Pvlo" && name["familyName"] == "Pkqf",
        "name is {name}"
    );
    ensure!(
        attr(&after, "name.givenName").is_null(),
        "the key \"name.givenName\" was stored verbatim"
    );
    ensure!(
        email_of_type(&after, "work") == Some(email.as_str()),
        "emails are {}",
        attr(&after, "emails")
    );
    let ext = attr(&after, ENTERPRISE);
    ensure!(
        ext["employeeNumber"] == "Eqpj",
        "the enterprise extension is {ext}"
    );
    Ok(())
}

/// `manager` arrives as the manager's id alone, and leaves with a `Remove`.
fn entra_manager_as_a_bare_id_then_removed(ctx: &mut Ctx) -> CaseResult {
    let (manager, _) = create(ctx)?;
    let (path, _) = create(ctx)?;
    let manager_id = last_segment(&manager);
    let manager_path = format!("{ENTERPRISE}:manager");
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Add", "path": manager_path, "value": manager_id}]),
    )?;
    let got = &attr(&after, ENTERPRISE)["manager"];
    ensure!(got["value"] == manager_id.as_str(), "manager is {got}");
    let after = ctx.patch_ok(&path, json!([{"op": "Remove", "path": manager_path}]))?;
    let got = &attr(&after, ENTERPRISE)["manager"];
    ensure!(
        got.is_null() || got["value"].is_null(),
        "manager after Remove is {got}"
    );
    Ok(())
}

fn entra_create_group_with_documented_body(ctx: &mut Ctx) -> CaseResult {
    let (path, name) = create_group(ctx, true)?;
    let stored = ctx.fetch(&path)?;
    ensure!(
        attr(&stored, "displayName") == name.as_str(),
        "displayName is {}",
        attr(&stored, "displayName")
    );
    Ok(())
}

fn entra_get_group_excluding_members(ctx: &mut Ctx) -> CaseResult {
    let (user, _) = create(ctx)?;
    let (path, _) = create_group(ctx, false)?;
    ctx.patch_ok(
        &path,
        json!([{"op": "Add", "path": "members", "value": [{"value": last_segment(&user)}]}]),
    )?;
    let got = ctx.fetch(&format!("{path}?excludedAttributes=members"))?;
    ensure!(
        attr(&got, "members").is_null(),
        "members returned despite excludedAttributes=members"
    );
    ensure!(
        got["id"] == last_segment(&path).as_str(),
        "id is {}",
        got["id"]
    );
    Ok(())
}

fn entra_lookup_group_by_display_name_excluding_members(ctx: &mut Ctx) -> CaseResult {
    let (path, name) = create_group(ctx, false)?;
    let list = ctx.query(
        "/Groups",
        &format!("displayName eq \"{name}\""),
        "&excludedAttributes=members",
    )?;
    ensure!(
        resource_ids(&list) == vec![last_segment(&path)],
        "found {:?}",
        resource_ids(&list)
    );
    ensure!(
        attr(&list["Resources"][0], "members").is_null(),
        "members returned despite excludedAttributes=members"
    );
    Ok(())
}

fn entra_add_members_with_null_ref(ctx: &mut Ctx) -> CaseResult {
    let (a, _) = create(ctx)?;
    let (b, _) = create(ctx)?;
    let (path, _) = create_group(ctx, false)?;
    let (a, b) = (last_segment(&a), last_segment(&b));
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}, {"$ref": null, "value": b}]}]),
    )?;
    ensure!(
        member_ids(&after) == sorted(&[&a, &b]),
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

/// `Remove` with `path: members` and a value list removes the listed members only.
fn entra_remove_members_with_value_list(ctx: &mut Ctx) -> CaseResult {
    let (a, _) = create(ctx)?;
    let (b, _) = create(ctx)?;
    let (path, _) = create_group(ctx, false)?;
    let (a, b) = (last_segment(&a), last_segment(&b));
    ctx.patch_ok(
        &path,
        json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
    )?;
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a}]}]),
    )?;
    ensure!(
        member_ids(&after) == vec![b],
        "members are {:?}",
        member_ids(&after)
    );
    Ok(())
}

fn entra_rename_group(ctx: &mut Ctx) -> CaseResult {
    let (path, _) = create_group(ctx, false)?;
    let name = ctx.group_name();
    let after = ctx.patch_ok(
        &path,
        json!([{"op": "Replace", "path": "displayName", "value": name}]),
    )?;
    ensure!(
        attr(&after, "displayName") == name.as_str(),
        "displayName is {}",
        attr(&after, "displayName")
    );
    Ok(())
}

fn entra_delete_user_and_group(ctx: &mut Ctx) -> CaseResult {
    let (user, _) = create(ctx)?;
    let (group, _) = create_group(ctx, false)?;
    ctx.http.delete(&group)?.want(204, "DELETE /Groups/{id}")?;
    ctx.http.delete(&user)?.want(204, "DELETE /Users/{id}")?;
    ctx.http.get(&user)?.want(404, "GET after DELETE")?;
    Ok(())
}
