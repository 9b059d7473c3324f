//! RFC 7644 §2 (authentication), with the 401 of §3.12 and the bearer rules of RFC 6750
//! and RFC 7235 that every IdP's token field depends on.

use crate::case;
use crate::ensure;
use crate::http::Req;
use crate::runner::{skip, Case, CaseResult, Ctx, Profile::Rfc};

use super::Want;

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-2", [], rfc7644_2_request_without_credentials_is_401),
        case!(Rfc, "rfc7644-2", [], rfc7644_2_unknown_token_is_401),
        case!(Rfc, "rfc7644-2", [], rfc7644_2_bearer_scheme_is_case_insensitive),
    ]
}

/// §3.12: 401 when "the authorization header is invalid or missing"; RFC 6750 §3: the
/// answer carries `WWW-Authenticate`.
fn rfc7644_2_request_without_credentials_is_401(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.send(Req::new("GET", "/Users").auth(""))?;
    let r = r.want(401, "GET /Users without Authorization")?;
    ensure!(
        r.header("www-authenticate").is_some(),
        "401 without a WWW-Authenticate header (RFC 6750 §3)"
    );
    Ok(())
}

fn rfc7644_2_unknown_token_is_401(ctx: &mut Ctx) -> CaseResult {
    let bogus = format!("Bearer {}", uuid::Uuid::new_v4().simple());
    ctx.http
        .send(Req::new("GET", "/Users").auth(bogus))?
        .want(401, "GET /Users with an unknown bearer token")?;
    Ok(())
}

/// RFC 7235 §2.1: the auth-scheme is case-insensitive; admins and IdPs type `bearer`.
fn rfc7644_2_bearer_scheme_is_case_insensitive(ctx: &mut Ctx) -> CaseResult {
    if ctx.http.token().is_empty() {
        return skip("no --token given");
    }
    let auth = format!("bearer {}", ctx.http.token());
    ctx.http
        .send(Req::new("GET", "/Users?count=1").auth(auth))?
        .want(200, "GET /Users with `Authorization: bearer <token>`")?;
    Ok(())
}
