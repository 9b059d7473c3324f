//! RFC 7644 §3.8: data input/output formats.

use super::{id_of, user_body, Want};
use crate::case;
use crate::ensure;
use crate::http::Req;
use crate::runner::{Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.8", [], rfc7644_3_8_responses_are_application_scim_json),
        case!(Rfc, "rfc7644-3.8", [], rfc7644_3_8_json_labelled_application_json_is_accepted),
    ]
}

/// "The format defaults to application/scim+json if no format is specified", and every
/// request here says `Accept: application/scim+json`, which servers MUST support.
fn rfc7644_3_8_responses_are_application_scim_json(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    for target in [
        "/Users?count=1".to_owned(),
        format!("/Users/{}", id_of(&user)),
    ] {
        let r = ctx.http.get(&target)?.want(200, &format!("GET {target}"))?;
        let media = r
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        ensure!(
            media.starts_with("application/scim+json"),
            "GET {target}: Content-Type is {media:?}, want application/scim+json"
        );
    }
    Ok(())
}

/// "Servers MUST accept requests ... JSON-structured"; some clients label that JSON
/// `application/json`, so a server that only takes `application/scim+json` breaks them.
fn rfc7644_3_8_json_labelled_application_json_is_accepted(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let r = ctx.http.send(
        Req::new("POST", "/Users")
            .json(&user_body(&name))
            .content_type("application/json"),
    )?;
    if r.status == 201 {
        ctx.track(format!("/Users/{}", id_of(&r.body)));
    }
    r.want(201, "POST /Users with Content-Type: application/json")?;
    Ok(())
}
