//! Prometheus metrics: requests by route and status, latency, pool state, every
//! tenant's health, the event feed's readers and the background jobs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use sha2::{Digest, Sha256};

use crate::service::fleet::{self, TenantHealth};
use crate::service::run::{PipelineStats, PoolState, BATCH_BUCKETS};

/// Who may read `/metrics` and where: `metrics_token` and `metrics_listen`.
#[derive(Debug, Default)]
pub struct MetricsAccess {
    /// SHA-256 of the token, so the comparison takes the same time however much of a
    /// guess is right.
    token: Option<[u8; 32]>,
    listener: Option<SocketAddr>,
}

impl MetricsAccess {
    pub fn new(token: Option<&str>, listener: Option<SocketAddr>) -> Self {
        Self {
            token: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            listener,
        }
    }

    /// Whether a request for `path` that arrived on the listener at `local` is routed:
    /// with a separate metrics listener, `/metrics` is served there only, and that
    /// listener serves nothing but it and the probes. Listeners differ by port.
    pub fn routes(&self, path: &str, local: SocketAddr) -> bool {
        let Some(metrics) = self.listener else {
            return true;
        };
        if local.port() == metrics.port() {
            matches!(path, "/metrics" | "/healthz" | "/readyz")
        } else {
            path != "/metrics"
        }
    }

    /// Whether an `Authorization` header value opens `/metrics`.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = self.token else {
            return true;
        };
        let given = authorization
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        <[u8; 32]>::from(Sha256::digest(given.as_bytes())) == expected
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// A tenant's SCIM requests by outcome (`ok`, `client_error`, `server_error`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
    outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    scim_requests: Family<TenantLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    /// (tenant slug, API key id) → the `after` its last feed read asked for, and when.
    feed_reads: Mutex<HashMap<(String, String), (i64, SystemTime)>>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        let scim_requests = Family::<TenantLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        let pool_max = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "scim_requests",
            "Authenticated SCIM requests by tenant and outcome (ok, client_error, server_error)",
            scim_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Configured pool size",
            pool_max.clone(),
        );
        Self {
            registry,
            requests,
            scim_requests,
            latency,
            pool_connections,
            pool_idle,
            pool_max,
            feed_reads: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One authenticated SCIM request of `tenant` (a slug that passed authentication,
    /// so the label set grows with the tenants, never with what strangers send).
    pub fn scim_request(&self, tenant: &str, status: u16) {
        let outcome = match status {
            500.. => "server_error",
            400.. => "client_error",
            _ => "ok",
        };
        self.scim_requests
            .get_or_create(&TenantLabels {
                tenant: tenant.to_owned(),
                outcome,
            })
            .inc();
    }

    /// An API key of `tenant` read the event feed after sequence `after`.
    pub fn feed_read(&self, tenant: &str, key_id: &str, after: i64) {
        let mut reads = self.feed_reads.lock().unwrap_or_else(|p| p.into_inner());
        reads.insert(
            (tenant.to_owned(), key_id.to_owned()),
            (after, SystemTime::now()),
        );
    }

    /// The exposition text, with the pool gauges and the write pipeline read now.
    /// `counters`: (name without `_total`, help, value) of counters kept elsewhere;
    /// `fleet`: every tenant's health, `None` when the database could not be read.
    pub fn render(
        &self,
        pool: PoolState,
        writes: (&PipelineStats, usize),
        counters: &[(&str, &str, u64)],
        fleet: Option<&[TenantHealth]>,
    ) -> String {
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max_size));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        render_pipeline(&mut out, writes.0, writes.1);
        for (name, help, value) in counters {
            write_counter(&mut out, name, help, *value);
        }
        render_jobs(&mut out);
        write_gauge(
            &mut out,
            "roster_metrics_database_ok",
            "1 when this scrape read every tenant's health from the database, else 0.",
            &[(String::new(), f64::from(u8::from(fleet.is_some())))],
        );
        if let Some(fleet) = fleet {
            render_fleet(&mut out, fleet);
            let reads = self.feed_reads.lock().unwrap_or_else(|p| p.into_inner());
            render_feed(&mut out, fleet, &reads);
        }
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

/// The group-commit pipeline's counters, kept as plain atomics by the store and
/// written here in the exposition format.
fn render_pipeline(out: &mut String, stats: &PipelineStats, waiting: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("# HELP roster_write_batch_size Write use cases committed together, per commit.".into());
    line("# TYPE roster_write_batch_size histogram".into());
    let mut cumulative = 0;
    for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
        cumulative += stats.sizes[i].load(Relaxed);
        line(format!(
            "roster_write_batch_size_bucket{{le=\"{bound}\"}} {cumulative}"
        ));
    }
    cumulative += stats.sizes[BATCH_BUCKETS.len()].load(Relaxed);
    line(format!(
        "roster_write_batch_size_bucket{{le=\"+Inf\"}} {cumulative}"
    ));
    let committed = stats.committed.load(Relaxed);
    // Every use case run is counted once in `_sum`; failed batches' too.
    line(format!("roster_write_batch_size_sum {committed}"));
    line(format!("roster_write_batch_size_count {cumulative}"));
    line("# HELP roster_write_queue_depth Writes waiting for a writer now.".into());
    line("# TYPE roster_write_queue_depth gauge".into());
    line(format!("roster_write_queue_depth {waiting}"));
    let mut counter = |name: &str, help: &str, value: u64| write_counter(out, name, help, value);
    counter(
        "roster_write_batches_failed",
        "Write batches that could not begin or commit (answered 503).",
        stats.failed_batches.load(Relaxed),
    );
    counter(
        "roster_write_refused_queue_full",
        "Writes answered 503 at once because the write queue was full.",
        stats.refused_full.load(Relaxed),
    );
    counter(
        "roster_write_queue_timeouts",
        "Writes answered 503 because they waited too long for a writer.",
        stats.timed_out.load(Relaxed),
    );
    counter(
        "roster_write_reruns",
        "SCIM writes run again after losing a lock race to a batch of their tenant beside theirs.",
        stats.reruns.load(Relaxed),
    );
}

