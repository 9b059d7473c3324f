//! Use cases of roster as each tenant's OpenID Provider: the applications registered to
//! sign users in (OAuth clients), the checks of an authorization request, the sign-in
//! decision once the upstream identity provider has said who the user is (matching, or
//! just-in-time provisioning), and the code exchange and `userinfo` that follow.
//! Signing, PKCE and token checks are `auth::provider`; the endpoints `http::oauth`.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::admin::{users_matching, AuditContext};
use super::audit::audit;
use super::events::{Actor, ActorKind};
use super::tenants::{digest, generate_secret, tenant};
use super::{invalid, now, stamp, Scope, ServiceError};
use crate::auth::provider::{
    self as op, is_s256_challenge, pkce_matches, SigningKey, UserClaims, ACCESS_TOKEN_TYP,
};
use crate::auth::sealed::unix_now;
use crate::secrets::KeyRing;
use crate::store::oauth::{self, ClientRow, CodeRow, IdentityRow, SettingsRow, SigningKeyRow};
use crate::store::secrets::signing_key_context;
use crate::store::tenants::TenantRow;
use crate::store::users::{self as user_store, UserRow};
use crate::store::{write_transaction, DbConnection, StoreError, TenantId};

const CLIENT_PREFIX: &str = "rcl_";
const CLIENT_SECRET_PREFIX: &str = "rcs_";

/// The issuer of a tenant: `{public_url}/oauth/{slug}`.
pub fn issuer(public_url: &str, slug: &str) -> String {
    format!("{public_url}/oauth/{slug}")
}

// ---- OAuth clients -----------------------------------------------------------------

/// An application registered to sign the tenant's users in. Never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClientView {
    /// The `client_id`.
    pub id: String,
    pub name: String,
    /// Exact redirect URIs: an authorization request must name one of them, byte for byte.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    pub created_at: String,
    #[schema(required = true)]
    pub revoked_at: Option<String>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<&ClientRow> for ClientView {
    fn from(row: &ClientRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            redirect_uris: lines(&row.redirect_uris),
            post_logout_redirect_uris: lines(&row.post_logout_redirect_uris),
            created_at: row.created_at.clone(),
            revoked_at: row.revoked_at.clone(),
        }
    }
}

/// A client as created: the only answer that shows its secret.
#[derive(Clone, Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: ClientView,
    /// `rcs_…`: shown once; roster keeps its SHA-256 only.
    pub client_secret: String,
}

// By hand, so a logged value never carries the secret.
impl std::fmt::Debug for CreatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// What registering a client takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

/// A redirect URI roster accepts: absolute, no fragment, `https`, or `http` on
/// loopback only (a developer's machine, RFC 8252 §7.3).
fn check_redirect_uri(uri: &str) -> Result<(), ServiceError> {
    // `Url::parse` drops tabs and newlines silently; stored one a line, a newline would
    // register a second, unchecked URI.
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "{uri:?}: a redirect URI holds no spaces or control characters"
        )));
    }
    let parsed =
        url::Url::parse(uri).map_err(|_| invalid(format!("{uri:?} is not an absolute URL")))?;
    if parsed.fragment().is_some() {
        return Err(invalid(format!("{uri:?}: a redirect URI has no fragment")));
    }
    let loopback = matches!(
        parsed.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(format!(
            "{uri:?}: a redirect URI is https (http only on localhost)"
        ))),
    }
}

pub fn create_client(
    conn: &mut DbConnection,
    tenant: &TenantId,
    input: NewClient,
) -> Result<CreatedClient, ServiceError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid("a client needs a name"));
    }
    if input.redirect_uris.is_empty() {
        return Err(invalid("a client needs at least one redirect URI"));
    }
    for uri in input
        .redirect_uris
        .iter()
        .chain(&input.post_logout_redirect_uris)
    {
        check_redirect_uri(uri)?;
    }
    let id = generate_secret(CLIENT_PREFIX)?[..CLIENT_PREFIX.len() + 32].to_owned();
    let secret = generate_secret(CLIENT_SECRET_PREFIX)?;
    let row = ClientRow {
        tenant_id: tenant.0.clone(),
        id,
        name,
        secret_hash: digest(&secret),
        redirect_uris: input.redirect_uris.join("\n"),
        post_logout_redirect_uris: input.post_logout_redirect_uris.join("\n"),
        created_at: now(),
        revoked_at: None,
    };
    write_transaction(conn, |c| oauth::insert_client(c, &row))?;
    Ok(CreatedClient {
        client: ClientView::from(&row),
        client_secret: secret,
    })
}

pub fn clients(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<ClientView>, ServiceError> {
    Ok(oauth::clients(conn, tenant)?
        .iter()
        .map(ClientView::from)
        .collect())
}

pub fn revoke_client(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<(), ServiceError> {
    if oauth::revoke_client(conn, tenant, id, &now())? {
        Ok(())
    } else {
        Err(ServiceError::NotFound {
            kind: "OAuth client",
        })
    }
}

// ---- sign-in settings ----------------------------------------------------------------

/// How a tenant's sign-ins treat users roster does not know yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SignInSettings {
    /// Create a user at sign-in when none matches (just-in-time provisioning).
    pub jit_enabled: bool,
    /// E-mail domains JIT may create users for; empty: any.
    pub jit_domains: Vec<String>,
    /// Put the user's groups in tokens and userinfo (`groups`).
    pub groups_in_tokens: bool,
    /// The tenant's connection that applications' users sign in with.
    #[serde(default)]
    pub connection: Connection,
    /// The identity provider's groups (SAML attribute or OIDC claim) set the
    /// memberships of users created at sign-in, by exact group name, at every sign-in.
    /// Users the directory pushed keep the memberships SCIM gives them.
    #[serde(default)]
    pub sync_groups: bool,
}

/// A tenant's connection to its identity provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    /// The OpenID Connect connection (the one the admin login uses).
    #[default]
    Oidc,
    /// The SAML 2.0 connection.
    Saml,
}

