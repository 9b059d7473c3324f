//! Admin UI login: per-tenant OIDC settings, the admin-role decision, server-side
//! sessions, break-glass login links and the admin audit log (spec §6.7, A1–A10).
//! Admin login never creates or changes SCIM users (A6).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::run::Tx;
use super::tenants::{digest, generate_secret, tenant};
use super::{now, stamp, Scope, ServiceError};
use crate::auth::oidc::{Expected, Identity, Oidc, OidcError, PendingLogin, RelyingParty};
use crate::scim::resource::fold;
use crate::scim::schema::ResourceKind;
use crate::secrets::KeyRing;
pub use crate::store::admin::AuditQuery;
use crate::store::admin::{self, AuditRow, LoginLinkRow, OidcConfigRow, SessionRow};
use crate::store::secrets::{oidc_context, setting_context};
use crate::store::tenants::TenantRow;
use crate::store::users::UserRow;
use crate::store::{write_transaction, DbConnection, StoreError, TenantId};

/// A session ends after this long without a request (A8).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, however busy (A8).
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A break-glass link is good for this long, once (A10).
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(10 * 60);
/// `last_seen_at` is refreshed at most this often, so reads do not all write.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// The actor name of break-glass sessions and audit rows.
pub const BREAK_GLASS: &str = "break-glass";
const SESSION_SECRET_KEY: &str = "session_secret";

/// Admin-UI roles, separate from provisioning roles (A6); ordered by power.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    Viewer,
    Admin,
    Owner,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Admin => "admin",
            AdminRole::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(AdminRole::Viewer),
            "admin" => Some(AdminRole::Admin),
            "owner" => Some(AdminRole::Owner),
            _ => None,
        }
    }
}

/// A tenant's OIDC settings (A1).
#[derive(Clone, PartialEq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Empty: auto-detect `groups`, `memberOf`, `member_of`.
    pub groups_claim: String,
    pub expected_jc_org: Option<String>,
    /// IdP group name → admin-UI role.
    pub group_roles: BTreeMap<String, AdminRole>,
    /// What roster asks the provider for; `openid` always.
    pub scopes: Vec<String>,
}

/// The scopes asked for unless the tenant says otherwise.
pub fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

/// Scopes as the admin writes them (spaces or commas); empty: the default. `openid`
/// must be one of them.
pub fn parse_scopes(text: &str) -> Result<Vec<String>, ServiceError> {
    let scopes: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Ok(default_scopes());
    }
    if let Some(bad) = scopes.iter().find(|s| {
        !s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    }) {
        return Err(super::invalid(format!("{bad:?} is not a scope")));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(super::invalid("the scopes must include openid"));
    }
    Ok(scopes)
}

// By hand: the client secret is opened in here, and logs never show it.
impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "(set)"),
            )
            .field("groups_claim", &self.groups_claim)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The relying party a tenant's admin login is, with the IdP sending the browser back
/// to `redirect_uri`.
pub fn relying_party(settings: &OidcSettings, redirect_uri: String) -> RelyingParty {
    RelyingParty {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri,
        scopes: settings.scopes.clone(),
    }
}

/// The IdP's half of a login: exchanges the code (with the login's PKCE verifier),
/// checks the ID token against the tenant's settings and the login's nonce, and reads
/// the groups, from `userinfo` when the token carries none (JumpCloud may leave them
/// there, A4). Blocks on the network: call it off the async workers.
pub fn identify(
    oidc: &Oidc,
    settings: &OidcSettings,
    redirect_uri: String,
    code: &str,
    pending: &PendingLogin,
) -> Result<Identity, OidcError> {
    identify_with_claims(oidc, settings, redirect_uri, code, pending).map(|(who, _)| who)
}

