//! SCIM bearer tokens, stored only as SHA-256 digests.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{scim_tokens, tenants};
use super::TenantId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_tokens)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub token_hash: String,
    pub hint: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The client address of the last use (the TCP peer; a proxy's own address
    /// behind a load balancer).
    pub last_used_ip: Option<String>,
    /// The token this one succeeds, while a rotation is in progress.
    pub replaces: Option<String>,
    /// It may read SCIM resources, never write them.
    pub read_only: bool,
}

pub fn insert(conn: &mut DbConnection, row: &TokenRow) -> Result<(), StoreError> {
    diesel::insert_into(scim_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<TokenRow>, StoreError> {
    Ok(scim_tokens::table
        .filter(scim_tokens::tenant_id.eq(&tenant.0))
        .order(scim_tokens::created_at.asc())
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// Marks a token revoked; false when the tenant has no such live token.
pub fn revoke(
    conn: &mut DbConnection,
    tenant: &TenantId,
    token_id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(&tenant.0))
            .filter(scim_tokens::id.eq(token_id))
            .filter(scim_tokens::revoked_at.is_null()),
    )
    .set(scim_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The live token with this digest, if it belongs to the tenant with this slug, with
/// the tenant's id and whether it has seen an authenticated request before.
/// A live token with its tenant's id, and whether the tenant is activated and whether
/// it is suspended.
pub type LiveToken = (TokenRow, String, bool, bool);

pub fn find_live_for_tenant(
    conn: &mut DbConnection,
    tenant_slug: &str,
    token_hash: &str,
) -> Result<Option<LiveToken>, StoreError> {
    Ok(scim_tokens::table
        .inner_join(tenants::table)
        .filter(scim_tokens::token_hash.eq(token_hash))
        .filter(scim_tokens::revoked_at.is_null())
        .filter(tenants::slug.eq(tenant_slug))
        .select((
            TokenRow::as_select(),
            tenants::id,
            tenants::activated_at.is_not_null(),
            tenants::suspended_at.is_not_null(),
        ))
        .get_result(conn)
        .optional()?)
}

pub fn touch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    token_id: &str,
    now: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(&tenant.0))
            .filter(scim_tokens::id.eq(token_id)),
    )
    .set((
        scim_tokens::last_used_at.eq(now),
        scim_tokens::last_used_ip.eq(ip),
    ))
    .execute(conn)?;
    Ok(())
}

/// Ends a rotation: the successor no longer points at the token it replaced.
pub fn clear_replaces(
    conn: &mut DbConnection,
    tenant: &TenantId,
    token_id: &str,
) -> Result<(), StoreError> {
    diesel::update(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(&tenant.0))
            .filter(scim_tokens::id.eq(token_id)),
    )
    .set(scim_tokens::replaces.eq(None::<String>))
    .execute(conn)?;
    Ok(())
}
