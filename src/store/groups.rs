//! Groups and their membership rows.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use serde::{Deserialize, Serialize};

use super::conn::DbConnection;
use super::error::StoreError;
use super::paging::{Order, Page, Window};
use super::query::RawQuery;
use super::schema::{group_members, groups};
use super::TenantId;

#[derive(
    Debug,
    Clone,
    PartialEq,
    Queryable,
    QueryableByName,
    Selectable,
    Insertable,
    AsChangeset,
    Serialize,
    Deserialize,
)]
#[diesel(table_name = groups, primary_key(tenant_id, id))]
#[diesel(treat_none_as_null = true)]
pub struct GroupRow {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub display_name: String,
    pub display_name_folded: String,
    pub external_id: Option<String>,
    pub attributes: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Which source last wrote it (`ActorKind::source`); exports from before it say scim.
    #[serde(default = "super::written_by_scim")]
    pub written_by: String,
}

/// A member as the `members` attribute shows it.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct MemberRow {
    #[diesel(sql_type = Text)]
    pub member_id: String,
    #[diesel(sql_type = Text)]
    pub member_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub display: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &GroupRow) -> Result<(), StoreError> {
    diesel::insert_into(groups::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<GroupRow>, StoreError> {
    Ok(groups::table
        .filter(groups::tenant_id.eq(&tenant.0))
        .filter(groups::id.eq(id))
        .select(GroupRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The row, locked until the transaction ends (see `raw::find_for_update`).
pub fn find_for_update(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<GroupRow>, StoreError> {
    super::raw::find_for_update(conn, "groups", tenant, id)
}

pub fn update(conn: &mut DbConnection, row: &GroupRow) -> Result<(), StoreError> {
    diesel::update(
        groups::table
            .filter(groups::tenant_id.eq(&row.tenant_id))
            .filter(groups::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)?;
    Ok(())
}

/// Deletes the group, its own membership rows (by cascade) and its rows as a member of
/// other groups; false when there was no such group.
pub fn delete(conn: &mut DbConnection, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
    remove_from_all_groups(conn, tenant, id)?;
    let deleted = diesel::delete(
        groups::table
            .filter(groups::tenant_id.eq(&tenant.0))
            .filter(groups::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// Which of `ids` are groups of the tenant.
pub fn existing_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    super::raw::existing_ids(conn, "groups", tenant, ids)
}

/// Deletes every membership row naming `member_id` (a user or group being deleted).
pub fn remove_from_all_groups(
    conn: &mut DbConnection,
    tenant: &TenantId,
    member_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        group_members::table
            .filter(group_members::tenant_id.eq(&tenant.0))
            .filter(group_members::member_id.eq(member_id)),
    )
    .execute(conn)?)
}

/// A membership to write: who, what kind, and the display text a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub member_id: String,
    pub member_type: &'static str,
    pub display: Option<String>,
}

/// Adds members; existing memberships are left alone. Returns the members that were new.
pub fn add_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    members: &[NewMember],
    now: &str,
) -> Result<Vec<Membership>, StoreError> {
    let mut added = Vec::new();
    // One multi-row statement per 500 members: one round trip instead of 500, and at
    // most 3,000 binds, well under both backends' limits.
    for chunk in members.chunks(500) {
        let mut q = RawQuery::new(
            "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display, created_at) VALUES ",
        );
        for (i, member) in chunk.iter().enumerate() {
            q.sql(if i == 0 { "(" } else { ", (" })
                .text(tenant.0.clone())
                .sql(", ")
                .text(group_id)
                .sql(", ")
                .text(member.member_id.clone())
                .sql(", ")
                .text(member.member_type)
                .sql(", ");
            match &member.display {
                Some(display) => q.text(display.clone()),
                None => q.sql("NULL"),
            };
            q.sql(", ").text(now).sql(")");
        }
        q.sql(" ON CONFLICT DO NOTHING RETURNING member_id, member_type")
            .reused_if_few(chunk.len());
        added.extend(q.load::<Membership>(conn)?);
    }
    Ok(added)
}

/// Removes the listed members; returns the ones that were members. One statement per
/// member with the whole primary key bound, so the plan is an exact index lookup even
/// before PostgreSQL has statistics on a freshly filled 100k-member group (an
/// `= ANY(...)` list then scans the whole group).
pub fn remove_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    member_ids: &[String],
) -> Result<Vec<Membership>, StoreError> {
    let mut removed = Vec::new();
    for member_id in member_ids {
        let mut q = RawQuery::new("DELETE FROM group_members WHERE tenant_id = ");
        q.text(tenant.0.clone())
            .sql(" AND group_id = ")
            .text(group_id)
            .sql(" AND member_id = ")
            .text(member_id.clone())
            .sql(" RETURNING member_id, member_type")
            .reused();
        removed.extend(q.load::<Membership>(conn)?);
    }
    Ok(removed)
}

pub fn remove_all_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<Membership>, StoreError> {
    let mut q = RawQuery::new("DELETE FROM group_members WHERE tenant_id = ");
    q.text(tenant.0.clone())
        .sql(" AND group_id = ")
        .text(group_id)
        .sql(" RETURNING member_id, member_type");
    q.load(conn)
}

/// A member as written or removed: who, and whether a User or a Group.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Membership {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub member_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub member_type: String,
}

pub fn member_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(group_members::table
        .filter(group_members::tenant_id.eq(&tenant.0))
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::member_id)
        .load(conn)?)
}

/// All members of a group with their display names, ordered by member id.
pub fn members_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<MemberRow>, StoreError> {
    members_page(conn, tenant, group_id, None, None)
}

/// Members after `after` (keyset on member id), at most `limit` of them: a deep page
/// costs what the first one costs.
pub fn members_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    after: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<MemberRow>, StoreError> {
    let mut q = RawQuery::new(
        "SELECT m.member_id AS member_id, m.member_type AS member_type, \
         COALESCE(m.display, u.display_name, u.user_name, g.display_name) AS display \
         FROM group_members m \
         LEFT JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id \
         LEFT JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.member_id \
         WHERE m.tenant_id = ",
    );
    q.text(tenant.0.clone())
        .sql(" AND m.group_id = ")
        .text(group_id);
    if let Some(after) = after {
        q.sql(" AND m.member_id > ").text(after);
    }
    q.sql(" ORDER BY m.member_id");
    if let Some(limit) = limit {
        q.sql(" LIMIT ").bind(super::query::Bind::BigInt(limit));
    }
    q.load(conn)
}

/// A page of groups matching `filter` (a fragment over the `groups` table, already
/// holding its binds), in `order`, plus the total count.
pub fn list(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: Option<&RawQuery>,
    order: Order<'_>,
    window: Window<'_>,
) -> Result<Page<GroupRow>, StoreError> {
    super::raw::page(conn, "groups", tenant, filter, order, window)
}

/// `(id, displayName)` of those of `ids` that are groups of the tenant.
pub fn names_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            groups::table
                .filter(groups::tenant_id.eq(&tenant.0))
                .filter(groups::id.eq_any(chunk))
                .select((groups::id, groups::display_name))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// Up to `limit` groups as (id, display name), by name: what a picker offers.
pub fn names(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(groups::table
        .filter(groups::tenant_id.eq(&tenant.0))
        .order((groups::display_name_folded, groups::id))
        .select((groups::id, groups::display_name))
        .limit(limit)
        .load(conn)?)
}