impl Connection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Saml => "saml",
        }
    }
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            jit_enabled: false,
            jit_domains: Vec::new(),
            groups_in_tokens: true,
            connection: Connection::Oidc,
            sync_groups: false,
        }
    }
}

impl SignInSettings {
    fn from_row(row: Option<SettingsRow>) -> Self {
        row.map_or_else(Self::default, |r| Self {
            jit_enabled: r.jit_enabled,
            jit_domains: lines(&r.jit_domains),
            groups_in_tokens: r.groups_in_tokens,
            connection: if r.upstream == "saml" {
                Connection::Saml
            } else {
                Connection::Oidc
            },
            sync_groups: r.sync_groups,
        })
    }

    /// Whether JIT may create a user with this e-mail address.
    fn allows(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.jit_domains.is_empty()
            || self
                .jit_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

pub fn sign_in_settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<SignInSettings, ServiceError> {
    Ok(SignInSettings::from_row(oauth::settings(conn, tenant)?))
}

/// Replaces the tenant's sign-in settings; returns them before and after (audited by
/// the caller).
pub fn set_sign_in_settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
    settings: SignInSettings,
) -> Result<super::admin::Done<SignInSettings>, ServiceError> {
    let domains: Vec<String> = settings
        .jit_domains
        .iter()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if let Some(bad) = domains
        .iter()
        .find(|d| !d.contains('.') || d.contains(|c: char| c.is_whitespace() || c == '@'))
    {
        return Err(invalid(format!("{bad:?} is not an e-mail domain")));
    }
    let settings = SignInSettings {
        jit_domains: domains,
        ..settings
    };
    write_transaction(conn, |c| {
        let before = SignInSettings::from_row(oauth::settings(c, tenant)?);
        oauth::upsert_settings(
            c,
            &SettingsRow {
                tenant_id: tenant.0.clone(),
                jit_enabled: settings.jit_enabled,
                jit_domains: settings.jit_domains.join("\n"),
                groups_in_tokens: settings.groups_in_tokens,
                updated_at: now(),
                upstream: settings.connection.as_str().to_owned(),
                sync_groups: settings.sync_groups,
            },
        )?;
        Ok(super::admin::Done::new(
            settings.clone(),
            serde_json::to_value(&before).ok(),
            serde_json::to_value(&settings).ok(),
        ))
    })
}

// ---- the sign-in log -----------------------------------------------------------------

/// One sign-in through roster, or its refusal, as the sign-in log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SignInEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The e-mail address (or subject) the identity provider sent.
    pub who: String,
    pub accepted: bool,
    /// Why a sign-in was refused (`inactive_user`, `unknown_user`, …).
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub detail: Option<String>,
    /// roster's user, when one signed in.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// The user was created by this sign-in.
    pub jit: bool,
    pub client_id: String,
    #[schema(required = true)]
    pub ip: Option<String>,
}