/// Every tenant's gauges, labelled by slug; recomputed on each scrape, so a deleted
/// tenant's series end with it.
fn render_fleet(out: &mut String, fleet: &[TenantHealth]) {
    type Read = fn(&TenantHealth) -> Option<f64>;
    let gauges: [(&str, &str, Read); 9] = [
        (
            "roster_tenant_last_scim_request_timestamp_seconds",
            "Unix time of the tenant's newest SCIM request in the sync log.",
            |h| h.last_request_at.as_deref().and_then(fleet::unix_seconds),
        ),
        (
            "roster_tenant_suspended",
            "1 while the tenant is suspended.",
            |h| Some(f64::from(u8::from(h.suspended))),
        ),
        (
            "roster_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or dead-lettered.",
            |h| Some(h.pending_deliveries as f64),
        ),
        (
            "roster_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none is pending).",
            |h| {
                Some(
                    fleet::age(h.oldest_pending_at.as_deref(), SystemTime::now())
                        .map_or(0.0, |a| a.as_secs_f64()),
                )
            },
        ),
        (
            "roster_webhook_endpoints_failing",
            "Enabled webhook endpoints with a failed attempt since their last success.",
            |h| Some(h.failing_endpoints as f64),
        ),
        (
            "roster_webhook_endpoints_disabled",
            "Webhook endpoints disabled by roster or an administrator.",
            |h| Some(h.disabled_endpoints as f64),
        ),
        (
            "roster_events_latest_sequence",
            "The sequence of the tenant's newest event.",
            |h| Some(h.latest_sequence as f64),
        ),
        (
            "roster_change_sets_running",
            "Change-sets still recomputing users in the background.",
            |h| Some(h.running_change_sets as f64),
        ),
        (
            "roster_change_set_users_remaining",
            "Users the running change-sets have yet to recompute.",
            |h| Some(h.change_set_users_remaining as f64),
        ),
    ];
    for (name, help, read) in gauges {
        let samples: Vec<(String, f64)> = fleet
            .iter()
            .filter_map(|h| Some((format!("tenant=\"{}\"", h.slug), read(h)?)))
            .collect();
        write_gauge(out, name, help, &samples);
    }
}

/// Each feed reader's lag behind its tenant's newest event, as this process saw it.
fn render_feed(
    out: &mut String,
    fleet: &[TenantHealth],
    reads: &HashMap<(String, String), (i64, SystemTime)>,
) {
    let latest: HashMap<&str, i64> = fleet
        .iter()
        .map(|h| (h.slug.as_str(), h.latest_sequence))
        .collect();
    let mut lag = Vec::new();
    let mut read_at = Vec::new();
    let mut keys: Vec<_> = reads.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for ((tenant, key), (after, at)) in keys {
        let Some(newest) = latest.get(tenant.as_str()) else {
            continue;
        };
        let labels = format!("tenant=\"{tenant}\",api_key=\"{key}\"");
        lag.push((labels.clone(), (newest - after).max(0) as f64));
        let seconds = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        read_at.push((labels, seconds));
    }
    write_gauge(
        out,
        "roster_event_feed_lag_events",
        "Events between an API key's last feed read (its `after`) and the tenant's newest.",
        &lag,
    );
    write_gauge(
        out,
        "roster_event_feed_last_read_timestamp_seconds",
        "Unix time of an API key's last event-feed read.",
        &read_at,
    );
}

fn render_jobs(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP roster_job_failures Background job runs that failed (each is retried).\n\
         # TYPE roster_job_failures counter"
    );
    for (job, n) in crate::jobs::failures() {
        let _ = writeln!(out, "roster_job_failures_total{{task=\"{job}\"}} {n}");
    }
}

/// One gauge family; `samples` are (label set without braces, value).
fn write_gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn write_counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {value}"
    );
}
