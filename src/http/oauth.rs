//! `/oauth/{tenant}`: roster as the tenant's OpenID Provider. An application sends its
//! users to `authorize`; roster signs them in with the tenant's identity provider
//! (upstream), decides (match or just-in-time provisioning, deactivated users refused)
//! and sends them back with a code, which the application exchanges at `token` for an
//! ID token and an access token carrying the user's roles.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::admin::error::AdminError;
use super::admin::login::{settings_of, CallbackQuery, CallbackRefusal};
use super::admin::session::{audit_context, clear_cookie, cookie, is_https, set_cookie};
use super::state::AppState;
use crate::auth::oidc::PendingLogin;
use crate::auth::provider::Discovery;
use crate::auth::sealed::{self, unix_now, Sealed};
use crate::service::admin as admin_service;
use crate::service::provider::{
    self, AuthorizeRefusal, AuthorizeRequest, ClientAuth, Connection, OAuthError, TokenRequest,
    Upstream, ValidRequest,
};
use crate::service::saml::Purpose;
use crate::service::ServiceError;

/// The cookie that carries a sign-in from `authorize` to the upstream callback, named
/// after the upstream state, so sign-ins in two tabs do not overwrite each other.
fn sign_in_cookie(upstream_state: &str) -> String {
    let prefix: String = upstream_state
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect();
    format!("roster_sign_in_{prefix}")
}
/// How long a sign-in may take at the identity provider.
const SIGN_IN_TTL_SECS: u64 = 600;

/// One sign-in in flight: the application's checked request and the upstream login's
/// state, nonce and PKCE verifier, sealed in a cookie (no server-side row).
#[derive(Debug, Serialize, Deserialize)]
struct SignInState {
    tenant: String,
    request: ValidRequest,
    pending: PendingLogin,
    expires: u64,
}

impl Sealed for SignInState {
    const PURPOSE: &'static str = "oauth sign-in state";
    fn expires(&self) -> u64 {
        self.expires
    }
}

fn issuer(state: &AppState, tenant: &str) -> String {
    provider::issuer(&state.public_url, tenant)
}

fn upstream_redirect(state: &AppState, tenant: &str) -> String {
    format!("{}/callback", issuer(state, tenant))
}

/// `GET /oauth/{tenant}/.well-known/openid-configuration`
pub async fn discovery(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = tenant.into_inner();
    let known = slug.clone();
    // An unknown tenant has no issuer: 404, not a document for anyone's slug.
    state
        .service
        .run(move |c| crate::service::tenants::tenant(c, &known).map(|_| ()))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(Discovery::new(&issuer(&state, &slug))))
}

