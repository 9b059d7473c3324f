//! The event outbox: the ordered, per-tenant feed that webhooks are delivered from.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{events, tenants};
use super::TenantId;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub tenant_id: String,
    pub sequence: i64,
    pub id: String,
    pub event_type: String,
    pub occurred_at: String,
    pub body: String,
    /// The user or group the event is about, for its timeline.
    pub subject_id: Option<String>,
    /// A second resource it is about: the group of a membership event.
    pub related_id: Option<String>,
}

/// Reserves `count` sequence numbers for the tenant and returns the first. The UPDATE
/// holds the tenant row until commit, so sequences become visible in order; callers
/// take it last in their transaction to hold it briefly.
pub fn reserve(conn: &mut DbConnection, tenant: &TenantId, count: i64) -> Result<i64, StoreError> {
    let last: i64 = diesel::update(tenants::table.find(&tenant.0))
        .set(tenants::event_sequence.eq(tenants::event_sequence + count))
        .returning(tenants::event_sequence)
        .get_result(conn)?;
    Ok(last - count + 1)
}

/// From this many rows on, PostgreSQL takes them by `COPY`: binary, one statement, no
/// 7,000-parameter `INSERT` to parse and plan anew. A SCIM write's few events go in an
/// ordinary (cached) `INSERT`.
pub(super) const COPY_FROM: usize = 100;

/// Writes `rows`. A mapping applied to 100k users writes 100k events, 1,000 a
/// transaction: those go by `COPY` on PostgreSQL (see [`COPY_FROM`]).
pub fn insert(conn: &mut DbConnection, rows: &[EventRow]) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => {
            // SQLite's multi-row insert is emulated row by row inside a savepoint, with
            // a statement prepared anew each time; one kept-prepared insert a row is
            // cheaper on an embedded database.
            for row in rows {
                diesel::insert_into(events::table).values(row).execute(c)?;
            }
            return Ok(());
        }
        DbConnection::Postgres(c) if rows.len() >= COPY_FROM => {
            diesel::copy_from(events::table)
                .from_insertable(rows)
                .execute(c)?;
            return Ok(());
        }
        DbConnection::Postgres(_) => {}
    }
    // 7 binds a row: 1,000 rows stay far below PostgreSQL's bind limit.
    for chunk in rows.chunks(1000) {
        // Multi-row VALUES is per backend in diesel, not on the MultiConnection.
        let insert = diesel::insert_into(events::table).values(chunk);
        match conn {
            DbConnection::Sqlite(c) => insert.execute(c)?,
            DbConnection::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Events after `after`, in sequence order, optionally of the given types only.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<EventRow>, StoreError> {
    let mut query = events::table
        .filter(events::tenant_id.eq(&tenant.0))
        .filter(events::sequence.gt(after))
        .order(events::sequence.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    Ok(query.load(conn)?)
}

/// The tenant's last event sequence: every event up to it has been committed (0 before
/// its first event).
pub fn last_sequence(conn: &mut DbConnection, tenant: &TenantId) -> Result<i64, StoreError> {
    Ok(tenants::table
        .find(&tenant.0)
        .select(tenants::event_sequence)
        .get_result(conn)?)
}

/// The sequence of the tenant's oldest retained event, if any is retained.
pub fn first_retained(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<i64>, StoreError> {
    Ok(events::table
        .filter(events::tenant_id.eq(&tenant.0))
        .select(diesel::dsl::min(events::sequence))
        .get_result(conn)?)
}

/// The newest events about one user or group (as their subject, or as the group of
/// a membership event), newest first.
pub fn of_subject(
    conn: &mut DbConnection,
    tenant: &TenantId,
    subject_id: &str,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::tenant_id.eq(&tenant.0))
        .filter(
            events::subject_id
                .eq(subject_id)
                .or(events::related_id.eq(subject_id)),
        )
        .order(events::sequence.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}

/// Deletes up to `batch` events that occurred before `cutoff`; returns how many.
pub fn prune(conn: &mut DbConnection, cutoff: &str, batch: i64) -> Result<usize, StoreError> {
    let old: Vec<(String, i64)> = events::table
        .filter(events::occurred_at.lt(cutoff))
        .select((events::tenant_id, events::sequence))
        .limit(batch)
        .load(conn)?;
    let mut deleted = 0;
    for (tenant, sequence) in old {
        deleted += diesel::delete(events::table.find((tenant, sequence))).execute(conn)?;
    }
    Ok(deleted)
}
