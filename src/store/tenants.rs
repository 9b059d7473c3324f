//! Tenants.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::tenants;
use super::TenantId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
}

pub fn insert(conn: &mut DbConnection, row: &TenantRow) -> Result<(), StoreError> {
    diesel::insert_into(tenants::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug))
        .select(TenantRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: &TenantId) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .filter(tenants::id.eq(&id.0))
        .select(TenantRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<TenantRow>, StoreError> {
    Ok(tenants::table
        .order(tenants::slug.asc())
        .select(TenantRow::as_select())
        .load(conn)?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(tenants::table.count().get_result(conn)?)
}

/// Records the tenant's first authenticated SCIM request; true only for the caller
/// that recorded it.
pub fn mark_activated(
    conn: &mut DbConnection,
    tenant: &super::TenantId,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        tenants::table
            .find(&tenant.0)
            .filter(tenants::activated_at.is_null()),
    )
    .set(tenants::activated_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Suspends (`Some(when)`) or resumes (`None`) the tenant; false if there is none.
/// Whether the tenant with this id is suspended (false when there is none).
pub fn is_suspended(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(tenants::suspended_at.is_not_null())
        .get_result(conn)
        .optional()?
        .unwrap_or(false))
}

pub fn set_suspended(
    conn: &mut DbConnection,
    id: &str,
    when: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(diesel::update(tenants::table.filter(tenants::id.eq(id)))
        .set(tenants::suspended_at.eq(when))
        .execute(conn)?
        == 1)
}

/// Removes the tenant and, by the foreign keys' cascades, everything of it.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(tenants::table.filter(tenants::id.eq(id))).execute(conn)? == 1)
}
