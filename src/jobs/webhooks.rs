//! The webhook delivery worker and the retention task: tokio tasks started once per
//! process (`jobs::spawn`). Claims are short transactions; requests go out with no
//! transaction open; outcomes are recorded in another short transaction.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::Settings;
use crate::secrets::KeyRing;
use crate::service::delivery::{self, AttemptOutcome, Claim};
use crate::service::webhooks::{self, WAKE};
use crate::store::Store;
use crate::webhooks::client::{agent, send};
use crate::webhooks::guard;

/// Most deliveries one worker has in flight.
const BATCH: i64 = 16;
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub policy: delivery::Policy,
    pub lease: Duration,
    pub poll: Duration,
    pub allow_private: bool,
    /// Events and succeeded deliveries older than this are deleted (spec §6.5 E6);
    /// None keeps them.
    pub retention: Option<Duration>,
}

impl DeliveryConfig {
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        Ok(Self {
            policy: delivery::Policy {
                schedule: parse_schedule(&settings.webhook_retry_schedule)?,
                disable_after: Duration::from_secs(settings.webhook_disable_after_hours * 3600),
            },
            lease: Duration::from_secs(settings.webhook_lease_secs.max(1)),
            poll: Duration::from_millis(settings.webhook_poll_interval_ms.max(10)),
            allow_private: settings.allow_private_webhook_urls,
            retention: (settings.event_retention_days > 0)
                .then(|| Duration::from_secs(settings.event_retention_days * 24 * 3600)),
        })
    }
}

/// `10s,1m,5m` → the delays before retries 1, 2, 3.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(|d| humantime::parse_duration(d.trim()).map_err(|e| format!("'{}': {e}", d.trim())))
        .collect()
}

/// Starts the worker and the retention task on the current runtime.
pub fn spawn(store: Store, config: DeliveryConfig, keys: Arc<KeyRing>) {
    let agent = agent(config.allow_private);
    if let Some(keep) = config.retention {
        actix_web::rt::spawn(retention(store.clone(), keep));
    }
    actix_web::rt::spawn(worker(store, agent, config, keys));
}

async fn worker(store: Store, agent: ureq::Agent, config: DeliveryConfig, keys: Arc<KeyRing>) {
    loop {
        let lease = config.lease;
        let ring = keys.clone();
        let claims = store
            .write(move |c| delivery::claim(c, SystemTime::now(), lease, BATCH, &ring))
            .await
            .unwrap_or_else(|e| {
                super::failed(super::Job::WebhookDelivery);
                tracing::warn!(error = %crate::error_chain(&e), "claiming webhook deliveries failed");
                Vec::new()
            });
        if claims.is_empty() {
            if tokio::time::timeout(config.poll, WAKE.notified())
                .await
                .is_ok()
            {
                // Woken from inside a transaction that may not have committed yet.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            continue;
        }
        let handles: Vec<_> = claims
            .into_iter()
            .map(|claim| {
                actix_web::rt::spawn(deliver(store.clone(), agent.clone(), claim, config.clone()))
            })
            .collect();
        for handle in handles {
            let _ = handle.await;
        }
    }
}

async fn deliver(store: Store, agent: ureq::Agent, claim: Claim, config: DeliveryConfig) {
    let outcome = match claim.body.clone() {
        None => delivery::body_missing(),
        // Saved while the development setting was on: no plain http without it.
        Some(_) if !config.allow_private && !claim.url.starts_with("https:") => AttemptOutcome {
            error: Some(guard::UrlRefused::Scheme.to_string()),
            ..AttemptOutcome::default()
        },
        Some(body) => {
            let to_send = claim.clone();
            tokio::task::spawn_blocking(move || send(&agent, &to_send, &body))
                .await
                .unwrap_or_else(|e| AttemptOutcome {
                    error: Some(format!("sending failed: {e}")),
                    ..AttemptOutcome::default()
                })
        }
    };
    tracing::info!(
        delivery = %claim.delivery_id,
        webhook_id = %claim.webhook_id,
        attempt = claim.attempt,
        status = outcome.status,
        latency_ms = outcome.latency_ms,
        error = outcome.error.as_deref().unwrap_or(""),
        "webhook attempt"
    );
    let policy = config.policy;
    let recorded = store
        .write(move |c| delivery::record(c, &claim, &outcome, &policy, SystemTime::now()))
        .await;
    if let Err(e) = recorded {
        // The lease runs out and the delivery is sent again: at least once.
        super::failed(super::Job::WebhookDelivery);
        tracing::warn!(error = %crate::error_chain(&e), "recording a webhook attempt failed");
    }
}

async fn retention(store: Store, keep: Duration) {
    tokio::time::sleep(Duration::from_secs(10)).await;
    loop {
        let cutoff = crate::service::stamp(SystemTime::now() - keep);
        let mut total = (0, 0);
        loop {
            let cutoff = cutoff.clone();
            match store
                .write(move |c| webhooks::prune_batch(c, &cutoff, 1000))
                .await
            {
                Ok((events, deliveries)) => {
                    total = (total.0 + events, total.1 + deliveries);
                    if events < 1000 && deliveries < 1000 {
                        break;
                    }
                }
                Err(e) => {
                    super::failed(super::Job::EventRetention);
                    tracing::warn!(error = %crate::error_chain(&e), "pruning old events failed");
                    break;
                }
            }
        }
        if total != (0, 0) {
            tracing::info!(
                events = total.0,
                deliveries = total.1,
                "pruned events and deliveries past retention"
            );
        }
        tokio::time::sleep(RETENTION_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_retry_schedule_is_the_specified_one() {
        let schedule = parse_schedule(&Settings::default().webhook_retry_schedule).unwrap();
        let secs: Vec<u64> = schedule.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 60, 300, 1800, 7200, 21600, 43200, 86400]);
        assert!(parse_schedule("10s,soon").is_err());
    }

    #[test]
    fn events_are_kept_for_the_configured_days_or_forever() {
        let config = DeliveryConfig::from_settings(&Settings::default()).unwrap();
        assert_eq!(config.retention, Some(Duration::from_secs(30 * 86_400)));
        let forever = Settings {
            event_retention_days: 0,
            ..Settings::default()
        };
        assert_eq!(
            DeliveryConfig::from_settings(&forever).unwrap().retention,
            None
        );
    }
}
