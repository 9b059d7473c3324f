//! Prometheus metrics: requests by route and status, latency, pool state.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::service::run::{PipelineStats, PoolState, BATCH_BUCKETS};

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

    /// The exposition text, with the pool gauges and the write pipeline read now.
    /// `counters`: (name without `_total`, help, value) of counters kept elsewhere.
    pub fn render(
        &self,
        pool: PoolState,
        writes: (&PipelineStats, usize),
        counters: &[(&str, &str, u64)],
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
}

fn write_counter(out: &mut String, name: &str, help: &str, value: u64) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {value}"
    );
}
