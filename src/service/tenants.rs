//! Tenants and their SCIM bearer tokens.

use sha2::{Digest, Sha256};

use serde_json::json;

use super::events::Actor;
use super::outbox::Outbox;
use super::{new_id, now, Scope, ServiceError};
use crate::store::tenants::{self, TenantRow};
use crate::store::tokens::{self, TokenRow};
use crate::store::{write_transaction, DbConnection, StoreError, TenantId};

/// Every roster token starts with this, so leaked tokens are easy to recognise (and to
/// find with secret scanners).
pub const TOKEN_PREFIX: &str = "rst_";

/// How stale `last_used_at` may get before a request refreshes it; keeps reads from
/// turning into a write per request.
const LAST_USED_RESOLUTION_MS: u128 = 60_000;

pub fn create_tenant(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
) -> Result<TenantRow, ServiceError> {
    if !is_valid_slug(slug) || RESERVED_SLUGS.contains(&slug) {
        return Err(ServiceError::InvalidSlug);
    }
    let row = TenantRow {
        id: new_id(),
        slug: slug.to_owned(),
        name: name.unwrap_or(slug).to_owned(),
        created_at: now(),
    };
    write_transaction(conn, |c| {
        match tenants::insert(c, &row) {
            Err(StoreError::UniqueViolation(_)) => {
                return Err(ServiceError::TenantExists(slug.to_owned()))
            }
            other => other?,
        }
        crate::store::roles::insert_settings(c, &TenantId(row.id.clone()))?;
        Ok(())
    })?;
    Ok(row)
}

/// Names the admin UI uses for itself (`/admin/operator`), so no tenant may take them.
pub const RESERVED_SLUGS: &[&str] = &["operator"];

pub fn is_valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

pub fn tenant(conn: &mut DbConnection, slug: &str) -> Result<TenantRow, ServiceError> {
    tenants::find_by_slug(conn, slug)?.ok_or_else(|| ServiceError::UnknownTenant(slug.to_owned()))
}

/// A tenant by its internal id (background work carries ids, not slugs).
pub fn tenant_by_id(conn: &mut DbConnection, id: &TenantId) -> Result<TenantRow, ServiceError> {
    tenants::find_by_id(conn, id)?.ok_or_else(|| ServiceError::UnknownTenant(id.0.clone()))
}

pub fn list_tenants(conn: &mut DbConnection) -> Result<Vec<TenantRow>, ServiceError> {
    Ok(tenants::list(conn)?)
}

pub fn has_tenants(conn: &mut DbConnection) -> Result<bool, ServiceError> {
    Ok(tenants::count(conn)? > 0)
}

/// Suspends the tenant (its SCIM requests get 403 until it is resumed) or resumes it,
/// with an audit row. Requests in this process see it at once; other processes within
/// [`TokenCache::TTL`].
pub fn set_suspended(
    conn: &mut DbConnection,
    slug: &str,
    suspended: bool,
    actor: &str,
) -> Result<(), ServiceError> {
    write_transaction(conn, |c| {
        let row = tenant(c, slug)?;
        let when = suspended.then(now);
        tenants::set_suspended(c, &row.id, when.as_deref())?;
        let action = if suspended {
            "tenant.suspended"
        } else {
            "tenant.resumed"
        };
        let after = json!({ "suspended_at": when });
        let ctx = super::audit::AuditContext::default();
        super::audit::audit(c, &TenantId(row.id), actor, action, None, Some(after), &ctx)?;
        TokenCache::revoked();
        Ok(())
    })
}

/// What `roster tenant export` writes: the tenant's directory, no secrets, no history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TenantExport {
    /// `roster-tenant-export`, so a wrong file is refused by name.
    pub format: String,
    pub version: u32,
    pub tenant: ExportedTenant,
    pub exported_at: String,
    #[serde(flatten)]
    pub directory: crate::store::portable::Directory,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportedTenant {
    pub slug: String,
    pub name: String,
}

const EXPORT_FORMAT: &str = "roster-tenant-export";
const EXPORT_VERSION: u32 = 1;

