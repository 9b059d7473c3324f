//! Discovery documents (RFC 7643 §5–§7): what the server says it supports.

use serde_json::{json, Value};

use super::schema::SERVICE_PROVIDER_CONFIG_SCHEMA;

/// The limits roster enforces; advertised exactly as enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_page_size: i64,
    pub max_body_bytes: usize,
}

/// RFC 7643 §5 `ServiceProviderConfig`, advertising only what works.
pub fn service_provider_config(base: &str, limits: &Limits) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://github.com/roster-scim/roster#readme",
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": super::bulk::MAX_OPERATIONS,
            "maxPayloadSize": limits.max_body_bytes,
        },
        "filter": { "supported": true, "maxResults": limits.max_page_size },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        // RFC 9865 §4: both methods; index paging stays the default for older clients.
        // No cursorTimeout: a cursor is a position and never expires.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": limits.max_page_size,
            "maxPageSize": limits.max_page_size,
        },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a per-tenant bearer token (Authorization: Bearer <token>).",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        }
    })
}
