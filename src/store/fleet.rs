//! Every tenant's health signals at once, for the operator: the only queries that read
//! more than one tenant. Each groups by `tenant_id` over an index (or a small table), and
//! none joins two tenants' rows; the per-tenant look-ups use the tenant's own index.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{
    change_sets, scim_request_log, scim_tokens, tenants, webhook_deliveries, webhook_endpoints,
};

#[derive(Debug, Clone, Queryable)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
    pub event_sequence: i64,
    pub suspended_at: Option<String>,
}

/// One tenant's signals, as stored; absent ones are `None` or zero.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub last_request_at: Option<String>,
    pub failures_since: i64,
    pub oldest_live_token_at: Option<String>,
    pub live_tokens: i64,
    pub pending_deliveries: i64,
    pub oldest_pending_at: Option<String>,
    pub failing_endpoints: i64,
    pub disabled_endpoints: i64,
    pub running_change_sets: i64,
    pub change_set_users_remaining: i64,
}

/// Every tenant, by slug, with its signals. `failures_after`: the start of the window in
/// which failed SCIM requests are counted; `None` skips that count, which reads every
/// failure of the window (the operator's page wants it, a frequent scrape does not).
pub fn fleet(
    conn: &mut DbConnection,
    failures_after: Option<&str>,
) -> Result<Vec<(TenantRow, Signals)>, StoreError> {
    let rows: Vec<TenantRow> = tenants::table
        .select((
            tenants::id,
            tenants::slug,
            tenants::name,
            tenants::created_at,
            tenants::event_sequence,
            tenants::suspended_at,
        ))
        .order(tenants::slug)
        .load(conn)?;
    let mut signals: std::collections::HashMap<String, Signals> = rows
        .iter()
        .map(|t| (t.id.clone(), Signals::default()))
        .collect();

    // The sync log is large: one indexed look-up per tenant on (tenant_id, at).
    for (id, s) in signals.iter_mut() {
        s.last_request_at = scim_request_log::table
            .filter(scim_request_log::tenant_id.eq(id))
            .select(max(scim_request_log::at))
            .get_result(conn)?;
        if let Some(after) = failures_after {
            s.failures_since = scim_request_log::table
                .filter(scim_request_log::tenant_id.eq(id))
                .filter(scim_request_log::at.gt(after))
                .filter(scim_request_log::result.eq("failure"))
                .count()
                .get_result(conn)?;
        }
    }

    let tokens: Vec<(String, i64, Option<String>)> = scim_tokens::table
        .filter(scim_tokens::revoked_at.is_null())
        .group_by(scim_tokens::tenant_id)
        .select((
            scim_tokens::tenant_id,
            count_star(),
            min(scim_tokens::created_at),
        ))
        .load(conn)?;
    for (tenant, n, oldest) in tokens {
        if let Some(s) = signals.get_mut(&tenant) {
            s.live_tokens = n;
            s.oldest_live_token_at = oldest;
        }
    }

    let pending: Vec<(String, i64, Option<String>)> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq("pending"))
        .group_by(webhook_deliveries::tenant_id)
        .select((
            webhook_deliveries::tenant_id,
            count_star(),
            min(webhook_deliveries::created_at),
        ))
        .load(conn)?;
    for (tenant, n, oldest) in pending {
        if let Some(s) = signals.get_mut(&tenant) {
            s.pending_deliveries = n;
            s.oldest_pending_at = oldest;
        }
    }

    // Failing: an attempt failed since the endpoint's last success.
    let endpoints: Vec<(String, bool, Option<String>)> = webhook_endpoints::table
        .select((
            webhook_endpoints::tenant_id,
            webhook_endpoints::enabled,
            webhook_endpoints::failing_since,
        ))
        .load(conn)?;
    for (tenant, enabled, failing_since) in endpoints {
        if let Some(s) = signals.get_mut(&tenant) {
            if !enabled {
                s.disabled_endpoints += 1;
            } else if failing_since.is_some() {
                s.failing_endpoints += 1;
            }
        }
    }

    // Running change-sets are few; PostgreSQL's SUM(bigint) is numeric, so add here.
    let running: Vec<(String, i64, i64)> = change_sets::table
        .filter(change_sets::state.eq("applying"))
        .select((
            change_sets::tenant_id,
            change_sets::progress_total,
            change_sets::progress_done,
        ))
        .load(conn)?;
    for (tenant, total, done) in running {
        if let Some(s) = signals.get_mut(&tenant) {
            s.running_change_sets += 1;
            s.change_set_users_remaining += (total - done).max(0);
        }
    }

    Ok(rows
        .into_iter()
        .map(|t| {
            let s = signals.remove(&t.id).unwrap_or_default();
            (t, s)
        })
        .collect())
}