#[derive(Serialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// `GET /oauth/{tenant}/jwks`: every key whose tokens may still be live. The first
/// request makes the tenant's first key, so the set is never empty.
pub async fn jwks(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = tenant.into_inner();
    let read = slug.clone();
    let mut published = state
        .service
        .run(move |c| provider::jwks_of(c, &read))
        .await?;
    if published.is_empty() {
        let keys = state.secrets.clone();
        let first = slug.clone();
        published = state
            .service
            .write(&slug, move |c| provider::first_key(c, &first, &keys))
            .await?;
    }
    Ok(HttpResponse::Ok()
        // Short: a rotation's new key must reach verifiers before it signs much.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(Jwks { keys: published }))
}

/// `GET /oauth/{tenant}/authorize`: checks the application's request, then sends the
/// browser to the tenant's identity provider.
pub async fn authorize(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<AuthorizeRequest>,
) -> Result<HttpResponse, AdminError> {
    start_sign_in(state, tenant.into_inner(), query.into_inner()).await
}

/// `POST /oauth/{tenant}/authorize`: the same request as a form (OIDC Core §3.1.2.1).
pub async fn authorize_form(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    form: web::Form<AuthorizeRequest>,
) -> Result<HttpResponse, AdminError> {
    start_sign_in(state, tenant.into_inner(), form.into_inner()).await
}

async fn start_sign_in(
    state: web::Data<AppState>,
    tenant: String,
    request: AuthorizeRequest,
) -> Result<HttpResponse, AdminError> {
    let slug = tenant.clone();
    // What the provider is asked to honour as the application asked: who, whether to
    // ask again (`prompt=login`), how recent the sign-in must be.
    let upstream: Vec<(&'static str, String)> = [
        ("login_hint", request.login_hint.clone()),
        ("prompt", request.prompt.clone()),
        ("max_age", request.max_age.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let public_url = state.public_url.clone();
    let checked = state
        .service
        .run(move |c| provider::check_authorize(c, &slug, &public_url, &request))
        .await?;
    let valid = match checked {
        Ok(valid) => valid,
        Err(refusal) => return Ok(refuse(&refusal)),
    };
    let slug = tenant.clone();
    let sign_in = state
        .service
        .run(move |c| {
            let t = crate::service::tenants::tenant(c, &slug)?;
            provider::sign_in_settings(c, &crate::service::TenantId(t.id))
        })
        .await?;
    if sign_in.connection == Connection::Saml {
        let request = serde_json::to_value(&valid).map_err(|_| AdminError::Blocking)?;
        // `prompt=login` or `max_age`: the IdP must sign the user in again (ForceAuthn),
        // and `auth_time` is its AuthnInstant.
        let fresh = upstream.iter().any(|(k, v)| {
            (*k == "prompt" && v.split(' ').any(|p| p == "login")) || *k == "max_age"
        });
        return super::saml::start(&state, &tenant, Purpose::App { request }, fresh).await;
    }
    let settings = match settings_of(&state, &tenant).await {
        Ok(settings) => settings,
        Err(AdminError::NotConfigured { .. }) => {
            return Ok(refuse(&AuthorizeRefusal::Redirect {
                redirect_uri: valid.redirect_uri,
                error: "server_error",
                description: "this organization has no identity provider connection yet".into(),
                state: valid.state,
                issuer: issuer(&state, &tenant),
            }))
        }
        Err(e) => return Err(e),
    };
    let rp = admin_service::relying_party(&settings, upstream_redirect(&state, &tenant));
    let oidc = state.oidc.clone();
    let (url, pending) = web::block(move || {
        let extra: Vec<(&str, &str)> = upstream.iter().map(|(k, v)| (*k, v.as_str())).collect();
        oidc.authorization_request_with(&rp, &extra)
    })
    .await
    .map_err(|_| AdminError::Blocking)??;
    let name = sign_in_cookie(&pending.state);
    let sealed = sealed::seal(
        state.session_secret(),
        &SignInState {
            tenant: tenant.clone(),
            request: valid,
            pending,
            expires: unix_now() + SIGN_IN_TTL_SECS,
        },
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(
                &name,
                &sealed,
                &format!("/oauth/{tenant}"),
                Some(SIGN_IN_TTL_SECS),
                is_https(&state),
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// An authorization request refused: back to the application when its redirect URI
/// is known, else a page (never a redirect to an unregistered URI).
fn refuse(refusal: &AuthorizeRefusal) -> HttpResponse {
    match (refusal, refusal.location()) {
        (_, Some(location)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        (AuthorizeRefusal::NoRedirect(why), None) => {
            actix_web::ResponseError::error_response(&AdminError::LoginFailed(why.clone()))
        }
        (AuthorizeRefusal::Redirect { .. }, None) => actix_web::ResponseError::error_response(
            &AdminError::LoginFailed("the redirect URI cannot carry an error".into()),
        ),
    }
}

/// `GET /oauth/{tenant}/callback`: the identity provider's answer. Checks it, decides
/// the sign-in and sends the browser back to the application with a code.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let name = sign_in_cookie(query.state().unwrap_or_default());
    let flow: SignInState = cookie(&req, &name)
        .and_then(|c| sealed::open(state.session_secret(), &c))
        .filter(|s: &SignInState| s.tenant == tenant)
        .ok_or_else(|| {
            AdminError::LoginFailed(
                "the sign-in has expired or was started elsewhere; go back to the application and start again".into(),
            )
        })?;
    let back_with = |error: &'static str, description: String| {
        let refusal = AuthorizeRefusal::Redirect {
            redirect_uri: flow.request.redirect_uri.clone(),
            error,
            description,
            state: flow.request.state.clone(),
            issuer: issuer(&state, &tenant),
        };
        Ok(done(&state, &tenant, &name, refuse(&refusal)))
    };
    let code = match query.code_for(&flow.pending.state) {
        Ok(code) => code,
        // The application hears the provider's refusal; a stray answer gets a page.
        Err(CallbackRefusal::Provider(why)) => return back_with("access_denied", why),
        Err(ours) => return Err(ours.into()),
    };
    let settings = settings_of(&state, &tenant).await?;
    let redirect = upstream_redirect(&state, &tenant);
    let oidc = state.oidc.clone();
    let pending = flow.pending.clone();
    let upstream_issuer = settings.issuer.clone();
    let identified = web::block(move || {
        admin_service::identify_with_claims(&oidc, &settings, redirect, &code, &pending)
    })
    .await
    .map_err(|_| AdminError::Blocking)?;
    let (identity, claims) = match identified {
        Ok(found) => found,
        Err(e) => {
            // The detail is for the operator, not for the application's page.
            tracing::warn!(tenant = %tenant, error = %crate::error_chain(&e), "an upstream sign-in could not be verified");
            return back_with(
                "server_error",
                "the identity provider's answer could not be verified".into(),
            );
        }
    };
    let who = Upstream::from_claims(&upstream_issuer, &claims, identity.groups);
    let ctx = audit_context(&req);
    let request = flow.request.clone();
    let slug = tenant.clone();
    let public_url = state.public_url.clone();
    let decided = state
        .service
        .write(&tenant, move |c| {
            provider::sign_in(c, &slug, &public_url, &request, &who, &ctx)
        })
        .await?;
    match decided {
        Ok(signed_in) => Ok(done(
            &state,
            &tenant,
            &name,
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, signed_in.location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
        )),
        Err(refusal) => back_with("access_denied", refusal.to_string()),
    }
}

/// `response`, with the sign-in cookie cleared: a sign-in is used once.
fn done(state: &AppState, tenant: &str, name: &str, mut response: HttpResponse) -> HttpResponse {
    let cleared = clear_cookie(name, &format!("/oauth/{tenant}"), is_https(state));
    if let Ok(value) = header::HeaderValue::from_str(&cleared) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A failure of the token endpoint or userinfo that is not the client's request: an
/// unknown tenant, the database out of reach. Answered as OAuth JSON, as clients of
/// these endpoints expect, never as a page.
#[derive(Debug)]
pub struct OAuthFailure(ServiceError);

impl std::fmt::Display for OAuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for OAuthFailure {
    fn status_code(&self) -> StatusCode {
        crate::http::error::service_status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (error, description) = match status {
            StatusCode::SERVICE_UNAVAILABLE => (
                "temporarily_unavailable",
                crate::http::error::UNAVAILABLE.to_owned(),
            ),
            s if s.is_server_error() => ("server_error", "roster could not answer".to_owned()),
            _ => ("invalid_request", self.0.to_string()),
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.json(OAuthError {
            error,
            error_description: description,
        })
    }
}

/// A token request whose form does not parse: OAuth JSON, not actix's text.
pub fn form_error(err: actix_web::error::UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    let body = OAuthError {
        error: "invalid_request",
        error_description: format!("the request body is not a valid form: {err}"),
    };
    let response = HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body);
    actix_web::error::InternalError::from_response(err, response).into()
}

/// An OAuth error as JSON, with its status (RFC 6749 §5.2, RFC 6750 §3).
fn oauth_error(e: &OAuthError) -> HttpResponse {
    let status = match e.error {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        "invalid_token" => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    match e.error {
        "invalid_client" => {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"roster\""));
        }
        "invalid_token" => {
            // A fixed text: the detail can hold what the caller sent (even newlines).
            response.insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\", error_description=\"the access token is invalid or expired\"",
            ));
        }
        _ => {}
    }
    response.json(e)
}

/// The credentials after an authentication scheme, whose name is case-insensitive
/// (RFC 9110 §11.1).
fn strip_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let (name, rest) = value.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `client_secret_basic` (RFC 6749 §2.3.1: both parts form-urlencoded) or `_post`.
fn client_auth(req: &HttpRequest, form: &TokenRequest) -> Option<ClientAuth> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "Basic"))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    if let Some(pair) = basic {
        let (id, secret) = pair.split_once(':')?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some(ClientAuth {
            client_id: decode(id)?,
            client_secret: decode(secret)?,
        });
    }
    Some(ClientAuth {
        client_id: form.client_id.clone()?,
        client_secret: form.client_secret.clone()?,
    })
}

