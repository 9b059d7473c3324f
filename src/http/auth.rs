//! Bearer-token authentication, bound to the tenant named in the path.
//!
//! Extraction only reads the header; the token is checked in the same database hop as
//! the use case (see `scim::resources::scoped`), so a request costs one connection.

use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use std::future::Future;
use std::pin::Pin;

use super::error::ApiError;
use super::state::AppState;
use crate::service::events::{Actor, ActorKind};
use crate::service::{tenants, Scope, ServiceError};
use crate::store::DbConnection;

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

    /// The caller's tenant scope, if the token is a live token of that tenant.
    pub fn authorize(&self, conn: &mut DbConnection) -> Result<Scope, ServiceError> {
        let found = self
            .tokens
            .authenticate(conn, &self.slug, &self.token, self.ip.as_deref())?
            .ok_or(ServiceError::Unauthenticated)?;
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
    /// The source address, for failed-authentication limits.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }

    /// Before a body is read: refused with 429 if this address or tenant is over its
    /// failed-authentication budget, with 401 if the token is not a live token of the
    /// tenant. A token this process has verified before skips that look-up: the use
    /// case's own hop checks it again anyway.
    async fn admit(&self, state: &AppState, has_body: bool) -> Result<(), ApiError> {
        let known = self.tokens.seen(&self.slug, &self.token);
        state
            .limiters
            .may_authenticate(self.ip(), &self.slug, known)?;
        if !has_body || known {
            return Ok(());
        }
        let (slug, token) = (self.slug.clone(), self.token.clone());
        let live = state
            .store
            .run(move |c| tenants::is_live_token(c, &slug, &token))
            .await
            .map_err(ServiceError::from)?;
        if !live {
            state.limiters.authentication_failed(self.ip(), &self.slug);
            return Err(ApiError::Unauthenticated);
        }
        Ok(())
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let slug = req.match_info().get("tenant").map(str::to_owned);
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        let correlation_id = correlation_id(req);
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
        Box::pin(async move {
            let (Some(state), Some(slug)) = (state, slug) else {
                return Err(ApiError::Unauthenticated);
            };
            let Some(token) = token else {
                state
                    .limiters
                    .may_authenticate(ip.as_deref(), &slug, false)?;
                state.limiters.authentication_failed(ip.as_deref(), &slug);
                return Err(ApiError::Unauthenticated);
            };
            let caller = Caller {
                base_url: format!("{}/scim/v2/{slug}", state.public_url),
                slug,
                token,
                correlation_id,
                ip,
                tokens: state.tokens.clone(),
            };
            caller.admit(&state, has_body).await?;
            Ok(caller)
        })
    }
}

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
