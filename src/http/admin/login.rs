//! Signing in to the admin UI: OIDC authorization code with PKCE against the tenant's
//! IdP (`/login`, `/callback`), break-glass links (`/login-link/{token}`), and
//! `/logout`. The protocol is in `auth`; who may enter is decided in `service::admin`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::session::{
    audit_context, clear_cookie, cookie, is_https, set_cookie, SESSION_COOKIE, STATE_COOKIE,
};
use super::ui::CsrfForm;
use super::{html, AdminError, AdminSession, MessagePage};
use crate::auth::login_state::{self, LoginState};
use crate::http::state::AppState;
use crate::service::admin::{self as service, Login, Refusal};

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

/// Where the IdP sends the browser back to.
pub(super) fn redirect_uri(state: &AppState, tenant: &str) -> String {
    format!("{}/admin/{tenant}/callback", state.public_url)
}

#[derive(Deserialize)]
pub struct ChooseQuery {
    tenant: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    tenant: String,
    invalid: bool,
}

/// `GET /admin/`: asks for the organization (tenant), then on to its sign-in. Every
/// well-formed name goes on, known or not, so the page tells nobody which exist.
pub async fn choose(query: web::Query<ChooseQuery>) -> Result<HttpResponse, AdminError> {
    let tenant = query.into_inner().tenant.unwrap_or_default();
    let tenant = tenant.trim();
    if crate::service::tenants::is_valid_slug(tenant) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/admin/{tenant}/login")))
            .finish());
    }
    let page = SignInPage {
        invalid: !tenant.is_empty(),
        tenant: tenant.to_owned(),
    };
    html(StatusCode::OK, page.render()?)
}

pub(crate) async fn settings_of(
    state: &AppState,
    tenant: &str,
) -> Result<service::OidcSettings, AdminError> {
    let slug = tenant.to_owned();
    let keys = state.secrets.clone();
    let (_, settings) = state
        .service
        .run(move |c| service::oidc_settings(c, &slug, &keys))
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
    let rp = service::relying_party(&settings, redirect_uri(&state, &tenant));
    let oidc = state.oidc.clone();
    let (url, pending) = web::block(move || oidc.authorization_request(&rp))
        .await
        .map_err(|_| AdminError::Blocking)??;
    let return_to = safe_return_to(&tenant, query.return_to.as_deref());
    Ok(to_identity_provider(
        &state,
        &url,
        &LoginState::new(tenant.clone(), pending, return_to),
    ))
}

/// `GET /admin/{tenant}/login/saml`: off to the tenant's SAML IdP; the same group
/// rules as the OIDC login decide the role when the response comes back.
pub async fn login_saml(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let return_to = safe_return_to(&tenant, query.return_to.as_deref());
    crate::http::saml::start(
        &state,
        &tenant,
        crate::service::saml::Purpose::Admin { return_to },
        false,
    )
    .await
}

/// Off to the IdP's authorization `url`, with `login` sealed in the state cookie that
/// the callback opens.
pub(super) fn to_identity_provider(
    state: &AppState,
    url: &str,
    login: &LoginState,
) -> HttpResponse {
    let tenant = &login.tenant;
    let sealed = login_state::seal(state.session_secret(), login);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(
                STATE_COOKIE,
                &sealed,
                &format!("/admin/{tenant}"),
                Some(login_state::TTL_SECS),
                is_https(state),
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
}

impl CallbackQuery {
    /// The state the provider sent back.
    pub(crate) fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// What the identity provider answered: the code, if it sent one for the login
    /// whose state is `expected`; its refusal, or why the answer is not for us.
    pub(crate) fn code_for(&self, expected: &str) -> Result<String, CallbackRefusal> {
        // The state first: an error that is not for this sign-in is not relayed.
        if self.state.as_deref().is_some_and(|s| s != expected) {
            return Err(CallbackRefusal::Ours(
                "the state does not match this sign-in",
            ));
        }
        if let Some(error) = &self.error {
            return Err(CallbackRefusal::Provider(format!(
                "the identity provider refused: {error} {}",
                self.error_description.as_deref().unwrap_or("")
            )));
        }
        if self.state.as_deref() != Some(expected) {
            return Err(CallbackRefusal::Ours(
                "the state does not match this sign-in",
            ));
        }
        self.code
            .clone()
            .ok_or(CallbackRefusal::Ours("the callback carries no code"))
    }
}

/// Why a callback carries no usable code.
pub(crate) enum CallbackRefusal {
    /// The provider sent an error.
    Provider(String),
    /// The answer does not belong to the login in progress.
    Ours(&'static str),
}

impl From<CallbackRefusal> for AdminError {
    fn from(r: CallbackRefusal) -> Self {
        match r {
            CallbackRefusal::Provider(why) => AdminError::LoginFailed(why),
            CallbackRefusal::Ours(why) => AdminError::LoginFailed(why.into()),
        }
    }
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
        .and_then(|c| login_state::open(state.session_secret(), &c))
        .filter(|l| l.tenant == tenant)
        .ok_or_else(|| {
            AdminError::LoginFailed(
                "the login has expired or was started elsewhere; start again".into(),
            )
        })?;
    if login.test {
        // The admin SSO screen's test sign-in: shown, never signed in.
        return super::sso::test_result(req, state, tenant, query.into_inner(), login).await;
    }
    let code = query.code_for(&login.pending.state)?;
    let settings = settings_of(&state, &tenant).await?;
    let redirect = redirect_uri(&state, &tenant);
    let oidc = state.oidc.clone();
    let pending = login.pending.clone();
    let identity =
        web::block(move || service::identify(&oidc, &settings, redirect, &code, &pending))
            .await
            .map_err(|_| AdminError::Blocking)??;

    let ctx = audit_context(&req);
    let slug = tenant.clone();
    let who = identity.clone();
    let outcome = state
        .service
        .write("", move |c| {
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

pub(crate) fn logged_in(
    tenant: &str,
    session: &str,
    return_to: &str,
    secure: bool,
) -> HttpResponse {
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
        .service
        .write("", move |c| service::use_login_link(c, &slug, &token, &ctx))
        .await?
        .ok_or(AdminError::LoginLinkInvalid)?;
    Ok(logged_in(
        &tenant,
        &opened.cookie,
        &format!("/admin/{tenant}/"),
        is_https(&state),
    ))
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
        .service
        .write("", move |c| service::logout(c, &slug, &cookie, &ctx))
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
}
