//! Tenants.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::tenants;

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
        .first(conn)
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
