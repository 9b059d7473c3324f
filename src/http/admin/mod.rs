//! The admin UI's login and sessions (spec §6.7): OIDC authorization code with PKCE,
//! break-glass links, the session extractor every admin page uses, and CSRF checks.
//!
//! Cookies:
//! - `roster_oidc`: the transient login state (state, nonce, PKCE verifier, return
//!   path), HMAC-signed with the session secret, 10 minutes, `Path=/admin/{tenant}`;
//! - `roster_session`: a random 256-bit session id (the database keeps its SHA-256),
//!   `Path=/admin`.
//!
//! Both are `HttpOnly` and `SameSite=Lax` (Lax, so the IdP's top-level redirect to
//! the callback carries the state cookie), and `Secure` when the public URL is https.
//!
//! The screens live in the submodules; `ui` is what they share.

pub mod credentials;
pub mod directory;
pub mod logs;
pub mod mapping;
pub mod overview;
pub mod setup;
pub mod ui;
pub mod webhooks;

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::error::AdminError;
use super::state::AppState;
use crate::oidc::{Expected, Identity, PendingLogin, RelyingParty};
use crate::service::admin::{self as service, AdminRole, AuditContext, Login, Refusal};

pub const SESSION_COOKIE: &str = "roster_session";
const STATE_COOKIE: &str = "roster_oidc";
const STATE_TTL_SECS: u64 = 600;

/// The logged-in admin of the tenant in the path. Extraction fails with a redirect to
/// the login page (GET) or 403 when there is no live session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// The tenant's slug.
    pub tenant: String,
    pub tenant_id: crate::store::TenantId,
    pub subject: String,
    pub email: Option<String>,
    pub role: AdminRole,
    csrf_token: String,
    cookie: String,
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

pub(crate) fn app_state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .expect("startup registers AppState")
}

/// `Origin` absent (old browsers, some privacy settings) or equal to the public URL's
/// origin; `Sec-Fetch-Site: cross-site` is refused either way.
fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
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
            let Some(cookie) = cookie(&req, SESSION_COOKIE) else {
                return Err(login_required());
            };
            let (slug, value) = (tenant.clone(), cookie.clone());
            let found = state
                .store
                .write(move |c| service::session(c, &slug, &value))
                .await?;
            let Some(s) = found else {
                return Err(login_required());
            };
            Ok(AdminSession {
                tenant_id: crate::store::TenantId(s.tenant.id),
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

/// A cookie's value from the `Cookie` header (actix's cookie feature is not built in).
fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    set_cookie(name, "", path, Some(0), secure)
}

fn is_https(state: &AppState) -> bool {
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

/// A return path after login: only this tenant's admin pages, never another origin.
fn safe_return_to(tenant: &str, candidate: Option<&str>) -> String {
    let home = format!("/admin/{tenant}/");
    let Some(path) = candidate else {
        return home;
    };
    let inside = path == format!("/admin/{tenant}") || path.starts_with(&home);
    let tricky = path.contains("//")
        || path.contains('\\')
        || path.contains("/..")
        || path.chars().any(|c| c.is_control());
    if inside && !tricky {
        path.to_owned()
    } else {
        home
    }
}

/// The login state as the signed cookie carries it.
#[derive(Debug, Serialize, Deserialize)]
struct LoginState {
    tenant: String,
    pending: PendingLogin,
    return_to: String,
    expires: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

fn seal(secret: &[u8], state: &LoginState) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{tag}")
}

fn open(secret: &[u8], sealed: &str) -> Option<LoginState> {
    let (payload, tag) = sealed.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(secret, payload).verify_slice(&tag).ok()?;
    let state: LoginState = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (state.expires > unix_now()).then_some(state)
}

fn relying_party(state: &AppState, tenant: &str, settings: &service::OidcSettings) -> RelyingParty {
    RelyingParty {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: format!("{}/admin/{tenant}/callback", state.public_url),
    }
}

async fn settings_of(state: &AppState, tenant: &str) -> Result<service::OidcSettings, AdminError> {
    let slug = tenant.to_owned();
    let (_, settings) = state
        .store
        .run(move |c| service::oidc_settings(c, &slug))
        .await?;
    settings.ok_or_else(|| AdminError::NotConfigured {
        tenant: tenant.to_owned(),
    })
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /admin/{tenant}/login`: off to the IdP with PKCE, state and nonce (A2).
pub async fn login(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let settings = settings_of(&state, &tenant).await?;
    let rp = relying_party(&state, &tenant, &settings);
    let oidc = state.oidc.clone();
    let (url, pending) = web::block(move || oidc.authorization_request(&rp))
        .await
        .map_err(|_| AdminError::Blocking)??;
    let sealed = seal(
        state.session_secret(),
        &LoginState {
            tenant: tenant.clone(),
            pending,
            return_to: safe_return_to(&tenant, query.return_to.as_deref()),
            expires: unix_now() + STATE_TTL_SECS,
        },
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(
                STATE_COOKIE,
                &sealed,
                &format!("/admin/{tenant}"),
                Some(STATE_TTL_SECS),
                is_https(&state),
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /admin/{tenant}/callback`: checks state, exchanges the code, validates the ID
/// token, decides the role and opens a session.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let login = cookie(&req, STATE_COOKIE)
        .and_then(|c| open(state.session_secret(), &c))
        .filter(|l| l.tenant == tenant)
        .ok_or_else(|| {
            AdminError::LoginFailed(
                "the login has expired or was started elsewhere; start again".into(),
            )
        })?;
    if let Some(error) = &query.error {
        return Err(AdminError::LoginFailed(format!(
            "the identity provider refused: {error} {}",
            query.error_description.as_deref().unwrap_or("")
        )));
    }
    if query.state.as_deref() != Some(login.pending.state.as_str()) {
        return Err(AdminError::LoginFailed(
            "the state does not match this login".into(),
        ));
    }
    let code = query
        .code
        .clone()
        .ok_or_else(|| AdminError::LoginFailed("the callback carries no code".into()))?;
    let settings = settings_of(&state, &tenant).await?;
    let rp = relying_party(&state, &tenant, &settings);
    let oidc = state.oidc.clone();
    let pending = login.pending.clone();
    let checked = settings.clone();
    let identity = web::block(move || -> Result<Identity, crate::oidc::OidcError> {
        let tokens = oidc.exchange(&rp, &code, &pending.verifier)?;
        let claims = oidc.validate(
            &tokens.id_token,
            &Expected {
                issuer: &checked.issuer,
                client_id: &checked.client_id,
                nonce: &pending.nonce,
                jc_org: checked.expected_jc_org.as_deref(),
            },
        )?;
        let subject = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let groups = match crate::oidc::find_groups(&claims, &checked.groups_claim) {
            Some(groups) => groups,
            // JumpCloud may leave groups to userinfo: ask once (A4).
            None => oidc
                .userinfo(&checked.issuer, &tokens.access_token, &subject)?
                .and_then(|info| crate::oidc::find_groups(&info, &checked.groups_claim))
                .unwrap_or_default(),
        };
        Ok(Identity::from_claims(&claims, groups))
    })
    .await
    .map_err(|_| AdminError::Blocking)??;

    let ctx = audit_context(&req);
    let slug = tenant.clone();
    let who = identity.clone();
    let outcome = state
        .store
        .write(move |c| {
            service::complete_login(
                c,
                &slug,
                &Login {
                    subject: &who.subject,
                    email: who.email.as_deref(),
                    email_verified: who.email_verified,
                    groups: &who.groups,
                },
                &ctx,
            )
        })
        .await?;
    let secure = is_https(&state);
    match outcome {
        Ok(opened) => Ok(logged_in(&tenant, &opened.cookie, &login.return_to, secure)),
        Err(Refusal::NoAdminGroup { groups }) => Err(AdminError::NoAdminGroup { groups }),
        Err(Refusal::InactiveUser) => Err(AdminError::InactiveUser),
    }
}

fn logged_in(tenant: &str, session: &str, return_to: &str, secure: bool) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, return_to.to_owned()))
        .append_header((
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, session, "/admin", None, secure),
        ))
        .append_header((
            header::SET_COOKIE,
            clear_cookie(STATE_COOKIE, &format!("/admin/{tenant}"), secure),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /admin/{tenant}/login-link/{token}`: a break-glass owner session (A10).
pub async fn login_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (tenant, token) = path.into_inner();
    let ctx = audit_context(&req);
    let slug = tenant.clone();
    let opened = state
        .store
        .write(move |c| service::use_login_link(c, &slug, &token, &ctx))
        .await?
        .ok_or(AdminError::LoginLinkInvalid)?;
    Ok(logged_in(
        &tenant,
        &opened.cookie,
        &format!("/admin/{tenant}/"),
        is_https(&state),
    ))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /admin/{tenant}/logout`: ends the session (A8).
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    session.verify_post(&req, &form.csrf)?;
    let ctx = audit_context(&req);
    let slug = session.tenant.clone();
    let cookie = session.cookie.clone();
    state
        .store
        .write(move |c| service::logout(c, &slug, &cookie, &ctx))
        .await?;
    let page = MessagePage {
        title: "Signed out",
        message: "You are signed out of roster.".into(),
        is_error: false,
        items_label: "",
        items: vec![],
        link: Some(format!("/admin/{}/login", session.tenant)),
        link_text: "Sign in again",
    };
    let mut response = html(StatusCode::OK, page.render()?)?;
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_cookie(SESSION_COOKIE, "/admin", is_https(&state)))
            .expect("ASCII cookie"),
    );
    Ok(response)
}

