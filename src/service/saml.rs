//! Use cases of a tenant's SAML connection (roster as the service provider): its
//! configuration, the SP metadata, starting a sign-in (an AuthnRequest remembered for
//! its InResponseTo), and accepting a response: verified outside any transaction, then
//! its request spent and its assertion id remembered (replay cache) in one write,
//! with an audit row either way. The protocol is `auth::saml`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::admin::{
    self, parse_group_roles, AdminRole, AuditContext, Done, Login, OpenedSession, Refusal,
};
use super::audit::audit;
use super::provider::Upstream;
use super::tenants::tenant;
use super::{invalid, now, stamp, ServiceError};
use crate::auth::saml::{self, AttributeNames, Envelope, Idp, SamlError, Sp, Verified};
use crate::secrets::KeyRing;
use crate::store::saml::{self as store, ConnectionRow, RequestRow};
use crate::store::secrets::saml_key_context;
use crate::store::{write_transaction, DbConnection, TenantId};

/// How long a sign-in may take at the IdP.
const REQUEST_TTL_SECS: u64 = 600;

/// The SP's addresses for a tenant: entity id (= metadata URL) and ACS.
pub fn sp_urls(public_url: &str, slug: &str) -> (String, String) {
    let entity = format!("{public_url}/saml/{slug}");
    let acs = format!("{entity}/acs");
    (entity, acs)
}

/// What the admin gives: the IdP's metadata (XML, or fetched from its URL by the
/// caller) or its three values, and how to read assertions.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlConnectionInput {
    /// The IdP's metadata XML (JumpCloud: "Export Metadata"). Exclusive with the three
    /// fields below.
    #[serde(default)]
    pub metadata_xml: Option<String>,
    /// The IdP's metadata URL (JumpCloud: "Copy Metadata URL"): fetched once, now.
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// The IdP entity id (JumpCloud: "IdP Entity ID"), compared exactly with Issuer.
    #[serde(default)]
    pub idp_entity_id: Option<String>,
    /// The IdP's SSO URL (JumpCloud: "IDP URL").
    #[serde(default)]
    pub sso_url: Option<String>,
    /// The IdP's signing certificates, PEM or base64: one, or two during a rollover.
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default)]
    pub name_id_format: Option<String>,
    #[serde(default)]
    pub email_attribute: Option<String>,
    #[serde(default)]
    pub first_name_attribute: Option<String>,
    #[serde(default)]
    pub last_name_attribute: Option<String>,
    #[serde(default)]
    pub groups_attribute: Option<String>,
    /// Admin sign-in over SAML: one `Group name=role` a line (owner, admin or viewer).
    /// Used only when the tenant has no OIDC connection, whose rules apply otherwise.
    #[serde(default)]
    pub admin_group_roles: Option<String>,
    /// Accept sign-ins the IdP starts (a portal tile). Off by default.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Where an IdP-initiated sign-in sends the browser: the application's login URL,
    /// which starts a normal sign-in. Required when IdP-initiated sign-in is on.
    #[serde(default)]
    pub idp_initiated_url: Option<String>,
}

/// A tenant's SAML connection, as the admin screen and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SamlConnectionView {
    /// What to paste into the IdP.
    pub sp_entity_id: String,
    pub acs_url: String,
    pub metadata_url: String,
    /// roster's certificate for this connection (PEM).
    pub sp_certificate: String,
    pub idp_entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<CertificateView>,
    pub name_id_format: String,
    pub email_attribute: String,
    pub first_name_attribute: String,
    pub last_name_attribute: String,
    pub groups_attribute: String,
    /// Admin sign-in's groups → roles when the tenant has no OIDC connection.
    pub admin_group_roles: BTreeMap<String, AdminRole>,
    pub allow_idp_initiated: bool,
    pub idp_initiated_url: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CertificateView {
    /// Base64 DER.
    pub certificate: String,
    /// When it stops being valid.
    pub expires: Option<String>,
}