/// [`identify`], with the validated ID token's claims (the admin SSO screen's test
/// sign-in shows them).
pub fn identify_with_claims(
    oidc: &Oidc,
    settings: &OidcSettings,
    redirect_uri: String,
    code: &str,
    pending: &PendingLogin,
) -> Result<(Identity, serde_json::Map<String, Value>), OidcError> {
    let rp = relying_party(settings, redirect_uri);
    let tokens = oidc.exchange(&rp, code, &pending.verifier)?;
    let claims = oidc.validate(
        &tokens.id_token,
        &Expected {
            issuer: &settings.issuer,
            client_id: &settings.client_id,
            nonce: &pending.nonce,
            jc_org: settings.expected_jc_org.as_deref(),
        },
    )?;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let groups = match crate::auth::oidc::find_groups(&claims, &settings.groups_claim) {
        Some(groups) => groups,
        None => oidc
            .userinfo(&settings.issuer, &tokens.access_token, &subject)?
            .and_then(|info| crate::auth::oidc::find_groups(&info, &settings.groups_claim))
            .unwrap_or_default(),
    };
    Ok((Identity::from_claims(&claims, groups), claims))
}

impl OidcSettings {
    /// The settings as the audit log presents them: no secret.
    pub fn redacted(&self) -> RedactedOidc {
        RedactedOidc {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.as_ref().map(|_| "(set)"),
            groups_claim: self.groups_claim.clone(),
            expected_jc_org: self.expected_jc_org.clone(),
            group_roles: self.group_roles.clone(),
            scopes: self.scopes.clone(),
        }
    }

    /// The highest role any of `groups` maps to (A5).
    pub fn role_for(&self, groups: &[String]) -> Option<AdminRole> {
        role_for(&self.group_roles, groups)
    }

    /// The settings of a stored row. With `keys`, the client secret is opened; without,
    /// it stays sealed, which is enough to say whether there is one.
    fn from_row(row: &OidcConfigRow, keys: Option<&KeyRing>) -> Result<Self, ServiceError> {
        let mapping: BTreeMap<String, String> =
            serde_json::from_str(&row.group_roles).map_err(|_| corrupt())?;
        let group_roles = mapping
            .into_iter()
            .map(|(g, r)| AdminRole::parse(&r).map(|r| (g, r)).ok_or_else(corrupt))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            issuer: row.issuer.clone(),
            client_id: row.client_id.clone(),
            client_secret: match (&row.client_secret, keys) {
                (Some(sealed), Some(keys)) => {
                    Some(keys.open(sealed, &oidc_context(&row.tenant_id))?)
                }
                (secret, _) => secret.clone(),
            },
            groups_claim: row.groups_claim.clone(),
            expected_jc_org: row.expected_jc_org.clone(),
            group_roles,
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        })
    }
}

/// A tenant's OIDC settings without the client secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RedactedOidc {
    pub issuer: String,
    pub client_id: String,
    /// `(set)` when there is a secret; never the secret itself.
    #[schema(value_type = Option<String>, required = true)]
    pub client_secret: Option<&'static str>,
    /// Empty: auto-detect `groups`, `memberOf`, `member_of`.
    pub groups_claim: String,
    #[schema(required = true)]
    pub expected_jc_org: Option<String>,
    /// IdP group name → admin-UI role.
    pub group_roles: BTreeMap<String, AdminRole>,
    /// The scopes roster asks the provider for.
    pub scopes: Vec<String>,
}

impl RedactedOidc {
    /// For an audit row's before or after.
    fn audited(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }
}

fn corrupt() -> ServiceError {
    super::invalid("the stored OIDC settings are damaged; set them again")
}

pub use super::audit::{audit, AuditContext};

