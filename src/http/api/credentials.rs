//! SCIM tokens and API keys over the application API (`admin` scope).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{parse_optional, paths, run, view_json, Access, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::api_keys::{self, ApiKeyView, CreatedApiKey, KeyScope};
use crate::service::run::Tx;
use crate::service::tenants::{self, CreatedToken, TokenAccess, TokenView};
use crate::service::{Scope, ServiceError};

/// A new SCIM token or API key; an empty body takes the defaults.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// Defaults to `SCIM token` or `API key`.
    name: Option<String>,
    /// API keys only; defaults to `admin`. Unknown scopes are refused.
    #[serde(default)]
    #[schema(value_type = Vec<KeyScope>)]
    scopes: Vec<String>,
    /// SCIM tokens only: `true` makes a token that reads SCIM resources and whose writes
    /// get 403. Defaults to `false`. (An API key's access is its `scopes`.)
    read_only: Option<bool>,
}

/// A token or key in the path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CredentialPath {
    /// The tenant's slug.
    #[allow(dead_code)]
    tenant: String,
    /// The token's or key's id.
    id: String,
}

/// Runs a use case of this module for an `admin` caller, with the tenant's slug.
async fn as_admin<T, F>(
    state: &AppState,
    caller: KeyCaller,
    access: Access,
    use_case: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Tx<'_>, &Scope, &str) -> Result<T, ServiceError> + Send + 'static,
{
    let slug = caller.slug().to_owned();
    let write = access == Access::Write;
    run(state, caller, "admin", write, move |c, scope| {
        use_case(c, scope, &slug)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/scim-tokens",
    params(paths::Tenant),
    responses(
        (status = 200, description = "The tenant's SCIM tokens, oldest first", body = Vec<TokenView>),
        Refusals,
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    let tokens = as_admin(&state, caller, Access::Read, |c, _, slug| {
        tenants::tokens(c, slug)
    });
    Ok(view_json(StatusCode::OK, &tokens.await?))
}

/// The secret is in this response and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/scim-tokens",
    params(paths::Tenant),
    request_body(content = Option<NewCredential>, description = "Optional: a name, and `read_only`; `scopes` does not apply"),
    responses(
        (status = 201, description = "The token, with its secret shown once", body = CreatedToken),
        (status = 400, description = "An invalid body"),
        Refusals,
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: NewCredential = parse_optional(&body)?;
    let access = if input.read_only == Some(true) {
        TokenAccess::ReadOnly
    } else {
        TokenAccess::ReadWrite
    };
    let token = as_admin(&state, caller, Access::Write, move |c, scope, slug| {
        tenants::create_token_with(c, slug, input.name.as_deref(), access, &scope.actor)
    });
    Ok(view_json(StatusCode::CREATED, &token.await?))
}

/// A successor valid alongside the old token until the old one is revoked.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/scim-tokens/{id}/rotate",
    params(CredentialPath),
    responses(
        (status = 201, description = "The successor, with its secret shown once", body = CreatedToken),
        Refusals,
        (status = 404, description = "No such live token"),
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn rotate_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<CredentialPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    let token = as_admin(&state, caller, Access::Write, move |c, scope, slug| {
        tenants::rotate_token(c, slug, &id, &scope.actor)
    });
    Ok(view_json(StatusCode::CREATED, &token.await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/scim-tokens/{id}",
    params(CredentialPath),
    responses(
        (status = 204, description = "Revoked"),
        Refusals,
        (status = 404, description = "No such live token"),
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<CredentialPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    as_admin(&state, caller, Access::Write, move |c, scope, slug| {
        tenants::revoke_token(c, slug, &id, &scope.actor)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/api-keys",
    params(paths::Tenant),
    responses(
        (status = 200, description = "The tenant's API keys, oldest first", body = Vec<ApiKeyView>),
        Refusals,
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    let keys = as_admin(&state, caller, Access::Read, |c, _, slug| {
        api_keys::list(c, slug)
    });
    Ok(view_json(StatusCode::OK, &keys.await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/api-keys",
    params(paths::Tenant),
    request_body(content = Option<NewCredential>, description = "Optional: a name and scopes; `read_only` does not apply"),
    responses(
        (status = 201, description = "The key, with its secret shown once", body = CreatedApiKey),
        (status = 400, description = "An invalid body or an unknown scope"),
        Refusals,
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn create_key(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: NewCredential = parse_optional(&body)?;
    if input.read_only.is_some() {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "read_only applies to SCIM tokens; an API key's access is its scopes (e.g. scim:read)",
        )
        .into());
    }
    let key = as_admin(&state, caller, Access::Write, move |c, _, slug| {
        api_keys::create(c, slug, input.name.as_deref(), &input.scopes)
    });
    Ok(view_json(StatusCode::CREATED, &key.await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/api-keys/{id}",
    params(CredentialPath),
    responses(
        (status = 204, description = "Revoked"),
        Refusals,
        (status = 404, description = "No such live key"),
    ),
    tag = "credentials",
    security(("api_key" = ["admin"]))
)]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<CredentialPath>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().id;
    as_admin(&state, caller, Access::Write, move |c, _, slug| {
        api_keys::revoke(c, slug, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
