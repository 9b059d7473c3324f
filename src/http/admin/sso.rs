//! Admin SSO (`/sso`): the tenant's OpenID Connect sign-in for this admin UI, as
//! `roster admin oidc set` configures it, for owners only. Every change is audited
//! (`oidc.configured`, without the secret); the client secret is write-only: the screen
//! says whether one is set, never what it is.
//!
//! **Test sign-in** (`/sso/test`) runs the real flow against the saved settings, with
//! the registered redirect URI, and comes back to a page that shows the validated
//! claims and the role roster would give, or exactly why it refused. It signs nobody
//! in: the owner's own session is unchanged and no session is opened for the tested
//! identity. Each test is audited as `oidc.test_sign_in`.
//!
//! **SAML** (`/sso/saml`): the tenant's SAML connection from the IdP's metadata, with
//! roster's SP values to paste into the IdP and its own test (`/sso/saml-test`).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::login::{redirect_uri, settings_of, to_identity_provider, CallbackQuery};
use super::session::{clear_cookie, is_https, STATE_COOKIE};
use super::ui::{Admin, Chrome, Done};
use super::{html, AdminSession};
use crate::auth::login_state::LoginState;
use crate::http::state::AppState;
use crate::service::admin::{
    self as service, AdminRole, Login, OidcInput, RedactedOidc, Refusal, SecretChange,
};
use crate::service::saml::{self, Purpose, SamlConnectionInput, SamlConnectionView};
use crate::service::ServiceError;

/// The form as it was filled in (never with the secret).
#[derive(Default)]
pub struct Fields {
    pub issuer: String,
    pub client_id: String,
    pub groups_claim: String,
    pub expected_jc_org: String,
    pub group_roles: String,
    pub scopes: String,
}

