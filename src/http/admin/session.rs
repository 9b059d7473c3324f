//! The admin session (spec §6.7): the extractor every admin page uses, its cookie,
//! and the CSRF checks of forms.
//!
//! Cookies:
//! - `roster_oidc`: the transient login state (`auth::login_state`), 10 minutes,
//!   `Path=/admin/{tenant}`;
//! - `roster_session`: a random 256-bit session id (the database keeps its SHA-256),
//!   `Path=/admin`.
//!
//! Both are `HttpOnly` and `SameSite=Lax` (Lax, so the IdP's top-level redirect to
//! the callback carries the state cookie), and `Secure` when the public URL is https.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};

use super::{app_state, AdminError};
use crate::http::state::AppState;
use crate::service::admin::{self as service, AdminRole, AuditContext};
use crate::service::TenantId;

pub const SESSION_COOKIE: &str = "roster_session";
pub(super) const STATE_COOKIE: &str = "roster_oidc";

/// The logged-in admin of the tenant in the path. Extraction fails with a redirect to
/// the login page (GET) or 403 when there is no live session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// The tenant's slug.
    pub tenant: String,
    pub tenant_id: TenantId,
    pub subject: String,
    pub email: Option<String>,
    pub role: AdminRole,
    csrf_token: String,
    pub(super) cookie: String,
}

impl AdminSession {
    /// Refuses unless the admin's role is at least `needed`.
    pub fn require(&self, needed: AdminRole) -> Result<(), AdminError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(AdminError::RoleTooLow { needed })
        }
    }

    /// The token every form of this session carries in a hidden `csrf` field.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// Checks a form POST: the synchronizer token must be this session's, and the
    /// `Origin` (when the browser sends one) must be roster's own.
    pub fn verify_post(&self, req: &HttpRequest, form_token: &str) -> Result<(), AdminError> {
        let state = app_state(req);
        if !same_origin(req, &state.public_url) {
            return Err(AdminError::Csrf);
        }
        // Digests compared, so the comparison time says nothing about the token.
        if crate::service::tenants::digest(form_token)
            != crate::service::tenants::digest(&self.csrf_token)
        {
            return Err(AdminError::Csrf);
        }
        Ok(())
    }
}

/// `Origin` absent (old browsers, some privacy settings) or equal to the public URL's
/// origin; `Sec-Fetch-Site: cross-site` is refused either way.
pub(super) fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return false;
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        Some(Ok(origin)) => origin_of(public_url) == Some(origin),
        Some(Err(_)) => false,
    }
}

/// `https://host:port` of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let rest_start = url.find("://")? + 3;
    let end = url[rest_start..]
        .find('/')
        .map_or(url.len(), |i| rest_start + i);
    Some(&url[..end])
}

impl FromRequest for AdminSession {
    type Error = AdminError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req);
            let tenant = req
                .match_info()
                .get("tenant")
                .unwrap_or_default()
                .to_owned();
            let login_required = || AdminError::LoginRequired {
                tenant: tenant.clone(),
                return_to: (req.method() == actix_web::http::Method::GET)
                    .then(|| req.path().to_owned()),
            };
            let found = match cookie(&req, SESSION_COOKIE) {
                Some(value) => {
                    let slug = tenant.clone();
                    state
                        .service
                        .write("", move |c| service::session(c, &slug, &value))
                        .await?
                }
                None => None,
            };
            let Some(s) = found else {
                return operator_session(&state, &req, tenant.clone())
                    .await?
                    .ok_or_else(login_required);
            };
            let cookie = cookie(&req, SESSION_COOKIE).unwrap_or_default();
            Ok(AdminSession {
                tenant_id: TenantId(s.tenant.id),
                tenant: s.tenant.slug,
                subject: s.subject,
                email: s.email,
                role: s.role,
                csrf_token: s.csrf_token,
                cookie,
            })
        })
    }
}

/// The deployment's operator, signed in, looking at `tenant`: a viewer, so every form
/// is refused (its CSRF token is one nobody was given) and nothing is audited.
async fn operator_session(
    state: &AppState,
    req: &HttpRequest,
    tenant: String,
) -> Result<Option<AdminSession>, AdminError> {
    let signed_in = cookie(req, crate::auth::operator::COOKIE)
        .is_some_and(|c| state.operator.signed_in(state.session_secret(), &c));
    if !signed_in {
        return Ok(None);
    }
    let slug = tenant.clone();
    let Ok(row) = state
        .service
        .run(move |c| crate::service::tenants::tenant(c, &slug))
        .await
    else {
        return Ok(None);
    };
    Ok(Some(AdminSession {
        tenant_id: TenantId(row.id),
        tenant,
        subject: "operator".into(),
        email: None,
        role: AdminRole::Viewer,
        csrf_token: crate::service::tenants::generate_secret("unissued_")?,
        cookie: String::new(),
    }))
}

/// A cookie's value from the `Cookie` header (actix's cookie feature is not built in).
pub(crate) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub(crate) fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    set_cookie(name, "", path, Some(0), secure)
}

pub(crate) fn is_https(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

pub(crate) fn audit_context(req: &HttpRequest) -> AuditContext {
    AuditContext {
        // The peer, not X-Forwarded-For: a client can write that header itself.
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_by_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://r.example/base"),
            Some("https://r.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
    }
}
