//! Webhook endpoints and their deliveries over the application API (`admin` scope).

use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, IntoResponses};

use super::{parse, respond, Access, KeyCaller};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::now;
use crate::service::webhooks::{
    self, DeliveryPage, DeliveryView, EndpointChanges, EndpointView, EndpointWithSecret,
    NewEndpoint,
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

/// The refusals every operation here may answer, with a SCIM error body.
#[derive(IntoResponses)]
pub enum Refusals {
    /// Invalid request: a body, URL, event type or `limit` the API does not take
    #[response(status = 400)]
    Invalid,
    /// No live API key for this tenant
    #[response(status = 401)]
    Unauthenticated,
    /// The key lacks the admin scope
    #[response(status = 403)]
    Forbidden,
    /// No such tenant, endpoint or delivery
    #[response(status = 404)]
    NotFound,
    /// Database unavailable; see Retry-After
    #[response(status = 503)]
    Unavailable,
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
    respond(
        &state,
        caller,
        "admin",
        Access::Read,
        StatusCode::OK,
        |c, scope| webhooks::list(c, &scope.tenant),
    )
    .await
}

/// The secret is in this response and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/webhooks",
    summary = "Create a webhook endpoint (the secret is shown once)",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewEndpoint,
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
    let mut input: NewEndpoint = parse(body.0)?;
    input.url = state.checked_webhook_url(input.url).await?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| webhooks::create(c, &scope.tenant, input, &now()),
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
    respond(
        &state,
        caller,
        "admin",
        Access::Read,
        StatusCode::OK,
        move |c, scope| webhooks::get(c, &scope.tenant, &id),
    )
    .await
}

#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{tenant}/webhooks/{id}",
    summary = "Change a webhook endpoint",
    params(EndpointPath),
    request_body = EndpointChanges,
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
    let mut changes: EndpointChanges = parse(body.0)?;
    if let Some(url) = changes.url.take() {
        changes.url = Some(state.checked_webhook_url(url).await?);
    }
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
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| webhooks::rotate_secret(c, &scope.tenant, &id, SystemTime::now()),
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
    respond(
        &state,
        caller,
        "admin",
        Access::Read,
        StatusCode::OK,
        move |c, scope| webhooks::deliveries(c, &scope.tenant, &id, limit),
    )
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