fn view(row: &ConnectionRow, public_url: &str, slug: &str) -> SamlConnectionView {
    let (entity, acs) = sp_urls(public_url, slug);
    SamlConnectionView {
        metadata_url: format!("{entity}/metadata"),
        sp_entity_id: entity,
        acs_url: acs,
        sp_certificate: row.sp_certificate.clone(),
        idp_entity_id: row.idp_entity_id.clone(),
        sso_url: row.sso_url.clone(),
        certificates: row
            .idp_certificates
            .lines()
            .map(|c| CertificateView {
                certificate: c.to_owned(),
                expires: saml::certificate_expiry(c),
            })
            .collect(),
        name_id_format: row.name_id_format.clone(),
        email_attribute: row.email_attribute.clone(),
        first_name_attribute: row.first_name_attribute.clone(),
        last_name_attribute: row.last_name_attribute.clone(),
        groups_attribute: row.groups_attribute.clone(),
        admin_group_roles: serde_json::from_str(&row.admin_group_roles).unwrap_or_default(),
        allow_idp_initiated: row.allow_idp_initiated,
        idp_initiated_url: row.idp_initiated_url.clone(),
        updated_at: row.updated_at.clone(),
    }
}

pub fn connection(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
) -> Result<Option<SamlConnectionView>, ServiceError> {
    let t = tenant(conn, slug)?;
    Ok(store::connection(conn, &TenantId(t.id))?.map(|row| view(&row, public_url, slug)))
}

fn config_error(e: SamlError) -> ServiceError {
    invalid(e.to_string())
}

/// An https URL (http only on the loopback, for local IdPs and applications).
pub(crate) fn web_url(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    let url = url::Url::parse(value).map_err(|_| invalid(format!("{field} is not a URL")))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let allowed = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !allowed || url.host_str().is_none() || value.chars().any(|c| c.is_control()) {
        return Err(invalid(format!(
            "{field} must be an https URL (http only on localhost)"
        )));
    }
    Ok(value.to_owned())
}

fn name(value: Option<&str>, default: &str) -> String {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// The IdP the input describes: from its metadata, or from its three values.
fn idp_of(input: &SamlConnectionInput) -> Result<Idp, ServiceError> {
    let explicit = input
        .idp_entity_id
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty())
        || input
            .sso_url
            .as_deref()
            .is_some_and(|v| !v.trim().is_empty())
        || input.certificates.iter().any(|c| !c.trim().is_empty());
    if let Some(xml) = input
        .metadata_xml
        .as_deref()
        .filter(|x| !x.trim().is_empty())
    {
        if explicit {
            return Err(invalid(
                "give the IdP's metadata or its entity id, SSO URL and certificate, not both",
            ));
        }
        let idp = saml::parse_idp_metadata(xml).map_err(config_error)?;
        web_url("the metadata's SSO URL", &idp.sso_url)?;
        return Ok(idp);
    }
    let entity_id = input
        .idp_entity_id
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("the IdP entity id is missing"))?;
    let sso_url = web_url("the SSO URL", input.sso_url.as_deref().unwrap_or_default())?;
    let certificates = input
        .certificates
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| saml::normalize_certificate(c).map_err(config_error))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Idp {
        entity_id: entity_id.to_owned(),
        sso_url,
        certificates,
    })
}

