//! `GET /api/v1/openapi.json`: the OpenAPI 3 description of the application API, built
//! from one table of operations so that a test can call every one of them.

use actix_web::HttpResponse;
use serde_json::{json, Value};

/// One documented operation: method, path, scope, summary, request and response
/// schema names (in `components.schemas`), and its success status.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub scope: &'static str,
    pub summary: &'static str,
    pub request: Option<&'static str>,
    pub response: Option<&'static str>,
    pub status: u16,
}

const fn op(
    method: &'static str,
    path: &'static str,
    scope: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: Option<&'static str>,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        scope,
        summary,
        request,
        response,
        status,
    }
}

pub const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/sync-log",
        "admin",
        "The tenant's sync log, newest first (query: result, method, q, before, limit)",
        None,
        Some("SyncLogPage"),
        200,
    ),
    op(
        "get",
        "/events",
        "events:read",
        "The ordered event feed (query: after, limit ≤ 500, types)",
        None,
        Some("EventPage"),
        200,
    ),
    op(
        "get",
        "/scim-tokens",
        "admin",
        "SCIM tokens (never their secrets)",
        None,
        Some("CredentialList"),
        200,
    ),
    op(
        "post",
        "/scim-tokens",
        "admin",
        "Create a SCIM token; the secret is in this response only",
        Some("CredentialInput"),
        Some("NewCredential"),
        201,
    ),
    op(
        "delete",
        "/scim-tokens/{id}",
        "admin",
        "Revoke a SCIM token",
        None,
        None,
        204,
    ),
    op(
        "post",
        "/scim-tokens/{id}/rotate",
        "admin",
        "Create a successor; both work until the old one is revoked",
        None,
        Some("NewCredential"),
        201,
    ),
    op(
        "get",
        "/api-keys",
        "admin",
        "API keys (never their secrets)",
        None,
        Some("CredentialList"),
        200,
    ),
    op(
        "post",
        "/api-keys",
        "admin",
        "Create an API key; the secret is in this response only",
        Some("CredentialInput"),
        Some("NewCredential"),
        201,
    ),
    op(
        "delete",
        "/api-keys/{id}",
        "admin",
        "Revoke an API key",
        None,
        None,
        204,
    ),
];

fn schemas() -> Value {
    let object = |properties: Value| json!({"type": "object", "properties": properties});
    let string = json!({"type": "string"});
    json!({
        "Event": object(json!({
            "id": string, "type": string, "tenant_id": string, "sequence": {"type": "integer"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": object(json!({"type": {"type": "string", "enum": ["scim", "admin", "system"]}, "id": string})),
            "correlation_id": string, "data": {"type": "object"}, "previous_attributes": {"type": "object"}
        })),
        "EventPage": object(json!({"data": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}, "next_after": {"type": "integer"}})),
        "Credential": object(json!({"id": string, "name": string, "hint": string, "scopes": {"type": "array", "items": string}, "created_at": string, "last_used_at": {"type": ["string", "null"]}, "revoked_at": {"type": ["string", "null"]}})),
        "CredentialList": {"type": "array", "items": {"$ref": "#/components/schemas/Credential"}},
        "CredentialInput": object(json!({"name": string, "scopes": {"type": "array", "items": {"type": "string", "enum": ["admin", "events:read", "roles:read"]}}})),
        "NewCredential": object(json!({"id": string, "name": string, "token": {"type": "string", "description": "SCIM tokens: the secret, shown once"}, "key": {"type": "string", "description": "API keys: the secret, shown once"}})),
        "SyncLogEntry": object(json!({"id": string, "at": string, "method": string, "path": string, "status": {"type": "integer"}, "latency_ms": {"type": "number"}, "result": {"type": "string", "enum": ["success", "failure"]}, "detail": {"type": ["string", "null"]}, "resource_type": {"type": ["string", "null"]}, "resource_id": {"type": ["string", "null"]}, "request_body": {}, "response_body": {}})),
        "SyncLogPage": object(json!({"data": {"type": "array", "items": {"$ref": "#/components/schemas/SyncLogEntry"}}, "next": {"type": ["object", "null"]}})),
        "Error": object(json!({"schemas": {"type": "array", "items": string}, "status": string, "scimType": string, "detail": string})),
    })
}

/// The operations whose handlers describe themselves (`#[utoipa::path]`), with the
/// schemas of their typed views.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "roster application API",
        description = "Roles, mappings, change-sets, the event feed, webhooks and credentials of one tenant. Authenticate with a tenant API key (`Authorization: Bearer rak_…`); SCIM tokens do not work here."
    ),
    paths(
        super::roles::user_roles,
        super::roles::grant,
        super::roles::revoke,
        super::roles::list_roles,
        super::roles::get_role,
        super::roles::create_role,
        super::roles::update_role,
        super::roles::delete_role,
        super::roles::list_mappings,
        super::roles::get_settings,
        super::roles::put_settings,
        super::roles::create_mapping,
        super::roles::delete_mapping,
        super::roles::list_change_sets,
        super::roles::get_change_set,
        super::roles::create_change_set,
        super::roles::preview_change_set,
        super::roles::preview_revert,
        super::roles::revert,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::update,
        super::webhooks::delete,
        super::webhooks::rotate_secret,
        super::webhooks::test,
        super::webhooks::deliveries,
        super::webhooks::redeliver,
    ),
    modifiers(&ApiKey)
)]
struct Generated;

/// The security scheme every operation names.
struct ApiKey;

impl utoipa::Modify for ApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A tenant API key (rak_…) with the scope each operation names; admin implies all.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The whole document: generated from the handlers that describe themselves, then the
/// operations of the table above that are not described yet (each `(path, method)`
/// once; the generated one wins).
pub fn document() -> Value {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(Generated::openapi()).unwrap_or_default();
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let mut add = |path: &str, method: &str, operation: Value| {
        let entry = &mut doc["paths"][path];
        if entry.get(method).is_none() {
            entry[method] = operation;
        }
    };
    for o in OPERATIONS {
        add(
            &format!("/api/v1/tenants/{{tenant}}{}", o.path),
            o.method,
            described(o),
        );
    }
    let generated = doc["components"]["schemas"].take();
    let mut all = schemas();
    if let (Some(all), Value::Object(generated)) = (all.as_object_mut(), generated) {
        all.extend(generated);
    }
    doc["components"]["schemas"] = all;
    doc
}

/// One operation of the table, as OpenAPI.
fn described(o: &Operation) -> Value {
    let mut params = vec![
        json!({"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}}),
    ];
    for name in ["id", "slug", "role"] {
        if o.path.contains(&format!("{{{name}}}")) {
            params.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
    }
    let mut operation = json!({
        "summary": o.summary,
        "security": [{"api_key": [o.scope]}],
        "parameters": params,
        "responses": {
            "400": {"description": "invalid request", "content": {"application/scim+json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "no valid API key for this tenant"},
            "403": {"description": format!("the key lacks the '{}' scope", o.scope)},
            "409": {"description": "conflicts with the current state"},
            "503": {"description": "database unavailable; see Retry-After"}
        }
    });
    let success = match o.response {
        Some(schema) => {
            json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
        }
        None => json!({"description": "success"}),
    };
    operation["responses"][o.status.to_string()] = success;
    if let Some(schema) = o.request {
        operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    operation
}

pub async fn openapi() -> HttpResponse {
    super::ok(document())
}
