//! The limits that keep one client or one tenant from taking the server from the
//! others: token buckets per tenant and per failing address, and each tenant's share of
//! the read connections. `guard` applies them before any handler runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::service::ServiceError;

/// Limits and their counters, shared by every worker.
pub struct Limiters {
    /// Requests per tenant (SCIM).
    pub tenant_requests: Buckets,
    /// Failed authentications per source address.
    pub ip_failures: Buckets,
    /// Failed authentications per tenant, from any address.
    pub tenant_failures: Buckets,
    /// Database connections per tenant for reads (writes take turns in the pipeline).
    pub reads: Shares,
    settings: LimitSettings,
    refusals: Mutex<HashMap<String, u64>>,
    /// 429s by reason: tenant rate, failed authentications by address, by tenant.
    pub refused: [AtomicU64; 3],
}

const BY_RATE: usize = 0;
const BY_ADDRESS: usize = 1;
const BY_TENANT: usize = 2;

/// Numbers from the settings (see `config::Settings`).
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub tenant_rate: u32,
    pub tenant_burst: u32,
    pub ip_auth_failures_per_minute: u32,
    pub tenant_auth_failures_per_minute: u32,
    pub tenant_connections: usize,
}

impl Limiters {
    pub fn new(s: LimitSettings) -> Self {
        let per_minute = |n: u32| Buckets::new(f64::from(n) / 60.0, n);
        Self {
            tenant_requests: Buckets::new(f64::from(s.tenant_rate), s.tenant_burst),
            ip_failures: per_minute(s.ip_auth_failures_per_minute),
            tenant_failures: per_minute(s.tenant_auth_failures_per_minute),
            reads: Shares::new(s.tenant_connections),
            settings: s,
            refusals: Mutex::default(),
            refused: Default::default(),
        }
    }

    /// Whether a request that is about to authenticate may; `known_token`: its token
    /// passed before and was not revoked since, so a tenant under attack keeps its IdP.
    pub fn may_authenticate(
        &self,
        ip: Option<&str>,
        tenant: &str,
        known_token: bool,
    ) -> Result<(), ApiError> {
        let over = |what, retry_after, reason| {
            self.refused(tenant, reason);
            Err(ApiError::RateLimited { what, retry_after })
        };
        if let Some(retry_after) = ip.and_then(|ip| self.ip_failures.exhausted(ip)) {
            return over(
                "too many failed authentications from this address",
                retry_after,
                BY_ADDRESS,
            );
        }
        if !known_token {
            if let Some(retry_after) = self.tenant_failures.exhausted(tenant) {
                return over(
                    "too many failed authentications for this tenant",
                    retry_after,
                    BY_TENANT,
                );
            }
        }
        Ok(())
    }

    pub fn authentication_failed(&self, ip: Option<&str>, tenant: &str) {
        if let Some(ip) = ip {
            let _ = self.ip_failures.take(ip);
        }
        let _ = self.tenant_failures.take(tenant);
    }

    /// Spends one of the tenant's request tokens, or says when the next one comes.
    pub fn spend_request(&self, tenant: &str) -> Result<(), ApiError> {
        let Err(retry_after) = self.tenant_requests.take(tenant) else {
            return Ok(());
        };
        self.refused(tenant, BY_RATE);
        Err(ApiError::RateLimited {
            what: "this tenant's request rate is over its limit",
            retry_after,
        })
    }

    fn refused(&self, tenant: &str, reason: usize) {
        self.refused[reason].fetch_add(1, Ordering::Relaxed);
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = refusals.get_mut(tenant) {
            *n += 1;
        } else if refusals.len() < MAX_KEYS {
            refusals.insert(tenant.to_owned(), 1);
        }
    }

    /// The counters for `/metrics`.
    pub fn counters(&self) -> [(&'static str, &'static str, u64); 3] {
        let n = |reason: usize| self.refused[reason].load(Ordering::Relaxed);
        [
            (
                "roster_rate_limited_tenant_requests",
                "Requests answered 429: the tenant's request rate was over its limit.",
                n(BY_RATE),
            ),
            (
                "roster_rate_limited_address_auth_failures",
                "Requests answered 429: too many failed authentications from the address.",
                n(BY_ADDRESS),
            ),
            (
                "roster_rate_limited_tenant_auth_failures",
                "Requests answered 429: too many failed authentications for the tenant.",
                n(BY_TENANT),
            ),
        ]
    }

    /// The per-tenant request limit in words (admin overview).
    pub fn describe(&self) -> String {
        match self.settings.tenant_rate {
            0 => "no per-tenant request limit".into(),
            rate => format!(
                "{rate} SCIM requests/s per tenant, bursts of {}",
                self.settings.tenant_burst
            ),
        }
    }

    /// 429s answered for a tenant since the process started (admin overview).
    pub fn refusals_of(&self, tenant: &str) -> u64 {
        let refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        refusals.get(tenant).copied().unwrap_or(0)
    }
}

/// Keys tracked at most per limiter; past it, full buckets (keys at rest) are dropped.
const MAX_KEYS: usize = 100_000;

/// Token buckets by key. A hand-written map of two numbers per key: a rate-limit crate
/// (governor) would bring eight crates for what these forty lines do.
pub struct Buckets {
    /// Tokens added per second; 0 turns the limit off.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes a token, or says how many seconds until one is there.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.with(key, |bucket, rate| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(seconds_until_one(bucket.tokens, rate))
            }
        })
        .unwrap_or(Ok(()))
    }

    /// Seconds until a token is there, if none is now.
    pub fn exhausted(&self, key: &str) -> Option<u64> {
        self.with(key, |bucket, rate| {
            (bucket.tokens < 1.0).then(|| seconds_until_one(bucket.tokens, rate))
        })
        .flatten()
    }

    /// Runs `f` on the key's refilled bucket; `None` when the limit is off.
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Bucket, f64) -> T) -> Option<T> {
        if self.rate <= 0.0 {
            return None;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refilled(b.tokens, b.at, now, rate, burst) < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = refilled(bucket.tokens, bucket.at, now, self.rate, self.burst);
        bucket.at = now;
        Some(f(bucket, self.rate))
    }
}

