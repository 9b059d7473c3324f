//! SCIM tokens and API keys over the application API (`admin` scope).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json, ok, parse_optional, run, KeyCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::{api_keys, tenants};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewCredential {
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    let slug = caller.slug().to_owned();
    let rows = run(&state, caller, "admin", false, move |c, _| {
        tenants::list_tokens(c, &slug)
    })
    .await?;
    Ok(ok(rows.iter().map(tenants::token_json).collect::<Value>()))
}

/// The secret is in this response and nowhere else, ever.
pub async fn create_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: NewCredential = parse_optional(&body)?;
    let slug = caller.slug().to_owned();
    let token = run(&state, caller, "admin", true, move |c, scope| {
        tenants::create_token(c, &slug, input.name.as_deref(), &scope.actor)
    })
    .await?;
    let mut body = tenants::token_json(&token.row);
    body["token"] = json!(token.secret);
    Ok(json(StatusCode::CREATED, body))
}

pub async fn rotate_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = caller.slug().to_owned();
    let id = path.into_inner().1;
    let token = run(&state, caller, "admin", true, move |c, scope| {
        tenants::rotate_token(c, &slug, &id, &scope.actor)
    })
    .await?;
    let mut body = tenants::token_json(&token.row);
    body["token"] = json!(token.secret);
    Ok(json(StatusCode::CREATED, body))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = caller.slug().to_owned();
    let id = path.into_inner().1;
    run(&state, caller, "admin", true, move |c, scope| {
        tenants::revoke_token(c, &slug, &id, &scope.actor)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_keys(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    let slug = caller.slug().to_owned();
    let rows = run(&state, caller, "admin", false, move |c, _| {
        api_keys::list(c, &slug)
    })
    .await?;
    Ok(ok(rows.iter().map(api_keys::key_json).collect::<Value>()))
}

pub async fn create_key(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: NewCredential = parse_optional(&body)?;
    let slug = caller.slug().to_owned();
    let key = run(&state, caller, "admin", true, move |c, _| {
        api_keys::create(c, &slug, input.name.as_deref(), &input.scopes)
    })
    .await?;
    let mut body = api_keys::key_json(&key.row);
    body["key"] = json!(key.secret);
    Ok(json(StatusCode::CREATED, body))
}

pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = caller.slug().to_owned();
    let id = path.into_inner().1;
    run(&state, caller, "admin", true, move |c, _| {
        api_keys::revoke(c, &slug, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
