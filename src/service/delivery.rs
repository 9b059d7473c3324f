//! Webhook deliveries as the worker drives them (spec §6.5): claim due ones in a
//! short transaction, send outside any (`jobs::webhooks`), record each attempt in
//! another: success, a retry with backoff, dead-lettering, disabling the endpoint.
//! Apart from `webhooks` because recording can emit an event, and committing events
//! fans them out through `webhooks`.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::audit::{audit, AuditContext};
use super::events::Actor;
use super::outbox::Outbox;
use super::webhooks::{signing_secrets, DeliveryState, EndpointView, MIN_FAILED_DELIVERIES};
use super::{stamp, ServiceError};
use crate::secrets::KeyRing;
use crate::store::webhooks::{self, AttemptRow, EndpointRow};
use crate::store::{write_transaction, DbConnection, TenantId};

/// A delivery leased to this worker, with all it needs to send it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub delivery_id: String,
    /// The lease; the outcome is recorded only while it is still the row's.
    pub lease: String,
    pub attempt: i64,
    pub webhook_id: String,
    pub url: String,
    pub secrets: Vec<String>,
    /// None when the event has been pruned since.
    pub body: Option<String>,
}

/// Leases up to `limit` due deliveries until `now + lease` in one short transaction
/// (the lease commits before anything is sent).
pub fn claim(
    conn: &mut DbConnection,
    now: SystemTime,
    lease: Duration,
    limit: i64,
    keys: &KeyRing,
) -> Result<Vec<Claim>, ServiceError> {
    let now_s = stamp(now);
    let until = stamp(now + lease);
    let leased = write_transaction(conn, |c| -> Result<_, ServiceError> {
        let ids = webhooks::lock_due(c, &now_s, limit)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(webhooks::lease(c, &ids, &until)?)
    })?;
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    let endpoint_ids: Vec<(String, String)> = leased
        .iter()
        .map(|d| (d.tenant_id.clone(), d.endpoint_id.clone()))
        .collect();
    let endpoints = webhooks::endpoints_by_id(conn, &endpoint_ids)?;
    let event_ids: Vec<(String, String)> = leased
        .iter()
        .filter(|d| d.payload.is_none())
        .map(|d| (d.tenant_id.clone(), d.event_id.clone()))
        .collect();
    let bodies = webhooks::event_bodies(conn, &event_ids)?;
    Ok(leased
        .into_iter()
        .filter_map(|d| {
            // The endpoint may have been deleted since; its deliveries went with it.
            let endpoint = endpoints.iter().find(|e| e.id == d.endpoint_id)?;
            let body = d.payload.clone().or_else(|| {
                bodies
                    .iter()
                    .find(|(id, _)| *id == d.event_id)
                    .map(|(_, b)| b.clone())
            });
            let secrets = match signing_secrets(endpoint, &now_s, keys) {
                Ok(secrets) => secrets,
                Err(e) => {
                    // Left leased: it comes back when the lease ends, and the endpoint's
                    // other deliveries are not held up by this one.
                    tracing::error!(error = %crate::error_chain(&e), endpoint = %endpoint.id, "cannot open a webhook signing secret");
                    return None;
                }
            };
            Some(Claim {
                delivery_id: d.id,
                lease: until.clone(),
                attempt: d.attempts,
                webhook_id: d.event_id,
                url: endpoint.url.clone(),
                secrets,
                body,
            })
        })
        .collect())
}

