//! Roles, role settings, mappings, manual grants, effective grants and change-sets.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::conn::DbConnection;
use super::error::StoreError;
use super::raw::RawQuery;
use super::schema::{
    change_sets, manual_grants, role_mappings, role_settings, roles, user_role_grants,
};
use super::TenantId;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = roles, primary_key(tenant_id, id))]
pub struct RoleRow {
    pub tenant_id: String,
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub priority: i64,
    pub privileged: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = role_settings, primary_key(tenant_id), treat_none_as_null = true)]
pub struct SettingsRow {
    pub tenant_id: String,
    pub mode: String,
    pub default_role_id: Option<String>,
    pub allow_manual_grants: bool,
    pub mapping_version: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = role_mappings)]
pub struct MappingRow {
    pub tenant_id: String,
    pub id: String,
    pub group_id: String,
    pub role_id: String,
    pub state: String,
    pub group_display_name: String,
    pub change_set_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = manual_grants)]
pub struct ManualGrantRow {
    pub tenant_id: String,
    pub user_id: String,
    pub role_id: String,
    pub granted_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_role_grants)]
pub struct GrantRow {
    pub tenant_id: String,
    pub user_id: String,
    pub role_id: String,
    pub source: String,
    pub source_ref: String,
    pub mapping_id: Option<String>,
    pub mapping_version: i64,
    pub granted_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = change_sets, primary_key(tenant_id, id), treat_none_as_null = true)]