fn refilled(tokens: f64, at: Instant, now: Instant, rate: f64, burst: f64) -> f64 {
    (tokens + now.duration_since(at).as_secs_f64() * rate).min(burst)
}

/// Whole seconds (at least 1) until the bucket holds one token: `Retry-After`.
fn seconds_until_one(tokens: f64, rate: f64) -> u64 {
    let secs = Duration::from_secs_f64(((1.0 - tokens) / rate).max(0.0));
    (secs.as_secs() + u64::from(secs.subsec_nanos() > 0)).max(1)
}

/// Longest a read waits for one of its tenant's connections before it gets 503: as long
/// as a write waits for its writer with `write_queue_timeout_ms` at its default. A burst
/// of 256 list pages queues behind its tenant's share for seconds, and the wait is FIFO,
/// so that is queueing, not a fault; a database that stops answering still fails each
/// read after its own deadline, and the queue behind it drains at that pace.
pub const READ_SHARE_WAIT: Duration = Duration::from_secs(10);

/// A few connections per key: one tenant's burst of reads waits for its own share
/// instead of taking the whole pool from the others.
pub struct Shares {
    per_key: usize,
    semaphores: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Shares {
    pub fn new(per_key: usize) -> Self {
        Self {
            per_key: per_key.max(1),
            semaphores: Mutex::default(),
        }
    }

    /// A share of `key`'s connections, or 503 if none frees up within `wait`.
    pub async fn acquire(
        &self,
        key: &str,
        wait: Duration,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        let semaphore = {
            let mut map = self.semaphores.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= MAX_KEYS && !map.contains_key(key) {
                let full = self.per_key;
                map.retain(|_, s| s.available_permits() < full);
            }
            map.entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_key)))
                .clone()
        };
        match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::from(ServiceError::unavailable(
                "this tenant's database connections are all busy",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiters(ip: u32, tenant: u32) -> Limiters {
        Limiters::new(LimitSettings {
            tenant_rate: 2,
            tenant_burst: 3,
            ip_auth_failures_per_minute: ip,
            tenant_auth_failures_per_minute: tenant,
            tenant_connections: 1,
        })
    }

    #[test]
    fn a_bucket_gives_its_burst_then_says_when_to_come_back() {
        let l = limiters(0, 0);
        for _ in 0..3 {
            assert_eq!(l.tenant_requests.take("a"), Ok(()));
        }
        // 2 per second: the next token is at most half a second away, rounded up.
        assert_eq!(l.tenant_requests.take("a"), Err(1));
        assert_eq!(l.tenant_requests.take("b"), Ok(()), "keys are separate");
    }

    #[test]
    fn a_rate_of_zero_turns_a_limit_off() {
        let b = Buckets::new(0.0, 1);
        for _ in 0..1000 {
            assert_eq!(b.take("a"), Ok(()));
        }
        assert_eq!(b.exhausted("a"), None);
    }

    #[test]
    fn failed_authentications_close_an_address_and_then_a_tenant_to_unknown_tokens() {
        let l = limiters(2, 3);
        for _ in 0..2 {
            assert!(l.may_authenticate(Some("10.0.0.1"), "t", false).is_ok());
            l.authentication_failed(Some("10.0.0.1"), "t");
        }
        // 2 per minute: the address waits ~30 s; a known token does not help it.
        match l.may_authenticate(Some("10.0.0.1"), "t", true) {
            Err(ApiError::RateLimited { retry_after, .. }) => {
                assert!((29..=31).contains(&retry_after))
            }
            other => panic!("{other:?}"),
        }
        l.authentication_failed(Some("10.0.0.2"), "t");
        // The tenant's budget (3) is spent: unknown tokens wait, known ones pass.
        assert!(l.may_authenticate(Some("10.0.0.3"), "t", false).is_err());
        assert!(l.may_authenticate(Some("10.0.0.3"), "t", true).is_ok());
        assert!(l.may_authenticate(Some("10.0.0.3"), "other", false).is_ok());
        assert_eq!(l.refusals_of("t"), 2);
    }

    /// At 256 clients a tenant's list pages queue behind its share for seconds; that is
    /// queueing, so it must not end in 503 (it did, after 2 s, in the compare benchmark).
    #[tokio::test(start_paused = true)]
    async fn a_read_waits_seconds_for_its_tenants_share_instead_of_failing() {
        let shares = Arc::new(Shares::new(1));
        let held = shares.acquire("a", READ_SHARE_WAIT).await.unwrap();
        let waiting = {
            let shares = shares.clone();
            tokio::spawn(async move { shares.acquire("a", READ_SHARE_WAIT).await.is_ok() })
        };
        let other = shares.acquire("b", READ_SHARE_WAIT).await;
        assert!(other.is_ok(), "another tenant does not wait");
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(held);
        assert!(waiting.await.unwrap(), "the read got its turn after 5 s");
        let _held = shares.acquire("a", READ_SHARE_WAIT).await.unwrap();
        let late = shares.acquire("a", READ_SHARE_WAIT).await;
        assert!(late.is_err(), "past READ_SHARE_WAIT, 503");
    }
}
