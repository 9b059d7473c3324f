//! Application API keys: separate from SCIM tokens, scoped, shown once, stored hashed.

use super::tenants::{digest, generate_secret, tenant};
use super::{new_id, now, ServiceError};
use crate::store::api_keys::{self, ApiKeyRow};
use crate::store::{write_transaction, DbConnection, TenantId};

pub const PREFIX: &str = "rak_";

/// The scope an API key needs to read SCIM resources.
pub const SCIM_READ: &str = "scim:read";

/// What a key may do: `admin` everything, the others only read. Stored space-separated.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
pub enum KeyScope {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "events:read")]
    EventsRead,
    #[serde(rename = "roles:read")]
    RolesRead,
    /// Reads the tenant's SCIM resources (`GET /scim/v2/{tenant}/Users`, …), never
    /// writes them.
    #[serde(rename = "scim:read")]
    ScimRead,
}

impl KeyScope {
    pub const ALL: [KeyScope; 4] = [
        KeyScope::Admin,
        KeyScope::EventsRead,
        KeyScope::RolesRead,
        KeyScope::ScimRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Admin => "admin",
            KeyScope::EventsRead => "events:read",
            KeyScope::RolesRead => "roles:read",
            KeyScope::ScimRead => "scim:read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as the API shows it: never the secret, only its first characters.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The secret's first characters, to recognise it by.
    pub hint: String,
    pub scopes: Vec<KeyScope>,
    pub created_at: String,
    #[schema(required = true)]
    pub last_used_at: Option<String>,
    #[schema(required = true)]
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRow> for ApiKeyView {
    fn from(k: &ApiKeyRow) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            hint: k.hint.clone(),
            // Only known scopes are ever stored (`create` checks them).
            scopes: k.scopes.split(' ').filter_map(KeyScope::parse).collect(),
            created_at: k.created_at.clone(),
            last_used_at: k.last_used_at.clone(),
            revoked_at: k.revoked_at.clone(),
        }
    }
}

/// A key as created: the secret appears here once and is never stored.
#[derive(Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The secret, in this response only.
    #[serde(rename = "key")]
    pub secret: String,
}

// By hand, so a logged value never carries the secret.
impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

pub fn create(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
    scopes: &[String],
) -> Result<CreatedApiKey, ServiceError> {
    let tenant = tenant(conn, slug)?;
    let mut scopes = scopes
        .iter()
        .map(|s| {
            KeyScope::parse(s).ok_or_else(|| {
                let known: Vec<_> = KeyScope::ALL.iter().map(|k| k.as_str()).collect();
                super::invalid(format!("unknown scope '{s}'; use {}", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        scopes.push(KeyScope::Admin);
    }
    // The variants' order is their names': stored text stays sorted as it always was.
    scopes.sort_unstable();
    scopes.dedup();
    let secret = generate_secret(PREFIX)?;
    let row = ApiKeyRow {
        id: new_id(),
        tenant_id: tenant.id,
        name: name.unwrap_or("API key").to_owned(),
        key_hash: digest(&secret),
        hint: format!("{}…", &secret[..PREFIX.len() + 6]),
        scopes: scopes
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |c| api_keys::insert(c, &row))?;
    Ok(CreatedApiKey {
        view: ApiKeyView::from(&row),
        secret,
    })
}

pub fn list(conn: &mut DbConnection, slug: &str) -> Result<Vec<ApiKeyView>, ServiceError> {
    let tenant = tenant(conn, slug)?;
    Ok(api_keys::list(conn, &TenantId(tenant.id))?
        .iter()
        .map(ApiKeyView::from)
        .collect())
}

pub fn revoke(conn: &mut DbConnection, slug: &str, key_id: &str) -> Result<(), ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    if write_transaction(conn, |c| api_keys::revoke(c, &tenant, key_id, &now()))? {
        Ok(())
    } else {
        Err(ServiceError::NotFound { kind: "API key" })
    }
}

/// Whether `secret` is a live key of tenant `slug`, whatever its scopes (read-only).
pub fn is_live(conn: &mut DbConnection, slug: &str, secret: &str) -> Result<bool, ServiceError> {
    Ok(api_keys::find_live_for_tenant(conn, slug, &digest(secret))?.is_some())
}

/// The tenant and key a secret opens, if it is a live key of the tenant named in the
/// path and carries `needed` (or `admin`).
pub fn authenticate(
    conn: &mut DbConnection,
    slug: &str,
    secret: &str,
    needed: &'static str,
) -> Result<(TenantId, ApiKeyRow), ServiceError> {
    let (key, tenant_id) = api_keys::find_live_for_tenant(conn, slug, &digest(secret))?
        .ok_or(ServiceError::Unauthenticated)?;
    let mut scopes = key.scopes.split(' ').filter_map(KeyScope::parse);
    if !scopes.any(|k| k == KeyScope::Admin || k.as_str() == needed) {
        return Err(ServiceError::Forbidden(needed));
    }
    let now = now();
    if key.last_used_at.as_deref().and_then(|l| l.get(..16)) != now.get(..16) {
        api_keys::touch(conn, &TenantId(tenant_id.clone()), &key.id, &now)?;
    }
    Ok((TenantId(tenant_id), key))
}
