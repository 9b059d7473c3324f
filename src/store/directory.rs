//! The admin's users and groups browsers (S5, S6): search, filters and keyset paging
//! on the indexed columns, so a page costs the same at 100k users as at 100.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::groups::GroupRow;
use super::schema::{group_members, groups, role_mappings, user_emails, user_role_grants, users};
use super::users::UserRow;
use super::TenantId;

/// Which users a browser page shows.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Folded prefix of `userName`, an email or `displayName`; or an exact `externalId`.
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

/// `LIKE` prefix pattern with the wildcards of `text` escaped (escape character `\`).
fn prefix(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("{escaped}%")
}

type Backend = <DbConnection as Connection>::Backend;

fn filtered_users<'a>(tenant: &TenantId, f: &UserFilter) -> users::BoxedQuery<'a, Backend> {
    let t = tenant.0.clone();
    let mut q = users::table
        .filter(users::tenant_id.eq(t.clone()))
        .into_boxed();
    if let Some(active) = f.active {
        q = q.filter(users::active.eq(active));
    }
    if let Some(search) = &f.search {
        let pattern = prefix(&crate::scim::resource::fold(search));
        q = q.filter(
            users::user_name_folded
                .like(pattern.clone())
                .escape('\\')
                .or(users::display_name.like(prefix(search)).escape('\\'))
                .or(users::external_id.eq(search.clone()))
                .or(exists(
                    user_emails::table
                        .filter(user_emails::tenant_id.eq(t.clone()))
                        .filter(user_emails::user_id.eq(users::id))
                        .filter(user_emails::value_folded.like(pattern).escape('\\')),
                )),
        );
    }
    let grants = user_role_grants::table
        .filter(user_role_grants::tenant_id.eq(t.clone()))
        .filter(user_role_grants::user_id.eq(users::id));
    match &f.role {
        Some(RoleFilter::None) => q = q.filter(not(exists(grants))),
        Some(RoleFilter::Holds(role)) => {
            q = q.filter(exists(
                grants.filter(user_role_grants::role_id.eq(role.clone())),
            ))
        }
        None => {}
    }
    if let Some(group) = &f.group {
        q = q.filter(exists(
            group_members::table
                .filter(group_members::tenant_id.eq(t.clone()))
                .filter(group_members::group_id.eq(group.clone()))
                .filter(group_members::member_id.eq(users::id)),
        ));
    }
    q
}

/// Up to `limit` users after `after` (a folded `userName`), in `userName` order, and
/// whether more follow.
pub fn users_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &UserFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<UserRow>, bool), StoreError> {
    let mut q = filtered_users(tenant, filter);
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
    Ok((rows, more))
}

/// How many users match `filter`.
pub fn users_count(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &UserFilter,
) -> Result<i64, StoreError> {
    Ok(filtered_users(tenant, filter).count().get_result(conn)?)
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

fn filtered_groups<'a>(tenant: &TenantId, f: &GroupFilter) -> groups::BoxedQuery<'a, Backend> {
    let t = tenant.0.clone();
    let mut q = groups::table
        .filter(groups::tenant_id.eq(t.clone()))
        .into_boxed();
    if let Some(search) = &f.search {
        let pattern = prefix(&crate::scim::resource::fold(search));
        q = q.filter(
            groups::display_name_folded
                .like(pattern)
                .escape('\\')
                .or(groups::external_id.eq(search.clone())),
        );
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
    let mut q = filtered_groups(tenant, filter);
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

pub fn groups_count(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &GroupFilter,
) -> Result<i64, StoreError> {
    Ok(filtered_groups(tenant, filter).count().get_result(conn)?)
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
