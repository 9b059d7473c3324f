//! Bearer-token authentication, bound to the tenant named in the path.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
use super::state::AppState;
use crate::service::{tenants, Scope, ServiceError};

/// An authenticated SCIM caller: the tenant its token belongs to.
pub struct Tenant {
    pub scope: Scope,
}

impl FromRequest for Tenant {
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
        Box::pin(async move {
            let (Some(state), Some(slug), Some(token)) = (state, slug, token) else {
                return Err(ApiError::Unauthenticated);
            };
            let lookup_slug = slug.clone();
            let tenant = state
                .store
                .run(move |c| {
                    tenants::authenticate(c, &lookup_slug, &token).map_err(ServiceError::from)
                })
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            Ok(Tenant {
                scope: Scope {
                    tenant,
                    base_url: format!("{}/scim/v2/{slug}", state.public_url),
                },
            })
        })
    }
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