/// Creates or replaces the tenant's connection. roster's SP key is made with the
/// first configuration and kept after, so the IdP's copy of the certificate stays
/// right.
pub fn configure(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
    input: &SamlConnectionInput,
    keys: &KeyRing,
) -> Result<Done<SamlConnectionView>, ServiceError> {
    let idp = idp_of(input)?;
    match idp.certificates.len() {
        0 => return Err(invalid("the IdP's signing certificate is missing")),
        1 | 2 => {}
        _ => {
            return Err(invalid(
                "at most two IdP certificates (the current one and the next)",
            ))
        }
    }
    let idp_initiated_url = match input.idp_initiated_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => Some(web_url("the IdP-initiated sign-in URL", u)?),
        _ if input.allow_idp_initiated => {
            return Err(invalid(
                "IdP-initiated sign-in needs the application's login URL to send users to",
            ))
        }
        _ => None,
    };
    let admin_rules = parse_group_roles(input.admin_group_roles.as_deref().unwrap_or_default())?;
    let admin_rules = serde_json::to_string(&admin_rules)
        .map_err(|e| super::provider::internal(e.to_string()))?;
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let before = store::connection(c, &tenant_id)?;
        let stamp_now = now();
        let (sp_key, sp_cert, created) = match &before {
            Some(row) => (
                row.sp_private_key.clone(),
                row.sp_certificate.clone(),
                row.created_at.clone(),
            ),
            None => {
                let (key, cert) =
                    saml::new_sp_key(&sp_urls(public_url, slug).0).map_err(config_error)?;
                (
                    keys.seal(&key, &saml_key_context(&tenant_id.0)),
                    cert,
                    stamp_now.clone(),
                )
            }
        };
        let row = ConnectionRow {
            tenant_id: tenant_id.0.clone(),
            idp_entity_id: idp.entity_id.clone(),
            sso_url: idp.sso_url.clone(),
            idp_certificates: idp.certificates.join("\n"),
            sp_private_key: sp_key,
            sp_certificate: sp_cert,
            name_id_format: name(input.name_id_format.as_deref(), saml::EMAIL_FORMAT),
            email_attribute: name(input.email_attribute.as_deref(), "email"),
            first_name_attribute: name(input.first_name_attribute.as_deref(), "firstName"),
            last_name_attribute: name(input.last_name_attribute.as_deref(), "lastName"),
            groups_attribute: name(input.groups_attribute.as_deref(), "memberOf"),
            admin_group_roles: admin_rules.clone(),
            allow_idp_initiated: input.allow_idp_initiated,
            idp_initiated_url: idp_initiated_url.clone(),
            created_at: created,
            updated_at: stamp_now,
        };
        store::upsert_connection(c, &row)?;
        let after = view(&row, public_url, slug);
        Ok(Done::new(
            after.clone(),
            before.map(|b| audit_view(&view(&b, public_url, slug))),
            Some(audit_view(&after)),
        ))
    })
}

/// The view as an audit row keeps it: without the certificates' bodies.
fn audit_view(v: &SamlConnectionView) -> Value {
    json!({
        "idp_entity_id": v.idp_entity_id, "sso_url": v.sso_url,
        "certificates": v.certificates.iter().map(|c| c.expires.clone()).collect::<Vec<_>>(),
        "name_id_format": v.name_id_format, "email_attribute": v.email_attribute,
        "groups_attribute": v.groups_attribute, "allow_idp_initiated": v.allow_idp_initiated,
        "admin_group_roles": v.admin_group_roles,
        "idp_initiated_url": v.idp_initiated_url,
    })
}

/// Removes the tenant's connection; returns what it was.
pub fn remove(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
) -> Result<Done<()>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let before = store::connection(c, &tenant_id)?.ok_or(ServiceError::NotFound {
            kind: "SAML connection",
        })?;
        store::delete_connection(c, &tenant_id)?;
        Ok(Done::new(
            (),
            Some(audit_view(&view(&before, public_url, slug))),
            None,
        ))
    })
}

/// The connection as the protocol needs it: what verifies a response, with no
/// database connection held while it does.
#[derive(Clone)]
pub struct Loaded {
    tenant: TenantId,
    row: ConnectionRow,
    sp: Sp,
    idp: Idp,
}

fn load(conn: &mut DbConnection, slug: &str, public_url: &str) -> Result<Loaded, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant = TenantId(t.id);
    let row = store::connection(conn, &tenant)?.ok_or(ServiceError::NotFound {
        kind: "SAML connection",
    })?;
    let (entity_id, acs_url) = sp_urls(public_url, slug);
    let sp = Sp {
        entity_id,
        acs_url,
        certificate: row.sp_certificate.clone(),
    };
    let idp = Idp {
        entity_id: row.idp_entity_id.clone(),
        sso_url: row.sso_url.clone(),
        certificates: row.idp_certificates.lines().map(str::to_owned).collect(),
    };
    Ok(Loaded {
        tenant,
        row,
        sp,
        idp,
    })
}

/// The SP metadata XML for the tenant's IdP.
pub fn sp_metadata(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
) -> Result<String, ServiceError> {
    let loaded = load(conn, slug, public_url)?;
    saml::sp_metadata(&loaded.sp).map_err(config_error)
}

