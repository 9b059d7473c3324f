//! Directory pull: each tenant's source, its runs with their changes, and the links
//! between JumpCloud objects and roster resources. The tables are declared here,
//! beside their only queries.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::query::{Bind, RawQuery};
use super::TenantId;

diesel::table! {
    directory_sources (tenant_id) {
        tenant_id -> Text,
        base_url -> Text,
        api_key -> Text,
        org_id -> Nullable<Text>,
        interval_minutes -> BigInt,
        scope_groups -> Text,
        user_name_from -> Text,
        missing_users -> Text,
        auto_apply -> Bool,
        drift -> Text,
        next_run_at -> Text,
        lease_until -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        push_seen -> Bool,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    directory_runs (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        trigger -> Text,
        state -> Text,
        reconcile -> Bool,
        summary -> Text,
        error -> Nullable<Text>,
        applied -> BigInt,
        total -> BigInt,
        fetch_ms -> BigInt,
        plan_ms -> BigInt,
        apply_ms -> Nullable<BigInt>,
        started_at -> Text,
        finished_at -> Nullable<Text>,
        applied_by -> Nullable<Text>,
    }
}

diesel::table! {
    directory_changes (tenant_id, run_id, seq) {
        tenant_id -> Text,
        run_id -> Text,
        seq -> BigInt,
        kind -> Text,
        op -> Text,
        remote_id -> Text,
        resource_id -> Nullable<Text>,
        label -> Text,
        body -> Text,
        newer -> Nullable<Text>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    directory_links (tenant_id, kind, remote_id) {
        tenant_id -> Text,
        kind -> Text,
        remote_id -> Text,
        resource_id -> Text,
        digest -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(directory_sources, directory_runs);

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = directory_sources)]
#[diesel(treat_none_as_null = true)]
pub struct SourceRow {
    pub tenant_id: String,
    pub base_url: String,
    pub api_key: String,
    pub org_id: Option<String>,
    pub interval_minutes: i64,
    pub scope_groups: String,
    pub user_name_from: String,
    pub missing_users: String,
    pub auto_apply: bool,
    pub drift: String,
    pub next_run_at: String,
    pub lease_until: Option<String>,
    pub lease_owner: Option<String>,
    pub push_seen: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = directory_runs)]
#[diesel(treat_none_as_null = true)]
pub struct RunRow {
    pub tenant_id: String,
    pub id: String,
    pub trigger: String,
    pub state: String,
    pub reconcile: bool,
    pub summary: String,
    pub error: Option<String>,
    pub applied: i64,
    pub total: i64,
    pub fetch_ms: i64,
    pub plan_ms: i64,
    pub apply_ms: Option<i64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub applied_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = directory_changes)]
pub struct ChangeRow {
    pub tenant_id: String,
    pub run_id: String,
    pub seq: i64,
    pub kind: String,
    pub op: String,
    pub remote_id: String,
    pub resource_id: Option<String>,
    pub label: String,
    pub body: String,
    pub newer: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = directory_links)]
pub struct LinkRow {
    pub tenant_id: String,
    pub kind: String,
    pub remote_id: String,
    pub resource_id: String,
    pub digest: String,
}