/// What one attempt came to.
#[derive(Debug, Clone, Default)]
pub struct AttemptOutcome {
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Why there was no acceptable response (timeout, refused address, …).
    pub error: Option<String>,
    pub latency_ms: i64,
    /// The first 2 KB of the response body.
    pub response: Option<String>,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The delay before retry `n` (1-based) under `schedule`, with ±20% jitter so a burst
/// of failures does not retry in lockstep; None once the schedule is exhausted.
pub fn retry_delay(schedule: &[Duration], n: usize, jitter: f64) -> Option<Duration> {
    let base = schedule.get(n.checked_sub(1)?)?;
    Some(base.mul_f64(1.0 + 0.4 * (jitter.clamp(0.0, 1.0) - 0.5)))
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    // Without randomness the jitter is merely zero.
    let _ = getrandom::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

/// When roster gives up on a failing endpoint.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Delays between attempts; after the last a delivery is dead.
    pub schedule: Vec<Duration>,
    /// An endpoint failing this long (no success since), with at least
    /// [`MIN_FAILED_DELIVERIES`] dead deliveries, is disabled.
    pub disable_after: Duration,
}

/// Records an attempt: success, retry later, dead-letter, and the endpoint's health.
/// A short outage only costs retries. The first delivery to die since the last success
/// emits `webhook_endpoint.failing` (and an audit entry) saying when the endpoint will
/// be disabled; it is disabled (`webhook_endpoint.disabled`) once it has failed for
/// `disable_after` with at least [`MIN_FAILED_DELIVERIES`] dead deliveries, or at once
/// on 410 Gone.
pub fn record(
    conn: &mut DbConnection,
    claim: &Claim,
    outcome: &AttemptOutcome,
    policy: &Policy,
    now: SystemTime,
) -> Result<(), ServiceError> {
    let now_s = stamp(now);
    write_transaction(conn, |c| {
        let Some(mut d) = webhooks::find_claimed(c, &claim.delivery_id, &claim.lease)? else {
            // The lease ran out and another worker took the delivery over.
            return Ok(());
        };
        webhooks::insert_attempt(
            c,
            &AttemptRow {
                delivery_id: d.id.clone(),
                attempt: claim.attempt,
                at: now_s.clone(),
                status: outcome.status.map(i64::from),
                error: outcome.error.clone(),
                latency_ms: outcome.latency_ms,
                tenant_id: d.tenant_id.clone(),
            },
        )?;
        d.claimed_until = None;
        d.last_status = outcome.status.map(i64::from);
        d.last_error = outcome.error.clone();
        d.last_latency_ms = Some(outcome.latency_ms);
        d.last_response = outcome.response.clone();
        d.updated_at = now_s.clone();
        let tenant = TenantId(d.tenant_id.clone());
        let mut notice = None;
        if outcome.succeeded() {
            d.state = DeliveryState::Succeeded.as_str().into();
            webhooks::reset_failures(c, &d.endpoint_id)?;
        } else {
            match retry_delay(&policy.schedule, d.attempts as usize, random_unit()) {
                Some(delay) if outcome.status != Some(410) => {
                    d.next_attempt_at = stamp(now + delay);
                }
                _ => d.state = DeliveryState::Dead.as_str().into(),
            }
            let dead = d.state == DeliveryState::Dead.as_str();
            if let Some((failed, since)) = webhooks::note_failure(c, &d.endpoint_id, &now_s, dead)?
            {
                let disable_at = humantime::parse_rfc3339(&since)
                    .map(|t| stamp(t + policy.disable_after))
                    .unwrap_or_else(|_| since.clone());
                let reason = if outcome.status == Some(410) {
                    Some("the endpoint answered 410 Gone".to_owned())
                } else if failed >= MIN_FAILED_DELIVERIES && disable_at <= now_s {
                    Some(format!(
                        "no successful delivery since {since}; {failed} deliveries failed"
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    if webhooks::disable(c, &d.endpoint_id, &reason, &now_s)? {
                        notice = Some(Notice::Disabled);
                    }
                } else if dead && failed == 1 {
                    // The first dead delivery: the owner hears before anything is disabled.
                    notice = Some(Notice::Failing(disable_at));
                }
            }
        }
        webhooks::save_delivery(c, &d)?;
        if let Some(notice) = notice {
            if let Some(e) = webhooks::find_endpoint(c, &tenant, &d.endpoint_id)? {
                tell_owner(c, &tenant, &e, &notice, &now_s)?;
            }
        }
        Ok(())
    })
}

/// What roster tells an endpoint's owner about its health.
enum Notice {
    /// It started failing; it will be disabled at this time unless a delivery succeeds.
    Failing(String),
    Disabled,
}

/// Tells the owners through the feed (and so any other endpoint) and the audit log;
/// the overview warns while an endpoint fails.
fn tell_owner(
    conn: &mut DbConnection,
    tenant: &TenantId,
    e: &EndpointRow,
    notice: &Notice,
    now: &str,
) -> Result<(), ServiceError> {
    let mut data = json!(EndpointView::from(e));
    let (event, action) = match notice {
        Notice::Failing(disable_at) => {
            data["disable_at"] = json!(disable_at);
            ("webhook_endpoint.failing", "webhook.failing")
        }
        Notice::Disabled => ("webhook_endpoint.disabled", "webhook.disabled_by_roster"),
    };
    let ctx = AuditContext::default();
    audit(
        conn,
        tenant,
        "roster",
        action,
        None,
        Some(data.clone()),
        &ctx,
    )?;
    let mut outbox = Outbox::for_tenant(tenant, &Actor::system(), "", now);
    outbox.emit(event, data);
    outbox.commit(conn)?;
    Ok(())
}

/// Marks a claimed delivery whose event is gone (pruned) as dead.
pub fn body_missing() -> AttemptOutcome {
    AttemptOutcome {
        error: Some("the event is no longer retained".into()),
        ..AttemptOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_follow_the_schedule_within_twenty_percent_then_stop() {
        let schedule = [Duration::from_secs(10), Duration::from_secs(60)];
        assert_eq!(
            retry_delay(&schedule, 1, 0.5),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_delay(&schedule, 1, 0.0), Some(Duration::from_secs(8)));
        assert_eq!(
            retry_delay(&schedule, 2, 1.0),
            Some(Duration::from_secs(72))
        );
        assert_eq!(retry_delay(&schedule, 3, 0.5), None);
        assert_eq!(retry_delay(&schedule, 0, 0.5), None);
    }
}