/// `POST /oauth/{tenant}/token`
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, OAuthFailure> {
    let tenant = tenant.into_inner();
    let form = form.into_inner();
    let Some(auth) = client_auth(&req, &form) else {
        return Ok(oauth_error(&OAuthError {
            error: "invalid_client",
            error_description: "authenticate with client_secret_basic or client_secret_post".into(),
        }));
    };
    // The client first, reading only: a request without a live client's secret never
    // takes a turn in the tenant's writes. Then a short write spends the code; the
    // tokens are read and signed after its commit.
    let (slug, who, asked) = (tenant.clone(), auth.clone(), form.clone());
    let checked = state
        .service
        .run(move |c| provider::check_client(c, &slug, &who, &asked))
        .await
        .map_err(OAuthFailure)?;
    if let Err(e) = checked {
        return Ok(oauth_error(&e));
    }
    let slug = tenant.clone();
    let redeemed = state
        .service
        .write(&tenant, move |c| provider::redeem(c, &slug, &auth, &form))
        .await
        .map_err(OAuthFailure)?;
    let row = match redeemed {
        Ok(row) => row,
        Err(e) => return Ok(oauth_error(&e)),
    };
    let issuer = issuer(&state, &tenant);
    let issue = |row: provider::Redeemed| {
        let (slug, issuer, keys) = (tenant.clone(), issuer.clone(), state.secrets.clone());
        move |c: &mut crate::service::run::Tx<'_>| {
            provider::issue_tokens(c, &slug, &issuer, &row, &keys)
        }
    };
    let mut answer = state
        .service
        .run(issue(row.clone()))
        .await
        .map_err(OAuthFailure)?;
    if answer.is_none() {
        // The tenant's first token (or its key's 90 days are over): make the key.
        let (slug, keys) = (tenant.clone(), state.secrets.clone());
        state
            .service
            .write(&tenant, move |c| provider::first_key(c, &slug, &keys))
            .await
            .map_err(OAuthFailure)?;
        answer = state.service.run(issue(row)).await.map_err(OAuthFailure)?;
    }
    let answer = answer.ok_or(OAuthFailure(ServiceError::unavailable("no signing key")))?;
    Ok(match answer {
        Ok(tokens) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(tokens),
        Err(e) => oauth_error(&e),
    })
}

