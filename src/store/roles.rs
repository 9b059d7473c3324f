//! Roles, role settings, mappings, manual grants, effective grants and change-sets.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use serde::{Deserialize, Serialize};

use super::conn::DbConnection;
use super::error::StoreError;
use super::query::RawQuery;
use super::raw::Probe;
use super::schema::{
    change_sets, manual_grants, role_mappings, role_settings, roles, user_role_grants,
};
use super::TenantId;

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize,
)]
#[diesel(table_name = roles, primary_key(tenant_id, id))]
pub struct RoleRow {
    #[serde(skip)]
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

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize,
)]
#[diesel(table_name = role_settings, primary_key(tenant_id), treat_none_as_null = true)]
pub struct SettingsRow {
    #[serde(skip)]
    pub tenant_id: String,
    pub mode: String,
    pub default_role_id: Option<String>,
    pub allow_manual_grants: bool,
    pub mapping_version: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = role_mappings)]
pub struct MappingRow {
    #[serde(skip)]
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

#[derive(
    Debug,
    Clone,
    PartialEq,
    Queryable,
    QueryableByName,
    Selectable,
    Insertable,
    Serialize,
    Deserialize,
)]
#[diesel(table_name = manual_grants)]
pub struct ManualGrantRow {
    #[serde(skip)]
    pub tenant_id: String,
    pub user_id: String,
    pub role_id: String,
    pub granted_by: String,
    pub created_at: String,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    Queryable,
    QueryableByName,
    Selectable,
    Insertable,
    Serialize,
    Deserialize,
)]
#[diesel(table_name = user_role_grants, treat_none_as_default_value = false)]
pub struct GrantRow {
    #[serde(skip)]
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
        (Lock::Share, DbConnection::Postgres(c)) => query!().for_share().get_result(c),
        (Lock::Exclusive, DbConnection::Postgres(c)) => query!().for_update().get_result(c),
        (_, c) => query!().get_result(c),
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
    Ok(diesel::select(diesel::dsl::exists(
        role_mappings::table
            .filter(role_mappings::tenant_id.eq(&tenant.0))
            .filter(role_mappings::group_id.eq(group_id))
            .filter(role_mappings::state.eq("active")),
    ))
    .get_result(conn)?)
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

/// The users a recompute reads at once (at most a thousand), and how their rows are
/// read: one index probe per user (see `raw::Probe`), or, when the users are dense in
/// id order (a batch of a big group's members, walked by id), one range of each index
/// from the first id to the last, keeping the batch's rows. A range reads a row in a
/// fraction of what a probe costs.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// Sorted, without repeats.
    ids: &'a [String],
    /// The first and the last id, when read as a range.
    span: Option<(&'a str, &'a str)>,
}

impl<'a> Batch<'a> {
    /// A probe per id.
    pub fn listed(ids: &'a [String]) -> Self {
        Batch { ids, span: None }
    }

    /// A range when the tenant has at most twice as many users from the first id to the
    /// last as the batch holds (the per-bucket counts say so in one small read), else a
    /// probe per id. `ids` must be sorted.
    pub fn plan(
        conn: &mut DbConnection,
        tenant: &TenantId,
        ids: &'a [String],
    ) -> Result<Self, StoreError> {
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(Self::listed(ids));
        };
        if ids.len() < 32 || !ids.windows(2).all(|w| w[0] < w[1]) {
            return Ok(Self::listed(ids));
        }
        let around = super::raw::tally_between(conn, "users", tenant, first, last)?;
        Ok(if around <= 2 * ids.len() as i64 {
            Batch {
                ids,
                span: Some((first, last)),
            }
        } else {
            Self::listed(ids)
        })
    }

    /// Whether the batch is read as one range of ids.
    pub fn reads_a_range(&self) -> bool {
        self.span.is_some()
    }

    fn holds(&self, id: &str) -> bool {
        self.ids.binary_search_by(|x| x.as_str().cmp(id)).is_ok()
    }

    /// The rows `probe` finds for the batch's users; `user` names a row's user.
    fn read<R>(
        &self,
        conn: &mut DbConnection,
        tenant: &TenantId,
        probe: &Probe,
        user: impl Fn(&R) -> &str,
    ) -> Result<Vec<R>, StoreError>
    where
        R: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        if let Some((first, last)) = self.span {
            let mut rows = probe.span(tenant, first, last).load::<R>(conn)?;
            rows.retain(|r| self.holds(user(r)));
            return Ok(rows);
        }
        let mut rows = Vec::new();
        for chunk in self.ids.chunks(500) {
            rows.extend(probe.query(conn, tenant, chunk, false).load::<R>(conn)?);
        }
        Ok(rows)
    }
}

