//! Webhook endpoints, deliveries and their attempt log.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use super::TenantId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub struct EndpointRow {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Failed deliveries (retries exhausted) since the last success.
    pub consecutive_failures: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The first failed attempt since the last success; None while healthy.
    pub failing_since: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_deliveries, treat_none_as_null = true)]
pub struct DeliveryRow {
    pub id: String,
    pub tenant_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub claimed_until: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub last_response: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i64,
    pub at: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub tenant_id: String,
}

pub fn insert_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> Result<(), StoreError> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn save_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> Result<(), StoreError> {
    diesel::update(webhook_endpoints::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn list_endpoints(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<EndpointRow>, StoreError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(&tenant.0))
        .order(webhook_endpoints::created_at.asc())
        .select(EndpointRow::as_select())
        .load(conn)?)
}

pub fn find_endpoint(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<EndpointRow>, StoreError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(&tenant.0))
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The endpoint, locked until the end of the transaction on PostgreSQL (SQLite's write
/// transaction already excludes other writers), for read-modify-write updates. NO KEY
/// UPDATE lets SCIM writes keep inserting deliveries that reference it meanwhile.
pub fn find_endpoint_for_update(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<EndpointRow>, StoreError> {
    macro_rules! query {
        () => {
            webhook_endpoints::table
                .filter(webhook_endpoints::tenant_id.eq(&tenant.0))
                .filter(webhook_endpoints::id.eq(id))
                .select(EndpointRow::as_select())
        };
    }
    Ok(match conn {
        DbConnection::Postgres(c) => query!().for_no_key_update().get_result(c).optional()?,
        DbConnection::Sqlite(c) => query!().get_result(c).optional()?,
    })
}

/// Counts one more failed attempt in a row, atomically (workers record concurrently);
/// returns the new count, or None if the endpoint is gone.
/// Records a failed attempt: the endpoint is failing from now if it was not already,
/// and a `dead` delivery adds one to its failed deliveries. Counted in SQL, so workers
/// recording at once lose none. Returns (failed deliveries, failing since), None when
/// the endpoint is gone.
pub fn note_failure(
    conn: &mut DbConnection,
    id: &str,
    now: &str,
    dead: bool,
) -> Result<Option<(i64, String)>, StoreError> {
    diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::failing_since.is_null()),
    )
    .set(webhook_endpoints::failing_since.eq(now))
    .execute(conn)?;
    if dead {
        diesel::update(webhook_endpoints::table.find(id))
            .set(
                webhook_endpoints::consecutive_failures
                    .eq(webhook_endpoints::consecutive_failures + 1),
            )
            .execute(conn)?;
    }
    let found: Option<(i64, Option<String>)> = webhook_endpoints::table
        .find(id)
        .select((
            webhook_endpoints::consecutive_failures,
            webhook_endpoints::failing_since,
        ))
        .get_result(conn)
        .optional()?;
    Ok(found.map(|(n, since)| (n, since.unwrap_or_else(|| now.to_owned()))))
}