/// Every page and refusal the admin UI shows that is not a screen of its own.
#[derive(Template)]
#[template(path = "admin/message.html")]
pub struct MessagePage {
    pub title: &'static str,
    pub message: String,
    pub is_error: bool,
    pub items_label: &'static str,
    pub items: Vec<String>,
    pub link: Option<String>,
    pub link_text: &'static str,
}

/// An HTML response that no cache keeps and no other site may frame.
pub fn html(status: StatusCode, body: String) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_tenants_admin_paths_are_return_paths() {
        for ok in ["/admin/acme/", "/admin/acme", "/admin/acme/users?x=1"] {
            assert_eq!(safe_return_to("acme", Some(ok)), ok);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/admin/acme/",
            "/admin/acme//evil.example",
            "/admin/other/",
            "/admin/acme/../other/",
            "/admin/acme/\\evil",
            "/admin/acmex/",
        ] {
            assert_eq!(safe_return_to("acme", Some(bad)), "/admin/acme/", "{bad}");
        }
    }

    #[test]
    fn the_state_cookie_is_tamper_proof_and_expires() {
        let state = LoginState {
            tenant: "acme".into(),
            pending: PendingLogin {
                state: "s".into(),
                nonce: "n".into(),
                verifier: "v".into(),
            },
            return_to: "/admin/acme/".into(),
            expires: unix_now() + 60,
        };
        let sealed = seal(b"k1", &state);
        assert_eq!(open(b"k1", &sealed).unwrap().pending, state.pending);
        assert!(open(b"k2", &sealed).is_none());
        let (payload, tag) = sealed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
                .replace("acme", "evil"),
        );
        assert!(open(b"k1", &format!("{forged}.{tag}")).is_none());
        let expired = LoginState {
            expires: unix_now() - 1,
            ..state
        };
        assert!(open(b"k1", &seal(b"k1", &expired)).is_none());
    }

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