/// What an admin action changed, for its audit row.
pub struct Done<T> {
    pub value: T,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl<T> Done<T> {
    pub fn new(value: T, before: Option<Value>, after: Option<Value>) -> Self {
        Self {
            value,
            before,
            after,
        }
    }
}

/// An audit row's before or after: a typed view as JSON.
pub fn snapshot<T: serde::Serialize>(view: &T) -> Value {
    serde_json::to_value(view).unwrap_or_default()
}

/// Who does an admin action, and from where: what its audit row records besides the
/// change itself.
pub struct Auditor {
    pub actor: String,
    pub action: &'static str,
    pub ctx: AuditContext,
}

/// Runs an admin action and writes its audit row in one transaction, so the change
/// and its record commit together or not at all.
pub fn audited<T>(
    tx: &mut Tx<'_>,
    scope: &Scope,
    auditor: &Auditor,
    action: impl FnOnce(&mut Tx<'_>, &Scope) -> Result<Done<T>, ServiceError>,
) -> Result<T, ServiceError> {
    write_transaction(tx, |c| {
        let done = action(&mut Tx::lend(c), scope)?;
        audit(
            c,
            &scope.tenant,
            &auditor.actor,
            auditor.action,
            done.before,
            done.after,
            &auditor.ctx,
        )?;
        Ok(done.value)
    })
}

/// `sub <email>`: who an audit row is about.
pub fn actor_name(subject: &str, email: Option<&str>) -> String {
    match email {
        Some(e) => format!("{subject} <{e}>"),
        None => subject.to_owned(),
    }
}

pub fn audit_log(conn: &mut DbConnection, slug: &str) -> Result<Vec<AuditRow>, ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    Ok(admin::audit_log(conn, &tenant, 1000)?)
}

/// One admin action of the audit log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: `sub <email>`, or `break-glass`.
    pub actor: String,
    /// What, e.g. `scim_token.created`.
    pub action: String,
    /// The state before, as JSON (or the stored text when it is not JSON); `null` if none.
    #[schema(required = true)]
    pub before: Option<Value>,
    /// The state after, like `before`.
    #[schema(required = true)]
    pub after: Option<Value>,
    #[schema(required = true)]
    pub ip: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
}

impl From<&AuditRow> for AuditEntry {
    fn from(r: &AuditRow) -> Self {
        Self {
            id: r.id.clone(),
            at: r.at.clone(),
            actor: r.actor.clone(),
            action: r.action.clone(),
            before: stored_json(r.before_json.as_deref()),
            after: stored_json(r.after_json.as_deref()),
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
        }
    }
}

/// One page of the audit log (S12), newest first.
pub fn audit_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, ServiceError> {
    Ok(admin::audit_page(conn, tenant, q)?
        .iter()
        .map(AuditEntry::from)
        .collect())
}

/// The actions the tenant's audit log holds.
pub fn audit_actions(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<String>, ServiceError> {
    Ok(admin::audit_actions(conn, tenant)?)
}

/// A stored before/after JSON text as JSON (or as the text, if it is not JSON).
fn stored_json(text: Option<&str>) -> Option<Value> {
    text.map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
}

/// The same page as CSV, with before and after as stored.
pub fn audit_csv(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &AuditQuery,
) -> Result<String, ServiceError> {
    use super::csv::{field, push_line};
    let mut out = String::from("id,at,actor,action,ip,user_agent,before,after\r\n");
    for r in admin::audit_page(conn, tenant, q)? {
        push_line(
            &mut out,
            &[
                field(&r.id),
                field(&r.at),
                field(&r.actor),
                field(&r.action),
                field(r.ip.as_deref().unwrap_or("")),
                field(r.user_agent.as_deref().unwrap_or("")),
                field(r.before_json.as_deref().unwrap_or("")),
                field(r.after_json.as_deref().unwrap_or("")),
            ],
        );
    }
    Ok(out)
}

/// Sets (replaces) a tenant's OIDC settings; audited with the secret redacted.
pub fn set_oidc(
    conn: &mut DbConnection,
    slug: &str,
    settings: &OidcSettings,
    actor: &str,
    keys: &KeyRing,
) -> Result<(), ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    let secret = match &settings.client_secret {
        Some(plain) => StoredSecret::Seal(plain.clone(), keys),
        None => StoredSecret::None,
    };
    write_transaction(conn, |c| {
        let before = store_oidc(c, &tenant_id, settings, secret)?;
        audit(
            c,
            &tenant_id,
            actor,
            "oidc.configured",
            before,
            settings.redacted().audited(),
            &AuditContext::default(),
        )?;
        Ok(())
    })
}

