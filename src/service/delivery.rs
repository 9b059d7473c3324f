//! Webhook deliveries as the worker drives them (spec §6.5): claim due ones in a
//! short transaction, send outside any (`jobs::webhooks`), record each attempt in
//! another: success, a retry with backoff, dead-lettering, disabling the endpoint.
//! Apart from `webhooks` because recording can emit an event, and committing events
//! fans them out through `webhooks`.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::events::Actor;
use super::outbox::Outbox;
use super::webhooks::{signing_secrets, DeliveryState, EndpointView, MAX_CONSECUTIVE_FAILURES};
use super::{stamp, ServiceError};
use crate::store::webhooks::{self, AttemptRow};
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
    let endpoint_ids: Vec<String> = leased.iter().map(|d| d.endpoint_id.clone()).collect();
    let endpoints = webhooks::endpoints_by_id(conn, &endpoint_ids)?;
    let event_ids: Vec<String> = leased
        .iter()
        .filter(|d| d.payload.is_none())
        .map(|d| d.event_id.clone())
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
            Some(Claim {
                delivery_id: d.id,
                lease: until.clone(),
                attempt: d.attempts,
                webhook_id: d.event_id,
                url: endpoint.url.clone(),
                secrets: signing_secrets(endpoint, &now_s),
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

/// Records an attempt: success, retry later, dead-letter, and the endpoint's failure
/// count (410 Gone, or too many failures in a row, disables it and emits
/// `webhook_endpoint.disabled`).
pub fn record(
    conn: &mut DbConnection,
    claim: &Claim,
    outcome: &AttemptOutcome,
    schedule: &[Duration],
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
            },
        )?;
        d.claimed_until = None;
        d.last_status = outcome.status.map(i64::from);
        d.last_error = outcome.error.clone();
        d.last_latency_ms = Some(outcome.latency_ms);
        d.last_response = outcome.response.clone();
        d.updated_at = now_s.clone();
        let tenant = TenantId(d.tenant_id.clone());
        let mut disabled = None;
        if outcome.succeeded() {
            d.state = DeliveryState::Succeeded.as_str().into();
            webhooks::reset_failures(c, &d.endpoint_id)?;
        } else {
            match retry_delay(schedule, d.attempts as usize, random_unit()) {
                Some(delay) if outcome.status != Some(410) => {
                    d.next_attempt_at = stamp(now + delay);
                }
                _ => d.state = DeliveryState::Dead.as_str().into(),
            }
            // Counted in SQL: concurrent workers must not lose each other's failures.
            if let Some(failures) = webhooks::count_failure(c, &d.endpoint_id)? {
                let reason = if outcome.status == Some(410) {
                    Some("the endpoint answered 410 Gone".to_owned())
                } else if failures >= MAX_CONSECUTIVE_FAILURES {
                    Some(format!(
                        "{MAX_CONSECUTIVE_FAILURES} consecutive failed attempts"
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    if webhooks::disable(c, &d.endpoint_id, &reason, &now_s)? {
                        disabled = webhooks::find_endpoint(c, &tenant, &d.endpoint_id)?;
                    }
                }
            }
        }
        webhooks::save_delivery(c, &d)?;
        if let Some(e) = disabled {
            // Owners learn of it from the feed (and any other endpoint).
            let mut outbox = Outbox::for_tenant(&tenant, &Actor::system(), "", &now_s);
            outbox.emit("webhook_endpoint.disabled", json!(EndpointView::from(&e)));
            outbox.commit(c)?;
        }
        Ok(())
    })
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
