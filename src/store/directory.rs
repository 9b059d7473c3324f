//! The admin's users and groups browsers (S5, S6): search, filters and keyset paging
//! on the indexed columns, so a page costs the same at 100k users as at 100.

use diesel::dsl::{exists, not, sql};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::conn::DbConnection;
use super::error::StoreError;
use super::filter_sql::Dialect;
use super::groups::GroupRow;
use super::schema::{group_members, groups, role_mappings, user_role_grants, users};
use super::users::UserRow;
use super::TenantId;

/// Which users a browser page shows.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// The start of `userName` or an e-mail (any case), of `displayName` (as typed),
    /// or a whole `externalId`.
    pub search: Option<String>,
    pub active: Option<bool>,
    pub role: Option<RoleFilter>,
    /// Direct members of this group id.
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoleFilter {
    /// Users holding no role at all.
    None,
    /// Users holding this role id.
    Holds(String),
}

/// Counts stop here (see `users_count`).
pub const COUNT_CAP: i64 = 1_000;

type Condition<T> = Box<dyn BoxableExpression<T, Backend, SqlType = Bool>>;

fn collate(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " COLLATE \"C\"",
        Dialect::Sqlite => "",
    }
}

/// `column` starts with `prefix`, written as a range the column's index serves:
/// `[prefix, prefix + U+10FFFF)` in code point order. PostgreSQL compares with
/// `COLLATE "C"` (its migration adds indexes in that collation), since a linguistic
/// collation's order does not keep the strings of one prefix together.
fn starts_with<T: 'static>(column: &str, prefix: &str, dialect: Dialect) -> Condition<T> {
    let c = collate(dialect);
    Box::new(
        sql::<Bool>(&format!("({column}{c} >= "))
            .bind::<Text, _>(prefix.to_owned())
            .sql(&format!(" AND {column}{c} < "))
            .bind::<Text, _>(format!("{prefix}\u{10FFFF}"))
            .sql(")"),
    )
}

/// userName or an e-mail starting with the folded search, the display name starting
/// with it as typed, or the externalId equal to it: each branch an index range.
fn user_search(tenant: &str, search: &str, dialect: Dialect) -> Condition<users::table> {
    let folded = crate::scim::resource::fold(search);
    let c = collate(dialect);
    let emails =
        sql::<Bool>("users.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ")
            .bind::<Text, _>(tenant.to_owned())
            .sql(&format!(" AND e.value_folded{c} >= "))
            .bind::<Text, _>(folded.clone())
            .sql(&format!(" AND e.value_folded{c} < "))
            .bind::<Text, _>(format!("{folded}\u{10FFFF}"))
            .sql(")");
    Box::new(
        starts_with::<users::table>("users.user_name_folded", &folded, dialect)
            .or(starts_with::<users::table>(
                "users.display_name",
                search,
                dialect,
            ))
            .or(users::external_id.eq(search.to_owned()).assume_not_null())
            .or(emails),
    )
}

fn group_search(search: &str, dialect: Dialect) -> Condition<groups::table> {
    let folded = crate::scim::resource::fold(search);
    Box::new(
        starts_with::<groups::table>("groups.display_name_folded", &folded, dialect)
            .or(groups::external_id.eq(search.to_owned()).assume_not_null()),
    )
}

type Backend = <DbConnection as Connection>::Backend;

/// How to test set membership, decided per query from the set's size: a large set
/// (everyone's group) is probed per user walked in name order, which finds a page at
/// once; a small one is built once and probed in memory, since walking 100k users
/// for 100 members would visit them all.
#[derive(Debug, Clone, Copy, Default)]
struct Strategy {
    group_is_large: bool,
    role_is_large: bool,
}

/// Sets above this many members are probed per row (see `Strategy`).
const LARGE_SET: i64 = 10_000;

fn strategy(
    conn: &mut DbConnection,
    tenant: &TenantId,
    f: &UserFilter,
) -> Result<Strategy, StoreError> {
    let group_is_large = match &f.group {
        Some(group) => {
            group_members::table
                .filter(group_members::tenant_id.eq(&tenant.0))
                .filter(group_members::group_id.eq(group))
                .count()
                .get_result::<i64>(conn)?
                > LARGE_SET
        }
        None => false,
    };
    let role_is_large = match &f.role {
        Some(RoleFilter::Holds(role)) => {
            user_role_grants::table
                .filter(user_role_grants::tenant_id.eq(&tenant.0))
                .filter(user_role_grants::role_id.eq(role))
                .count()
                .get_result::<i64>(conn)?
                > LARGE_SET
        }
        _ => false,
    };
    Ok(Strategy {
        group_is_large,
        role_is_large,
    })
}