/// What the admin SSO screen changes of the client secret: it is written, never shown.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretChange {
    /// A blank field: the stored secret stays.
    Keep,
    /// A public client from now on (PKCE only).
    Clear,
    Set(String),
}

/// The admin SSO screen's form, as the service takes it.
#[derive(Debug, Clone)]
pub struct OidcInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretChange,
    pub groups_claim: String,
    pub expected_jc_org: Option<String>,
    /// One `Group name=role` a line, as the CLI's `--map-group`.
    pub group_roles: String,
    /// Spaces or commas between them; empty: `openid email profile`.
    pub scopes: String,
}

/// `Group name=role` lines (blank lines skipped) as a mapping; the group is what
/// precedes the last `=`.
pub fn parse_group_roles(text: &str) -> Result<BTreeMap<String, AdminRole>, ServiceError> {
    let mut roles = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, role) = line
            .rsplit_once('=')
            .and_then(|(n, r)| Some((n.trim(), AdminRole::parse(r.trim())?)))
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| {
                super::invalid(format!(
                    "{line:?}: write one GROUP=ROLE a line, ROLE one of owner, admin, viewer"
                ))
            })?;
        roles.insert(name.to_owned(), role);
    }
    Ok(roles)
}

/// Replaces the tenant's OIDC settings from the admin SSO screen (owners only; the
/// caller audits the returned before and after, both without the secret).
pub fn configure_oidc(
    conn: &mut DbConnection,
    tenant: &TenantId,
    input: OidcInput,
    keys: &KeyRing,
) -> Result<Done<()>, ServiceError> {
    let current = admin::oidc_config(conn, tenant)?;
    let secret = match input.client_secret {
        SecretChange::Keep => current
            .and_then(|c| c.client_secret)
            .map_or(StoredSecret::None, StoredSecret::AsStored),
        SecretChange::Clear => StoredSecret::None,
        SecretChange::Set(plain) => StoredSecret::Seal(plain, keys),
    };
    // The settings only say whether there is a secret (for the audit row); the
    // secret itself goes to the store sealed.
    let client_secret = match &secret {
        StoredSecret::None => None,
        StoredSecret::AsStored(_) | StoredSecret::Seal(..) => Some(String::new()),
    };
    let settings = OidcSettings {
        issuer: input.issuer.trim().to_owned(),
        client_id: input.client_id.trim().to_owned(),
        client_secret,
        groups_claim: input.groups_claim.trim().to_owned(),
        expected_jc_org: input
            .expected_jc_org
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty()),
        group_roles: parse_group_roles(&input.group_roles)?,
        scopes: parse_scopes(&input.scopes)?,
    };
    if !settings.issuer.starts_with("https://") && !settings.issuer.starts_with("http://") {
        return Err(super::invalid(
            "the issuer is a URL, exactly as the identity provider states it",
        ));
    }
    let before = store_oidc(conn, tenant, &settings, secret)?;
    Ok(Done::new((), before, settings.redacted().audited()))
}