/// The batch's users, in id order, locked against concurrent writers on PostgreSQL (in
/// id order, so two recomputes cannot deadlock).
pub fn subjects(
    conn: &mut DbConnection,
    tenant: &TenantId,
    batch: Batch,
    lock: bool,
) -> Result<Vec<SubjectRow>, StoreError> {
    const PROBE: Probe = Probe {
        select: "u.id AS id, u.user_name AS user_name, u.active AS active",
        from: "users u",
        tenant: "u.tenant_id",
        key: "u.id",
        and: "",
    };
    let mut rows = if lock && matches!(conn, DbConnection::Postgres(_)) {
        // Only the batch's users are locked: a range narrowed to them, or a probe each.
        let mut rows = Vec::with_capacity(batch.ids.len());
        for chunk in batch.ids.chunks(500) {
            let q = match batch.span {
                Some(_) => {
                    let (first, last) = (&chunk[0], &chunk[chunk.len() - 1]);
                    let mut q = PROBE.span(tenant, first, last);
                    q.sql(" AND u.id IN (")
                        .texts(chunk)
                        .sql(") ORDER BY u.id FOR UPDATE");
                    q
                }
                None => PROBE.query(conn, tenant, chunk, true),
            };
            rows.extend(q.load::<SubjectRow>(conn)?);
        }
        rows
    } else {
        batch.read(conn, tenant, &PROBE, |r: &SubjectRow| &r.id)?
    };
    rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
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
        .bind(super::query::Bind::BigInt(limit));
    Ok(q.load::<Member>(conn)?
        .into_iter()
        .map(|m| m.member_id)
        .collect())
}

/// A user's membership in a group.
#[derive(Debug, Clone, QueryableByName)]
pub struct MembershipRow {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Text)]
    pub group_id: String,
}

/// The group memberships of the batch's users (the caller keeps those its mapping
/// table names: a preview's draft maps groups the database does not map yet).
pub fn memberships(
    conn: &mut DbConnection,
    tenant: &TenantId,
    batch: Batch,
) -> Result<Vec<MembershipRow>, StoreError> {
    const PROBE: Probe = Probe {
        select: "m.member_id AS user_id, m.group_id AS group_id",
        from: "group_members m",
        tenant: "m.tenant_id",
        key: "m.member_id",
        and: " AND m.member_type = 'User'",
    };
    batch.read(conn, tenant, &PROBE, |r: &MembershipRow| &r.user_id)
}

/// The display names of the tenant's groups among `ids`.
pub fn group_names(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Text)]
        display_name: String,
    }
    const PROBE: Probe = Probe {
        select: "g.id AS id, g.display_name AS display_name",
        from: "groups g",
        tenant: "g.tenant_id",
        key: "g.id",
        and: "",
    };
    let mut names = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows = PROBE.query(conn, tenant, chunk, false).load::<Name>(conn)?;
        names.extend(rows.into_iter().map(|n| (n.id, n.display_name)));
    }
    Ok(names)
}

pub fn manual_grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    batch: Batch,
) -> Result<Vec<ManualGrantRow>, StoreError> {
    const PROBE: Probe = Probe {
        select: "g.tenant_id AS tenant_id, g.user_id AS user_id, g.role_id AS role_id, \
                 g.granted_by AS granted_by, g.created_at AS created_at",
        from: "manual_grants g",
        tenant: "g.tenant_id",
        key: "g.user_id",
        and: "",
    };
    batch.read(conn, tenant, &PROBE, |r: &ManualGrantRow| &r.user_id)
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

/// The grants of `users`.
pub fn grants_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    users: &[String],
) -> Result<Vec<GrantRow>, StoreError> {
    grants_in(conn, tenant, Batch::listed(users))
}