fn filtered_users<'a>(
    tenant: &TenantId,
    f: &UserFilter,
    dialect: Dialect,
    how: Strategy,
) -> users::BoxedQuery<'a, Backend> {
    let t = tenant.0.clone();
    let mut q = users::table
        .filter(users::tenant_id.eq(t.clone()))
        .into_boxed();
    if let Some(active) = f.active {
        q = q.filter(users::active.eq(active));
    }
    if let Some(search) = &f.search {
        q = q.filter(user_search(&t, search, dialect));
    }
    // Membership of a role or group: see `Strategy` for which form and why.
    let grants = user_role_grants::table.filter(user_role_grants::tenant_id.eq(t.clone()));
    match &f.role {
        Some(RoleFilter::None) => {
            q = q.filter(users::id.ne_all(grants.select(user_role_grants::user_id)));
        }
        Some(RoleFilter::Holds(role)) if how.role_is_large => {
            q = q.filter(exists(
                grants
                    .filter(user_role_grants::role_id.eq(role.clone()))
                    .filter(user_role_grants::user_id.eq(users::id)),
            ));
        }
        Some(RoleFilter::Holds(role)) => {
            q = q.filter(
                users::id.eq_any(
                    grants
                        .filter(user_role_grants::role_id.eq(role.clone()))
                        .select(user_role_grants::user_id),
                ),
            );
        }
        None => {}
    }
    if let Some(group) = &f.group {
        let members = group_members::table
            .filter(group_members::tenant_id.eq(t.clone()))
            .filter(group_members::group_id.eq(group.clone()));
        q = if how.group_is_large {
            q.filter(exists(
                members.filter(group_members::member_id.eq(users::id)),
            ))
        } else {
            q.filter(users::id.eq_any(members.select(group_members::member_id)))
        };
    }
    q
}

/// Up to `limit` users after `after` (a folded `userName`), in `userName` order; whether
/// more follow; and how many match, counted up to `COUNT_CAP + 1`: an exact count of a
/// 100k-user filter costs a scan per page view, and "more than 1000" says enough.
pub fn users_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &UserFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<UserRow>, bool, i64), StoreError> {
    let (dialect, how) = (conn.dialect(), strategy(conn, tenant, filter)?);
    let mut q = filtered_users(tenant, filter, dialect, how);
    if let Some(after) = after {
        q = q.filter(users::user_name_folded.gt(after.to_owned()));
    }
    let mut rows: Vec<UserRow> = q
        .order(users::user_name_folded.asc())
        .limit(limit + 1)
        .select(UserRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let matching: Vec<String> = filtered_users(tenant, filter, dialect, how)
        .select(users::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    Ok((rows, more, matching.len() as i64))
}

/// Which groups a browser page shows.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Folded prefix of `displayName`, or an exact `externalId`.
    pub search: Option<String>,
    /// Groups with (true) or without (false) an active mapping.
    pub mapped: Option<bool>,
    /// Groups the IdP has not written since this stamp (M13).
    pub stale_before: Option<String>,
}

fn filtered_groups<'a>(
    tenant: &TenantId,
    f: &GroupFilter,
    dialect: Dialect,
) -> groups::BoxedQuery<'a, Backend> {
    let t = tenant.0.clone();
    let mut q = groups::table
        .filter(groups::tenant_id.eq(t.clone()))
        .into_boxed();
    if let Some(search) = &f.search {
        q = q.filter(group_search(search, dialect));
    }
    if let Some(mapped) = f.mapped {
        let mapping = exists(
            role_mappings::table
                .filter(role_mappings::tenant_id.eq(t.clone()))
                .filter(role_mappings::group_id.eq(groups::id))
                .filter(role_mappings::state.eq("active")),
        );
        q = if mapped {
            q.filter(mapping)
        } else {
            q.filter(not(mapping))
        };
    }
    if let Some(cutoff) = &f.stale_before {
        q = q.filter(groups::updated_at.lt(cutoff.clone()));
    }
    q
}

/// Up to `limit` groups after `after` (a folded `displayName`), and whether more follow.
pub fn groups_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &GroupFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<GroupRow>, bool), StoreError> {
    let mut q = filtered_groups(tenant, filter, conn.dialect());
    if let Some(after) = after {
        q = q.filter(groups::display_name_folded.gt(after.to_owned()));
    }
    let mut rows: Vec<GroupRow> = q
        .order(groups::display_name_folded.asc())
        .limit(limit + 1)
        .select(GroupRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// How many groups match `filter`, up to `COUNT_CAP + 1`.
pub fn groups_count(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &GroupFilter,
) -> Result<i64, StoreError> {
    let dialect = conn.dialect();
    let ids: Vec<String> = filtered_groups(tenant, filter, dialect)
        .select(groups::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    Ok(ids.len() as i64)
}

/// Member counts of `group_ids` (groups without members are absent).
pub fn member_counts(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_ids: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(group_members::table
        .filter(group_members::tenant_id.eq(&tenant.0))
        .filter(group_members::group_id.eq_any(group_ids))
        .group_by(group_members::group_id)
        .select((group_members::group_id, diesel::dsl::count_star()))
        .load(conn)?)
}