/// The tenant's directory as of one snapshot, and an audit row saying who took it.
pub fn export(
    conn: &mut DbConnection,
    slug: &str,
    actor: &str,
) -> Result<TenantExport, ServiceError> {
    let (row, directory) = crate::store::read_transaction(conn, |c| {
        let row = tenant(c, slug)?;
        let directory = crate::store::portable::read(c, &TenantId(row.id.clone()))?;
        Ok::<_, ServiceError>((row, directory))
    })?;
    let counts = json!({"users": directory.users.len(), "groups": directory.groups.len()});
    let ctx = super::audit::AuditContext::default();
    write_transaction(conn, |c| {
        let tenant = TenantId(row.id.clone());
        super::audit::audit(
            c,
            &tenant,
            actor,
            "tenant.exported",
            None,
            Some(counts),
            &ctx,
        )
    })?;
    Ok(TenantExport {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        tenant: ExportedTenant {
            slug: row.slug,
            name: row.name,
        },
        exported_at: now(),
        directory,
    })
}

/// Writes an export into tenant `slug`, which must hold no user, group or role yet:
/// the same ids, attributes, memberships, roles, mappings and grants. It writes no
/// events (the feed is history; a consumer reads the directory through the API).
pub fn import(
    conn: &mut DbConnection,
    slug: &str,
    export: TenantExport,
    actor: &str,
) -> Result<(), ServiceError> {
    if export.format != EXPORT_FORMAT || export.version != EXPORT_VERSION {
        return Err(super::invalid(format!(
            "not a {EXPORT_FORMAT} version {EXPORT_VERSION} document"
        )));
    }
    write_transaction(conn, |c| {
        let row = tenant(c, slug)?;
        let id = TenantId(row.id);
        if !crate::store::portable::is_empty(c, &id)? {
            return Err(ServiceError::Conflict(format!(
                "tenant '{slug}' already holds users, groups or roles; import into an empty tenant"
            )));
        }
        let after = json!({
            "from": export.tenant.slug,
            "users": export.directory.users.len(),
            "groups": export.directory.groups.len(),
        });
        crate::store::portable::write(c, &id, export.directory)?;
        let ctx = super::audit::AuditContext::default();
        super::audit::audit(c, &id, actor, "tenant.imported", None, Some(after), &ctx)?;
        Ok(())
    })
}

/// Deletes the tenant and everything of it (users, groups, roles, events, tokens, API
/// keys, webhooks, logs, sessions): its credentials stop working at once. Returns the
/// row it deleted, for the operator's record; the tenant's own audit log goes with it.
pub fn delete_tenant(conn: &mut DbConnection, slug: &str) -> Result<TenantRow, ServiceError> {
    write_transaction(conn, |c| {
        let row = tenant(c, slug)?;
        tenants::delete(c, &row.id)?;
        TokenCache::revoked();
        Ok(row)
    })
}

/// A SCIM token as the API and the screens show it: never the secret, only its first
/// characters.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The secret's first characters, to recognise it by.
    pub hint: String,
    pub created_at: String,
    #[schema(required = true)]
    pub last_used_at: Option<String>,
    /// The client address of the last use (a proxy's, behind a load balancer).
    #[schema(required = true)]
    pub last_used_ip: Option<String>,
    #[schema(required = true)]
    pub revoked_at: Option<String>,
    /// The id of the token this one succeeds, while a rotation is in progress.
    #[schema(required = true)]
    pub replaces: Option<String>,
    /// A read-only token reads SCIM resources; its writes get 403.
    pub read_only: bool,
}

impl From<&TokenRow> for TokenView {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            hint: t.hint.clone(),
            created_at: t.created_at.clone(),
            last_used_at: t.last_used_at.clone(),
            last_used_ip: t.last_used_ip.clone(),
            revoked_at: t.revoked_at.clone(),
            replaces: t.replaces.clone(),
            read_only: t.read_only,
        }
    }
}

/// A token as created: the secret appears here once and is never stored.
#[derive(Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret, in this response only.
    #[serde(rename = "token")]
    pub secret: String,
}

// By hand, so a logged value never carries the secret.
impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

