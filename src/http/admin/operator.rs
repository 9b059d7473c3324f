//! The operator's view (`/admin/operator`): the deployment's operator signs in with
//! `operator_token`, sees every tenant's health, and opens any tenant read-only.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::html;
use super::session::{clear_cookie, cookie, is_https, same_origin, set_cookie};
use crate::auth::operator::{COOKIE, TTL_SECS};
use crate::http::state::AppState;
use crate::service::fleet::{fleet, TenantHealth};

const HOME: &str = "/admin/operator";
const TENANTS: &str = "/admin/operator/tenants";

#[derive(Template)]
#[template(path = "admin/operator_sign_in.html")]
struct SignInPage {
    refused: bool,
}

#[derive(Template)]
#[template(path = "admin/operator_tenants.html")]
struct TenantsPage {
    tenants: Vec<TenantHealth>,
    healthy: usize,
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

fn not_configured() -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("This deployment has no operator: set operator_token (ROSTER_OPERATOR_TOKEN)."))
}

fn signed_in(state: &AppState, req: &HttpRequest) -> bool {
    cookie(req, COOKIE).is_some_and(|c| state.operator.signed_in(state.session_secret(), &c))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `GET /admin/operator`: the sign-in form, or on to the tenants when signed in.
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    if !state.operator.configured() {
        return not_configured();
    }
    if signed_in(&state, &req) {
        return Ok(see_other(TENANTS));
    }
    html(StatusCode::OK, SignInPage { refused: false }.render()?)
}

/// `POST /admin/operator`: checks the token; failures count against the address like
/// a wrong SCIM token's, so it cannot be guessed at speed.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, AdminError> {
    if !state.operator.configured() {
        return not_configured();
    }
    if !same_origin(&req, &state.public_url) {
        return Err(AdminError::Csrf);
    }
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    // "operator" is no tenant's slug (tenants cannot take it), so this budget is its own.
    state
        .limiters
        .may_authenticate(ip.as_deref(), "operator", false)
        .map_err(|_| AdminError::TooManyAttempts)?;
    if !state.operator.accepts(form.token.trim()) {
        state
            .limiters
            .authentication_failed(ip.as_deref(), "operator");
        tracing::warn!(ip, "operator sign-in refused");
        return html(
            StatusCode::UNAUTHORIZED,
            SignInPage { refused: true }.render()?,
        );
    }
    tracing::info!(ip, "operator signed in");
    let value = state.operator.session(state.session_secret());
    let mut res = see_other(TENANTS);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        COOKIE,
        &value,
        "/admin",
        Some(TTL_SECS),
        is_https(&state),
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `GET /admin/operator/tenants`: every tenant with its health, each a link into its
/// admin screens (read-only for the operator).
pub async fn tenants(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    if !state.operator.configured() {
        return not_configured();
    }
    if !signed_in(&state, &req) {
        return Ok(see_other(HOME));
    }
    let tenants = state.service.run(|c| fleet(c, true)).await?;
    let healthy = tenants.iter().filter(|t| t.warnings.is_empty()).count();
    html(StatusCode::OK, TenantsPage { tenants, healthy }.render()?)
}

/// `POST /admin/operator/logout`.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    if !same_origin(&req, &state.public_url) {
        return Err(AdminError::Csrf);
    }
    let mut res = see_other(HOME);
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(COOKIE, "/admin", is_https(&state))) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}
