//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes` (RFC 7644 §4).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::media::scim_json;
use crate::http::auth::Tenant;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scim::{discovery, list, schema};

pub async fn service_provider_config(state: web::Data<AppState>, tenant: Tenant) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&tenant.scope.base_url, &state.limits),
    )
}

pub async fn schemas(tenant: Tenant) -> HttpResponse {
    let all: Vec<Value> = schema::all_schemas()
        .iter()
        .map(|s| schema::schema_json(s, &tenant.scope.base_url))
        .collect();
    let total = all.len() as i64;
    scim_json(StatusCode::OK, &list::list_response(total, 1, all))
}

pub async fn schema_by_id(
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let def = schema::schema(&path.1).ok_or(ApiError::UnknownEndpoint)?;
    Ok(scim_json(
        StatusCode::OK,
        &schema::schema_json(def, &tenant.scope.base_url),
    ))
}

pub async fn resource_types(tenant: Tenant) -> HttpResponse {
    let all: Vec<Value> = schema::ResourceKind::ALL
        .iter()
        .map(|k| schema::resource_type_json(*k, &tenant.scope.base_url))
        .collect();
    let total = all.len() as i64;
    scim_json(StatusCode::OK, &list::list_response(total, 1, all))
}

pub async fn resource_type_by_id(
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let kind = schema::ResourceKind::ALL
        .iter()
        .find(|k| k.name() == path.1)
        .ok_or(ApiError::UnknownEndpoint)?;
    Ok(scim_json(
        StatusCode::OK,
        &schema::resource_type_json(*kind, &tenant.scope.base_url),
    ))
}

/// `/Bulk` and `/Me` are not offered (ServiceProviderConfig says so): 501 per RFC 7644.
pub async fn bulk(_tenant: Tenant) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotImplemented("Bulk"))
}

pub async fn me(_tenant: Tenant) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotImplemented("/Me"))
}