/// The tenant's newest `limit` sign-ins and refusals, newest first.
pub fn sign_in_log(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<SignInEntry>, ServiceError> {
    Ok(crate::store::admin::sign_ins(conn, tenant, limit)?
        .into_iter()
        .map(|row| {
            let after: Value = row
                .after_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or(Value::Null);
            let text = |v: &Value| v.as_str().map(str::to_owned);
            SignInEntry {
                at: row.at,
                who: row.actor,
                accepted: row.action == "sso.sign_in",
                reason: text(&after["reason"]),
                detail: text(&after["detail"]),
                user_id: text(&after["user_id"]),
                jit: after["jit"] == true,
                client_id: text(&after["seen"]["client_id"]).unwrap_or_default(),
                ip: row.ip,
            }
        })
        .collect())
}

// ---- signing keys --------------------------------------------------------------------

/// The JWKS of the tenant `slug`.
pub fn jwks_of(conn: &mut DbConnection, slug: &str) -> Result<Vec<Value>, ServiceError> {
    let t = tenant(conn, slug)?;
    jwks(conn, &TenantId(t.id))
}

/// Makes the tenant's first signing key (if no other request just did); its JWKS.
pub fn first_key(
    conn: &mut DbConnection,
    slug: &str,
    keys: &KeyRing,
) -> Result<Vec<Value>, ServiceError> {
    let t = TenantId(tenant(conn, slug)?.id);
    signing_key(conn, &t, keys)?;
    jwks(conn, &t)
}

/// The tenant's JWKS: every key whose tokens may still be live.
pub fn jwks(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<Value>, ServiceError> {
    oauth::published_keys(conn, tenant, &now())?
        .iter()
        .map(|k| serde_json::from_str(&k.public_jwk).map_err(|_| corrupt("signing key")))
        .collect()
}

fn corrupt(what: &str) -> ServiceError {
    internal(format!("a stored {what} does not read back"))
}

/// A fault of roster's own data or keys (500), with why, for the log.
pub(super) fn internal(why: String) -> ServiceError {
    ServiceError::Store(StoreError::from(
        diesel::result::Error::DeserializationError(why.into()),
    ))
}

/// The key that signs the tenant's tokens now: its newest live key, made on first use
/// and replaced once it has signed for [`op::KEY_SIGNS_FOR_SECS`].
pub fn signing_key(
    conn: &mut DbConnection,
    tenant: &TenantId,
    keys: &KeyRing,
) -> Result<SigningKey, ServiceError> {
    let row = match current_key(conn, tenant)? {
        Some(row) => row,
        None => rotate_signing_key(conn, tenant, keys)?,
    };
    Ok(SigningKey {
        pkcs8_base64: keys.open(&row.private_key, &signing_key_context(&tenant.0, &row.id))?,
        kid: row.id,
    })
}

/// The tenant's newest live key, unless it has signed for [`op::KEY_SIGNS_FOR_SECS`].
fn current_key(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<SigningKeyRow>, ServiceError> {
    let now_t = SystemTime::now();
    let fresh_after = stamp(now_t - Duration::from_secs(op::KEY_SIGNS_FOR_SECS));
    Ok(oauth::published_keys(conn, tenant, &stamp(now_t))?
        .into_iter()
        .find(|k| k.retired_at.is_none() && k.created_at > fresh_after))
}

/// A new signing key for the tenant. The old ones stop signing at once and stay in the
/// JWKS until every token they signed has expired.
pub fn rotate_signing_key(
    conn: &mut DbConnection,
    tenant: &TenantId,
    keys: &KeyRing,
) -> Result<SigningKeyRow, ServiceError> {
    let now_t = SystemTime::now();
    let kid = generate_secret("")?[..16].to_owned();
    let (pkcs8, jwk) = op::generate_key(&kid);
    let row = SigningKeyRow {
        tenant_id: tenant.0.clone(),
        private_key: keys.seal(&pkcs8, &signing_key_context(&tenant.0, &kid)),
        id: kid,
        public_jwk: jwk.to_string(),
        created_at: stamp(now_t),
        retired_at: None,
        expires_at: None,
    };
    // The overlap: a token signed just before the rotation lives TOKEN_TTL_SECS more.
    let overlap = Duration::from_secs(op::TOKEN_TTL_SECS + 300);
    write_transaction(conn, |c| {
        oauth::insert_key(c, &row)?;
        oauth::retire_keys(c, tenant, &row.id, &stamp(now_t), &stamp(now_t + overlap))?;
        Ok::<_, ServiceError>(())
    })?;
    Ok(row)
}

// ---- the authorization request -------------------------------------------------------

/// An authorization request as the application sent it (RFC 6749 §4.1.1, OIDC Core
/// §3.1.2.1, RFC 7636).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// Passed on to the upstream identity provider, like `prompt` and `max_age`.
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
}

/// Longest `state`, `nonce` or `login_hint` accepted: they ride in a cookie, which a
/// browser drops past 4 KB.
const MAX_PARAMETER: usize = 512;

/// The scopes roster grants; others asked for are left out of the grant.
const SCOPES: &[&str] = &["openid", "email", "profile", "roles", "groups"];

/// A checked authorization request, carried through the upstream sign-in in a sealed
/// cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizeRefusal {
    /// The client or its redirect URI is not known: the browser must not be sent
    /// anywhere (an open redirector otherwise), so roster shows an error page.
    NoRedirect(String),
    /// Sent back to the application with `error` (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
        /// RFC 9207: errors carry the issuer too, so the application can trust them.
        issuer: String,
    },
}

impl AuthorizeRefusal {
    /// The URL an error goes back to, for a `Redirect`.
    pub fn location(&self) -> Option<String> {
        let AuthorizeRefusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
            issuer,
        } = self
        else {
            return None;
        };
        let mut url = url::Url::parse(redirect_uri).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("error", error);
            q.append_pair("error_description", description);
            if let Some(state) = state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", issuer);
        }
        Some(url.to_string())
    }
}

/// Checks an authorization request against the tenant's clients.
pub fn check_authorize(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
    req: &AuthorizeRequest,
) -> Result<Result<ValidRequest, AuthorizeRefusal>, ServiceError> {
    let t = tenant(conn, slug)?;
    let suspended = crate::store::tenants::is_suspended(conn, &t.id)?;
    let Some(client_id) = req.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Err(AuthorizeRefusal::NoRedirect(
            "the request names no client_id".into(),
        )));
    };
    let client = oauth::client(conn, &TenantId(t.id), client_id)?;
    let Some(client) = client.filter(|c| c.revoked_at.is_none()) else {
        return Ok(Err(AuthorizeRefusal::NoRedirect(format!(
            "no application with client_id {client_id:?} is registered with tenant {slug}"
        ))));
    };
    let registered = lines(&client.redirect_uris);
    let redirect_uri = match req.redirect_uri.as_deref() {
        Some(uri) if registered.iter().any(|r| r == uri) => uri.to_owned(),
        Some(uri) => {
            return Ok(Err(AuthorizeRefusal::NoRedirect(format!(
                "{uri:?} is not a redirect URI registered for this application (they must match exactly)"
            ))))
        }
        None => {
            return Ok(Err(AuthorizeRefusal::NoRedirect(
                "the request names no redirect_uri".into(),
            )))
        }
    };
    let refuse = |error, description: &str| {
        Ok(Err(AuthorizeRefusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_owned(),
            // Too long to carry back is too long to echo.
            state: req.state.clone().filter(|s| s.len() <= MAX_PARAMETER),
            issuer: issuer(public_url, slug),
        }))
    };
    if suspended {
        // As its SCIM requests are: nobody signs in until an operator resumes it.
        return refuse(
            "access_denied",
            "this organization is suspended; sign-ins resume when it is",
        );
    }
    let too_long = [&req.state, &req.nonce, &req.login_hint]
        .iter()
        .any(|p| p.as_ref().is_some_and(|v| v.len() > MAX_PARAMETER));
    if too_long {
        return refuse(
            "invalid_request",
            "state, nonce and login_hint are at most 512 bytes",
        );
    }
    if req
        .max_age
        .as_deref()
        .is_some_and(|m| m.parse::<u64>().is_err())
    {
        return refuse("invalid_request", "max_age is a number of seconds");
    }
    if req.response_type.as_deref() != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        );
    }
    let scope: Vec<String> = req
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| SCOPES.contains(s))
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return refuse("invalid_scope", "the scope must include openid");
    }
    let challenge = req.code_challenge.as_deref().unwrap_or_default();
    if req.code_challenge_method.as_deref() != Some("S256") || !is_s256_challenge(challenge) {
        return refuse(
            "invalid_request",
            "PKCE is required: code_challenge with code_challenge_method=S256",
        );
    }
    if req.prompt.as_deref() == Some("none") {
        // roster keeps no session of its own: it cannot answer without asking upstream.
        return refuse(
            "login_required",
            "roster signs in through the identity provider every time",
        );
    }
    Ok(Ok(ValidRequest {
        client_id: client.id,
        redirect_uri,
        scope,
        state: req.state.clone(),
        nonce: req.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge: challenge.to_owned(),
    }))
}

