//! The mass-deprovisioning guard: each tenant's threshold, the sliding window of
//! deprovisions let through, and the held changes. The tables are declared here,
//! beside their only queries.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::TenantId;

diesel::table! {
    deprovisioning_guards (tenant_id) {
        tenant_id -> Text,
        enabled -> Bool,
        percent -> BigInt,
        max_users -> BigInt,
        min_users -> BigInt,
        window_minutes -> BigInt,
        updated_at -> Text,
    }
}

diesel::table! {
    deprovisions (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        at -> Text,
        users -> BigInt,
    }
}

diesel::table! {
    held_changes (tenant_id, seq) {
        tenant_id -> Text,
        seq -> BigInt,
        state -> Text,
        origin -> Text,
        resource_id -> Nullable<Text>,
        label -> Text,
        users -> Text,
        request -> Text,
        actor -> Text,
        correlation_id -> Text,
        held_at -> Text,
        decided_at -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        outcome -> Nullable<Text>,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deprovisioning_guards)]
pub struct GuardRow {
    pub tenant_id: String,
    pub enabled: bool,
    pub percent: i64,
    pub max_users: i64,
    pub min_users: i64,
    pub window_minutes: i64,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = held_changes)]
pub struct HeldRow {
    pub tenant_id: String,
    pub seq: i64,
    pub state: String,
    pub origin: String,
    pub resource_id: Option<String>,
    pub label: String,
    pub users: String,
    pub request: String,
    pub actor: String,
    pub correlation_id: String,
    pub held_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub outcome: Option<String>,
}

pub fn settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<GuardRow>, StoreError> {
    Ok(deprovisioning_guards::table
        .filter(deprovisioning_guards::tenant_id.eq(&tenant.0))
        .select(GuardRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn upsert_settings(conn: &mut DbConnection, row: &GuardRow) -> Result<(), StoreError> {
    let updated = diesel::update(deprovisioning_guards::table)
        .filter(deprovisioning_guards::tenant_id.eq(&row.tenant_id))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(deprovisioning_guards::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Users deprovisioned since `since`; older rows are deleted on the way.
pub fn window(conn: &mut DbConnection, tenant: &TenantId, since: &str) -> Result<i64, StoreError> {
    diesel::delete(deprovisions::table)
        .filter(deprovisions::tenant_id.eq(&tenant.0))
        .filter(deprovisions::at.lt(since))
        .execute(conn)?;
    // Summed here: SUM's type differs between the backends (numeric on PostgreSQL).
    let rows: Vec<i64> = deprovisions::table
        .filter(deprovisions::tenant_id.eq(&tenant.0))
        .select(deprovisions::users)
        .load(conn)?;
    Ok(rows.iter().sum())
}

pub fn record(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    at: &str,
    users: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(deprovisions::table)
        .values((
            deprovisions::tenant_id.eq(&tenant.0),
            deprovisions::id.eq(id),
            deprovisions::at.eq(at),
            deprovisions::users.eq(users),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the tenant has changes waiting for an owner, and whether `resource` does.
pub fn pending(
    conn: &mut DbConnection,
    tenant: &TenantId,
    resource: Option<&str>,
) -> Result<(bool, bool), StoreError> {
    let any: bool = diesel::select(diesel::dsl::exists(
        held_changes::table
            .filter(held_changes::tenant_id.eq(&tenant.0))
            .filter(held_changes::state.eq("pending")),
    ))
    .get_result(conn)?;
    if !any {
        return Ok((false, false));
    }
    let Some(resource) = resource else {
        return Ok((true, false));
    };
    let mine: i64 = held_changes::table
        .filter(held_changes::tenant_id.eq(&tenant.0))
        .filter(held_changes::state.eq("pending"))
        .filter(held_changes::resource_id.eq(resource))
        .count()
        .get_result(conn)?;
    Ok((true, mine > 0))
}

/// Holds a change, after every other; returns its sequence number.
pub fn hold(conn: &mut DbConnection, mut row: HeldRow) -> Result<i64, StoreError> {
    let last: Option<i64> = held_changes::table
        .filter(held_changes::tenant_id.eq(&row.tenant_id))
        .select(diesel::dsl::max(held_changes::seq))
        .get_result(conn)?;
    row.seq = last.unwrap_or(0) + 1;
    diesel::insert_into(held_changes::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.seq)
}

/// Held changes in `state` up to `up_to`, in order (at most `limit`).
pub fn held(
    conn: &mut DbConnection,
    tenant: &TenantId,
    state: &str,
    up_to: i64,
    limit: i64,
) -> Result<Vec<HeldRow>, StoreError> {
    Ok(held_changes::table
        .filter(held_changes::tenant_id.eq(&tenant.0))
        .filter(held_changes::state.eq(state))
        .filter(held_changes::seq.le(up_to))
        .order(held_changes::seq.asc())
        .limit(limit)
        .select(HeldRow::as_select())
        .load(conn)?)
}

/// The most recently decided ones, newest first.
pub fn decided(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<HeldRow>, StoreError> {
    Ok(held_changes::table
        .filter(held_changes::tenant_id.eq(&tenant.0))
        .filter(held_changes::state.ne("pending"))
        .order(held_changes::seq.desc())
        .limit(limit)
        .select(HeldRow::as_select())
        .load(conn)?)
}

pub fn decide(
    conn: &mut DbConnection,
    tenant: &TenantId,
    seq: i64,
    state: &str,
    by: &str,
    at: &str,
    outcome: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(held_changes::table)
        .filter(held_changes::tenant_id.eq(&tenant.0))
        .filter(held_changes::seq.eq(seq))
        .set((
            held_changes::state.eq(state),
            held_changes::decided_by.eq(by),
            held_changes::decided_at.eq(at),
            held_changes::outcome.eq(outcome),
        ))
        .filter(held_changes::state.eq("pending"))
        .execute(conn)?;
    Ok(())
}

/// Active users of the tenant (the guard's percentage is of these).
pub fn active_users(conn: &mut DbConnection, tenant: &TenantId) -> Result<i64, StoreError> {
    use super::schema::users;
    Ok(users::table
        .filter(users::tenant_id.eq(&tenant.0))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// How many changes wait for an owner.
pub fn pending_count(conn: &mut DbConnection, tenant: &TenantId) -> Result<i64, StoreError> {
    Ok(held_changes::table
        .filter(held_changes::tenant_id.eq(&tenant.0))
        .filter(held_changes::state.eq("pending"))
        .count()
        .get_result(conn)?)
}

/// Locks the tenant's guard row until the transaction ends (PostgreSQL; SQLite's single
/// writer already serializes). Not the tenant's own row: every insert holds a key share
/// on that, and a batch beside this one numbers its events there at its end, so a lock
/// on it made a guarded write and that batch deadlock. A tenant with nothing guarded
/// and nothing held has no guard row, and no guarded write to serialize.
pub fn lock_guard(conn: &mut DbConnection, tenant: &TenantId) -> Result<(), StoreError> {
    if let DbConnection::Postgres(c) = conn {
        diesel::sql_query(
            "SELECT tenant_id FROM deprovisioning_guards WHERE tenant_id = $1 FOR UPDATE",
        )
        .bind::<diesel::sql_types::Text, _>(&tenant.0)
        .execute(c)?;
    }
    Ok(())
}
