//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes` (RFC 7644 §4).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::media::scim_json;
use super::resources::scoped;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scim::{discovery, list, schema};

/// The caller's SCIM base URL, once its token checks out.
async fn base_url(state: &AppState, caller: Caller) -> Result<String, ApiError> {
    scoped(state, caller, |_, scope| Ok(scope.base_url.clone())).await
}

pub async fn service_provider_config(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&state, caller).await?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&base, &state.limits),
    ))
}

pub async fn schemas(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let base = base_url(&state, caller).await?;
    let all: Vec<Value> = schema::all_schemas()
        .iter()
        .map(|s| schema::schema_json(s, &base))
        .collect();
    let total = all.len() as i64;
    Ok(scim_json(
        StatusCode::OK,
        &list::list_response(total, 1, all),
    ))
}

pub async fn schema_by_id(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&state, caller).await?;
    let def = schema::schema(&path.1).ok_or(ApiError::UnknownEndpoint)?;
    Ok(scim_json(StatusCode::OK, &schema::schema_json(def, &base)))
}

pub async fn resource_types(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&state, caller).await?;
    let all: Vec<Value> = schema::ResourceKind::ALL
        .iter()
        .map(|k| schema::resource_type_json(*k, &base))
        .collect();
    let total = all.len() as i64;
    Ok(scim_json(
        StatusCode::OK,
        &list::list_response(total, 1, all),
    ))
}

pub async fn resource_type_by_id(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(&state, caller).await?;
    let kind = schema::ResourceKind::ALL
        .iter()
        .find(|k| k.name() == path.1)
        .ok_or(ApiError::UnknownEndpoint)?;
    Ok(scim_json(
        StatusCode::OK,
        &schema::resource_type_json(*kind, &base),
    ))
}

/// `/Me` is not offered (there is no authenticated user, only a tenant): 501 per RFC 7644.
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    base_url(&state, caller).await?;
    Err(ApiError::NotImplemented("/Me"))
}