// ---- the sign-in decision ------------------------------------------------------------

/// Who the upstream identity provider says signed in.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    pub issuer: String,
    pub subject: String,
    /// The address the tenant's own identity provider asserts. (JumpCloud's
    /// `email_verified` is a constant its admin sets, so roster does not rely on it.)
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// When the user authenticated at the provider (its ID token's `auth_time`).
    pub auth_time: Option<i64>,
    /// The provider said outright that the address is not verified.
    pub email_unverified: bool,
}

impl Upstream {
    pub fn from_claims(issuer: &str, claims: &Map<String, Value>, groups: Vec<String>) -> Self {
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self {
            issuer: issuer.to_owned(),
            subject: text("sub").unwrap_or_default(),
            email: text("email"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            name: text("name"),
            groups,
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
            // JumpCloud's `email_verified` is an admin-set constant (often a string),
            // so only an explicit false counts.
            email_unverified: matches!(claims.get("email_verified"), Some(Value::Bool(false)))
                || claims.get("email_verified").and_then(Value::as_str) == Some("false"),
        }
    }
}

/// Why a sign-in was refused: shown to the user, and audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    /// No user matches and JIT provisioning is off.
    UnknownUser,
    /// JIT may not create users with this address's domain.
    DomainNotAllowed(String),
    /// JIT needs an e-mail address, and the provider sent none.
    NoEmail,
    /// The matching user is deactivated (by SCIM, say).
    Inactive,
    /// The application was revoked during the sign-in.
    ClientRevoked,
    /// More than one user matches what the provider asserts.
    Ambiguous,
    /// The matching user is already linked to another identity of this provider.
    LinkedElsewhere,
    /// The provider's answer names no subject.
    NoSubject,
}

impl std::fmt::Display for SignInRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownUser => write!(f, "no user of this organization matches, and just-in-time provisioning is off"),
            Self::DomainNotAllowed(d) => write!(f, "just-in-time provisioning does not create users of the domain {d}"),
            Self::NoEmail => write!(f, "the identity provider sent no e-mail address, which just-in-time provisioning needs"),
            Self::Inactive => write!(f, "this user is deactivated in the directory"),
            Self::ClientRevoked => write!(f, "the application's registration was revoked"),
            Self::Ambiguous => write!(f, "more than one user of this organization matches this account; an administrator must resolve it"),
            Self::LinkedElsewhere => write!(f, "the matching user already signs in with another account of this identity provider"),
            Self::NoSubject => write!(f, "the identity provider named no subject"),
        }
    }
}

impl SignInRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::DomainNotAllowed(_) => "domain_not_allowed",
            Self::NoEmail => "no_email",
            Self::Inactive => "inactive_user",
            Self::ClientRevoked => "client_revoked",
            Self::Ambiguous => "ambiguous_user",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::NoSubject => "no_subject",
        }
    }
}

/// The sign-in's outcome: a code for the application, or why not.
pub struct SignedIn {
    /// Where the browser goes: the redirect URI with `code` (and `state`).
    pub location: String,
    pub user_id: String,
    pub jit: bool,
}

/// Decides a sign-in: finds the user (the upstream identity linked before, then
/// `externalId` = the provider's subject, then the asserted e-mail as `userName` or
/// an `emails` value), or creates it when JIT allows; refuses a deactivated user; and
/// issues a one-time code. Audited either way, in one transaction.
pub fn sign_in(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
    request: &ValidRequest,
    who: &Upstream,
    ctx: &AuditContext,
) -> Result<Result<SignedIn, SignInRefusal>, ServiceError> {
    let t = tenant(conn, slug)?;
    let scope = &Scope {
        tenant: TenantId(t.id),
        base_url: format!("{public_url}/scim/v2/{slug}"),
        actor: Actor::system(),
        correlation_id: String::new(),
    };
    let tenant = &scope.tenant;
    let actor = who.email.clone().unwrap_or_else(|| who.subject.clone());
    let seen = json!({
        "client_id": request.client_id, "issuer": who.issuer, "subject": who.subject,
        "email": who.email, "groups": who.groups,
    });
    write_transaction(conn, |c| {
        let decided = decide(c, scope, request, who)?;
        let (action, after) = match &decided {
            Ok(done) => (
                "sso.sign_in",
                json!({"user_id": done.user_id, "jit": done.jit, "seen": seen}),
            ),
            Err(refusal) => (
                "sso.sign_in_refused",
                json!({"reason": refusal.code(), "detail": refusal.to_string(), "seen": seen}),
            ),
        };
        audit(c, tenant, &actor, action, None, Some(after), ctx)?;
        Ok(decided)
    })
}

