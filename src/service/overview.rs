//! The admin overview (S2): connection health, counts and warnings for one tenant.

use std::time::{Duration, SystemTime};

use super::stamp;
use super::ServiceError;
use crate::store::overview::{self, Counts};
use crate::store::sync_log::LogRow;
use crate::store::{DbConnection, TenantId};

/// A group the IdP has not written for this long is flagged stale (M13).
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
/// The window of "errors in the last 24 h".
pub const ERROR_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Break-glass logins this recent are shown as a warning (A10).
pub const BREAK_GLASS_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Overview {
    pub counts: Counts,
    pub last_request: Option<LogRow>,
}

pub fn overview(conn: &mut DbConnection, tenant: &TenantId) -> Result<Overview, ServiceError> {
    let now = SystemTime::now();
    let counts = overview::counts(
        conn,
        tenant,
        &stamp(now - STALE_AFTER),
        &stamp(now - ERROR_WINDOW),
        &stamp(now - BREAK_GLASS_WINDOW),
    )?;
    let last_request = overview::last_request(conn, tenant)?;
    Ok(Overview {
        counts,
        last_request,
    })
}

/// The stamp before which a group counts as stale.
pub fn stale_cutoff() -> String {
    stamp(SystemTime::now() - STALE_AFTER)
}

/// One SCIM request as the setup wizard's live indicator shows it (S3 step 4).
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    /// What the IdP did, in the admin's words ("created a user").
    pub action: &'static str,
    /// The user's `userName` or the group's `displayName`, when it still exists.
    pub name: Option<String>,
    /// `users/{id}` or `groups/{id}` under the admin UI, when it still exists.
    pub link: Option<String>,
    /// Created or touched, then deleted again: JumpCloud's Activate leaves no trace
    /// but these rows (its test user and test group).
    pub test_artifact: bool,
}

/// The newest SCIM requests at or after `since`, newest first (at most `limit`).
pub fn arrivals(
    conn: &mut DbConnection,
    tenant: &TenantId,
    since: &str,
    limit: i64,
) -> Result<Vec<Arrival>, ServiceError> {
    let rows = crate::store::sync_log::page(
        conn,
        tenant,
        &crate::store::sync_log::Query {
            limit,
            ..Default::default()
        },
    )?;
    let mut out = Vec::new();
    for row in rows.into_iter().filter(|r| r.at.as_str() >= since) {
        let kind = row.resource_type.as_deref();
        let id = row.resource_id.as_deref();
        let (name, link) = match (kind, id) {
            (Some("User"), Some(id)) => (
                crate::store::users::find(conn, tenant, id)?.map(|u| u.user_name),
                Some(format!("users/{id}")),
            ),
            (Some("Group"), Some(id)) => (
                crate::store::groups::find(conn, tenant, id)?.map(|g| g.display_name),
                Some(format!("groups/{id}")),
            ),
            _ => (None, None),
        };
        let exists = name.is_some();
        out.push(Arrival {
            action: describe(&row.method, kind, id.is_some(), row.status),
            test_artifact: id.is_some() && !exists,
            link: link.filter(|_| exists),
            name,
            at: row.at,
            method: row.method,
            path: row.path,
            status: row.status,
        });
    }
    Ok(out)
}

fn describe(method: &str, kind: Option<&str>, has_id: bool, status: i32) -> &'static str {
    if status >= 400 {
        return "failed";
    }
    match (method, kind, has_id) {
        ("GET", Some("User"), false) => "listed users (Test Connection)",
        ("GET", Some("Group"), false) => "listed groups",
        ("GET", _, _) => "read",
        ("POST", Some("User"), _) => "created a user",
        ("POST", Some("Group"), _) => "created a group",
        ("PUT" | "PATCH", Some("User"), _) => "updated a user",
        ("PUT" | "PATCH", Some("Group"), _) => "updated a group",
        ("DELETE", Some("User"), _) => "deleted a user",
        ("DELETE", Some("Group"), _) => "deleted a group",
        _ => "called",
    }
}
