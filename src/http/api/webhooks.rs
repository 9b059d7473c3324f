//! Webhook endpoints and their deliveries over the application API (`admin` scope).

use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{parse, read, respond, Access, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::now;
use crate::service::webhooks::{
    self, DeliveryPage, DeliveryView, EndpointChanges, EndpointChangesBody, EndpointView,
    EndpointWithSecret, NewEndpoint, NewEndpointBody,
};

/// Most deliveries one page lists.
const MAX_DELIVERIES_PAGE: i64 = 500;

/// `/webhooks/{id}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// Tenant slug
    #[allow(dead_code)] // KeyCaller reads it; here for the OpenAPI document
    tenant: String,
    /// Webhook endpoint id
    id: String,
}

/// `/webhooks/deliveries/{delivery_id}/redeliver`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// Tenant slug
    #[allow(dead_code)] // KeyCaller reads it; here for the OpenAPI document
    tenant: String,
    /// Webhook delivery id
    delivery_id: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/webhooks",
    summary = "List webhook endpoints",
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The tenant's endpoints", body = Vec<EndpointView>),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn list(state: web::Data<AppState>, caller: KeyCaller) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "admin", |c, scope| {
        webhooks::list(c, &scope.tenant)
    })
    .await
}

/// The secret is in this response and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/webhooks",
    summary = "Create a webhook endpoint (the secret is shown once)",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewEndpointBody,
    responses(
        (status = 201, description = "The endpoint and its secret", body = EndpointWithSecret),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let body: NewEndpointBody = parse(body.0)?;
    let input = NewEndpoint {
        url: state.checked_webhook_url(body.url).await?,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
    };
    let keys = state.secrets.clone();
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| webhooks::create(c, &scope.tenant, input, &now(), &keys),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}",
    summary = "A webhook endpoint",
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    read(&state, caller, "admin", move |c, scope| {
        webhooks::get(c, &scope.tenant, &id)
    })
    .await
}

#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}",
    summary = "Change a webhook endpoint",
    params(EndpointPath),
    request_body = EndpointChangesBody,
    responses(
        (status = 200, description = "The endpoint as changed", body = EndpointView),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    let body: EndpointChangesBody = parse(body.0)?;
    let changes = EndpointChanges {
        url: match body.url {
            Some(url) => Some(state.checked_webhook_url(url).await?),
            None => None,
        },
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
    };
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| webhooks::update(c, &scope.tenant, &id, changes, &now()),
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}",
    summary = "Delete a webhook endpoint and its deliveries",
    params(EndpointPath),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    super::run(&state, caller, "admin", true, move |c, scope| {
        webhooks::delete(c, &scope.tenant, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new secret, shown once; the old one signs alongside it for 24 hours.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}/rotate-secret",
    summary = "Rotate the signing secret; the old one signs too for 24 hours",
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint and its new secret", body = EndpointWithSecret),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    let keys = state.secrets.clone();
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| webhooks::rotate_secret(c, &scope.tenant, &id, SystemTime::now(), &keys),
    )
    .await
}

/// Queues a `webhook.test` message for this endpoint only.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}/test",
    summary = "Send a webhook.test message to this endpoint only",
    params(EndpointPath),
    responses(
        (status = 202, description = "The queued delivery", body = DeliveryView),
        Refusals,
        (status = 409, description = "The endpoint is disabled"),
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn test(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::ACCEPTED,
        move |c, scope| webhooks::send_test(c, &scope.tenant, &scope.actor, &id, &now()),
    )
    .await
}

/// `?limit=<n>`: 100 unless given, at most [`MAX_DELIVERIES_PAGE`].
fn page_limit(req: &HttpRequest) -> Result<i64, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let limit = match query.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => v.parse::<i64>().map_err(|_| {
            ApiError::from(Invalid::new(
                ScimType::InvalidValue,
                "'limit' must be an integer",
            ))
        })?,
        None => 100,
    };
    Ok(limit.clamp(1, MAX_DELIVERIES_PAGE))
}

/// `GET /webhooks/{id}/deliveries?limit=<n>`: newest first, with attempt logs.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}/deliveries",
    summary = "Deliveries to this endpoint, newest first",
    params(
        EndpointPath,
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "How many (default 100, at most 500)"),
    ),
    responses(
        (status = 200, description = "The deliveries, each with its attempt log", body = DeliveryPage),
        Refusals,
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<EndpointPath>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    let limit = page_limit(&req)?;
    read(&state, caller, "admin", move |c, scope| {
        webhooks::deliveries(c, &scope.tenant, &id, limit)
    })
    .await
}

/// Failed or dead-lettered → pending, due now.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/webhooks/deliveries/{delivery_id}/redeliver",
    summary = "Queue a failed or dead-lettered delivery again, now",
    params(DeliveryPath),
    responses(
        (status = 202, description = "The delivery, pending again", body = DeliveryView),
        Refusals,
        (status = 409, description = "The delivery succeeded, or is being attempted right now"),
    ),
    tag = "webhooks",
    security(("api_key" = ["admin"]))
)]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<DeliveryPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().delivery_id;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::ACCEPTED,
        move |c, scope| webhooks::redeliver(c, &scope.tenant, &id, &now()),
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_holds_every_webhook_view() {
        let doc = crate::http::api::openapi::document();
        let schemas = &doc["components"]["schemas"];
        for view in [
            "EndpointView",
            "EndpointWithSecret",
            "DeliveryPage",
            "DeliveryView",
            "AttemptView",
            "DeliveryState",
            "NewEndpoint",
            "EndpointChanges",
        ] {
            assert!(schemas.get(view).is_some(), "{view} is not in the document");
        }
        assert_eq!(
            schemas["DeliveryState"]["enum"],
            serde_json::json!(["pending", "succeeded", "dead"])
        );
    }
}