fn decide(
    conn: &mut DbConnection,
    scope: &Scope,
    request: &ValidRequest,
    who: &Upstream,
) -> Result<Result<SignedIn, SignInRefusal>, ServiceError> {
    let tenant = &scope.tenant;
    let live_client =
        oauth::client(conn, tenant, &request.client_id)?.is_some_and(|c| c.revoked_at.is_none());
    if !live_client {
        return Ok(Err(SignInRefusal::ClientRevoked));
    }
    if who.subject.is_empty() {
        return Ok(Err(SignInRefusal::NoSubject));
    }
    let link = oauth::identity(conn, tenant, &who.issuer, &who.subject)?;
    // This identity created its user at sign-in: its groups may set the memberships.
    let created_by_this_identity = link.as_ref().filter(|l| l.jit).map(|l| l.user_id.clone());
    let linked = match link {
        Some(link) => user_store::find(conn, tenant, &link.user_id)?,
        None => None,
    };
    let found = match linked {
        Some(user) => Some(user),
        None => match match_user(conn, tenant, who)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        },
    };
    let settings = SignInSettings::from_row(oauth::settings(conn, tenant)?);
    let (user, jit) = match found {
        Some(user) => (user, false),
        None => {
            if !settings.jit_enabled {
                return Ok(Err(SignInRefusal::UnknownUser));
            }
            let Some(email) = who.email.as_deref() else {
                return Ok(Err(SignInRefusal::NoEmail));
            };
            if !settings.allows(email) {
                let domain = email.rsplit_once('@').map_or(email, |(_, d)| d);
                return Ok(Err(SignInRefusal::DomainNotAllowed(domain.to_owned())));
            }
            (provision(conn, scope, who, email)?, true)
        }
    };
    if !user.active {
        return Ok(Err(SignInRefusal::Inactive));
    }
    if settings.sync_groups
        && !who.groups.is_empty()
        && (jit || created_by_this_identity.as_deref() == Some(user.id.as_str()))
    {
        sync_memberships(conn, scope, who, &user.id)?;
    }
    let stamp_now = now();
    oauth::upsert_identity(
        conn,
        &IdentityRow {
            tenant_id: tenant.0.clone(),
            issuer: who.issuer.clone(),
            subject: who.subject.clone(),
            user_id: user.id.clone(),
            jit,
            created_at: stamp_now.clone(),
            last_sign_in_at: stamp_now,
        },
    )?;
    // Expired codes go as new ones come, so the table holds minutes of sign-ins. (A
    // replay of a pruned code is refused as unknown, without its audit row.)
    oauth::prune_codes(
        conn,
        tenant,
        &stamp(SystemTime::now() - Duration::from_secs(3600)),
    )?;
    let code = generate_secret("")?;
    let expires = SystemTime::now() + Duration::from_secs(op::CODE_TTL_SECS);
    oauth::insert_code(
        conn,
        &CodeRow {
            tenant_id: tenant.0.clone(),
            code_hash: digest(&code),
            client_id: request.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            scope: request.scope.join(" "),
            auth_time: who.auth_time.unwrap_or(unix_now() as i64),
            expires_at: stamp(expires),
            used_at: None,
        },
    )?;
    let mut location =
        url::Url::parse(&request.redirect_uri).map_err(|_| invalid("a stored redirect URI"))?;
    {
        let mut q = location.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
        // RFC 9207: the application can tell which issuer answered.
        q.append_pair("iss", &issuer_of(scope));
    }
    Ok(Ok(SignedIn {
        location: location.to_string(),
        user_id: user.id,
        jit,
    }))
}

/// The user a first sign-in of this identity is, if any: the user whose `externalId`
/// is the provider's subject, then the one whose `userName` or primary e-mail is the
/// asserted address. Exactly one must match; a user linked to another identity of the
/// same provider is not taken over.
fn match_user(
    conn: &mut DbConnection,
    tenant: &TenantId,
    who: &Upstream,
) -> Result<Result<Option<UserRow>, SignInRefusal>, ServiceError> {
    let mut filters = vec![format!(
        "externalId eq {}",
        Value::from(who.subject.as_str())
    )];
    if let Some(email) = who.email.as_deref().filter(|_| !who.email_unverified) {
        let email = Value::from(email);
        filters.push(format!("userName eq {email}"));
        filters.push(format!("emails[primary eq true and value eq {email}]"));
    }
    for filter in filters {
        let found = users_matching(conn, tenant, &filter, 2)?;
        match found.as_slice() {
            [] => continue,
            [user] => {
                if oauth::linked_to_other(conn, tenant, &who.issuer, &who.subject, &user.id)? {
                    return Ok(Err(SignInRefusal::LinkedElsewhere));
                }
                return Ok(Ok(Some(user.clone())));
            }
            _ => return Ok(Err(SignInRefusal::Ambiguous)),
        }
    }
    Ok(Ok(None))
}