pub fn source(conn: &mut DbConnection, tenant: &TenantId) -> Result<Option<SourceRow>, StoreError> {
    Ok(directory_sources::table
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .select(SourceRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn upsert_source(conn: &mut DbConnection, row: &SourceRow) -> Result<(), StoreError> {
    let updated = diesel::update(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&row.tenant_id))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(directory_sources::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Removes the source with its runs and links (resources stay).
pub fn delete_source(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, StoreError> {
    diesel::delete(directory_runs::table)
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .execute(conn)?;
    diesel::delete(directory_links::table)
        .filter(directory_links::tenant_id.eq(&tenant.0))
        .execute(conn)?;
    let n = diesel::delete(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .execute(conn)?;
    Ok(n == 1)
}

/// Takes the lease of one source that has work (a run is due, queued, applying, or
/// left running by a process that died)
/// and whose lease is free, until `until`. Returns its tenant id.
pub fn claim_due(
    conn: &mut DbConnection,
    now: &str,
    until: &str,
    owner: &str,
) -> Result<Option<String>, StoreError> {
    let busy = directory_runs::table
        .filter(directory_runs::tenant_id.eq(directory_sources::tenant_id))
        // `running` with a free lease: the process running it died; it is failed first.
        .filter(directory_runs::state.eq_any(["queued", "applying", "running"]));
    let candidates: Vec<String> = directory_sources::table
        .filter(
            directory_sources::lease_until
                .is_null()
                .or(directory_sources::lease_until.lt(now)),
        )
        .filter(
            (directory_sources::interval_minutes
                .gt(0)
                .and(directory_sources::next_run_at.le(now)))
            .or(diesel::dsl::exists(busy)),
        )
        .select(directory_sources::tenant_id)
        .limit(8)
        .load(conn)?;
    for tenant_id in candidates {
        // Conditional on the lease still being free: two processes cannot both win.
        let won = diesel::update(directory_sources::table)
            .filter(directory_sources::tenant_id.eq(&tenant_id))
            .filter(
                directory_sources::lease_until
                    .is_null()
                    .or(directory_sources::lease_until.lt(now)),
            )
            .set((
                directory_sources::lease_until.eq(until),
                directory_sources::lease_owner.eq(owner),
            ))
            .execute(conn)?;
        if won == 1 {
            return Ok(Some(tenant_id));
        }
    }
    Ok(None)
}

/// Takes this tenant's lease if it is free.
pub fn claim_tenant(
    conn: &mut DbConnection,
    tenant: &TenantId,
    now: &str,
    until: &str,
    owner: &str,
) -> Result<bool, StoreError> {
    let won = diesel::update(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .filter(
            directory_sources::lease_until
                .is_null()
                .or(directory_sources::lease_until.lt(now)),
        )
        .set((
            directory_sources::lease_until.eq(until),
            directory_sources::lease_owner.eq(owner),
        ))
        .execute(conn)?;
    Ok(won == 1)
}

/// Renews (`Some`) or frees (`None`) the lease `owner` holds; false when it no longer
/// holds it (it expired and another process took it).
pub fn extend_lease(
    conn: &mut DbConnection,
    tenant: &TenantId,
    owner: &str,
    until: Option<&str>,
) -> Result<bool, StoreError> {
    let n = diesel::update(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .filter(directory_sources::lease_owner.eq(owner))
        .set(directory_sources::lease_until.eq(until))
        .execute(conn)?;
    Ok(n == 1)
}

/// Remembers that the tenant receives SCIM push (runs are drift checks from then on).
pub fn mark_push_seen(conn: &mut DbConnection, tenant: &TenantId) -> Result<(), StoreError> {
    diesel::update(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .set(directory_sources::push_seen.eq(true))
        .execute(conn)?;
    Ok(())
}

pub fn set_next_run(
    conn: &mut DbConnection,
    tenant: &TenantId,
    at: &str,
) -> Result<(), StoreError> {
    diesel::update(directory_sources::table)
        .filter(directory_sources::tenant_id.eq(&tenant.0))
        .set(directory_sources::next_run_at.eq(at))
        .execute(conn)?;
    Ok(())
}

pub fn insert_run(conn: &mut DbConnection, row: &RunRow) -> Result<(), StoreError> {
    diesel::insert_into(directory_runs::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update_run(conn: &mut DbConnection, row: &RunRow) -> Result<(), StoreError> {
    diesel::update(directory_runs::table)
        .filter(directory_runs::tenant_id.eq(&row.tenant_id))
        .filter(directory_runs::id.eq(&row.id))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn run(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<RunRow>, StoreError> {
    Ok(directory_runs::table
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .filter(directory_runs::id.eq(id))
        .select(RunRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The newest runs first.
pub fn runs(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<RunRow>, StoreError> {
    Ok(directory_runs::table
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .order((directory_runs::started_at.desc(), directory_runs::id.desc()))
        .limit(limit)
        .select(RunRow::as_select())
        .load(conn)?)
}

/// The tenant's runs in any of `states`, oldest first.
pub fn runs_in(
    conn: &mut DbConnection,
    tenant: &TenantId,
    states: &[&str],
) -> Result<Vec<RunRow>, StoreError> {
    Ok(directory_runs::table
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .filter(directory_runs::state.eq_any(states))
        .order((directory_runs::started_at.asc(), directory_runs::id.asc()))
        .select(RunRow::as_select())
        .load(conn)?)
}

/// Marks every planned run but `keep` superseded: only the newest diff may be applied.
pub fn supersede(
    conn: &mut DbConnection,
    tenant: &TenantId,
    keep: &str,
    now: &str,
) -> Result<(), StoreError> {
    diesel::update(directory_runs::table)
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .filter(directory_runs::id.ne(keep))
        .filter(directory_runs::state.eq("planned"))
        .set((
            directory_runs::state.eq("superseded"),
            directory_runs::finished_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a run and its changes.
pub fn delete_run(conn: &mut DbConnection, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
    diesel::delete(directory_changes::table)
        .filter(directory_changes::tenant_id.eq(&tenant.0))
        .filter(directory_changes::run_id.eq(id))
        .execute(conn)?;
    diesel::delete(directory_runs::table)
        .filter(directory_runs::tenant_id.eq(&tenant.0))
        .filter(directory_runs::id.eq(id))
        .execute(conn)?;
    Ok(())
}

pub fn insert_changes(conn: &mut DbConnection, rows: &[ChangeRow]) -> Result<(), StoreError> {
    // One multi-row statement per 500 rows (diesel's batch insert is per backend, not
    // on the multi-backend connection): 5,500 binds, under both backends' limits.
    for chunk in rows.chunks(500) {
        let mut q = RawQuery::new(
            "INSERT INTO directory_changes (tenant_id, run_id, seq, kind, op, remote_id, \
             resource_id, label, body, newer, outcome) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            q.sql(if i == 0 { "(" } else { ", (" })
                .text(r.tenant_id.clone())
                .sql(", ")
                .text(r.run_id.clone())
                .sql(", ")
                .bind(Bind::BigInt(r.seq))
                .sql(", ")
                .text(r.kind.clone())
                .sql(", ")
                .text(r.op.clone())
                .sql(", ")
                .text(r.remote_id.clone())
                .sql(", ");
            optional(&mut q, &r.resource_id);
            q.sql(", ")
                .text(r.label.clone())
                .sql(", ")
                .text(r.body.clone())
                .sql(", ");
            optional(&mut q, &r.newer);
            q.sql(", ");
            optional(&mut q, &r.outcome);
            q.sql(")");
        }
        q.execute(conn)?;
    }
    Ok(())
}

fn optional(q: &mut RawQuery, value: &Option<String>) {
    match value {
        Some(v) => q.text(v.clone()),
        None => q.sql("NULL"),
    };
}

/// The changes of a run from `after` (exclusive), in order, at most `limit`.
pub fn changes(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<ChangeRow>, StoreError> {
    Ok(directory_changes::table
        .filter(directory_changes::tenant_id.eq(&tenant.0))
        .filter(directory_changes::run_id.eq(run_id))
        .filter(directory_changes::seq.gt(after))
        .order(directory_changes::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)?)
}

pub fn set_outcome(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run_id: &str,
    seq: i64,
    outcome: &str,
) -> Result<(), StoreError> {
    diesel::update(directory_changes::table)
        .filter(directory_changes::tenant_id.eq(&tenant.0))
        .filter(directory_changes::run_id.eq(run_id))
        .filter(directory_changes::seq.eq(seq))
        .set(directory_changes::outcome.eq(outcome))
        .execute(conn)?;
    Ok(())
}

/// The tenant's links after `(kind, remote_id)`, at most `limit` (keyset pages).
pub fn links_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<LinkRow>, StoreError> {
    let mut query = directory_links::table
        .filter(directory_links::tenant_id.eq(&tenant.0))
        .order((directory_links::kind, directory_links::remote_id))
        .select(LinkRow::as_select())
        .limit(limit)
        .into_boxed();
    if let Some((kind, remote)) = after {
        let (kind, remote) = (kind.to_owned(), remote.to_owned());
        query = query.filter(
            directory_links::kind
                .gt(kind.clone())
                .or(directory_links::kind
                    .eq(kind)
                    .and(directory_links::remote_id.gt(remote))),
        );
    }
    Ok(query.load(conn)?)
}

/// The roster ids of `remote_ids` (of one kind) that have links.
pub fn linked_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: &str,
    remote_ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in remote_ids.chunks(1000) {
        out.extend(
            directory_links::table
                .filter(directory_links::tenant_id.eq(&tenant.0))
                .filter(directory_links::kind.eq(kind))
                .filter(directory_links::remote_id.eq_any(chunk))
                .select((directory_links::remote_id, directory_links::resource_id))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

pub fn upsert_link(conn: &mut DbConnection, row: &LinkRow) -> Result<(), StoreError> {
    let updated = diesel::update(directory_links::table)
        .filter(directory_links::tenant_id.eq(&row.tenant_id))
        .filter(directory_links::kind.eq(&row.kind))
        .filter(directory_links::remote_id.eq(&row.remote_id))
        .set((
            directory_links::resource_id.eq(&row.resource_id),
            directory_links::digest.eq(&row.digest),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(directory_links::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_link(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: &str,
    remote_id: &str,
) -> Result<(), StoreError> {
    diesel::delete(directory_links::table)
        .filter(directory_links::tenant_id.eq(&tenant.0))
        .filter(directory_links::kind.eq(kind))
        .filter(directory_links::remote_id.eq(remote_id))
        .execute(conn)?;
    Ok(())
}

/// Every group of the tenant: id, name and externalId.
pub fn all_groups(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
    use super::schema::groups;
    Ok(groups::table
        .filter(groups::tenant_id.eq(&tenant.0))
        .order(groups::id)
        .select((groups::id, groups::display_name, groups::external_id))
        .load(conn)?)
}

/// The tenant's user memberships after `(group, user)`, as (group id, user id), in
/// that order, at most `limit` (keyset pages).
pub fn user_memberships_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    use super::schema::group_members;
    let mut query = group_members::table
        .filter(group_members::tenant_id.eq(&tenant.0))
        .filter(group_members::member_type.eq("User"))
        .order((group_members::group_id, group_members::member_id))
        .select((group_members::group_id, group_members::member_id))
        .limit(limit)
        .into_boxed();
    if let Some((group, member)) = after {
        let (group, member) = (group.to_owned(), member.to_owned());
        query = query.filter(
            group_members::group_id
                .gt(group.clone())
                .or(group_members::group_id
                    .eq(group)
                    .and(group_members::member_id.gt(member))),
        );
    }
    Ok(query.load(conn)?)
}

/// Whether the tenant receives SCIM push: a user or group was last written through a
/// SCIM token. (A token that only reads, or a connection never used, pushes nothing.)
pub fn receives_push(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, StoreError> {
    use super::schema::{groups, users};
    let user = diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::tenant_id.eq(&tenant.0))
            .filter(users::written_by.eq("scim")),
    ))
    .get_result::<bool>(conn)?;
    let mut group = || {
        diesel::select(diesel::dsl::exists(
            groups::table
                .filter(groups::tenant_id.eq(&tenant.0))
                .filter(groups::written_by.eq("scim")),
        ))
        .get_result::<bool>(conn)
    };
    Ok(user || group()?)
}
