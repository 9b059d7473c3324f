//! Webhook endpoints and their deliveries over the application API (`admin` scope).

use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{json, ok, parse, run, KeyCaller};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::now;
use crate::service::webhooks::{self, EndpointChanges, NewEndpoint};

/// Most deliveries one page lists.
const MAX_DELIVERIES_PAGE: i64 = 500;

pub async fn list(state: web::Data<AppState>, caller: KeyCaller) -> Result<HttpResponse, ApiError> {
    let body = run(&state, caller, "admin", false, |c, scope| {
        webhooks::list(c, &scope.tenant)
    })
    .await?;
    Ok(ok(body))
}

/// The secret is in this response and nowhere else, ever.
pub async fn create(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let mut input: NewEndpoint = parse(body.0)?;
    input.url = state.checked_webhook_url(input.url).await?;
    let (mut body, secret) = run(&state, caller, "admin", true, move |c, scope| {
        webhooks::create(c, &scope.tenant, input, &now())
    })
    .await?;
    body["secret"] = json!(secret);
    Ok(json(StatusCode::CREATED, body))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let body = run(&state, caller, "admin", false, move |c, scope| {
        webhooks::get(c, &scope.tenant, &id)
    })
    .await?;
    Ok(ok(body))
}

pub async fn update(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let mut changes: EndpointChanges = parse(body.0)?;
    if let Some(url) = changes.url.take() {
        changes.url = Some(state.checked_webhook_url(url).await?);
    }
    let body = run(&state, caller, "admin", true, move |c, scope| {
        webhooks::update(c, &scope.tenant, &id, changes, &now())
    })
    .await?;
    Ok(ok(body))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    run(&state, caller, "admin", true, move |c, scope| {
        webhooks::delete(c, &scope.tenant, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new secret, shown once; the old one signs alongside it for 24 hours.
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let (mut body, secret) = run(&state, caller, "admin", true, move |c, scope| {
        webhooks::rotate_secret(c, &scope.tenant, &id, SystemTime::now())
    })
    .await?;
    body["secret"] = json!(secret);
    Ok(ok(body))
}

/// Queues a `webhook.test` message for this endpoint only.
pub async fn test(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let body = run(&state, caller, "admin", true, move |c, scope| {
        webhooks::send_test(c, &scope.tenant, &scope.actor, &id, &now())
    })
    .await?;
    Ok(json(StatusCode::ACCEPTED, body))
}

/// `GET /webhooks/{id}/deliveries?limit=<n>`: newest first, with attempt logs.
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
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
    }
    .clamp(1, MAX_DELIVERIES_PAGE);
    let body = run(&state, caller, "admin", false, move |c, scope| {
        webhooks::deliveries(c, &scope.tenant, &id, limit)
    })
    .await?;
    Ok(ok(json!({ "data": body })))
}

/// Failed or dead-lettered → pending, due now.
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let body = run(&state, caller, "admin", true, move |c, scope| {
        webhooks::redeliver(c, &scope.tenant, &id, &now())
    })
    .await?;
    Ok(json(StatusCode::ACCEPTED, body))
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
