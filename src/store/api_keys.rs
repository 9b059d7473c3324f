//! Application API keys, stored only as SHA-256 digests.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{api_keys, tenants};
use super::TenantId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub key_hash: String,
    pub hint: String,
    pub scopes: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &ApiKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::tenant_id.eq(&tenant.0))
        .order(api_keys::created_at.asc())
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// Marks a key revoked; false when the tenant has no such live key.
pub fn revoke(
    conn: &mut DbConnection,
    tenant: &TenantId,
    key_id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        api_keys::table
            .filter(api_keys::tenant_id.eq(&tenant.0))
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The live key with this digest, if it belongs to the tenant with this slug.
pub fn find_live_for_tenant(
    conn: &mut DbConnection,
    tenant_slug: &str,
    key_hash: &str,
) -> Result<Option<(ApiKeyRow, String)>, StoreError> {
    Ok(api_keys::table
        .inner_join(tenants::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .filter(tenants::slug.eq(tenant_slug))
        .select((ApiKeyRow::as_select(), tenants::id))
        .get_result(conn)
        .optional()?)
}

pub fn touch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    key_id: &str,
    now: &str,
) -> Result<(), StoreError> {
    diesel::update(
        api_keys::table
            .filter(api_keys::tenant_id.eq(&tenant.0))
            .filter(api_keys::id.eq(key_id)),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
