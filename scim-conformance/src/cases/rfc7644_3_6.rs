//! RFC 7644 §3.6: deleting resources. "Service providers MAY choose not to permanently
//! delete the resource, but MUST return a 404 (Not Found) error code for all operations
//! associated with the previously deleted resource ... and MUST omit the resource from
//! future query results."

use serde_json::json;

use super::{attr, id_of, member_ids, patch_body, user_body, want_error, Want};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.6", [], rfc7644_3_6_delete_user_is_204_then_get_is_404),
        case!(Rfc, "rfc7644-3.6", [], rfc7644_3_6_every_operation_on_a_deleted_user_is_404),
        case!(Rfc, "rfc7644-3.6", [Filter], rfc7644_3_6_deleted_user_leaves_query_results),
        case!(Rfc, "rfc7644-3.6", [], rfc7644_3_6_delete_group_is_204_then_get_is_404),
        case!(Rfc, "rfc7644-3.6", [], rfc7644_3_6_deleted_user_leaves_group_members),
    ]
}

fn rfc7644_3_6_delete_user_is_204_then_get_is_404(ctx: &mut Ctx) -> CaseResult {
    let path = format!("/Users/{}", id_of(&ctx.new_user()?));
    let r = ctx.http.delete(&path)?.want(204, "DELETE /Users/{id}")?;
    ensure!(r.text.trim().is_empty(), "204 with a body: {}", r.snippet());
    let r = ctx.http.get(&path)?;
    want_error(&r, 404, None, "GET after DELETE")
}

fn rfc7644_3_6_every_operation_on_a_deleted_user_is_404(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let path = format!("/Users/{}", id_of(&user));
    ctx.http.delete(&path)?.want(204, "DELETE /Users/{id}")?;
    let mut body = user_body(attr(&user, "userName").as_str().unwrap_or_default());
    body["id"] = user["id"].clone();
    let r = ctx.http.put(&path, &body)?;
    want_error(&r, 404, None, "PUT after DELETE")?;
    if ctx.caps.supports(crate::runner::Feature::Patch) {
        let ops = json!([{"op": "replace", "path": "displayName", "value": "Ghost"}]);
        let r = ctx.http.patch(&path, &patch_body(ops))?;
        want_error(&r, 404, None, "PATCH after DELETE")?;
    }
    let r = ctx.http.delete(&path)?;
    want_error(&r, 404, None, "second DELETE")
}

fn rfc7644_3_6_deleted_user_leaves_query_results(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let name = attr(&user, "userName")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ctx.http
        .delete(&format!("/Users/{}", id_of(&user)))?
        .want(204, "DELETE /Users/{id}")?;
    let list = ctx.query("/Users", &format!("userName eq \"{name}\""), "")?;
    ensure!(
        list["totalResults"] == 0,
        "the deleted user is still found: {}",
        list["totalResults"]
    );
    Ok(())
}

fn rfc7644_3_6_delete_group_is_204_then_get_is_404(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a])?));
    ctx.http.delete(&path)?.want(204, "DELETE /Groups/{id}")?;
    want_error(&ctx.http.get(&path)?, 404, None, "GET after DELETE")?;
    // The member itself is untouched.
    ctx.fetch(&format!("/Users/{a}"))?;
    Ok(())
}

/// A member that no longer exists must not linger in `members`: "404 for all operations
/// associated with the previously deleted resource", and an IdP that reads the group
/// back would see a user it deleted.
fn rfc7644_3_6_deleted_user_leaves_group_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let b = id_of(&ctx.new_user()?);
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[&a, &b])?));
    ctx.http
        .delete(&format!("/Users/{a}"))?
        .want(204, "DELETE /Users/{id}")?;
    let group = ctx.fetch(&path)?;
    ensure!(
        member_ids(&group) == vec![b],
        "members after deleting one are {:?}",
        member_ids(&group)
    );
    Ok(())
}