/// The OpenAPI 3 `paths` of these endpoints, relative to the server root.
pub fn openapi_paths() -> Value {
    let tenant = json!({"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Tenant slug"});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Webhook endpoint id"});
    let delivery_id = json!({"name": "delivery_id", "in": "path", "required": true, "schema": {"type": "string"}});
    let event_types = json!({"type": "array", "items": {"type": "string"}, "description": "Event types to send; empty means all"});
    let endpoint = json!({
        "type": "object",
        "required": ["id", "url", "description", "event_types", "enabled", "consecutive_failures", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "description": {"type": "string"},
            "event_types": event_types,
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"], "description": "Why roster or an administrator disabled it (410 Gone, 50 consecutive failures)"},
            "consecutive_failures": {"type": "integer"},
            "previous_secret_expires_at": {"type": ["string", "null"], "format": "date-time", "description": "Until then the rotated-out secret signs too"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    });
    let mut with_secret = endpoint.clone();
    with_secret["properties"]["secret"] = json!({"type": "string", "description": "whsec_… signing secret; shown only in this response"});
    with_secret["required"]
        .as_array_mut()
        .expect("array")
        .push(json!("secret"));
    let delivery = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "endpoint_id": {"type": "string"},
            "event_id": {"type": "string", "description": "Sent as webhook-id on every attempt"},
            "event_type": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "succeeded", "dead"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "last_status": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "last_latency_ms": {"type": ["integer", "null"]},
            "last_response": {"type": ["string", "null"], "description": "First 2 KB of the last response body"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "attempt_log": {"type": "array", "items": {"type": "object", "properties": {
                "attempt": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "status": {"type": ["integer", "null"]},
                "error": {"type": ["string", "null"]},
                "latency_ms": {"type": "integer"},
            }}},
        },
    });
    let content = |schema: &Value| json!({"application/json": {"schema": schema}});
    let error = json!({"description": "Error (SCIM error body)"});
    let conflict = json!({"description": "Conflict: the endpoint is disabled, or the delivery succeeded or is in flight"});
    let security = json!([{"apiKey": ["admin"]}]);
    let op = |summary: &str,
              params: Vec<&Value>,
              body: Option<Value>,
              code: &str,
              resp: Option<Value>| {
        let mut op = json!({
            "tags": ["webhooks"],
            "summary": summary,
            "security": security,
            "parameters": params,
            "responses": {
                "400": error, "401": error, "403": error, "404": error,
                "503": {"description": "database unavailable; see Retry-After"},
            },
        });
        if let Some(schema) = body {
            op["requestBody"] = json!({"required": true, "content": content(&schema)});
        }
        op["responses"][code] = match resp {
            Some(schema) => json!({"description": "OK", "content": content(&schema)}),
            None => json!({"description": "No content"}),
        };
        op
    };
    let new_endpoint = json!({
        "type": "object", "required": ["url"], "additionalProperties": false,
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "https; must not resolve to a private, loopback, link-local or metadata address"},
            "description": {"type": "string"},
            "event_types": event_types,
            "enabled": {"type": "boolean", "default": true},
        },
    });
    let changes = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "description": {"type": "string"},
            "event_types": event_types,
            "enabled": {"type": "boolean", "description": "Enabling clears the failure count"},
        },
    });
    let base = "/api/v1/tenants/{tenant}/webhooks";
    let mut deliveries_get = op(
        "Deliveries to this endpoint, newest first",
        vec![&tenant, &id],
        None,
        "200",
        Some(
            json!({"type": "object", "properties": {"data": {"type": "array", "items": delivery.clone()}}}),
        ),
    );
    deliveries_get["parameters"]
        .as_array_mut()
        .expect("array")
        .push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERIES_PAGE, "default": 100}}));
    let mut test = op(
        "Send a webhook.test message to this endpoint only",
        vec![&tenant, &id],
        None,
        "202",
        Some(delivery.clone()),
    );
    test["responses"]["409"] = conflict.clone();
    let mut redeliver = op(
        "Queue a failed or dead-lettered delivery again, now",
        vec![&tenant, &delivery_id],
        None,
        "202",
        Some(delivery.clone()),
    );
    redeliver["responses"]["409"] = conflict;
    let mut paths = serde_json::Map::new();
    paths.insert(base.to_owned(), json!({
        "get": op("List webhook endpoints", vec![&tenant], None, "200", Some(json!({"type": "array", "items": endpoint}))),
        "post": op("Create a webhook endpoint (the secret is shown once)", vec![&tenant], Some(new_endpoint), "201", Some(with_secret.clone())),
    }));
    paths.insert(format!("{base}/{{id}}"), json!({
        "get": op("A webhook endpoint", vec![&tenant, &id], None, "200", Some(endpoint.clone())),
        "patch": op("Change a webhook endpoint", vec![&tenant, &id], Some(changes), "200", Some(endpoint.clone())),
        "delete": op("Delete a webhook endpoint and its deliveries", vec![&tenant, &id], None, "204", None),
    }));
    paths.insert(format!("{base}/{{id}}/rotate-secret"), json!({
        "post": op("Rotate the signing secret; the old one signs too for 24 hours", vec![&tenant, &id], None, "200", Some(with_secret)),
    }));
    paths.insert(format!("{base}/{{id}}/test"), json!({ "post": test }));
    paths.insert(
        format!("{base}/{{id}}/deliveries"),
        json!({ "get": deliveries_get }),
    );
    paths.insert(
        format!("{base}/deliveries/{{delivery_id}}/redeliver"),
        json!({ "post": redeliver }),
    );
    Value::Object(paths)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(paths(
        super::list,
        super::create,
        super::get,
        super::update,
        super::delete,
        super::rotate_secret,
        super::test,
        super::deliveries,
        super::redeliver
    ))]
    struct Annotated;

    /// Each operation's method and response codes, path by path.
    fn operations(paths: &Value) -> Vec<(String, String, Vec<String>)> {
        let mut ops = Vec::new();
        for (path, methods) in paths.as_object().expect("paths") {
            for (method, op) in methods.as_object().expect("methods") {
                let mut codes: Vec<String> = op["responses"]
                    .as_object()
                    .expect("responses")
                    .keys()
                    .cloned()
                    .collect();
                codes.sort();
                ops.push((path.clone(), method.clone(), codes));
            }
        }
        ops.sort();
        ops
    }

    #[test]
    fn the_annotations_document_the_same_operations_as_the_hand_written_paths() {
        let doc = serde_json::to_value(Annotated::openapi()).expect("document");
        assert_eq!(
            operations(&doc["paths"]),
            operations(&super::openapi_paths())
        );
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
