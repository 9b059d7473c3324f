//! Bearer-token authentication, bound to the tenant named in the path.
//!
//! Before a SCIM handler runs, [`admit`] refuses a token that is not live (from memory
//! when this process has verified it before, else by one read); extraction only reads
//! the header, and the token is checked again in the use case's own database hop (see
//! `scim::resources::scoped`).

use std::future::{ready, Ready};

use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::error::ApiError;
use super::state::AppState;
use crate::service::events::{Actor, ActorKind};
use crate::service::run::Tx;
use crate::service::{api_keys, tenants, Scope, ServiceError};

/// A SCIM caller: the tenant in the path and the token it presented, not yet checked.
#[derive(Clone)]
pub struct Caller {
    slug: String,
    token: String,
    base_url: String,
    correlation_id: String,
    /// The TCP peer, recorded as the token's last-used address.
    ip: Option<String>,
    tokens: std::sync::Arc<tenants::TokenCache>,
}

impl Caller {
    /// The tenant named in the path, not yet checked.
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The caller's tenant scope, if the token is a live token of that tenant (or an API
    /// key of it with `scim:read`) that may do what the use case does: a read-only
    /// token or an API key `writes` nothing.
    pub fn authorize(&self, conn: &mut Tx<'_>, writes: bool) -> Result<Scope, ServiceError> {
        if self.token.starts_with(api_keys::PREFIX) {
            return self.authorize_key(conn, writes);
        }
        let found = self
            .tokens
            .authenticate(conn, &self.slug, &self.token, self.ip.as_deref())?
            .ok_or(ServiceError::Unauthenticated)?;
        if found.suspended {
            return Err(ServiceError::Suspended(self.slug.clone()));
        }
        if writes && found.read_only {
            return Err(ServiceError::ReadOnly(
                "this SCIM token is read-only: it may read resources but not change them",
            ));
        }
        let scope = Scope {
            tenant: found.tenant,
            base_url: self.base_url.clone(),
            actor: Actor {
                kind: ActorKind::Scim,
                id: found.token_id,
            },
            correlation_id: self.correlation_id.clone(),
        };
        if !found.activated {
            tenants::activate(conn, &scope)?;
        }
        Ok(scope)
    }
}

impl Caller {
    /// An application's API key on the SCIM API: it reads with `scim:read` (or `admin`,
    /// which implies it) and never writes; nor does it activate the connection, which
    /// is the identity provider's.
    fn authorize_key(&self, conn: &mut Tx<'_>, writes: bool) -> Result<Scope, ServiceError> {
        let (tenant, key) =
            api_keys::authenticate(conn, &self.slug, &self.token, api_keys::SCIM_READ)?;
        if tenants::is_suspended(conn, &tenant)? {
            return Err(ServiceError::Suspended(self.slug.clone()));
        }
        if writes {
            return Err(ServiceError::ReadOnly(
                "API keys are read-only on the SCIM API: writes need a SCIM token",
            ));
        }
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

    /// The source address, for failed-authentication limits.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>();
        let public_url = state.map(|s| (s.public_url.clone(), s.tokens.clone()));
        let slug = req.match_info().get("tenant");
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        let correlation_id = correlation_id(req);
        ready(match (public_url, slug, token) {
            (Some((public_url, tokens)), Some(slug), Some(token)) => Ok(Caller {
                base_url: format!("{public_url}/scim/v2/{slug}"),
                slug: slug.to_owned(),
                token: token.to_owned(),
                correlation_id,
                ip: req.peer_addr().map(|a| a.ip().to_string()),
                tokens,
            }),
            _ => Err(ApiError::Unauthenticated),
        })
    }
}

/// Before any SCIM handler runs (so before a body is read and before a 405): refused
/// with 429 if this address or tenant is over its failed-authentication budget, with
/// 401 if the token is not a live token of the tenant. A token this process verified
/// before skips the look-up: the use case's own hop checks it again anyway.
pub async fn admit(state: &AppState, req: &ServiceRequest, slug: &str) -> Result<(), ApiError> {
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    let known = token.as_deref().is_some_and(|t| state.tokens.seen(slug, t));
    state
        .limiters
        .may_authenticate(ip.as_deref(), slug, known)?;
    if known {
        req.extensions_mut().insert(Authenticated);
        return Ok(());
    }
    let live = match token {
        None => false,
        Some(token) => {
            let slug = slug.to_owned();
            state
                .service
                .run(move |c| {
                    if token.starts_with(api_keys::PREFIX) {
                        api_keys::is_live(c, &slug, &token)
                    } else {
                        Ok(tenants::is_live_token(c, &slug, &token)?)
                    }
                })
                .await?
        }
    };
    if !live {
        state.limiters.authentication_failed(ip.as_deref(), slug);
        return Err(ApiError::Unauthenticated);
    }
    req.extensions_mut().insert(Authenticated);
    Ok(())
}

/// Marks a SCIM request whose token is a live token of the tenant in its path: only
/// those count in the tenant's metrics and sync log, so a stranger's made-up slug never
/// becomes a label or a log row.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

/// The request id (also sent back as `X-Request-Id`) that events link back to.
pub fn correlation_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| format!("req_{id}"))
        .unwrap_or_default()
}

/// The token of an `Authorization` header. Besides `Bearer <token>` (scheme in any
/// case) it takes a bare roster token and a doubled `Bearer Bearer <token>`: admins
/// paste tokens into IdP fields that may or may not add the scheme themselves.
fn bearer_token(value: &str) -> Option<&str> {
    let mut rest = value.trim();
    let mut schemes = 0;
    while let Some((scheme, tail)) = rest.split_once(' ') {
        if !scheme.eq_ignore_ascii_case("bearer") || schemes == 2 {
            break;
        }
        rest = tail.trim_start();
        schemes += 1;
    }
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return None;
    }
    if schemes == 0 && !rest.starts_with(tenants::TOKEN_PREFIX) {
        return None;
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer rst_abc"), Some("rst_abc"));
        assert_eq!(bearer_token("bearer rst_abc"), Some("rst_abc"));
        assert_eq!(bearer_token("BEARER  rst_abc"), Some("rst_abc"));
    }

    #[test]
    fn bare_and_doubled_tokens_are_accepted() {
        assert_eq!(bearer_token("rst_abc"), Some("rst_abc"));
        assert_eq!(bearer_token("Bearer Bearer rst_abc"), Some("rst_abc"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_refused() {
        assert_eq!(bearer_token("Basic dXNlcjpwdw=="), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token(""), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}