/// Why a SAML sign-in is being made, and what it needs once the IdP has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "lowercase")]
pub enum Purpose {
    /// An application's user, through roster's OpenID Provider: the checked request.
    App { request: Value },
    /// The admin UI: the page to return to.
    Admin { return_to: String },
    /// The SSO screen's test sign-in: shown, never signed in.
    Test,
}

impl Purpose {
    fn name(&self) -> &'static str {
        match self {
            Self::App { .. } => "app",
            Self::Admin { .. } => "admin",
            Self::Test => "test",
        }
    }
}

/// Starts a sign-in: remembers the AuthnRequest's ID (one use, ten minutes) and
/// returns the URL to send the browser to; `force_authn` asks the IdP to sign the
/// user in again.
pub fn start(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
    purpose: &Purpose,
    force_authn: bool,
) -> Result<String, ServiceError> {
    let loaded = load(conn, slug, public_url)?;
    // The RelayState is not used to decide anything: the request's ID finds the
    // sign-in, and no URL ever comes from the IdP.
    let (url, id) = saml::authn_request(
        &loaded.sp,
        &loaded.idp,
        &loaded.row.name_id_format,
        force_authn,
        "",
    )
    .map_err(config_error)?;
    let payload =
        serde_json::to_string(purpose).map_err(|e| super::provider::internal(e.to_string()))?;
    let now_t = SystemTime::now();
    write_transaction(conn, |c| {
        store::insert_request(
            c,
            &RequestRow {
                tenant_id: loaded.tenant.0.clone(),
                id,
                purpose: purpose.name().to_owned(),
                payload,
                expires_at: stamp(now_t + Duration::from_secs(REQUEST_TTL_SECS)),
            },
            &stamp(now_t),
        )?;
        Ok::<_, ServiceError>(())
    })?;
    Ok(url)
}

/// A response whose signature and conditions hold, not yet matched to its request
/// nor checked against the replay cache.
#[derive(Debug, Clone)]
pub struct Checked {
    pub envelope: Envelope,
    pub verified: Verified,
    pub idp_initiated_url: Option<String>,
    pub allow_idp_initiated: bool,
}

/// What the decoded response said, for the audit row and the test page, whether or
/// not it verified.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Seen {
    pub xml: Option<String>,
    pub in_response_to: Option<String>,
}

/// The tenant's connection, read for [`check`].
pub fn verifier(
    conn: &mut DbConnection,
    slug: &str,
    public_url: &str,
) -> Result<Loaded, ServiceError> {
    load(conn, slug, public_url)
}

/// Verifies `SAMLResponse` for the tenant's connection: CPU only (the signature check
/// is the slow part), run with no connection and no write turn held.
pub fn check(loaded: &Loaded, saml_response: &str) -> (Seen, Result<Checked, SamlError>) {
    let (xml, envelope) = match saml::envelope(saml_response) {
        Ok(found) => found,
        Err(e) => return (Seen::default(), Err(e)),
    };
    let seen = Seen {
        xml: Some(xml.clone()),
        in_response_to: envelope.in_response_to.clone(),
    };
    if envelope.in_response_to.is_none() && !loaded.row.allow_idp_initiated {
        return (seen, Err(SamlError::Unsolicited));
    }
    let names = AttributeNames {
        email: loaded.row.email_attribute.clone(),
        first_name: loaded.row.first_name_attribute.clone(),
        last_name: loaded.row.last_name_attribute.clone(),
        groups: loaded.row.groups_attribute.clone(),
    };
    // The response's own InResponseTo is what samael compares every SubjectConfirmation
    // with; that it names a request roster made, unspent, is `accept`'s check.
    let verified = saml::verify(
        &loaded.sp,
        &loaded.idp,
        &xml,
        &envelope,
        envelope.in_response_to.as_deref(),
        &names,
    );
    (
        seen,
        verified.map(|verified| Checked {
            envelope,
            verified,
            idp_initiated_url: loaded.row.idp_initiated_url.clone(),
            allow_idp_initiated: loaded.row.allow_idp_initiated,
        }),
    )
}

