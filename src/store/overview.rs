//! The counts and health signals of the admin overview (S2), each one indexed query.

use diesel::prelude::*;

use super::admin::admin_audit_log;
use super::conn::DbConnection;
use super::error::StoreError;
use super::query::RawQuery;
use super::schema::{
    groups, role_mappings, scim_request_log, scim_tokens, users, webhook_endpoints,
};
use super::sync_log::LogRow;
use super::TenantId;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub active_users: i64,
    pub inactive_users: i64,
    pub groups: i64,
    pub mapped_groups: i64,
    pub active_users_without_role: i64,
    pub orphaned_mappings: i64,
    /// Groups the IdP has not written since the cutoff (M13).
    pub stale_groups: i64,
    pub errors_since: i64,
    pub live_tokens: i64,
    pub unused_tokens: i64,
    pub failing_webhooks: i64,
    pub break_glass_logins: i64,
}

/// `stale_before`: groups untouched since then are stale; `errors_after`: the start of
/// the error window; `break_glass_after`: how far back break-glass use is reported.
pub fn counts(
    conn: &mut DbConnection,
    tenant: &TenantId,
    stale_before: &str,
    errors_after: &str,
    break_glass_after: &str,
) -> Result<Counts, StoreError> {
    let t = &tenant.0;
    let users_by = |conn: &mut DbConnection, active: bool| -> QueryResult<i64> {
        users::table
            .filter(users::tenant_id.eq(t))
            .filter(users::active.eq(active))
            .count()
            .get_result(conn)
    };
    let active_users = users_by(conn, true)?;
    let inactive_users = users_by(conn, false)?;
    let groups_n = groups::table
        .filter(groups::tenant_id.eq(t))
        .count()
        .get_result(conn)?;
    let mapped_groups = role_mappings::table
        .filter(role_mappings::tenant_id.eq(t))
        .filter(role_mappings::state.eq("active"))
        .select(role_mappings::group_id)
        .distinct()
        .load::<String>(conn)?
        .len() as i64;
    let orphaned_mappings = role_mappings::table
        .filter(role_mappings::tenant_id.eq(t))
        .filter(role_mappings::state.eq("orphaned"))
        .count()
        .get_result(conn)?;
    // Inactive users hold no grants (M6), so every user with a grant is active: one
    // pass over the grants' primary key instead of a probe per user.
    let mut q = RawQuery::new(
        "SELECT COUNT(DISTINCT user_id) AS n FROM user_role_grants WHERE tenant_id = ",
    );
    q.text(t.clone());
    let users_with_role = q.load::<Count>(conn)?.first().map_or(0, |c| c.n);
    let active_users_without_role = active_users - users_with_role;
    let stale_groups = groups::table
        .filter(groups::tenant_id.eq(t))
        .filter(groups::updated_at.lt(stale_before))
        .count()
        .get_result(conn)?;
    let errors_since = scim_request_log::table
        .filter(scim_request_log::tenant_id.eq(t))
        .filter(scim_request_log::at.ge(errors_after))
        .filter(scim_request_log::status.ge(400))
        .count()
        .get_result(conn)?;
    let live = || {
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(t))
            .filter(scim_tokens::revoked_at.is_null())
    };
    let live_tokens = live().count().get_result(conn)?;
    let unused_tokens = live()
        .filter(scim_tokens::last_used_at.is_null())
        .count()
        .get_result(conn)?;
    let failing_webhooks = webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(t))
        .filter(
            webhook_endpoints::consecutive_failures
                .gt(0)
                .or(webhook_endpoints::disabled_reason.is_not_null()),
        )
        .count()
        .get_result(conn)?;
    let break_glass_logins = admin_audit_log::table
        .filter(admin_audit_log::tenant_id.eq(t))
        .filter(admin_audit_log::at.ge(break_glass_after))
        .filter(admin_audit_log::action.eq("login.break_glass"))
        .count()
        .get_result(conn)?;
    Ok(Counts {
        active_users,
        inactive_users,
        groups: groups_n,
        mapped_groups,
        active_users_without_role,
        orphaned_mappings,
        stale_groups,
        errors_since,
        live_tokens,
        unused_tokens,
        failing_webhooks,
        break_glass_logins,
    })
}

/// The tenant's newest SCIM request, if any.
pub fn last_request(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<LogRow>, StoreError> {
    Ok(scim_request_log::table
        .filter(scim_request_log::tenant_id.eq(&tenant.0))
        .order((scim_request_log::at.desc(), scim_request_log::id.desc()))
        .select(LogRow::as_select())
        .first(conn)
        .optional()?)
}