pub fn create_token(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
    actor: &Actor,
) -> Result<CreatedToken, ServiceError> {
    create_token_with(conn, slug, name, TokenAccess::ReadWrite, actor)
}

/// What a SCIM token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAccess {
    /// Read and write SCIM resources: what an identity provider needs.
    #[default]
    ReadWrite,
    /// Read only: every write is refused with 403.
    ReadOnly,
}

/// [`create_token`], choosing whether the token may write.
pub fn create_token_with(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
    access: TokenAccess,
    actor: &Actor,
) -> Result<CreatedToken, ServiceError> {
    let new = NewToken {
        name,
        read_only: access == TokenAccess::ReadOnly,
        replaces: None,
    };
    create_token_as(conn, slug, new, actor, "connection.token_created")
}

/// A token about to be made.
struct NewToken<'a> {
    name: Option<&'a str>,
    read_only: bool,
    replaces: Option<&'a str>,
}

/// Creates a successor for a live token; both stay valid until the old one is revoked,
/// so the IdP can be switched over without a gap.
pub fn rotate_token(
    conn: &mut DbConnection,
    slug: &str,
    token_id: &str,
    actor: &Actor,
) -> Result<CreatedToken, ServiceError> {
    let tenant_row = tenant(conn, slug)?;
    let old = tokens::list(conn, &TenantId(tenant_row.id))?
        .into_iter()
        .find(|t| t.id == token_id && t.revoked_at.is_none())
        .ok_or(ServiceError::NotFound { kind: "token" })?;
    // The successor may do what the token it replaces did, no more.
    let new = NewToken {
        name: Some(&old.name),
        read_only: old.read_only,
        replaces: Some(&old.id),
    };
    create_token_as(conn, slug, new, actor, "connection.token_rotated")
}

fn create_token_as(
    conn: &mut DbConnection,
    slug: &str,
    new: NewToken<'_>,
    actor: &Actor,
    event_type: &'static str,
) -> Result<CreatedToken, ServiceError> {
    let NewToken {
        name,
        read_only,
        replaces,
    } = new;
    let tenant = tenant(conn, slug)?;
    let secret = generate_secret(TOKEN_PREFIX)?;
    let row = TokenRow {
        id: new_id(),
        tenant_id: tenant.id,
        name: name.unwrap_or("SCIM token").to_owned(),
        token_hash: digest(&secret),
        hint: format!("{}…", &secret[..TOKEN_PREFIX.len() + 6]),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
        last_used_ip: None,
        replaces: replaces.map(str::to_owned),
        read_only,
    };
    write_transaction(conn, |c| {
        tokens::insert(c, &row)?;
        let now = now();
        let mut outbox = Outbox::for_tenant(&TenantId(row.tenant_id.clone()), actor, "", &now);
        // `replaces` is in the view already: the row was made with it.
        let data = serde_json::to_value(TokenView::from(&row)).unwrap_or_default();
        outbox.emit(event_type, data);
        outbox.commit(c)?;
        Ok::<_, ServiceError>(())
    })?;
    Ok(CreatedToken {
        view: TokenView::from(&row),
        secret,
    })
}

/// The tenant's tokens with their digests, oldest first (for the CLI and tests).
pub fn list_tokens(conn: &mut DbConnection, slug: &str) -> Result<Vec<TokenRow>, ServiceError> {
    let tenant = tenant(conn, slug)?;
    Ok(tokens::list(conn, &TenantId(tenant.id))?)
}

/// The tenant's tokens as the API and the screens show them, oldest first.
pub fn tokens(conn: &mut DbConnection, slug: &str) -> Result<Vec<TokenView>, ServiceError> {
    Ok(list_tokens(conn, slug)?
        .iter()
        .map(TokenView::from)
        .collect())
}

