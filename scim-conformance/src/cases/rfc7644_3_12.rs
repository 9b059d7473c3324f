//! RFC 7644 §3.12: HTTP status and error response handling.

use serde_json::json;

use super::{has_string, id_of, patch_body, user_body, want_error, ERROR};
use crate::case;
use crate::ensure;
use crate::http::{Req, Resp};
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.12", [], rfc7644_3_12_error_bodies_have_schema_and_string_status),
        case!(Rfc, "rfc7644-3.12", [], rfc7644_3_12_malformed_json_is_400),
        case!(Rfc, "rfc7644-3.12", [], rfc7644_3_12_wrong_attribute_type_is_400),
        case!(Rfc, "rfc7644-3.12", [], rfc7644_3_12_unknown_endpoint_is_404),
        case!(Rfc, "rfc7644-3.12", [Patch], rfc7644_3_12_unknown_patch_op_is_400),
        case!(Rfc, "rfc7644-3.12", [Patch], rfc7644_3_12_unknown_member_is_a_4xx),
    ]
}

/// The error body: `schemas` with the Error URN and `status` as a JSON string, equal to
/// the HTTP status ("status: The HTTP status code ... expressed as a JSON string.
/// REQUIRED.").
fn check_error_body(r: &Resp, what: &str) -> CaseResult {
    ensure!(
        has_string(&r.body["schemas"], ERROR),
        "{what}: {} without the Error URN in schemas: {}",
        r.status,
        r.snippet()
    );
    ensure!(
        r.body["status"].as_str() == Some(r.status.to_string().as_str()),
        "{what}: status is {} (want the string \"{}\")",
        r.body["status"],
        r.status
    );
    Ok(())
}

fn rfc7644_3_12_error_bodies_have_schema_and_string_status(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.get(&format!("/Users/{}", uuid::Uuid::new_v4()))?;
    want_error(&r, 404, None, "GET /Users/<unknown id>")?;
    check_error_body(&r, "404")?;

    let user = ctx.new_user()?;
    let name = super::attr(&user, "userName")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = ctx.http.post("/Users", &user_body(&name))?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(&r, 409, None, "duplicate POST")?;
    check_error_body(&r, "409")?;

    let r = ctx
        .http
        .post("/Users", &json!({"schemas": [super::USER]}))?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(&r, 400, None, "POST without userName")?;
    check_error_body(&r, "400")
}

/// `invalidSyntax`: "The request body message structure was invalid". A missing
/// `scimType` is allowed (it is OPTIONAL); a different one is not.
fn rfc7644_3_12_malformed_json_is_400(ctx: &mut Ctx) -> CaseResult {
    let r =
        ctx.http.send(Req::new("POST", "/Users").raw(
            "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": ",
        ))?;
    ensure!(
        r.status == 400,
        "a truncated JSON body answered {}: {}",
        r.status,
        r.snippet()
    );
    ensure!(
        r.body["scimType"].is_null() || r.body["scimType"] == "invalidSyntax",
        "scimType is {}, want invalidSyntax",
        r.body["scimType"]
    );
    Ok(())
}

/// `invalidValue`: "the value specified was not compatible with the operation or
/// attribute type". An object where a boolean belongs is not a boolean in any reading.
fn rfc7644_3_12_wrong_attribute_type_is_400(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["active"] = json!({"value": true});
    let r = ctx.http.post("/Users", &body)?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    ensure!(
        r.status == 400,
        "active as an object answered {}: {}",
        r.status,
        r.snippet()
    );
    ensure!(
        matches!(
            r.body["scimType"].as_str(),
            None | Some("invalidValue" | "invalidSyntax")
        ),
        "scimType is {}, want invalidValue",
        r.body["scimType"]
    );
    Ok(())
}

/// "404 Not Found: Specified resource (e.g., User) or endpoint does not exist."
fn rfc7644_3_12_unknown_endpoint_is_404(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.get("/NoSuchResourceType")?;
    ensure!(
        r.status == 404,
        "GET /NoSuchResourceType answered {}",
        r.status
    );
    Ok(())
}

fn rfc7644_3_12_unknown_patch_op_is_400(ctx: &mut Ctx) -> CaseResult {
    let path = format!("/Users/{}", id_of(&ctx.new_user()?));
    let ops = json!([{"op": "frobnicate", "path": "displayName", "value": "x"}]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    want_error(&r, 400, None, "PATCH with op \"frobnicate\"")
}

/// A member id that names no resource is the client's error: a 4xx. A 5xx makes IdPs
/// retry forever (Entra retried such a 500 every 20 minutes, lightdash #24458); a 2xx
/// must not leave the group unreadable.
fn rfc7644_3_12_unknown_member_is_a_4xx(ctx: &mut Ctx) -> CaseResult {
    let path = format!("/Groups/{}", id_of(&ctx.new_group(&[])?));
    let ghost = uuid::Uuid::new_v4().to_string();
    let ops = json!([{"op": "add", "path": "members", "value": [{"value": ghost}]}]);
    let r = ctx.http.patch(&path, &patch_body(ops))?;
    ensure!(
        r.status < 500,
        "adding a member that does not exist answered {}: {}",
        r.status,
        r.snippet()
    );
    ctx.fetch(&path)?;
    Ok(())
}
