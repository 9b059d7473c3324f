//! Roles, effective roles, manual grants and the event feed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{json, ok, parse, run, KeyCaller};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::roles::{self, RoleInput};
use crate::service::{events, now};

/// Most events one feed page returns.
pub const MAX_EVENTS_PAGE: i64 = 500;

/// `GET /events?after=<sequence>&limit=<n>&types=a,b`: the ordered feed.
pub async fn events(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        get(name).map_or(Ok(default), |v| {
            v.parse::<i64>().map_err(|_| {
                Invalid::new(
                    ScimType::InvalidValue,
                    format!("'{name}' must be an integer"),
                )
                .into()
            })
        })
    };
    let after = number("after", 0)?.max(0);
    let limit = number("limit", 100)?.clamp(1, MAX_EVENTS_PAGE);
    let types: Vec<String> = get("types")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let page = run(&state, caller, "events:read", false, move |c, scope| {
        events::feed(c, &scope.tenant, after, limit, &types)
    })
    .await?;
    let next = page
        .last()
        .and_then(|e| e["sequence"].as_i64())
        .unwrap_or(after);
    Ok(ok(json!({ "data": page, "next_after": next })))
}

/// `GET /users/{id}/roles`: effective roles with reasons.
pub async fn user_roles(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let body = run(&state, caller, "roles:read", false, move |c, scope| {
        roles::effective(c, &scope.tenant, &id)
    })
    .await?;
    Ok(ok(body))
}

/// `PUT` / `DELETE /users/{id}/manual-grants/{role}`.
pub async fn manual_grant(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, user, role) = path.into_inner();
    let granted = req.method() == actix_web::http::Method::PUT;
    let body = run(&state, caller, "admin", true, move |c, scope| {
        roles::set_manual_grant(c, scope, &user, &role, granted, &now())
    })
    .await?;
    Ok(ok(body))
}

pub async fn list_roles(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    let body = run(&state, caller, "roles:read", false, |c, scope| {
        roles::list_roles(c, &scope.tenant)
    })
    .await?;
    Ok(ok(body))
}

pub async fn get_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    let list = run(&state, caller, "roles:read", false, |c, scope| {
        roles::list_roles(c, &scope.tenant)
    })
    .await?;
    let role = list
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["slug"] == json!(slug)))
        .cloned()
        .ok_or(ApiError::Service(roles::not_found_role()))?;
    Ok(ok(role))
}

pub async fn create_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: RoleInput = parse(body.0)?;
    let role = run(&state, caller, "admin", true, move |c, scope| {
        roles::create_role(c, scope, input, &now())
    })
    .await?;
    Ok(json(StatusCode::CREATED, role))
}

pub async fn update_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    let input: RoleInput = parse(body.0)?;
    let role = run(&state, caller, "admin", true, move |c, scope| {
        roles::update_role(c, scope, &slug, input, &now())
    })
    .await?;
    Ok(ok(role))
}

pub async fn delete_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    run(&state, caller, "admin", true, move |c, scope| {
        roles::delete_role(c, scope, &slug, &now())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