/// Makes a JIT-created user's memberships what the provider says: a member of each
/// existing group whose name it sent (exactly), and of no other. Each change is a SCIM
/// PATCH of the group (events, role recomputation, webhooks), by the `jit` actor. An
/// empty list changes nothing: a missing attribute is more often a misconfiguration
/// than a user in no group.
fn sync_memberships(
    conn: &mut DbConnection,
    scope: &Scope,
    who: &Upstream,
    user_id: &str,
) -> Result<(), ServiceError> {
    let jit_scope = jit_scope(scope, who);
    let current: std::collections::HashSet<String> =
        crate::store::users::groups_of(conn, &scope.tenant, &[user_id.to_owned()])?
            .into_iter()
            .map(|m| m.group_id)
            .collect();
    let stamp_now = now();
    for (group_id, name) in super::groups::names(conn, &scope.tenant)? {
        let wanted = who.groups.iter().any(|g| g == &name);
        let op = match (wanted, current.contains(&group_id)) {
            (true, false) => json!({"op": "add", "path": "members", "value": [{"value": user_id}]}),
            (false, true) => {
                json!({"op": "remove", "path": format!("members[value eq {}]", Value::from(user_id))})
            }
            _ => continue,
        };
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [op],
        });
        super::groups::patch(
            conn,
            &jit_scope,
            &group_id,
            body,
            &stamp_now,
            &Default::default(),
            false,
        )?;
    }
    Ok(())
}

/// A scope whose actor is the sign-in (`jit`), for the changes it makes.
fn jit_scope(scope: &Scope, who: &Upstream) -> Scope {
    Scope {
        actor: Actor {
            kind: ActorKind::Jit,
            id: format!("{} {}", who.issuer, who.subject),
        },
        ..scope.clone()
    }
}

/// The issuer of the tenant a SCIM scope belongs to.
fn issuer_of(scope: &Scope) -> String {
    // `{public}/scim/v2/{slug}` → `{public}/oauth/{slug}`.
    scope.base_url.replacen("/scim/v2/", "/oauth/", 1)
}

/// Creates the user a JIT sign-in found missing, as a SCIM create would (the same
/// row, role recomputation, `user.created` event and webhooks), with `jit` as the
/// actor's type.
fn provision(
    conn: &mut DbConnection,
    scope: &Scope,
    who: &Upstream,
    email: &str,
) -> Result<UserRow, ServiceError> {
    let jit_scope = jit_scope(scope, who);
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "emails": [{"value": email, "primary": true, "type": "work"}],
        "active": true,
    });
    let display = who
        .name
        .clone()
        .or_else(|| match (&who.given_name, &who.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            _ => None,
        });
    if let Some(display) = display {
        body["displayName"] = display.into();
    }
    let mut name = Map::new();
    if let Some(g) = &who.given_name {
        name.insert("givenName".into(), g.clone().into());
    }
    if let Some(f) = &who.family_name {
        name.insert("familyName".into(), f.clone().into());
    }
    if !name.is_empty() {
        body["name"] = Value::Object(name);
    }
    let created = super::users::create(conn, &jit_scope, body, &now())?;
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    user_store::find(conn, &scope.tenant, &id)?.ok_or(ServiceError::NotFound { kind: "user" })
}

// ---- the token endpoint and userinfo -------------------------------------------------

/// Compares digests in constant time.
fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// How the application authenticated at the token endpoint.
#[derive(Clone)]
pub struct ClientAuth {
    pub client_id: String,
    pub client_secret: String,
}

// By hand, so a logged value never carries the secret.
impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

// By hand, so a logged request never carries the client secret or the code verifier.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A token request (RFC 6749 §4.1.3).
#[derive(Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }
}

/// The token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub id_token: String,
    pub scope: String,
}

/// The first half of the token endpoint, a short write: authenticates the client and
/// spends the code (once: a second exchange is refused and audited as a replay). The
/// tokens are made afterwards, outside the write ([`issue_tokens`]).
pub fn redeem(
    conn: &mut DbConnection,
    slug: &str,
    auth: &ClientAuth,
    req: &TokenRequest,
) -> Result<Result<Redeemed, OAuthError>, ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    let client = match authenticate(conn, &tenant, auth, req)? {
        Ok(client) => client,
        Err(e) => return Ok(Err(e)),
    };
    let code = req.code.as_deref().unwrap_or_default();
    let code_hash = digest(code);
    let Some(row) = oauth::code(conn, &tenant, &code_hash)? else {
        return Ok(Err(OAuthError::new(
            "invalid_grant",
            "unknown or expired code",
        )));
    };
    write_transaction(conn, |c| {
        if row.client_id != client.id {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "the code was issued to another client",
            )));
        }
        if !oauth::use_code(c, &tenant, &code_hash, &now())? {
            audit(
                c,
                &tenant,
                &client.id,
                "sso.code_replayed",
                None,
                Some(json!({"client_id": client.id, "user_id": row.user_id})),
                &AuditContext::default(),
            )?;
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "the code was already used",
            )));
        }
        if row.expires_at < now() {
            return Ok(Err(OAuthError::new("invalid_grant", "the code expired")));
        }
        if req.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            )));
        }
        let verifier = req.code_verifier.as_deref().unwrap_or_default();
        if !pkce_matches(verifier, &row.code_challenge) {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "the PKCE code_verifier does not match",
            )));
        }
        Ok(Ok(Redeemed(row.clone())))
    })
}

/// The token request's client, authenticated, and its grant type checked: what the
/// endpoint checks before it asks for a turn in the tenant's writes, so requests
/// without a live client's secret never take one.
pub fn check_client(
    conn: &mut DbConnection,
    slug: &str,
    auth: &ClientAuth,
    req: &TokenRequest,
) -> Result<Result<(), OAuthError>, ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    if crate::store::tenants::is_suspended(conn, &tenant.0)? {
        return Ok(Err(OAuthError::new(
            "invalid_grant",
            "this organization is suspended",
        )));
    }
    Ok(authenticate(conn, &tenant, auth, req)?.map(drop))
}