pub struct ChangeSetRow {
    pub tenant_id: String,
    pub id: String,
    pub actor: String,
    pub description: String,
    pub operations: String,
    pub impact: String,
    pub state: String,
    pub progress_done: i64,
    pub progress_total: i64,
    pub resume_after: Option<String>,
    pub revert_of: Option<String>,
    pub reverted_by: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

pub fn insert_settings(conn: &mut DbConnection, tenant: &TenantId) -> Result<(), StoreError> {
    diesel::insert_into(role_settings::table)
        .values(SettingsRow {
            tenant_id: tenant.0.clone(),
            mode: "union".into(),
            default_role_id: None,
            allow_manual_grants: false,
            mapping_version: 0,
        })
        .execute(conn)?;
    Ok(())
}

/// The tenant's settings. `lock` takes a share lock (PostgreSQL) that a change-set's
/// exclusive lock waits for, so a recompute never reads mappings a concurrent
/// change-set is replacing.
pub fn settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
    lock: Lock,
) -> Result<SettingsRow, StoreError> {
    macro_rules! query {
        () => {
            role_settings::table
                .filter(role_settings::tenant_id.eq(&tenant.0))
                .select(SettingsRow::as_select())
        };
    }
    // SQLite has one writer at a time, so it needs (and has) no row locks.
    let row = match (lock, &mut *conn) {
        (Lock::Share, DbConnection::Postgres(c)) => query!().for_share().first(c),
        (Lock::Exclusive, DbConnection::Postgres(c)) => query!().for_update().first(c),
        (_, c) => query!().first(c),
    };
    Ok(row?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    None,
    Share,
    Exclusive,
}

pub fn update_settings(conn: &mut DbConnection, row: &SettingsRow) -> Result<(), StoreError> {
    diesel::update(role_settings::table.find(&row.tenant_id))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn list_roles(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<RoleRow>, StoreError> {
    Ok(roles::table
        .filter(roles::tenant_id.eq(&tenant.0))
        .order(roles::priority.asc())
        .select(RoleRow::as_select())
        .load(conn)?)
}

pub fn insert_role(conn: &mut DbConnection, row: &RoleRow) -> Result<(), StoreError> {
    diesel::insert_into(roles::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update_role(conn: &mut DbConnection, row: &RoleRow) -> Result<(), StoreError> {
    diesel::update(roles::table.find((&row.tenant_id, &row.id)))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete_role(conn: &mut DbConnection, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
    diesel::delete(
        manual_grants::table
            .filter(manual_grants::tenant_id.eq(&tenant.0))
            .filter(manual_grants::role_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(roles::table.find((&tenant.0, id))).execute(conn)?;
    Ok(())
}

pub fn list_mappings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<MappingRow>, StoreError> {
    Ok(role_mappings::table
        .filter(role_mappings::tenant_id.eq(&tenant.0))
        .order((
            role_mappings::group_display_name.asc(),
            role_mappings::id.asc(),
        ))
        .select(MappingRow::as_select())
        .load(conn)?)
}

pub fn insert_mapping(conn: &mut DbConnection, row: &MappingRow) -> Result<(), StoreError> {
    diesel::insert_into(role_mappings::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete_mapping(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<(), StoreError> {
    diesel::delete(role_mappings::table.find((&tenant.0, id))).execute(conn)?;
    Ok(())
}

/// Whether any active mapping names this group: membership changes of an unmapped
/// group cannot change anyone's roles.
pub fn group_is_mapped(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<bool, StoreError> {
    let found: Option<String> = role_mappings::table
        .filter(role_mappings::tenant_id.eq(&tenant.0))
        .filter(role_mappings::group_id.eq(group_id))
        .filter(role_mappings::state.eq("active"))
        .select(role_mappings::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Marks a deleted group's mappings orphaned (M8); returns how many were active.
pub fn orphan_mappings(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    now: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        role_mappings::table
            .filter(role_mappings::tenant_id.eq(&tenant.0))
            .filter(role_mappings::group_id.eq(group_id))
            .filter(role_mappings::state.eq("active")),
    )
    .set((
        role_mappings::state.eq("orphaned"),
        role_mappings::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// Keeps the name shown for a group's mappings current after a rename.
pub fn rename_group(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    display_name: &str,
) -> Result<(), StoreError> {
    diesel::update(
        role_mappings::table
            .filter(role_mappings::tenant_id.eq(&tenant.0))
            .filter(role_mappings::group_id.eq(group_id)),
    )
    .set(role_mappings::group_display_name.eq(display_name))
    .execute(conn)?;
    Ok(())
}

/// What resolution needs about a user.
#[derive(Debug, Clone, QueryableByName)]
pub struct SubjectRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub user_name: String,
    #[diesel(sql_type = Bool)]
    pub active: bool,
}

/// The users among `ids`, locked against concurrent writers on PostgreSQL (ids are
/// taken in sorted order, so two recomputes cannot deadlock).
pub fn subjects(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
    lock: bool,
) -> Result<Vec<SubjectRow>, StoreError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = RawQuery::new("SELECT id, user_name, active FROM users WHERE tenant_id = ");
        q.text(tenant.0.clone())
            .sql(" AND id IN (")
            .texts(chunk)
            .sql(") ORDER BY id");
        if lock && matches!(conn, DbConnection::Postgres(_)) {
            q.sql(" FOR UPDATE");
        }
        rows.extend(q.load::<SubjectRow>(conn)?);
    }
    Ok(rows)
}

/// A page of the tenant's user ids after `after`, in id order.
pub fn user_ids_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let mut query = super::schema::users::table
        .filter(super::schema::users::tenant_id.eq(&tenant.0))
        .select(super::schema::users::id)
        .order(super::schema::users::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(super::schema::users::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

pub fn count_users(conn: &mut DbConnection, tenant: &TenantId) -> Result<i64, StoreError> {
    Ok(super::schema::users::table
        .filter(super::schema::users::tenant_id.eq(&tenant.0))
        .count()
        .get_result(conn)?)
}

/// The user members of `groups`, deduplicated and sorted.
pub fn user_members_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    groups: &[String],
) -> Result<Vec<String>, StoreError> {
    use super::schema::group_members as gm;
    let mut ids: Vec<String> = Vec::new();
    for group in groups {
        ids.extend(
            gm::table
                .filter(gm::tenant_id.eq(&tenant.0))
                .filter(gm::group_id.eq(group))
                .filter(gm::member_type.eq("User"))
                .select(gm::member_id)
                .load::<String>(conn)?,
        );
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The next `limit` user members of `groups` after `after`, by id: a keyset walk, so a
/// background recompute of a 100k-member group reads each membership once.
pub fn user_members_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    groups: &[String],
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    #[derive(QueryableByName)]
    struct Member {
        #[diesel(sql_type = Text)]
        member_id: String,
    }
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = RawQuery::new("SELECT DISTINCT member_id FROM group_members WHERE tenant_id = ");
    q.text(tenant.0.clone())
        .sql(" AND group_id IN (")
        .texts(groups)
        .sql(") AND member_type = 'User'");
    if let Some(after) = after {
        q.sql(" AND member_id > ").text(after);
    }
    q.sql(" ORDER BY member_id LIMIT ")
        .bind(super::raw::Bind::BigInt(limit));
    Ok(q.load::<Member>(conn)?
        .into_iter()
        .map(|m| m.member_id)
        .collect())
}

/// A user's membership in a group, with the group's name.
#[derive(Debug, Clone, QueryableByName)]
pub struct MembershipRow {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = Text)]
    pub group_name: String,
}

/// The group memberships of `users` (the caller keeps those its mapping table names:
/// a preview's draft maps groups the database does not map yet).
pub fn mapped_memberships(
    conn: &mut DbConnection,
    tenant: &TenantId,
    users: &[String],
) -> Result<Vec<MembershipRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in users.chunks(500) {
        let mut q = RawQuery::new(
            "SELECT m.member_id AS user_id, m.group_id AS group_id, g.display_name AS group_name \
             FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
             WHERE m.tenant_id = ",
        );
        q.text(tenant.0.clone())
            .sql(" AND m.member_id IN (")
            .texts(chunk)
            .sql(") AND m.member_type = 'User'");
        rows.extend(q.load::<MembershipRow>(conn)?);
    }
    Ok(rows)
}

pub fn manual_grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    users: &[String],
) -> Result<Vec<ManualGrantRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in users.chunks(500) {
        rows.extend(
            manual_grants::table
                .filter(manual_grants::tenant_id.eq(&tenant.0))
                .filter(manual_grants::user_id.eq_any(chunk))
                .select(ManualGrantRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn insert_manual_grant(
    conn: &mut DbConnection,
    row: &ManualGrantRow,
) -> Result<(), StoreError> {
    diesel::insert_into(manual_grants::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete_manual_grant(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_id: &str,
    role_id: &str,
) -> Result<bool, StoreError> {
    Ok(
        diesel::delete(manual_grants::table.find((&tenant.0, user_id, role_id))).execute(conn)?
            == 1,
    )
}

pub fn delete_manual_grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<(), StoreError> {
    diesel::delete(
        manual_grants::table
            .filter(manual_grants::tenant_id.eq(&tenant.0))
            .filter(manual_grants::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

pub fn grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    users: &[String],
) -> Result<Vec<GrantRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in users.chunks(500) {
        rows.extend(
            user_role_grants::table
                .filter(user_role_grants::tenant_id.eq(&tenant.0))
                .filter(user_role_grants::user_id.eq_any(chunk))
                .select(GrantRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Replaces the grants of `users` with `rows` (which name only those users), in a few
/// statements however many users there are.
pub fn replace_grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    users: &[String],
    rows: &[GrantRow],
) -> Result<(), StoreError> {
    for chunk in users.chunks(500) {
        diesel::delete(
            user_role_grants::table
                .filter(user_role_grants::tenant_id.eq(&tenant.0))
                .filter(user_role_grants::user_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    for chunk in rows.chunks(500) {
        // Multi-row VALUES is per backend in diesel, not on the MultiConnection.
        let insert = diesel::insert_into(user_role_grants::table).values(chunk);
        match conn {
            DbConnection::Sqlite(c) => insert.execute(c)?,
            DbConnection::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Replaces one user's grants.
pub fn replace_grants(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_id: &str,
    rows: &[GrantRow],
) -> Result<(), StoreError> {
    diesel::delete(
        user_role_grants::table
            .filter(user_role_grants::tenant_id.eq(&tenant.0))
            .filter(user_role_grants::user_id.eq(user_id)),
    )
    .execute(conn)?;
    if !rows.is_empty() {
        // Multi-row VALUES is per backend in diesel, not on the MultiConnection.
        let insert = diesel::insert_into(user_role_grants::table).values(rows);
        match conn {
            DbConnection::Sqlite(c) => insert.execute(c)?,
            DbConnection::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

#[derive(Debug, QueryableByName)]
struct HolderCount {
    #[diesel(sql_type = Text)]
    role_id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many users hold each role.
pub fn holder_counts(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut q = RawQuery::new(
        "SELECT role_id, COUNT(DISTINCT user_id) AS n FROM user_role_grants WHERE tenant_id = ",
    );
    q.text(tenant.0.clone()).sql(" GROUP BY role_id");
    Ok(q.load::<HolderCount>(conn)?
        .into_iter()
        .map(|h| (h.role_id, h.n))
        .collect())
}

/// The ids of users holding `role_id`, any source.
pub fn holders_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    role_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<String> = user_role_grants::table
        .filter(user_role_grants::tenant_id.eq(&tenant.0))
        .filter(user_role_grants::role_id.eq(role_id))
        .select(user_role_grants::user_id)
        .load(conn)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

pub fn insert_change_set(conn: &mut DbConnection, row: &ChangeSetRow) -> Result<(), StoreError> {
    diesel::insert_into(change_sets::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update_change_set(conn: &mut DbConnection, row: &ChangeSetRow) -> Result<(), StoreError> {
    diesel::update(change_sets::table.find((&row.tenant_id, &row.id)))
        .set(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_change_set(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ChangeSetRow>, StoreError> {
    Ok(change_sets::table
        .find((&tenant.0, id))
        .select(ChangeSetRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_change_sets(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<ChangeSetRow>, StoreError> {
    Ok(change_sets::table
        .filter(change_sets::tenant_id.eq(&tenant.0))
        .order((change_sets::created_at.desc(), change_sets::id.desc()))
        .limit(limit)
        .select(ChangeSetRow::as_select())
        .load(conn)?)
}

/// Change-sets whose background recompute has not finished, in any tenant.
pub fn unfinished_change_sets(conn: &mut DbConnection) -> Result<Vec<ChangeSetRow>, StoreError> {
    Ok(change_sets::table
        .filter(change_sets::state.eq("applying"))
        .order(change_sets::created_at.asc())
        .select(ChangeSetRow::as_select())
        .load(conn)?)
}
