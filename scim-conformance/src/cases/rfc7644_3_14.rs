//! RFC 7644 §3.14: versioning with ETags (only when `etag.supported`), and RFC 7643
//! §3.1: `meta.version` "MUST match the ETag HTTP response header".

use serde_json::Value;

use super::{attr, id_of, user_body, Want};
use crate::case;
use crate::ensure;
use crate::http::Req;
use crate::runner::{fail, Case, CaseResult, Ctx, Profile::Rfc, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.14", [Etag], rfc7644_3_14_etag_header_equals_meta_version),
        case!(Rfc, "rfc7644-3.14", [Etag], rfc7644_3_14_version_changes_on_update),
        case!(Rfc, "rfc7644-3.14", [Etag], rfc7644_3_14_if_none_match_current_is_304),
        case!(Rfc, "rfc7644-3.14", [Etag], rfc7644_3_14_if_match_stale_is_412_and_changes_nothing),
        case!(Rfc, "rfc7644-3.14", [Etag], rfc7644_3_14_if_match_current_applies),
    ]
}

/// A fresh user, its path and its current ETag header.
fn user_with_etag(ctx: &mut Ctx) -> Result<(String, Value, String), Verdict> {
    let user = ctx.new_user()?;
    let path = format!("/Users/{}", id_of(&user));
    let r = ctx.http.get(&path)?.want(200, "GET /Users/{id}")?;
    let Some(etag) = r.header("etag").map(str::to_owned) else {
        return fail("etag.supported is true but GET sends no ETag header");
    };
    Ok((path, r.body, etag))
}

/// A full PUT body for `user` with a new displayName.
fn renamed(user: &Value, display_name: &str) -> Value {
    let mut body = user_body(attr(user, "userName").as_str().unwrap_or_default());
    body["id"] = user["id"].clone();
    body["displayName"] = Value::from(display_name);
    body
}

fn rfc7644_3_14_etag_header_equals_meta_version(ctx: &mut Ctx) -> CaseResult {
    let (_, user, etag) = user_with_etag(ctx)?;
    ensure!(
        user["meta"]["version"] == etag.as_str(),
        "ETag {etag} but meta.version {}",
        user["meta"]["version"]
    );
    Ok(())
}

fn rfc7644_3_14_version_changes_on_update(ctx: &mut Ctx) -> CaseResult {
    let (path, user, etag) = user_with_etag(ctx)?;
    let r = ctx
        .http
        .put(&path, &renamed(&user, "Versioned"))?
        .want(200, "PUT")?;
    let new = r.header("etag").unwrap_or_default();
    ensure!(
        !new.is_empty() && new != etag,
        "ETag after a change is {new:?}, before {etag:?}"
    );
    ensure!(
        r.body["meta"]["version"] == new,
        "meta.version {} differs from ETag {new}",
        r.body["meta"]["version"]
    );
    Ok(())
}

/// RFC 7232 §3.2 via §3.14: a GET with the current tag in `If-None-Match` is 304.
fn rfc7644_3_14_if_none_match_current_is_304(ctx: &mut Ctx) -> CaseResult {
    let (path, _, etag) = user_with_etag(ctx)?;
    let r = ctx
        .http
        .send(Req::new("GET", path).header("If-None-Match", etag))?;
    ensure!(
        r.status == 304,
        "If-None-Match with the current ETag answered {}",
        r.status
    );
    Ok(())
}

/// RFC 7232 §3.1: a stale `If-Match` is 412 Precondition Failed, and nothing changes.
fn rfc7644_3_14_if_match_stale_is_412_and_changes_nothing(ctx: &mut Ctx) -> CaseResult {
    let (path, user, stale) = user_with_etag(ctx)?;
    ctx.http
        .put(&path, &renamed(&user, "First"))?
        .want(200, "PUT")?;
    let r = ctx.http.send(
        Req::new("PUT", path.clone())
            .json(&renamed(&user, "Second"))
            .header("If-Match", stale),
    )?;
    ensure!(
        r.status == 412,
        "PUT with a stale If-Match answered {}",
        r.status
    );
    let stored = ctx.fetch(&path)?;
    ensure!(
        attr(&stored, "displayName") == "First",
        "the refused PUT changed displayName to {}",
        attr(&stored, "displayName")
    );
    Ok(())
}

fn rfc7644_3_14_if_match_current_applies(ctx: &mut Ctx) -> CaseResult {
    let (path, user, etag) = user_with_etag(ctx)?;
    ctx.http
        .send(
            Req::new("PUT", path)
                .json(&renamed(&user, "Matched"))
                .header("If-Match", etag),
        )?
        .want(200, "PUT with the current If-Match")?;
    Ok(())
}