/// Revokes a token; `NotFound` when the tenant has no such live token.
pub fn revoke_token(
    conn: &mut DbConnection,
    slug: &str,
    token_id: &str,
    actor: &Actor,
) -> Result<(), ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    let revoked = write_transaction(conn, |c| {
        let now = now();
        let revoked = tokens::revoke(c, &tenant, token_id, &now)?;
        if revoked {
            TokenCache::revoked();
            let mut outbox = Outbox::for_tenant(&tenant, actor, "", &now);
            outbox.emit(
                "connection.token_revoked",
                json!({"id": token_id, "revoked_at": now}),
            );
            outbox.commit(c)?;
        }
        Ok::<_, ServiceError>(revoked)
    })?;
    if revoked {
        Ok(())
    } else {
        Err(ServiceError::NotFound { kind: "token" })
    }
}

/// Which end of a rotation (S4) to keep: completing revokes the replaced token,
/// cancelling revokes the successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationEnd {
    Complete,
    Cancel,
}

/// Ends the rotation whose successor is `successor_id`; returns the revoked token's id.
pub fn end_rotation(
    conn: &mut DbConnection,
    slug: &str,
    successor_id: &str,
    end: RotationEnd,
    actor: &Actor,
) -> Result<String, ServiceError> {
    let tenant_id = TenantId(tenant(conn, slug)?.id);
    let successor = tokens::list(conn, &tenant_id)?
        .into_iter()
        .find(|t| t.id == successor_id && t.revoked_at.is_none())
        .ok_or(ServiceError::NotFound { kind: "token" })?;
    let Some(replaced) = successor.replaces.clone() else {
        return Err(ServiceError::Conflict(
            "this token is not part of a rotation".into(),
        ));
    };
    write_transaction(conn, |c| {
        tokens::clear_replaces(c, &tenant_id, successor_id)?;
        let revoked = match end {
            RotationEnd::Complete => replaced,
            RotationEnd::Cancel => successor.id.clone(),
        };
        // The replaced token may be gone already (revoked by hand): nothing to do then.
        match revoke_token(c, slug, &revoked, actor) {
            Ok(()) | Err(ServiceError::NotFound { .. }) => Ok(revoked),
            Err(e) => Err(e),
        }
    })
}

/// Live SCIM tokens recently verified, so a request checks its token without a query.
///
/// A revocation in this process empties it once the revocation commits. One made by
/// another process (the CLI, or another roster on the same PostgreSQL) is seen within
/// [`TokenCache::TTL`], when each entry has to be verified against the database again.
/// Keys are token digests, never secrets.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), Cached>>,
}

struct Cached {
    found: Authenticated,
    verified: std::time::Instant,
    epoch: u64,
}

/// Bumped by every revocation in this process, after it commits.
static REVOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl TokenCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    /// Entries kept at most; live tokens are few, so this only bounds a pathological case.
    const MAX_ENTRIES: usize = 10_000;

    fn revoked() {
        let bump = || {
            REVOCATIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        };
        // Now, so no request starting from here trusts an entry; and after the commit,
        // so none filled from the database before the commit survives either.
        bump();
        crate::store::after_commit(bump);
    }

    fn epoch() -> u64 {
        REVOCATIONS.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The tenant a live token opens: from the cache if verified within the TTL and no
    /// revocation since, else from the database (see [`authenticate`]).
    pub fn authenticate(
        &self,
        conn: &mut DbConnection,
        slug: &str,
        secret: &str,
        ip: Option<&str>,
    ) -> Result<Option<Authenticated>, StoreError> {
        let key = (slug.to_owned(), digest(secret));
        let epoch = Self::epoch();
        if let Some(hit) = self.lock().get(&key) {
            if hit.epoch == epoch && hit.verified.elapsed() < Self::TTL {
                return Ok(Some(hit.found.clone()));
            }
        }
        let found = authenticate(conn, slug, secret, ip)?;
        if let Some(found) = found.as_ref().filter(|f| f.activated) {
            let mut entries = self.lock();
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                key,
                Cached {
                    found: found.clone(),
                    verified: std::time::Instant::now(),
                    epoch,
                },
            );
        }
        Ok(found)
    }

    /// Whether this process verified this token once and revoked nothing since: for
    /// admission before a body is read and for rate limits, never for access.
    pub fn seen(&self, slug: &str, secret: &str) -> bool {
        let key = (slug.to_owned(), digest(secret));
        self.lock()
            .get(&key)
            .is_some_and(|hit| hit.epoch == Self::epoch())
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), Cached>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A SCIM token that opened its tenant.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub tenant: TenantId,
    pub token_id: String,
    /// False until the tenant's first authenticated request has been recorded.
    pub activated: bool,
    /// The tenant is suspended: the token is live, but its requests are refused.
    pub suspended: bool,
    /// The token may only read.
    pub read_only: bool,
}

