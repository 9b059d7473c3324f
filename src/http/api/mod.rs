//! The application API, `/api/v1/tenants/{tenant}/…`: JSON, authenticated by tenant API
//! keys (never SCIM tokens), each endpoint needing one scope.

pub mod credentials;
pub mod directory;
pub mod logs;
pub mod openapi;
pub mod roles;
pub mod sign_in;
pub mod snapshot;
pub mod webhooks;

use std::future::{ready, Ready};

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::correlation_id;
use super::error::ApiError;
use super::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::events::{Actor, ActorKind};
use crate::service::run::Tx;
use crate::service::{api_keys, Scope, ServiceError};

/// An API caller: the tenant in the path and the key it presented, not yet checked.
pub struct KeyCaller {
    slug: String,
    key: String,
    base_url: String,
    correlation_id: String,
}

impl KeyCaller {
    /// Refuses (401) a key that is not live for the tenant, whatever it may do.
    pub async fn authenticate(self, state: &AppState) -> Result<(), ApiError> {
        let live = state
            .service
            .run(move |c| api_keys::is_live(c, &self.slug, &self.key))
            .await?;
        if live {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated)
        }
    }

    /// The caller's scope, if the key is a live key of that tenant with `needed`.
    pub fn authorize(
        &self,
        conn: &mut Tx<'_>,
        needed: &'static str,
    ) -> Result<Scope, ServiceError> {
        let (tenant, key) = api_keys::authenticate(conn, &self.slug, &self.key, needed)?;
        Ok(Scope {
            tenant,
            base_url: self.base_url.clone(),
            actor: Actor {
                kind: ActorKind::Admin,
                id: key.id,
            },
            correlation_id: self.correlation_id.clone(),
        })
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }
}

impl FromRequest for KeyCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let public_url = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.public_url.clone());
        let slug = req.match_info().get("tenant");
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, key) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .filter(|k| k.starts_with(api_keys::PREFIX));
        ready(match (public_url, slug, key) {
            (Some(public_url), Some(slug), Some(key)) => Ok(KeyCaller {
                base_url: format!("{public_url}/scim/v2/{slug}"),
                slug: slug.to_owned(),
                key: key.to_owned(),
                correlation_id: correlation_id(req),
            }),
            _ => Err(ApiError::Unauthenticated),
        })
    }
}

/// Runs one use case for an API caller holding `needed`; `write` use cases join the
/// tenant's group commit.
pub async fn run<T, F>(
    state: &AppState,
    caller: KeyCaller,
    needed: &'static str,
    write: bool,
    use_case: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    let key = caller.slug.clone();
    let work = move |c: &mut Tx<'_>| {
        let scope = caller.authorize(c, needed)?;
        use_case(c, &scope)
    };
    Ok(if write {
        state.service.write(&key, work).await?
    } else {
        state.service.run(work).await?
    })
}

/// The path parameters the API's operations share, for the OpenAPI document only (the
/// handlers read the path themselves, and `KeyCaller` the tenant).
pub mod paths {
    /// `/tenants/{tenant}/…`
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct Tenant {
        /// The tenant's slug
        pub tenant: String,
    }

    /// `…/users/{id}/…`
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct TenantUser {
        /// The tenant's slug
        pub tenant: String,
        /// roster's id of the user
        pub id: String,
    }

    /// `…/users/{id}/manual-grants/{role}`
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct UserGrant {
        /// The tenant's slug
        pub tenant: String,
        /// roster's id of the user
        pub id: String,
        /// The role's slug
        pub role: String,
    }

    /// `…/roles/{slug}…`
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct TenantRole {
        /// The tenant's slug
        pub tenant: String,
        /// The role's slug
        pub slug: String,
    }

    /// `…/mappings/{id}`, `…/change-sets/{id}…`
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct TenantItem {
        /// The tenant's slug
        pub tenant: String,
        /// The id
        pub id: String,
    }
}

/// The refusals any application API operation may answer, each with a SCIM error body
/// (for the OpenAPI document).
#[derive(utoipa::IntoResponses)]
pub enum Refusals {
    /// Invalid request; the SCIM error's `detail` says which part
    #[response(status = 400)]
    Invalid,
    /// No live API key for this tenant
    #[response(status = 401)]
    Unauthenticated,
    /// The key lacks the scope the operation names
    #[response(status = 403)]
    Forbidden,
    /// No such tenant or resource
    #[response(status = 404)]
    NotFound,
    /// Database unavailable; see Retry-After
    #[response(status = 503)]
    Unavailable,
}

pub use crate::http::scim::resources::Access;

/// The whole of most API handlers: authorise `caller` for `needed`, run `use_case`,
/// answer `status` with the typed view it returns, as JSON.
pub async fn respond<T, F>(
    state: &AppState,
    caller: KeyCaller,
    needed: &'static str,
    access: Access,
    status: actix_web::http::StatusCode,
    use_case: F,
) -> Result<HttpResponse, ApiError>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    let view = run(state, caller, needed, access == Access::Write, use_case).await?;
    Ok(view_json(status, &view))
}

/// [`respond`] for a read answered 200, the most common case.
pub async fn read<T, F>(
    state: &AppState,
    caller: KeyCaller,
    needed: &'static str,
    use_case: F,
) -> Result<HttpResponse, ApiError>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    respond(
        state,
        caller,
        needed,
        Access::Read,
        actix_web::http::StatusCode::OK,
        use_case,
    )
    .await
}

/// A typed view as a JSON response.
pub fn view_json<T: serde::Serialize>(
    status: actix_web::http::StatusCode,
    view: &T,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(serde_json::to_string(view).unwrap_or_else(|_| "null".into()))
}

pub fn json(status: actix_web::http::StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.to_string())
}

pub fn ok(body: Value) -> HttpResponse {
    json(actix_web::http::StatusCode::OK, body)
}

/// A typed request body; a field the API does not know is an error, not ignored.
pub fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body)
        .map_err(|e| Invalid::new(ScimType::InvalidValue, format!("invalid body: {e}")).into())
}

/// A typed query string; a parameter the endpoint does not know (with
/// `deny_unknown_fields`) or a malformed one is a 400, not ignored.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| Invalid::new(ScimType::InvalidValue, e.to_string()).into())
}

/// A body that may be empty (then the defaults apply).
pub fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Invalid::new(ScimType::InvalidSyntax, format!("invalid JSON: {e}")))?;
    parse(value)
}
