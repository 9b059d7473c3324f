//! Application API keys: separate from SCIM tokens, scoped, shown once, stored hashed.

use serde_json::json;

use super::tenants::{digest, generate_secret, tenant};
use super::{new_id, now, ServiceError};
use crate::store::api_keys::{self, ApiKeyRow};
use crate::store::{write_transaction, DbConnection, TenantId};

pub const PREFIX: &str = "rak_";

/// `admin` may do everything; the others only read.
pub const SCOPES: &[&str] = &["admin", "events:read", "roles:read"];

pub struct NewApiKey {
    pub row: ApiKeyRow,
    pub secret: String,
}

pub fn create(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
    scopes: &[String],
) -> Result<NewApiKey, ServiceError> {
    let tenant = tenant(conn, slug)?;
    let mut scopes: Vec<&str> = if scopes.is_empty() {
        vec!["admin"]
    } else {
        scopes.iter().map(String::as_str).collect()
    };
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(s)) {
        return Err(super::roles::invalid(format!(
            "unknown scope '{unknown}'; use {}",
            SCOPES.join(", ")
        )));
    }
    scopes.sort_unstable();
    scopes.dedup();
    let secret = generate_secret(PREFIX)?;
    let row = ApiKeyRow {
        id: new_id(),
        tenant_id: tenant.id,
        name: name.unwrap_or("API key").to_owned(),
        key_hash: digest(&secret),
        hint: format!("{}…", &secret[..PREFIX.len() + 6]),
        scopes: scopes.join(" "),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |c| api_keys::insert(c, &row))?;
    Ok(NewApiKey { row, secret })
}

pub fn list(conn: &mut DbConnection, slug: &str) -> Result<Vec<ApiKeyRow>, ServiceError> {
    let tenant = tenant(conn, slug)?;
    Ok(api_keys::list(conn, &TenantId(tenant.id))?)
}

pub fn revoke(conn: &mut DbConnection, slug: &str, key_id: &str) -> Result<(), ServiceError> {
    let tenant = TenantId(tenant(conn, slug)?.id);
    if write_transaction(conn, |c| api_keys::revoke(c, &tenant, key_id, &now()))? {
        Ok(())
    } else {
        Err(ServiceError::NotFound { kind: "API key" })
    }
}

pub fn key_json(k: &ApiKeyRow) -> serde_json::Value {
    json!({
        "id": k.id,
        "name": k.name,
        "hint": k.hint,
        "scopes": k.scopes.split(' ').collect::<Vec<_>>(),
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    })
}

/// The tenant and key a secret opens, if it is a live key of the tenant named in the
/// path and carries `needed` (or `admin`).
/// Whether `secret` is a live key of tenant `slug`, whatever its scopes (read-only).
pub fn is_live(conn: &mut DbConnection, slug: &str, secret: &str) -> Result<bool, ServiceError> {
    Ok(api_keys::find_live_for_tenant(conn, slug, &digest(secret))?.is_some())
}

pub fn authenticate(
    conn: &mut DbConnection,
    slug: &str,
    secret: &str,
    needed: &'static str,
) -> Result<(TenantId, ApiKeyRow), ServiceError> {
    let (key, tenant_id) = api_keys::find_live_for_tenant(conn, slug, &digest(secret))?
        .ok_or(ServiceError::Unauthenticated)?;
    if !key.scopes.split(' ').any(|s| s == needed || s == "admin") {
        return Err(ServiceError::Forbidden(needed));
    }
    let now = now();
    if key.last_used_at.as_deref().and_then(|l| l.get(..16)) != now.get(..16) {
        api_keys::touch(conn, &key.id, &now)?;
    }
    Ok((TenantId(tenant_id), key))
}
