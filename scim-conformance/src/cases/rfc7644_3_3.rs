//! RFC 7644 §3.3: creating resources.

use serde_json::json;

use super::{attr, has_string, id_of, member_ids, user_body, want_error, Want, GROUP, USER};
use crate::case;
use crate::ensure;
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_create_user_returns_201_and_the_resource),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_location_header_equals_meta_location),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_read_only_id_and_meta_are_ignored),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_duplicate_user_name_is_409_uniqueness),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_duplicate_user_name_in_other_case_is_409),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_duplicate_user_name_in_other_non_ascii_case_is_409),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_missing_user_name_is_400),
        case!(Rfc, "rfc7644-3.3", [], rfc7644_3_3_create_group_with_members),
    ]
}

/// "the server SHALL return 201 ... the response body SHOULD contain the service
/// provider's representation of the newly created resource".
fn rfc7644_3_3_create_user_returns_201_and_the_resource(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let user = ctx.create_user(&user_body(&name))?;
    ensure!(
        attr(&user, "userName") == name.as_str(),
        "userName is {}",
        attr(&user, "userName")
    );
    ensure!(
        has_string(&user["schemas"], USER),
        "schemas lacks the User URN: {}",
        user["schemas"]
    );
    ensure!(
        attr(&user, "name")["givenName"] == "Ada",
        "name.givenName not returned: {}",
        attr(&user, "name")
    );
    Ok(())
}

/// "The URI of the created resource MUST be included in the HTTP Location header and the
/// meta.location attribute."
fn rfc7644_3_3_location_header_equals_meta_location(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let r = ctx
        .http
        .post("/Users", &user_body(&name))?
        .want(201, "POST /Users")?;
    ctx.track(format!("/Users/{}", id_of(&r.body)));
    let location = r.header("location").unwrap_or_default().to_owned();
    ensure!(!location.is_empty(), "201 without a Location header");
    ensure!(
        r.body["meta"]["location"] == location.as_str(),
        "Location {location} differs from meta.location {}",
        r.body["meta"]["location"]
    );
    ensure!(
        location.ends_with(&format!("/Users/{}", id_of(&r.body))),
        "Location {location} does not name /Users/{}",
        id_of(&r.body)
    );
    Ok(())
}

/// "attributes whose mutability is readOnly ... SHALL be ignored": a client-chosen `id`
/// and `meta` do not stick.
fn rfc7644_3_3_read_only_id_and_meta_are_ignored(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["id"] = json!("client-chosen-id");
    body["meta"] = json!({"created": "2001-01-01T00:00:00Z", "version": "W/\"client\""});
    let user = ctx.create_user(&body)?;
    ensure!(user["id"] != "client-chosen-id", "the client's id was kept");
    ensure!(
        user["meta"]["created"] != "2001-01-01T00:00:00Z",
        "the client's meta.created was kept"
    );
    Ok(())
}

/// "MUST return HTTP status code 409 (Conflict) with a scimType error code of uniqueness".
fn rfc7644_3_3_duplicate_user_name_is_409_uniqueness(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    ctx.create_user(&user_body(&name))?;
    let r = ctx.http.post("/Users", &user_body(&name))?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(&r, 409, Some("uniqueness"), "second POST of one userName")
}

/// RFC 7643 §4.1.1: `userName` has `caseExact: false`, so `ADA@…` is the same name.
fn rfc7644_3_3_duplicate_user_name_in_other_case_is_409(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    ctx.create_user(&user_body(&name))?;
    let r = ctx.http.post("/Users", &user_body(&name.to_uppercase()))?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(
        &r,
        409,
        Some("uniqueness"),
        "POST of the userName in upper case",
    )
}

/// RFC 7643 §4.1.1: `userName` is REQUIRED; a create without it is a 400.
fn rfc7644_3_3_missing_user_name_is_400(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.post(
        "/Users",
        &json!({"schemas": [USER], "name": {"givenName": "No", "familyName": "Name"}}),
    )?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(&r, 400, None, "POST /Users without userName")
}

fn rfc7644_3_3_create_group_with_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let name = ctx.group_name();
    let group = ctx.create_group(&json!({
        "schemas": [GROUP], "displayName": name, "members": [{"value": a}]
    }))?;
    ensure!(
        has_string(&group["schemas"], GROUP),
        "schemas lacks the Group URN"
    );
    ensure!(
        attr(&group, "displayName") == name.as_str(),
        "displayName is {}",
        attr(&group, "displayName")
    );
    let stored = ctx.fetch(&format!("/Groups/{}", id_of(&group)))?;
    ensure!(
        member_ids(&stored) == vec![a],
        "members are {:?}",
        member_ids(&stored)
    );
    Ok(())
}

/// The same rule past ASCII (§7.8: case-insensitive comparison of international strings).
/// A server that lower-cases only A–Z (SQLite's `lower()`, `COLLATE NOCASE`) lets
/// `ÅSA` and `åsa` live side by side.
fn rfc7644_3_3_duplicate_user_name_in_other_non_ascii_case_is_409(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.unique("-åsa-ünal@example.com");
    ctx.create_user(&user_body(&name))?;
    let r = ctx.http.post("/Users", &user_body(&name.to_uppercase()))?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    want_error(
        &r,
        409,
        Some("uniqueness"),
        "POST of the userName with Å and Ü upper-cased",
    )
}