fn authenticate(
    conn: &mut DbConnection,
    tenant: &TenantId,
    auth: &ClientAuth,
    req: &TokenRequest,
) -> Result<Result<ClientRow, OAuthError>, ServiceError> {
    if req.grant_type.as_deref() != Some("authorization_code") {
        return Ok(Err(OAuthError::new(
            "unsupported_grant_type",
            "only authorization_code is supported",
        )));
    }
    let digest = digest(&auth.client_secret);
    Ok(oauth::client(conn, tenant, &auth.client_id)?
        .filter(|c| c.revoked_at.is_none() && same(&c.secret_hash, &digest))
        .ok_or_else(|| {
            OAuthError::new("invalid_client", "unknown client, revoked, or wrong secret")
        }))
}

/// A code spent by [`redeem`]: what [`issue_tokens`] makes tokens of.
#[derive(Debug, Clone)]
pub struct Redeemed(CodeRow);

/// The second half of the token endpoint, reading only: the ID token and the access
/// token for a redeemed code, with the user's claims as they are now. `None` when the
/// tenant has no key that may sign yet.
pub fn issue_tokens(
    conn: &mut DbConnection,
    slug: &str,
    issuer: &str,
    redeemed: &Redeemed,
    keys: &KeyRing,
) -> Result<Option<Result<TokenResponse, OAuthError>>, ServiceError> {
    let row = &redeemed.0;
    let tenant_row = tenant(conn, slug)?;
    let tenant = TenantId(tenant_row.id.clone());
    let Some(key) = current_key(conn, &tenant)? else {
        return Ok(None);
    };
    let key = SigningKey {
        pkcs8_base64: keys.open(&key.private_key, &signing_key_context(&tenant.0, &key.id))?,
        kid: key.id,
    };
    let claims = match user_claims(conn, &tenant_row, &row.user_id)? {
        None => {
            return Ok(Some(Err(OAuthError::new(
                "invalid_grant",
                "the user no longer exists",
            ))))
        }
        Some((_, false)) => {
            return Ok(Some(Err(OAuthError::new(
                "invalid_grant",
                "the user was deactivated",
            ))))
        }
        Some((claims, true)) => claims,
    };
    let scopes: Vec<&str> = row.scope.split(' ').collect();
    let iat = unix_now();
    let mut id_token = claims.to_claims(&scopes);
    id_token.insert("iss".into(), issuer.into());
    id_token.insert("aud".into(), row.client_id.clone().into());
    id_token.insert("azp".into(), row.client_id.clone().into());
    id_token.insert("iat".into(), iat.into());
    id_token.insert("exp".into(), (iat + op::TOKEN_TTL_SECS).into());
    id_token.insert("auth_time".into(), row.auth_time.into());
    if let Some(nonce) = &row.nonce {
        id_token.insert("nonce".into(), nonce.clone().into());
    }
    let mut access = Map::new();
    access.insert("iss".into(), issuer.into());
    access.insert("sub".into(), claims.sub.clone().into());
    access.insert("aud".into(), issuer.into());
    access.insert("client_id".into(), row.client_id.clone().into());
    access.insert("scope".into(), row.scope.clone().into());
    access.insert("iat".into(), iat.into());
    access.insert("exp".into(), (iat + op::TOKEN_TTL_SECS).into());
    access.insert("jti".into(), generate_secret("")?.into());
    let sign = |typ: &str, c: &Map<String, Value>| {
        op::sign(&key, typ, c).map_err(|e| internal(e.to_string()))
    };
    Ok(Some(Ok(TokenResponse {
        access_token: sign(ACCESS_TOKEN_TYP, &access)?,
        token_type: "Bearer",
        expires_in: op::TOKEN_TTL_SECS,
        id_token: sign("JWT", &id_token)?,
        scope: row.scope.clone(),
    })))
}

/// What tokens say about a user, read now (roles as the mappings give them at this
/// moment), and whether the user is active.
fn user_claims(
    conn: &mut DbConnection,
    t: &TenantRow,
    user_id: &str,
) -> Result<Option<(UserClaims, bool)>, ServiceError> {
    let tenant = TenantId(t.id.clone());
    let Some(user) = user_store::find(conn, &tenant, user_id)? else {
        return Ok(None);
    };
    let attributes: Map<String, Value> =
        serde_json::from_str(&user.attributes).map_err(|_| corrupt("user"))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let name = attributes.get("name");
    let email = attributes
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|emails| {
            emails
                .iter()
                .find(|e| e["primary"] == true)
                .or_else(|| emails.first())
        })
        .and_then(|e| text(e.get("value")))
        .or_else(|| user.user_name.contains('@').then(|| user.user_name.clone()));
    let roles = super::roles::effective(conn, &tenant, &user.id)?
        .roles
        .into_iter()
        .map(|r| r.slug)
        .collect();
    let settings = SignInSettings::from_row(oauth::settings(conn, &tenant)?);
    let groups = if settings.groups_in_tokens {
        Some(
            user_store::groups_of(conn, &tenant, std::slice::from_ref(&user.id))?
                .into_iter()
                .map(|g| g.display_name)
                .collect(),
        )
    } else {
        None
    };
    Ok(Some((
        UserClaims {
            sub: user.id.clone(),
            email,
            name: user.display_name.clone(),
            given_name: text(name.and_then(|n| n.get("givenName"))),
            family_name: text(name.and_then(|n| n.get("familyName"))),
            preferred_username: user.user_name.clone(),
            tenant: t.slug.clone(),
            roles,
            groups,
            email_verified: !oauth::is_jit(conn, &tenant, &user.id)?,
        },
        user.active,
    )))
}