/// The tenant a bearer token opens, if it is a live token of the tenant named in the
/// path. The lookup goes by digest, so its timing says nothing about the secret.
pub fn authenticate(
    conn: &mut DbConnection,
    slug: &str,
    secret: &str,
    ip: Option<&str>,
) -> Result<Option<Authenticated>, StoreError> {
    let Some((token, tenant_id, activated, suspended)) =
        tokens::find_live_for_tenant(conn, slug, &digest(secret))?
    else {
        return Ok(None);
    };
    let now = now();
    if is_stale(token.last_used_at.as_deref(), &now) || token.last_used_ip.as_deref() != ip {
        tokens::touch(conn, &TenantId(tenant_id.clone()), &token.id, &now, ip)?;
    }
    Ok(Some(Authenticated {
        tenant: TenantId(tenant_id),
        token_id: token.id,
        activated,
        suspended,
        read_only: token.read_only,
    }))
}

/// Whether `secret` is a live token of tenant `slug`, read-only (no last-used update):
/// checked before a request body is read, so a wrong token costs no upload.
pub fn is_live_token(
    conn: &mut DbConnection,
    slug: &str,
    secret: &str,
) -> Result<bool, StoreError> {
    Ok(tokens::find_live_for_tenant(conn, slug, &digest(secret))?.is_some())
}

/// Whether the tenant is suspended (its SCIM requests are refused).
pub fn is_suspended(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, ServiceError> {
    Ok(tenants::is_suspended(conn, &tenant.0)?)
}

/// Emits `connection.activated` once, for the tenant's first authenticated request.
pub fn activate(conn: &mut DbConnection, scope: &Scope) -> Result<(), ServiceError> {
    let now = now();
    write_transaction(conn, |c| {
        if tenants::mark_activated(c, &scope.tenant, &now)? {
            let mut outbox = Outbox::new(scope, &now);
            outbox.emit(
                "connection.activated",
                json!({"token_id": scope.actor.id, "activated_at": now}),
            );
            outbox.commit(c)?;
        }
        Ok(())
    })
}

fn is_stale(last_used: Option<&str>, now: &str) -> bool {
    let parse = |s: &str| humantime::parse_rfc3339(s).ok();
    match (last_used.and_then(parse), parse(now)) {
        (Some(last), Some(now)) => now
            .duration_since(last)
            .is_ok_and(|d| d.as_millis() >= LAST_USED_RESOLUTION_MS),
        _ => true,
    }
}

/// 256 random bits from the OS, hex-encoded behind the prefix.
pub fn generate_secret(prefix: &str) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Store(StoreError::Unavailable(Box::new(e))))?;
    let mut secret = String::with_capacity(prefix.len() + 64);
    secret.push_str(prefix);
    for b in bytes {
        secret.push_str(&format!("{b:02x}"));
    }
    Ok(secret)
}

pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_256_bit_hex_and_differ() {
        let a = generate_secret(TOKEN_PREFIX).unwrap();
        let b = generate_secret(TOKEN_PREFIX).unwrap();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(a[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn slugs_are_lower_case_dns_labels() {
        assert!(is_valid_slug("acme-eu-1"));
        assert!(!is_valid_slug("Acme"));
        assert!(!is_valid_slug("-acme"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug("a/b"));
    }

    #[test]
    fn last_used_is_refreshed_once_a_minute() {
        assert!(is_stale(None, "2026-11-24T10:00:00.000Z"));
        assert!(!is_stale(
            Some("2026-11-24T10:00:00.000Z"),
            "2026-11-24T10:00:59.000Z"
        ));
        assert!(is_stale(
            Some("2026-11-24T10:00:00.000Z"),
            "2026-11-24T10:01:00.000Z"
        ));
    }
}