/// The tenant's OIDC settings as a screen may show them: without the secret.
pub fn oidc_redacted(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<RedactedOidc>, ServiceError> {
    admin::oidc_config(conn, tenant)?
        .as_ref()
        .map(|row| OidcSettings::from_row(row, None).map(|s| s.redacted()))
        .transpose()
}

/// What a sign-in as `login` would come to, deciding as [`complete_login`] does but
/// opening no session and writing nothing: the admin SSO screen's test sign-in.
pub fn check_sign_in(
    conn: &mut DbConnection,
    tenant: &TenantId,
    settings: &OidcSettings,
    login: &Login<'_>,
) -> Result<Result<AdminRole, Refusal>, ServiceError> {
    let Some(role) = settings.role_for(login.groups) else {
        return Ok(Err(Refusal::NoAdminGroup {
            groups: login.groups.to_vec(),
        }));
    };
    let scim_user = find_scim_user(conn, tenant, login.subject, login.email)?;
    if scim_user.is_some_and(|u| !u.active) {
        return Ok(Err(Refusal::InactiveUser));
    }
    Ok(Ok(role))
}

/// The client secret a write stores.
enum StoredSecret<'k> {
    None,
    /// Already sealed: kept as it is.
    AsStored(String),
    /// Typed in: sealed under the current key.
    Seal(String, &'k KeyRing),
}

/// Writes `settings` (but the client secret: `secret`) as the tenant's; returns the
/// settings before, redacted.
fn store_oidc(
    conn: &mut DbConnection,
    tenant_id: &TenantId,
    settings: &OidcSettings,
    secret: StoredSecret,
) -> Result<Option<Value>, ServiceError> {
    if settings.issuer.is_empty() || settings.client_id.is_empty() {
        return Err(super::invalid("issuer and client id are required"));
    }
    write_transaction(conn, |c| {
        let before = admin::oidc_config(c, tenant_id)?;
        let now = now();
        let row = OidcConfigRow {
            tenant_id: tenant_id.0.clone(),
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            client_secret: match secret {
                StoredSecret::None => None,
                StoredSecret::AsStored(sealed) => Some(sealed),
                StoredSecret::Seal(plain, keys) => {
                    Some(keys.seal(&plain, &oidc_context(&tenant_id.0)))
                }
            },
            groups_claim: settings.groups_claim.clone(),
            expected_jc_org: settings.expected_jc_org.clone(),
            group_roles: serde_json::to_string(&settings.redacted().group_roles)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?,
            created_at: before
                .as_ref()
                .map_or_else(|| now.clone(), |b| b.created_at.clone()),
            updated_at: now,
            scopes: settings.scopes.join(" "),
        };
        admin::upsert_oidc_config(c, &row)?;
        Ok(before
            .as_ref()
            .map(|row| OidcSettings::from_row(row, None))
            .transpose()?
            .and_then(|s| s.redacted().audited()))
    })
}

/// The tenant and its OIDC settings, if any.
pub fn oidc_settings(
    conn: &mut DbConnection,
    slug: &str,
    keys: &KeyRing,
) -> Result<(TenantRow, Option<OidcSettings>), ServiceError> {
    load_oidc(conn, slug, Some(keys))
}

/// [`oidc_settings`], with the client secret opened only when `keys` are given.
fn load_oidc(
    conn: &mut DbConnection,
    slug: &str,
    keys: Option<&KeyRing>,
) -> Result<(TenantRow, Option<OidcSettings>), ServiceError> {
    let t = tenant(conn, slug)?;
    let row = admin::oidc_config(conn, &TenantId(t.id.clone()))?;
    let settings = row
        .as_ref()
        .map(|row| OidcSettings::from_row(row, keys))
        .transpose()?;
    Ok((t, settings))
}

/// The secret that signs the login-state cookie: the configured one, or one generated
/// on first use and stored in the database, so every process behind a balancer agrees.
pub fn session_secret(
    conn: &mut DbConnection,
    configured: Option<&str>,
    keys: &KeyRing,
) -> Result<Vec<u8>, ServiceError> {
    if let Some(s) = configured.filter(|s| !s.is_empty()) {
        return Ok(s.as_bytes().to_vec());
    }
    let context = setting_context(SESSION_SECRET_KEY);
    if admin::setting(conn, SESSION_SECRET_KEY)?.is_none() {
        let fresh = keys.seal(&generate_secret("")?, &context);
        admin::insert_setting(conn, SESSION_SECRET_KEY, &fresh)?;
    }
    // Another process may have stored its own first: everyone uses the stored one.
    let stored = admin::setting(conn, SESSION_SECRET_KEY)?.ok_or(StoreError::NotFound)?;
    Ok(keys.open(&stored, &context)?.into_bytes())
}

/// The logged-in admin a session cookie stands for.
#[derive(Debug, Clone)]
pub struct Session {
    pub tenant: TenantRow,
    pub subject: String,
    pub email: Option<String>,
    pub role: AdminRole,
    pub csrf_token: String,
}

/// A session just opened: the cookie value is shown to the browser once.
pub struct OpenedSession {
    pub cookie: String,
}

/// Why a login was refused (audited; shown to the user).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// None of the groups seen maps to an admin-UI role.
    NoAdminGroup { groups: Vec<String> },
    /// The matching SCIM user of this tenant is inactive (A7).
    InactiveUser,
}