/// `GET|POST /oauth/{tenant}/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, OAuthFailure> {
    let tenant = tenant.into_inner();
    let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "Bearer"))
        .map(str::to_owned)
    else {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish());
    };
    let token = token.trim().to_owned();
    let kid = provider::kid_of(&token);
    let jwks = match state.jwks.get(&tenant, &kid) {
        Some(keys) => keys,
        None => {
            let slug = tenant.clone();
            let keys = state
                .service
                .run(move |c| provider::jwks_of(c, &slug))
                .await
                .map_err(OAuthFailure)?;
            state.jwks.put(&tenant, keys.clone());
            keys
        }
    };
    let access = match provider::verify_access(&token, &jwks, &issuer(&state, &tenant)) {
        Ok(access) => access,
        Err(e) => return Ok(oauth_error(&e)),
    };
    let answer = state
        .service
        .run(move |c| provider::userinfo(c, &tenant, &access))
        .await
        .map_err(OAuthFailure)?;
    Ok(match answer {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Err(e) => oauth_error(&e),
    })
}

#[derive(Deserialize)]
pub struct LogoutQuery {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /oauth/{tenant}/logout` (RP-initiated logout): roster keeps no session of its
/// own, so this only sends the browser on, and only to a registered post-logout URI.
pub async fn logout(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let q = query.into_inner();
    let back_state = q.state.clone();
    let target = state
        .service
        .run(move |c| {
            provider::logout_target(
                c,
                &tenant,
                q.client_id.as_deref(),
                q.post_logout_redirect_uri.as_deref(),
            )
        })
        .await?;
    match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(|_| {
                AdminError::Service(ServiceError::Conflict("a stored URI does not parse".into()))
            })?;
            if let Some(s) = &back_state {
                url.query_pairs_mut().append_pair("state", s);
            }
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.to_string()))
                .finish())
        }
        None => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("You are signed out of the application.")),
    }
}
