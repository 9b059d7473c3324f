//! RFC 7644 §3.5.1: replacing with PUT.

use serde_json::json;

use super::{attr, id_of, member_ids, user_body, want_error, Want, GROUP};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.5.1", [], rfc7644_3_5_1_put_replaces_and_returns_the_resource),
        case!(Rfc, "rfc7644-3.5.1", [], rfc7644_3_5_1_put_ignores_read_only_attributes),
        case!(Rfc, "rfc7644-3.5.1", [], rfc7644_3_5_1_put_unknown_id_is_404),
        case!(Rfc, "rfc7644-3.5.1", [], rfc7644_3_5_1_put_to_a_taken_user_name_is_409),
        case!(Rfc, "rfc7644-3.5.1", [], rfc7644_3_5_1_put_group_replaces_members),
    ]
}

/// "On successful completion, the server MUST return a 200 OK ... with the entire
/// resource"; the values sent replace the stored ones.
fn rfc7644_3_5_1_put_replaces_and_returns_the_resource(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let id = id_of(&user);
    let mut body = user_body(attr(&user, "userName").as_str().unwrap_or_default());
    body["id"] = json!(id);
    body["displayName"] = json!("Grace Hopper");
    body["name"] = json!({"givenName": "Grace", "familyName": "Hopper"});
    body["title"] = json!("Rear Admiral");
    let r = ctx
        .http
        .put(&format!("/Users/{id}"), &body)?
        .want(200, "PUT /Users/{id}")?;
    for resource in [r.body, ctx.fetch(&format!("/Users/{id}"))?] {
        ensure!(
            resource["id"] == id.as_str(),
            "id changed to {}",
            resource["id"]
        );
        ensure!(
            attr(&resource, "displayName") == "Grace Hopper",
            "displayName is {}",
            attr(&resource, "displayName")
        );
        ensure!(
            attr(&resource, "name")["givenName"] == "Grace",
            "name is {}",
            attr(&resource, "name")
        );
        ensure!(
            attr(&resource, "title") == "Rear Admiral",
            "title is {}",
            attr(&resource, "title")
        );
    }
    Ok(())
}

/// readOnly attributes in a PUT "SHALL be ignored": `meta.created` stays as it was.
fn rfc7644_3_5_1_put_ignores_read_only_attributes(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let id = id_of(&user);
    let mut body = user_body(attr(&user, "userName").as_str().unwrap_or_default());
    body["id"] = json!(id);
    body["meta"] = json!({"created": "2001-01-01T00:00:00Z", "resourceType": "User"});
    let r = ctx
        .http
        .put(&format!("/Users/{id}"), &body)?
        .want(200, "PUT with meta")?;
    ensure!(
        r.body["meta"]["created"] == user["meta"]["created"],
        "meta.created went from {} to {}",
        user["meta"]["created"],
        r.body["meta"]["created"]
    );
    Ok(())
}

fn rfc7644_3_5_1_put_unknown_id_is_404(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let r = ctx.http.put(
        &format!("/Users/{}", uuid::Uuid::new_v4()),
        &user_body(&name),
    )?;
    if r.status / 100 == 2 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(&r, 404, None, "PUT /Users/<unknown id>")
}

/// §3.12: `uniqueness` is a 409 for PUT as for POST.
fn rfc7644_3_5_1_put_to_a_taken_user_name_is_409(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.new_user()?;
    let b = ctx.new_user()?;
    let mut body = user_body(attr(&a, "userName").as_str().unwrap_or_default());
    body["id"] = b["id"].clone();
    let r = ctx.http.put(&format!("/Users/{}", id_of(&b)), &body)?;
    want_error(
        &r,
        409,
        Some("uniqueness"),
        "PUT of user B with user A's userName",
    )
}

fn rfc7644_3_5_1_put_group_replaces_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let group = ctx.new_group(&[&a])?;
    let gid = id_of(&group);
    let body = json!({
        "schemas": [GROUP], "id": gid,
        "displayName": attr(&group, "displayName"),
        "members": [{"value": b}]
    });
    ctx.http
        .put(&format!("/Groups/{gid}"), &body)?
        .want(200, "PUT /Groups/{id}")?;
    let stored = ctx.fetch(&format!("/Groups/{gid}"))?;
    ensure!(
        member_ids(&stored) == vec![b],
        "members are {:?}",
        member_ids(&stored)
    );
    Ok(())
}
