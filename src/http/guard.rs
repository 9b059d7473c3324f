//! Admission: what a request must pass before any handler runs, and the limits that
//! keep one client or one tenant from taking the server from the others.
//!
//! - Until the database is prepared, everything but the probes gets 503.
//! - During a drain (SIGTERM), responses close their connections, so no idle keep-alive
//!   connection is left for the final stop to cut.
//! - Failed authentications are counted per source address and per tenant; past either
//!   budget a request is refused with 429 before its token is looked at.
//! - Each tenant's authenticated SCIM requests pass a token bucket (`tenant_rate_limit`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web;

use super::error::ApiError;
use super::state::AppState;
use crate::service::ServiceError;

/// Paths served whatever the database's state: probes, metrics, static assets.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/assets/")
}

/// The tenant segment of a SCIM path (`/scim/v2/{tenant}/...`), as sent.
pub fn scim_tenant(path: &str) -> Option<&str> {
    tenant_segment(path, "/scim/v2/")
}

fn tenant_segment<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .map(|rest| rest.split('/').next().unwrap_or_default())
}

/// Whether the path names a tenant that could exist: a slug is plain lower-case ASCII,
/// so anything else (`%00`, a newline) is answered 404 before it reaches a handler,
/// a query or a header.
fn names_a_possible_tenant(path: &str) -> bool {
    ["/scim/v2/", "/admin/", "/api/v1/tenants/", "/oauth/"]
        .iter()
        .filter_map(|prefix| tenant_segment(path, prefix))
        .all(crate::service::tenants::is_valid_slug)
}

pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let mut res = match refusal(&state, &req).await {
        Some(refused) => req.error_response(refused).map_into_right_body(),
        None => next.call(req).await?.map_into_left_body(),
    };
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if state.lifecycle.draining() {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// Why a request is answered before it reaches a handler, if it is.
async fn refusal(state: &AppState, req: &ServiceRequest) -> Option<ApiError> {
    if !state
        .metrics_access
        .routes(req.path(), req.app_config().local_addr())
    {
        return Some(ApiError::UnknownEndpoint);
    }
    if !state.lifecycle.prepared() && !is_probe(req.path()) {
        return Some(ApiError::from(ServiceError::unavailable(
            "the database is not prepared yet",
        )));
    }
    if !names_a_possible_tenant(req.path()) {
        return Some(ApiError::UnknownEndpoint);
    }
    let tenant = scim_tenant(req.path())?;
    // Authentication first: the tenant's budget is spent only by callers holding one of
    // its tokens, so nobody else can use it up and lock its IdP out.
    if let Err(refused) = super::auth::admit(state, req, tenant).await {
        return Some(refused);
    }
    state.limiters.spend_request(tenant).err()
}