/// Spends the response's request and remembers its assertion id: the purpose it was
/// started for, or why not (unknown or spent request, a replay).
pub fn accept(
    conn: &mut DbConnection,
    slug: &str,
    checked: &Checked,
    ctx: &AuditContext,
) -> Result<Result<Option<Purpose>, SamlError>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    let now_s = now();
    let until = stamp(checked.verified.remember_until);
    write_transaction(conn, |c| {
        let purpose = match &checked.envelope.in_response_to {
            Some(id) => match store::take_request(c, &tenant_id, id, &now_s)? {
                Some(row) => Some(
                    serde_json::from_str::<Purpose>(&row.payload)
                        .map_err(|e| super::provider::internal(e.to_string()))?,
                ),
                None => {
                    return refused(
                        c,
                        &tenant_id,
                        &checked.verified,
                        SamlError::InResponseTo,
                        ctx,
                    )
                }
            },
            None if checked.allow_idp_initiated => None,
            None => {
                return refused(
                    c,
                    &tenant_id,
                    &checked.verified,
                    SamlError::Unsolicited,
                    ctx,
                )
            }
        };
        if !store::remember_assertion(
            c,
            &tenant_id,
            &checked.verified.assertion_id,
            &until,
            &now_s,
        )? {
            return refused(c, &tenant_id, &checked.verified, SamlError::Replayed, ctx);
        }
        Ok(Ok(purpose))
    })
}

fn refused<T>(
    conn: &mut DbConnection,
    tenant: &TenantId,
    who: &Verified,
    why: SamlError,
    ctx: &AuditContext,
) -> Result<Result<T, SamlError>, ServiceError> {
    let seen = json!({"connection": "saml", "issuer": who.issuer, "subject": who.name_id, "email": who.email, "groups": who.groups});
    audit_refusal(conn, tenant, &who.name_id, &why, seen, ctx)?;
    Ok(Err(why))
}

fn audit_refusal(
    conn: &mut DbConnection,
    tenant: &TenantId,
    actor: &str,
    why: &SamlError,
    seen: Value,
    ctx: &AuditContext,
) -> Result<(), ServiceError> {
    let after = json!({"reason": why.code(), "detail": why.to_string(), "seen": seen});
    let actor = if actor.is_empty() { "saml" } else { actor };
    audit(
        conn,
        tenant,
        actor,
        "sso.sign_in_refused",
        None,
        Some(after),
        ctx,
    )?;
    Ok(())
}

/// Audits a response that did not verify (the sign-in log shows why).
pub fn refuse_unverified(
    conn: &mut DbConnection,
    slug: &str,
    why: &SamlError,
    seen: &Seen,
    ctx: &AuditContext,
) -> Result<(), ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    // What an unverified response says is the sender's text: kept short.
    let in_response_to: Option<String> = seen
        .in_response_to
        .as_ref()
        .map(|id| id.chars().take(80).collect());
    let seen = json!({"connection": "saml", "in_response_to": in_response_to});
    write_transaction(conn, |c| audit_refusal(c, &tenant_id, "", why, seen, ctx))
}

/// Decides an admin sign-in over SAML and opens a session: under the OIDC connection's
/// groups → roles when the tenant has one (the same rules for both protocols), else
/// under the SAML connection's own.
pub fn complete_admin_login(
    conn: &mut DbConnection,
    slug: &str,
    login: &Login<'_>,
    ctx: &AuditContext,
) -> Result<Result<OpenedSession, Refusal>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    let rules = match admin::oidc_group_roles(conn, slug)? {
        Some(rules) => rules,
        None => store::connection(conn, &tenant_id)?
            .and_then(|row| serde_json::from_str(&row.admin_group_roles).ok())
            .unwrap_or_default(),
    };
    admin::complete_login_under(conn, &tenant_id, &rules, login, ctx)
}

/// The sign-in decision's input: who the assertion says signed in. The IdP asserted
/// the address and signed it, so it is not marked unverified.
pub fn upstream(verified: &Verified) -> Upstream {
    let name = match (&verified.given_name, &verified.family_name) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        _ => None,
    };
    Upstream {
        issuer: verified.issuer.clone(),
        subject: verified.name_id.clone(),
        email: verified.email.clone(),
        given_name: verified.given_name.clone(),
        family_name: verified.family_name.clone(),
        name,
        groups: verified.groups.clone(),
        auth_time: verified.authn_instant,
        email_unverified: false,
    }
}