/// Who logged in through OIDC, as the login decision needs it.
pub struct Login<'a> {
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub groups: &'a [String],
}

fn open_session(
    conn: &mut DbConnection,
    tenant: &TenantId,
    subject: &str,
    email: Option<&str>,
    role: AdminRole,
    scim_user_id: Option<String>,
) -> Result<OpenedSession, ServiceError> {
    let cookie = generate_secret("")?;
    let now = SystemTime::now();
    admin::insert_session(
        conn,
        &SessionRow {
            id_hash: digest(&cookie),
            tenant_id: tenant.0.clone(),
            subject: subject.to_owned(),
            email: email.map(str::to_owned),
            role: role.as_str().to_owned(),
            scim_user_id,
            csrf_token: generate_secret("")?,
            created_at: stamp(now),
            last_seen_at: stamp(now),
            expires_at: stamp(now + ABSOLUTE_TIMEOUT),
        },
    )?;
    Ok(OpenedSession { cookie })
}

/// The highest role any of `groups` maps to under `rules` (A5). Group names compare
/// ignoring case.
pub fn role_for(rules: &BTreeMap<String, AdminRole>, groups: &[String]) -> Option<AdminRole> {
    let folded: Vec<String> = groups.iter().map(|g| fold(g)).collect();
    rules
        .iter()
        .filter(|(name, _)| folded.contains(&fold(name)))
        .map(|(_, role)| *role)
        .max()
}

/// Decides an OIDC login (A5, A7) and opens a session, auditing either way.
pub fn complete_login(
    conn: &mut DbConnection,
    slug: &str,
    login: &Login<'_>,
    ctx: &AuditContext,
) -> Result<Result<OpenedSession, Refusal>, ServiceError> {
    // Deciding needs the group rules, not the client secret.
    let (t, settings) = load_oidc(conn, slug, None)?;
    let settings = settings.ok_or(ServiceError::NotFound {
        kind: "OIDC configuration",
    })?;
    complete_login_under(conn, &TenantId(t.id), &settings.group_roles, login, ctx)
}