/// The grants of the batch's users.
pub fn grants_in(
    conn: &mut DbConnection,
    tenant: &TenantId,
    batch: Batch,
) -> Result<Vec<GrantRow>, StoreError> {
    const PROBE: Probe = Probe {
        select: "g.tenant_id AS tenant_id, g.user_id AS user_id, g.role_id AS role_id, \
                 g.source AS source, g.source_ref AS source_ref, g.mapping_id AS mapping_id, \
                 g.mapping_version AS mapping_version, g.granted_at AS granted_at",
        from: "user_role_grants g",
        tenant: "g.tenant_id",
        key: "g.user_id",
        and: "",
    };
    batch.read(conn, tenant, &PROBE, |r: &GrantRow| &r.user_id)
}

/// Deletes the grants `removed` (matched by their key: user, role, source) and inserts
/// `added`, in a few statements however many there are: what a recompute changes, and
/// nothing it leaves alone.
pub fn change_grants(
    conn: &mut DbConnection,
    tenant: &TenantId,
    removed: &[GrantRow],
    added: &[GrantRow],
) -> Result<(), StoreError> {
    if let DbConnection::Sqlite(c) = conn {
        // One cached statement a row: SQLite runs each in microseconds.
        for g in removed {
            diesel::delete(user_role_grants::table.find((
                &tenant.0,
                &g.user_id,
                &g.role_id,
                &g.source,
                &g.source_ref,
            )))
            .execute(c)?;
        }
        for g in added {
            diesel::insert_into(user_role_grants::table)
                .values(g)
                .execute(c)?;
        }
        return Ok(());
    }
    // PostgreSQL: a probe per key (see `Probe`), then the rows by their address.
    for chunk in removed.chunks(200) {
        let mut q = RawQuery::new(
            "DELETE FROM user_role_grants WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM (VALUES ",
        );
        for (i, g) in chunk.iter().enumerate() {
            q.sql(if i == 0 { "(" } else { ", (" })
                .text(g.user_id.clone())
                .sql(", ")
                .text(g.role_id.clone())
                .sql(", ")
                .text(g.source.clone())
                .sql(", ")
                .text(g.source_ref.clone())
                .sql(")");
        }
        q.sql(
            ") AS k(user_id, role_id, source, source_ref) CROSS JOIN LATERAL \
             (SELECT g.ctid FROM user_role_grants g WHERE g.tenant_id = ",
        )
        .text(tenant.0.clone())
        .sql(
            " AND g.user_id = k.user_id AND g.role_id = k.role_id \
             AND g.source = k.source AND g.source_ref = k.source_ref OFFSET 0) AS x))",
        );
        q.execute(conn)?;
    }
    if let DbConnection::Postgres(c) = conn {
        if added.len() >= super::events::COPY_FROM {
            diesel::copy_from(user_role_grants::table)
                .from_insertable(added)
                .execute(c)?;
        } else if !added.is_empty() {
            diesel::insert_into(user_role_grants::table)
                .values(added)
                .execute(c)?;
        }
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
/// A user holding a role, for the holders' pages.
#[derive(Debug, Clone, QueryableByName)]
pub struct HolderRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub user_name: String,
}

/// The users holding `role_id` (its grants are the effective ones: mode and
/// deactivation already applied), after `after` in id order, at most `limit`: keyset
/// pages, so a deep page costs what the first one does.
pub fn holders_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    role_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<HolderRow>, StoreError> {
    let mut q = RawQuery::new(
        "SELECT DISTINCT g.user_id AS id, u.user_name AS user_name FROM user_role_grants g \
         JOIN users u ON u.tenant_id = g.tenant_id AND u.id = g.user_id WHERE g.tenant_id = ",
    );
    q.text(tenant.0.clone())
        .sql(" AND g.role_id = ")
        .text(role_id);
    if let Some(after) = after {
        q.sql(" AND g.user_id > ").text(after);
    }
    q.sql(&format!(" ORDER BY g.user_id LIMIT {}", limit.max(0)));
    q.load(conn)
}

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
        .get_result(conn)
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