impl Fields {
    fn of(current: &RedactedOidc) -> Self {
        Fields {
            issuer: current.issuer.clone(),
            client_id: current.client_id.clone(),
            groups_claim: current.groups_claim.clone(),
            expected_jc_org: current.expected_jc_org.clone().unwrap_or_default(),
            scopes: current.scopes.join(" "),
            group_roles: current
                .group_roles
                .iter()
                .map(|(group, role)| format!("{group}={}\n", role.as_str()))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/sso.html")]
struct Page {
    chrome: Chrome,
    current: Option<RedactedOidc>,
    fields: Fields,
    redirect_uri: String,
    login_url: String,
    error: Option<String>,
    saved: bool,
    saml: Option<SamlConnectionView>,
    saml_error: Option<String>,
    saml_login_url: String,
    sp_entity_id: String,
    acs_url: String,
}

#[derive(Deserialize)]
pub struct SsoQuery {
    saved: Option<String>,
}

async fn render(
    admin: &Admin,
    entered: Option<Fields>,
    error: Option<String>,
    saved: bool,
) -> Result<HttpResponse, AdminError> {
    render_with(admin, entered, error, saved, None).await
}

async fn render_with(
    admin: &Admin,
    entered: Option<Fields>,
    error: Option<String>,
    saved: bool,
    saml_error: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let current = admin
        .read(|c, scope| service::oidc_redacted(c, &scope.tenant))
        .await?;
    let slug = admin.session.tenant.clone();
    let public_url = admin.state.public_url.clone();
    let saml = admin
        .read(move |c, _| saml::connection(c, &slug, &public_url))
        .await?;
    let fields = entered.unwrap_or_else(|| current.as_ref().map(Fields::of).unwrap_or_default());
    let status = if error.is_some() || saml_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let tenant = &admin.session.tenant;
    let page = Page {
        chrome: admin.chrome("sso"),
        current,
        fields,
        redirect_uri: redirect_uri(&admin.state, tenant),
        login_url: format!("{}/admin/{tenant}/login", admin.state.public_url),
        error,
        saved,
        saml,
        saml_error,
        saml_login_url: format!("{}/admin/{tenant}/login/saml", admin.state.public_url),
        sp_entity_id: saml::sp_urls(&admin.state.public_url, tenant).0,
        acs_url: saml::sp_urls(&admin.state.public_url, tenant).1,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/sso`.
pub async fn show(admin: Admin, query: web::Query<SsoQuery>) -> Result<HttpResponse, AdminError> {
    admin.session.require(AdminRole::Owner)?;
    render(&admin, None, None, query.saved.is_some()).await
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    /// Blank keeps the stored secret.
    #[serde(default)]
    client_secret: String,
    /// Ticked: no secret from now on (a public client, PKCE only).
    clear_secret: Option<String>,
    #[serde(default)]
    groups_claim: String,
    #[serde(default)]
    expected_jc_org: String,
    #[serde(default)]
    group_roles: String,
    #[serde(default)]
    scopes: String,
}

/// `POST /admin/{tenant}/sso`: replaces the settings; a refusal shows the form again
/// with what was entered (but the secret) and why.
pub async fn save(admin: Admin, form: web::Form<SsoForm>) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let secret = match (form.clear_secret.is_some(), form.client_secret.trim()) {
        (true, _) => SecretChange::Clear,
        (false, "") => SecretChange::Keep,
        (false, secret) => SecretChange::Set(secret.to_owned()),
    };
    let input = OidcInput {
        issuer: form.issuer.clone(),
        client_id: form.client_id.clone(),
        client_secret: secret,
        groups_claim: form.groups_claim.clone(),
        expected_jc_org: Some(form.expected_jc_org.clone()),
        group_roles: form.group_roles.clone(),
        scopes: form.scopes.clone(),
    };
    let keys = admin.state.secrets.clone();
    let outcome = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "oidc.configured",
            move |c, scope| service::configure_oidc(c, &scope.tenant, input, &keys),
        )
        .await;
    match outcome {
        Ok(()) => Ok(admin.see_other("sso?saved=1")),
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            let entered = Fields {
                issuer: form.issuer,
                client_id: form.client_id,
                groups_claim: form.groups_claim,
                expected_jc_org: form.expected_jc_org,
                group_roles: form.group_roles,
                scopes: form.scopes,
            };
            render(&admin, Some(entered), Some(why.detail.clone()), false).await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct SamlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    metadata_xml: String,
    #[serde(default)]
    name_id_format: String,
    #[serde(default)]
    email_attribute: String,
    #[serde(default)]
    first_name_attribute: String,
    #[serde(default)]
    last_name_attribute: String,
    #[serde(default)]
    groups_attribute: String,
    #[serde(default)]
    admin_group_roles: String,
    allow_idp_initiated: Option<String>,
    #[serde(default)]
    idp_initiated_url: String,
}

/// `POST /admin/{tenant}/sso/saml`: creates or replaces the SAML connection from the
/// IdP's metadata (its URL or its XML).
pub async fn save_saml(
    admin: Admin,
    form: web::Form<SamlForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let input = SamlConnectionInput {
        metadata_url: blank(&form.metadata_url),
        metadata_xml: blank(&form.metadata_xml),
        name_id_format: blank(&form.name_id_format),
        email_attribute: blank(&form.email_attribute),
        first_name_attribute: blank(&form.first_name_attribute),
        last_name_attribute: blank(&form.last_name_attribute),
        groups_attribute: blank(&form.groups_attribute),
        admin_group_roles: blank(&form.admin_group_roles),
        allow_idp_initiated: form.allow_idp_initiated.is_some(),
        idp_initiated_url: blank(&form.idp_initiated_url),
        ..SamlConnectionInput::default()
    };
    let input = match crate::http::saml::with_metadata(&admin.state, input).await {
        Ok(input) => input,
        Err(why) => return render_with(&admin, None, None, false, Some(why)).await,
    };
    let keys = admin.state.secrets.clone();
    let slug = admin.session.tenant.clone();
    let public_url = admin.state.public_url.clone();
    let outcome = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "sso.saml_configured",
            move |c, _| {
                let done = saml::configure(c, &slug, &public_url, &input, &keys)?;
                Ok(Done::new((), done.before, done.after))
            },
        )
        .await;
    match outcome {
        Ok(()) => Ok(admin.see_other("sso?saved=1")),
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            render_with(&admin, None, None, false, Some(why.detail.clone())).await
        }
        Err(other) => Err(other),
    }
}

/// `GET /admin/{tenant}/sso/saml-test`: a SAML sign-in marked as a test; the ACS
/// shows the verified assertion instead of signing anyone in.
pub async fn saml_test(admin: Admin) -> Result<HttpResponse, AdminError> {
    admin.session.require(AdminRole::Owner)?;
    crate::http::saml::start(&admin.state, &admin.session.tenant, Purpose::Test, false).await
}

/// `GET /admin/{tenant}/sso/test`: off to the identity provider with the saved
/// settings, as a sign-in would go, but marked as a test. A link, not a form: the
/// pages' `form-action 'self'` would stop a form's redirect to the provider, and
/// starting a sign-in changes nothing.
pub async fn test(admin: Admin) -> Result<HttpResponse, AdminError> {
    admin.session.require(AdminRole::Owner)?;
    let state = &admin.state;
    let tenant = admin.session.tenant.clone();
    let settings = settings_of(state, &tenant).await?;
    let rp = service::relying_party(&settings, redirect_uri(state, &tenant));
    let oidc = state.oidc.clone();
    let (url, pending) = web::block(move || oidc.authorization_request(&rp))
        .await
        .map_err(|_| AdminError::Blocking)??;
    let login = LoginState {
        test: true,
        ..LoginState::new(tenant.clone(), pending, format!("/admin/{tenant}/sso"))
    };
    Ok(to_identity_provider(state, &url, &login))
}

#[derive(Template)]
#[template(path = "admin/sso_test.html")]
struct TestPage {
    chrome: Chrome,
    accepted: bool,
    /// Why roster refused (or would refuse) the sign-in.
    reason: Option<String>,
    role: Option<&'static str>,
    subject: String,
    email: String,
    groups: Vec<String>,
    claims: Option<String>,
}

/// The callback of a test sign-in: what the provider sent and what roster decides,
/// for the owner signed in here; no session is opened for the tested identity.
pub(super) async fn test_result(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: String,
    query: CallbackQuery,
    login: LoginState,
) -> Result<HttpResponse, AdminError> {
    let session = AdminSession::extract(&req).await?;
    let admin = Admin {
        req,
        state: state.clone(),
        session,
        held: 0,
    };
    admin.session.require(AdminRole::Owner)?;
    let mut page = TestPage {
        chrome: admin.chrome("sso"),
        accepted: false,
        reason: None,
        role: None,
        subject: String::new(),
        email: String::new(),
        groups: Vec::new(),
        claims: None,
    };
    match verify(&state, &tenant, query, &login).await {
        Err(why) => page.reason = Some(why),
        Ok((identity, claims)) => {
            page.claims = Some(serde_json::to_string_pretty(&claims).unwrap_or_default());
            page.subject = identity.subject.clone();
            page.email = identity.email.clone().unwrap_or_default();
            page.groups = identity.groups.clone();
            let settings = settings_of(&state, &tenant).await?;
            let decision = admin
                .read(move |c, scope| {
                    service::check_sign_in(
                        c,
                        &scope.tenant,
                        &settings,
                        &Login {
                            subject: &identity.subject,
                            email: identity.email.as_deref(),
                            email_verified: identity.email_verified,
                            groups: &identity.groups,
                        },
                    )
                })
                .await?;
            match decision {
                Ok(role) => {
                    page.accepted = true;
                    page.role = Some(role.as_str());
                }
                Err(Refusal::NoAdminGroup { .. }) => {
                    page.reason = Some(
                        "none of the groups the provider sent maps to an admin role: map one \
                         of them to a role on the Admin SSO screen"
                            .into(),
                    );
                }
                Err(Refusal::InactiveUser) => {
                    page.reason =
                        Some("the tenant's SCIM user matching this identity is inactive".into());
                }
            }
        }
    }
    let after = serde_json::json!({
        "accepted": page.accepted,
        "role": page.role,
        "reason": page.reason,
        "subject": page.subject,
        "groups": page.groups,
    });
    admin
        .record(AdminRole::Owner, "oidc.test_sign_in", move |_, _| {
            Ok(Done::new((), None, Some(after)))
        })
        .await?;
    let mut response = html(StatusCode::OK, page.render()?)?;
    if let Ok(value) = header::HeaderValue::from_str(&clear_cookie(
        STATE_COOKIE,
        &format!("/admin/{tenant}"),
        is_https(&state),
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The provider's answer checked as a sign-in checks it; the refusal in words.
async fn verify(
    state: &web::Data<AppState>,
    tenant: &str,
    query: CallbackQuery,
    login: &LoginState,
) -> Result<
    (
        crate::auth::oidc::Identity,
        serde_json::Map<String, serde_json::Value>,
    ),
    String,
> {
    if let Some(error) = &query.error {
        return Err(format!(
            "the identity provider refused: {error} {}",
            query.error_description.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned());
    }
    if query.state.as_deref() != Some(login.pending.state.as_str()) {
        return Err("the state does not match this sign-in".into());
    }
    let code = query.code.ok_or("the callback carries no code")?;
    let settings = settings_of(state, tenant)
        .await
        .map_err(|e| e.to_string())?;
    let redirect = redirect_uri(state, tenant);
    let oidc = state.oidc.clone();
    let pending = login.pending.clone();
    web::block(move || service::identify_with_claims(&oidc, &settings, redirect, &code, &pending))
        .await
        .map_err(|_| "roster was too busy to finish the check; try again".to_owned())?
        .map_err(|e| e.to_string())
}
