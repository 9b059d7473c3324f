//! The admin overview (S2): connection health, counts and warnings for one tenant.

use std::time::{Duration, SystemTime};

use super::webhooks::stamp;
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