/// Tenants' JWKS as recently read, so `userinfo` checks a token before it asks the
/// database anything (a flood of bogus tokens costs no connection). Keys are only ever
/// added, and a key leaves a JWKS after its tokens have expired, so a set read up to
/// [`JWKS_CACHE_TTL`] ago verifies exactly what a fresh one would; a token signed by a
/// key the cached set lacks (a rotation elsewhere) reloads it.
#[derive(Debug, Default)]
pub struct JwksCache(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<Value>)>>,
);

/// How long a cached JWKS serves.
pub const JWKS_CACHE_TTL: Duration = Duration::from_secs(60);

impl JwksCache {
    /// The tenant's cached JWKS, if fresh and holding `kid`.
    pub fn get(&self, slug: &str, kid: &str) -> Option<Vec<Value>> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (at, keys) = cache.get(slug)?;
        (at.elapsed() < JWKS_CACHE_TTL && keys.iter().any(|k| k["kid"] == kid))
            .then(|| keys.clone())
    }

    pub fn put(&self, slug: &str, keys: Vec<Value>) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(slug.to_owned(), (std::time::Instant::now(), keys));
    }
}

/// The `kid` a token names, unverified (to pick the keys to verify it with).
pub fn kid_of(access_token: &str) -> String {
    jsonwebtoken::decode_header(access_token)
        .ok()
        .and_then(|h| h.kid)
        .unwrap_or_default()
}

/// A checked access token: its user and scopes.
pub struct Access {
    pub sub: String,
    pub scope: String,
    pub client_id: String,
}

/// Checks an access token against the tenant's keys and issuer; no database.
pub fn verify_access(token: &str, jwks: &[Value], issuer: &str) -> Result<Access, OAuthError> {
    let claims = op::verify_access_token(token, jwks, issuer)
        .map_err(|e| OAuthError::new("invalid_token", e.to_string()))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Access {
        sub: text("sub"),
        scope: text("scope"),
        client_id: text("client_id"),
    })
}

/// `userinfo` once the token is checked: the claims of its user, read now. A
/// deactivated or deleted user's token stops working here at once.
pub fn userinfo(
    conn: &mut DbConnection,
    slug: &str,
    access: &Access,
) -> Result<Result<Map<String, Value>, OAuthError>, ServiceError> {
    let t = tenant(conn, slug)?;
    // A revoked application's tokens stop here at once, like a deactivated user's.
    let live = oauth::client(conn, &TenantId(t.id.clone()), &access.client_id)?
        .is_some_and(|c| c.revoked_at.is_none());
    if !live {
        return Ok(Err(OAuthError::new(
            "invalid_token",
            "the token's application was revoked",
        )));
    }
    let scope = &access.scope;
    match user_claims(conn, &t, &access.sub)? {
        Some((user, true)) => Ok(Ok(user.to_claims(&scope.split(' ').collect::<Vec<_>>()))),
        _ => Ok(Err(OAuthError::new(
            "invalid_token",
            "the token's user is deactivated or deleted",
        ))),
    }
}

/// RP-initiated logout: where the browser may go afterwards. Only a URI registered as
/// a post-logout redirect URI of the client the ID token hint was issued to.
pub fn logout_target(
    conn: &mut DbConnection,
    slug: &str,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> Result<Option<String>, ServiceError> {
    let (Some(client_id), Some(uri)) = (client_id, post_logout_redirect_uri) else {
        return Ok(None);
    };
    let t = tenant(conn, slug)?;
    let allowed = oauth::client(conn, &TenantId(t.id), client_id)?
        .filter(|c| c.revoked_at.is_none())
        .is_some_and(|c| lines(&c.post_logout_redirect_uris).iter().any(|u| u == uri));
    Ok(allowed.then(|| uri.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        assert!(check_redirect_uri("https://app.example/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:3000/cb").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://app.example/cb").is_err());
        assert!(check_redirect_uri("https://app.example/cb#frag").is_err());
        assert!(check_redirect_uri("/relative").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn jit_domains_compare_ignoring_case_and_empty_allows_any() {
        let any = SignInSettings::default();
        assert!(any.allows("a@x.example"));
        assert!(!any.allows("no-at-sign"));
        let some = SignInSettings {
            jit_domains: vec!["acme.example".into()],
            ..SignInSettings::default()
        };
        assert!(some.allows("Ada@ACME.example"));
        assert!(!some.allows("ada@acme.example.evil"));
        assert!(!some.allows("ada@evil.example"));
    }

    #[test]
    fn an_error_goes_back_to_the_redirect_uri_with_the_state() {
        let refusal = AuthorizeRefusal::Redirect {
            redirect_uri: "https://app.example/cb?x=1".into(),
            error: "invalid_scope",
            description: "the scope must include openid".into(),
            state: Some("s t".into()),
            issuer: "https://r.example/oauth/acme".into(),
        };
        assert_eq!(
            refusal.location().unwrap(),
            "https://app.example/cb?x=1&error=invalid_scope&error_description=the+scope+must+include+openid&state=s+t&iss=https%3A%2F%2Fr.example%2Foauth%2Facme"
        );
        assert_eq!(AuthorizeRefusal::NoRedirect("x".into()).location(), None);
    }
}