/// A success: the endpoint is healthy again.
pub fn reset_failures(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(
        webhook_endpoints::table.find(id).filter(
            webhook_endpoints::consecutive_failures
                .gt(0)
                .or(webhook_endpoints::failing_since.is_not_null()),
        ),
    )
    .set((
        webhook_endpoints::consecutive_failures.eq(0),
        webhook_endpoints::failing_since.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Disables an enabled endpoint; true only for the one caller that did it, so the
/// notice is emitted once.
pub fn disable(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(reason),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Endpoints by id, whatever their tenant (the worker's view).
/// (tenant id, row id) pairs grouped by tenant, so each tenant's rows are read with
/// its own key (a distributed database routes each such look-up to one node).
fn by_tenant(ids: &[(String, String)]) -> std::collections::BTreeMap<&str, Vec<&str>> {
    let mut grouped: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (tenant, id) in ids {
        grouped.entry(tenant).or_default().push(id);
    }
    grouped
}

/// Endpoints by (tenant id, endpoint id), one indexed look-up per tenant.
pub fn endpoints_by_id(
    conn: &mut DbConnection,
    ids: &[(String, String)],
) -> Result<Vec<EndpointRow>, StoreError> {
    let mut rows = Vec::with_capacity(ids.len());
    for (tenant, ids) in by_tenant(ids) {
        rows.extend(
            webhook_endpoints::table
                .filter(webhook_endpoints::tenant_id.eq(tenant))
                .filter(webhook_endpoints::id.eq_any(ids))
                .select(EndpointRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn delete_endpoint(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::tenant_id.eq(&tenant.0))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// The tenant's enabled endpoints: (id, event type filter).
pub fn enabled_filters(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(&tenant.0))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((webhook_endpoints::id, webhook_endpoints::event_types))
        .load(conn)?)
}

pub fn insert_deliveries(conn: &mut DbConnection, rows: &[DeliveryRow]) -> Result<(), StoreError> {
    // 16 binds a row: 500 rows stay below both backends' bind limits.
    for chunk in rows.chunks(500) {
        // Multi-row VALUES is per backend in diesel, not on the MultiConnection.
        let insert = diesel::insert_into(webhook_deliveries::table).values(chunk);
        match conn {
            DbConnection::Sqlite(c) => insert.execute(c)?,
            DbConnection::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Ids of up to `limit` deliveries due at `now` (pending, not leased, endpoint
/// enabled), oldest due first. On PostgreSQL the rows are locked with SKIP LOCKED, so
/// concurrent workers take disjoint sets; on SQLite the write transaction is the lock.
pub fn lock_due(conn: &mut DbConnection, now: &str, limit: i64) -> Result<Vec<String>, StoreError> {
    macro_rules! due {
        () => {
            webhook_deliveries::table
                .filter(webhook_deliveries::state.eq("pending"))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                .filter(
                    webhook_deliveries::claimed_until
                        .is_null()
                        .or(webhook_deliveries::claimed_until.lt(now)),
                )
                .filter(
                    webhook_deliveries::endpoint_id.eq_any(
                        webhook_endpoints::table
                            .filter(webhook_endpoints::enabled.eq(true))
                            .select(webhook_endpoints::id),
                    ),
                )
                .order(webhook_deliveries::next_attempt_at.asc())
                .limit(limit)
                .select(webhook_deliveries::id)
        };
    }
    Ok(match conn {
        DbConnection::Postgres(c) => due!().for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due!().load(c)?,
    })
}

/// Leases the deliveries to one worker and counts the attempt it is about to make.
pub fn lease(
    conn: &mut DbConnection,
    ids: &[String],
    until: &str,
) -> Result<Vec<DeliveryRow>, StoreError> {
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)))
        .set((
            webhook_deliveries::claimed_until.eq(until),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        ))
        .execute(conn)?;
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

/// Event bodies by (tenant id, event id), one indexed look-up per tenant.
pub fn event_bodies(
    conn: &mut DbConnection,
    ids: &[(String, String)],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut bodies = Vec::with_capacity(ids.len());
    for (tenant, ids) in by_tenant(ids) {
        bodies.extend(
            events::table
                .filter(events::tenant_id.eq(tenant))
                .filter(events::id.eq_any(ids))
                .select((events::id, events::body))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(bodies)
}

/// The delivery, if the lease `until` is still its own (a worker whose lease ran out
/// and was taken over must not overwrite the newer outcome).
pub fn find_claimed(
    conn: &mut DbConnection,
    id: &str,
    until: &str,
) -> Result<Option<DeliveryRow>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::claimed_until.eq(until))
        .select(DeliveryRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn save_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> Result<(), StoreError> {
    diesel::update(webhook_deliveries::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn insert_attempt(conn: &mut DbConnection, row: &AttemptRow) -> Result<(), StoreError> {
    // A re-used attempt number (a redelivery restarts the count) replaces nothing: the
    // log keeps the first outcome under it and this one under the next free number.
    let next: Option<i64> = webhook_attempts::table
        .filter(webhook_attempts::tenant_id.eq(&row.tenant_id))
        .filter(webhook_attempts::delivery_id.eq(&row.delivery_id))
        .select(diesel::dsl::max(webhook_attempts::attempt))
        .get_result(conn)?;
    let mut row = row.clone();
    row.attempt = next.unwrap_or(0) + 1;
    diesel::insert_into(webhook_attempts::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

pub fn find_delivery(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<DeliveryRow>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::tenant_id.eq(&tenant.0))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// An endpoint's deliveries, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    tenant: &TenantId,
    endpoint: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::tenant_id.eq(&tenant.0))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

pub fn attempts(
    conn: &mut DbConnection,
    tenant: &TenantId,
    delivery_ids: &[String],
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(webhook_attempts::table
        .filter(webhook_attempts::tenant_id.eq(&tenant.0))
        .filter(webhook_attempts::delivery_id.eq_any(delivery_ids))
        .order((
            webhook_attempts::delivery_id.asc(),
            webhook_attempts::attempt.asc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)?)
}

/// Deletes up to `batch` succeeded deliveries last touched before `cutoff`.
pub fn prune_succeeded(
    conn: &mut DbConnection,
    cutoff: &str,
    batch: i64,
) -> Result<usize, StoreError> {
    let old: Vec<String> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq("succeeded"))
        .filter(webhook_deliveries::updated_at.lt(cutoff))
        .select(webhook_deliveries::id)
        .limit(batch)
        .load(conn)?;
    Ok(
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&old)))
            .execute(conn)?,
    )
}