/// The group rules of the tenant's OIDC connection, when it has one: the admin
/// login's rules over either protocol.
pub fn oidc_group_roles(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<Option<BTreeMap<String, AdminRole>>, ServiceError> {
    Ok(load_oidc(conn, slug, None)?.1.map(|s| s.group_roles))
}

/// Decides a login under `rules` (A5, A7) and opens a session, auditing either way.
pub fn complete_login_under(
    conn: &mut DbConnection,
    tenant_id: &TenantId,
    rules: &BTreeMap<String, AdminRole>,
    login: &Login<'_>,
    ctx: &AuditContext,
) -> Result<Result<OpenedSession, Refusal>, ServiceError> {
    let tenant_id = tenant_id.clone();
    let actor = actor_name(login.subject, login.email);
    write_transaction(conn, |c| {
        let seen = json!({"subject": login.subject, "email": login.email, "groups": login.groups});
        let Some(role) = role_for(rules, login.groups) else {
            audit(
                c,
                &tenant_id,
                &actor,
                "login.refused.no_admin_group",
                None,
                Some(seen),
                ctx,
            )?;
            return Ok(Err(Refusal::NoAdminGroup {
                groups: login.groups.to_vec(),
            }));
        };
        let scim_user = find_scim_user(c, &tenant_id, login.subject, login.email)?;
        if scim_user.as_ref().is_some_and(|u| !u.active) {
            audit(
                c,
                &tenant_id,
                &actor,
                "login.refused.inactive_user",
                None,
                Some(seen),
                ctx,
            )?;
            return Ok(Err(Refusal::InactiveUser));
        }
        let opened = open_session(
            c,
            &tenant_id,
            login.subject,
            login.email,
            role,
            scim_user.map(|u| u.id),
        )?;
        let after = json!({
            "role": role.as_str(),
            "groups": login.groups,
            "email_verified": login.email_verified,
        });
        audit(c, &tenant_id, &actor, "login", None, Some(after), ctx)?;
        Ok(Ok(opened))
    })
}

/// The tenant's SCIM user behind an admin: by `externalId` = `sub`, then by
/// `userName`, then by e-mail (A7).
pub(super) fn find_scim_user(
    conn: &mut DbConnection,
    tenant: &TenantId,
    subject: &str,
    email: Option<&str>,
) -> Result<Option<UserRow>, ServiceError> {
    let mut filters = vec![format!("externalId eq {}", Value::from(subject))];
    if let Some(email) = email {
        filters.push(format!("userName eq {}", Value::from(email)));
        filters.push(format!("emails.value eq {}", Value::from(email)));
    }
    for filter in filters {
        if let Some(user) = users_matching(conn, tenant, &filter, 1)?.into_iter().next() {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

/// Up to `limit` users of the tenant matching a SCIM filter, in id order.
pub(super) fn users_matching(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &str,
    limit: i64,
) -> Result<Vec<UserRow>, ServiceError> {
    use crate::store::paging::{Order, Window};
    let parsed = crate::scim::filter::parse(filter)
        .map_err(|_| super::invalid("cannot match the sign-in to a SCIM user"))?;
    let query =
        crate::store::filter_sql::compile_at(ResourceKind::User, &parsed, conn.dialect(), None)?;
    let page = crate::store::users::list(
        conn,
        tenant,
        Some(&query),
        Order {
            key: None,
            descending: false,
        },
        Window::Offset { offset: 0, limit },
    )?;
    Ok(page.rows.into_iter().map(|keyed| keyed.row).collect())
}

/// The live session behind a cookie on this tenant's pages; refreshes its idle clock.
pub fn session(
    conn: &mut DbConnection,
    slug: &str,
    cookie: &str,
) -> Result<Option<Session>, ServiceError> {
    let Some(t) = crate::store::tenants::find_by_slug(conn, slug)? else {
        return Ok(None);
    };
    let tenant_id = TenantId(t.id.clone());
    let now = SystemTime::now();
    let hash = digest(cookie);
    let Some(row) = admin::live_session(
        conn,
        &tenant_id,
        &hash,
        &stamp(now),
        &stamp(now - IDLE_TIMEOUT),
    )?
    else {
        return Ok(None);
    };
    if row.last_seen_at < stamp(now - TOUCH_EVERY) {
        admin::touch_session(conn, &tenant_id, &hash, &stamp(now))?;
    }
    let role = AdminRole::parse(&row.role).ok_or_else(corrupt)?;
    Ok(Some(Session {
        tenant: t,
        subject: row.subject,
        email: row.email,
        role,
        csrf_token: row.csrf_token,
    }))
}

/// Ends the session behind a cookie (logout), audited.
pub fn logout(
    conn: &mut DbConnection,
    slug: &str,
    cookie: &str,
    ctx: &AuditContext,
) -> Result<(), ServiceError> {
    let tenant_id = TenantId(tenant(conn, slug)?.id);
    write_transaction(conn, |c| {
        if let Some(ended) = admin::delete_session(c, &tenant_id, &digest(cookie))? {
            let actor = actor_name(&ended.subject, ended.email.as_deref());
            audit(c, &tenant_id, &actor, "logout", None, None, ctx)?;
        }
        Ok(())
    })
}

/// Makes a one-time break-glass login token for the tenant (A10); audited.
pub fn create_login_link(conn: &mut DbConnection, slug: &str) -> Result<String, ServiceError> {
    let tenant_id = TenantId(tenant(conn, slug)?.id);
    let token = generate_secret("")?;
    let now = SystemTime::now();
    write_transaction(conn, |c| {
        admin::insert_login_link(
            c,
            &LoginLinkRow {
                token_hash: digest(&token),
                tenant_id: tenant_id.0.clone(),
                created_at: stamp(now),
                expires_at: stamp(now + LOGIN_LINK_TTL),
                used_at: None,
            },
        )?;
        audit(
            c,
            &tenant_id,
            BREAK_GLASS,
            "login_link.created",
            None,
            Some(json!({"expires_at": stamp(now + LOGIN_LINK_TTL)})),
            &AuditContext::default(),
        )?;
        Ok(token)
    })
}

/// Consumes a break-glass token and opens an owner session; `None` when the token is
/// unknown, used or expired (that attempt is audited too).
pub fn use_login_link(
    conn: &mut DbConnection,
    slug: &str,
    token: &str,
    ctx: &AuditContext,
) -> Result<Option<OpenedSession>, ServiceError> {
    let tenant_id = TenantId(tenant(conn, slug)?.id);
    write_transaction(conn, |c| {
        if !admin::consume_login_link(c, &tenant_id, &digest(token), &now())? {
            audit(
                c,
                &tenant_id,
                BREAK_GLASS,
                "login.refused.login_link",
                None,
                None,
                ctx,
            )?;
            return Ok(None);
        }
        let opened = open_session(c, &tenant_id, BREAK_GLASS, None, AdminRole::Owner, None)?;
        audit(
            c,
            &tenant_id,
            BREAK_GLASS,
            "login.break_glass",
            None,
            Some(json!({"role": "owner"})),
            ctx,
        )?;
        Ok(Some(opened))
    })
}

/// Ends the admin sessions of a SCIM user that was just deactivated or deleted (A7):
/// sessions linked to it at login, or opened by its `externalId` as `sub` or by its
/// `userName` or an e-mail address. Runs inside the SCIM write's transaction.
pub fn end_sessions_of_user(conn: &mut DbConnection, user: &UserRow) -> Result<(), StoreError> {
    let tenant = TenantId(user.tenant_id.clone());
    let subjects: Vec<String> = user.external_id.iter().cloned().collect();
    let mut emails = vec![user.user_name_folded.clone()];
    if let Ok(Value::Object(attributes)) = serde_json::from_str::<Value>(&user.attributes) {
        if let Some(Value::Array(list)) = attributes.get("emails") {
            emails.extend(
                list.iter()
                    .filter_map(|e| e.get("value").and_then(Value::as_str))
                    .map(fold),
            );
        }
    }
    let ended = admin::delete_sessions_of(conn, &tenant, &user.id, &subjects, &emails)?;
    for subject in ended {
        audit(
            conn,
            &tenant,
            &subject,
            "session.ended_by_scim",
            None,
            Some(json!({"scim_user_id": user.id, "active": user.active})),
            &AuditContext::default(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_mapped_role_wins_and_names_ignore_case() {
        let settings = OidcSettings {
            issuer: "i".into(),
            client_id: "c".into(),
            client_secret: None,
            groups_claim: String::new(),
            expected_jc_org: None,
            group_roles: BTreeMap::from([
                ("Roster Viewers".to_owned(), AdminRole::Viewer),
                ("Roster Owners".to_owned(), AdminRole::Owner),
            ]),
            scopes: default_scopes(),
        };
        let groups = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            settings.role_for(&groups(&["roster viewers", "ROSTER OWNERS"])),
            Some(AdminRole::Owner)
        );
        assert_eq!(
            settings.role_for(&groups(&["Roster Viewers"])),
            Some(AdminRole::Viewer)
        );
        assert_eq!(settings.role_for(&groups(&["Engineering"])), None);
    }
}
