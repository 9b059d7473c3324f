//! The operator's view of every tenant: the health signals behind the admin's tenant
//! list and the per-tenant gauges of `/metrics`.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{stamp, ServiceError};
use crate::store::fleet;
use crate::store::DbConnection;

/// Failed SCIM requests are counted over this window.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A pending webhook delivery older than this means the endpoint or the worker is stuck.
pub const DELIVERY_LAG_WARNING: Duration = Duration::from_secs(15 * 60);
/// A SCIM token older than this should be rotated.
pub const TOKEN_AGE_WARNING: Duration = Duration::from_secs(365 * 24 * 3600);

/// One tenant's health, as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantHealth {
    pub slug: String,
    pub name: String,
    pub created_at: String,
    pub suspended: bool,
    /// The sequence of the tenant's newest event.
    pub latest_sequence: i64,
    /// The newest SCIM request in the sync log.
    pub last_request_at: Option<String>,
    /// Failed SCIM requests in the last 24 hours (0 when not counted).
    pub failures_24h: i64,
    pub live_tokens: i64,
    /// When the oldest live SCIM token was made.
    pub oldest_token_at: Option<String>,
    pub pending_deliveries: i64,
    pub oldest_pending_at: Option<String>,
    /// Enabled endpoints with a failed attempt since their last success.
    pub failing_endpoints: i64,
    pub disabled_endpoints: i64,
    pub running_change_sets: i64,
    pub change_set_users_remaining: i64,
    /// What needs a look, in words; empty when the tenant is healthy.
    pub warnings: Vec<String>,
}

/// Every tenant, by slug. `count_failures`: also count each tenant's failed SCIM
/// requests of the last 24 hours (for the operator's page; `/metrics` has counters).
pub fn fleet(
    conn: &mut DbConnection,
    count_failures: bool,
) -> Result<Vec<TenantHealth>, ServiceError> {
    let now = SystemTime::now();
    let failures_after = count_failures.then(|| stamp(now - FAILURE_WINDOW));
    let rows = fleet::fleet(conn, failures_after.as_deref())?;
    Ok(rows
        .into_iter()
        .map(|(t, s)| {
            let mut health = TenantHealth {
                slug: t.slug,
                name: t.name,
                created_at: t.created_at,
                suspended: t.suspended_at.is_some(),
                latest_sequence: t.event_sequence,
                last_request_at: s.last_request_at,
                failures_24h: s.failures_since,
                live_tokens: s.live_tokens,
                oldest_token_at: s.oldest_live_token_at,
                pending_deliveries: s.pending_deliveries,
                oldest_pending_at: s.oldest_pending_at,
                failing_endpoints: s.failing_endpoints,
                disabled_endpoints: s.disabled_endpoints,
                running_change_sets: s.running_change_sets,
                change_set_users_remaining: s.change_set_users_remaining,
                warnings: Vec::new(),
            };
            health.warnings = warnings(&health, now);
            health
        })
        .collect())
}

fn warnings(h: &TenantHealth, now: SystemTime) -> Vec<String> {
    let older_than =
        |at: &Option<String>, limit: Duration| age(at.as_deref(), now).is_some_and(|a| a > limit);
    let mut out = Vec::new();
    if h.suspended {
        out.push("suspended: SCIM requests are refused".to_owned());
    }
    if h.live_tokens == 0 {
        out.push("no live SCIM token".to_owned());
    } else if older_than(&h.oldest_token_at, TOKEN_AGE_WARNING) {
        out.push("a SCIM token is over a year old".to_owned());
    }
    if h.failures_24h > 0 {
        out.push(format!("{} failed SCIM requests in 24 h", h.failures_24h));
    }
    if older_than(&h.oldest_pending_at, DELIVERY_LAG_WARNING) {
        out.push(format!(
            "{} webhook deliveries pending, the oldest for over 15 minutes",
            h.pending_deliveries
        ));
    }
    if h.failing_endpoints > 0 {
        out.push(format!("{} webhook endpoints failing", h.failing_endpoints));
    }
    if h.disabled_endpoints > 0 {
        out.push(format!(
            "{} webhook endpoints disabled",
            h.disabled_endpoints
        ));
    }
    out
}

/// How long ago a stored stamp was; `None` for none or an unreadable one.
pub fn age(at: Option<&str>, now: SystemTime) -> Option<Duration> {
    let at = humantime::parse_rfc3339(at?).ok()?;
    Some(now.duration_since(at).unwrap_or_default())
}

/// A stored stamp as Unix seconds, for a Prometheus gauge.
pub fn unix_seconds(at: &str) -> Option<f64> {
    let at = humantime::parse_rfc3339(at).ok()?;
    Some(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs_f64(),
    )
}
