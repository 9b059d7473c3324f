//! Settings: defaults, then an optional TOML file, then `ROSTER_*` environment variables.

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Every key, with its default; `README.md` has the same table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Address to listen on (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// How clients reach roster (`https://roster.example.com`); used in `meta.location`
    /// and `Location`. Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `roster=debug,info`.
    pub log_level: String,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// When set (`host:port`), `/metrics` is served on this address only, and this
    /// address serves nothing but `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: Option<String>,
    /// The deployment's operator signs in with this at `/admin/operator` and sees every
    /// tenant read-only. Unset: there is no operator.
    pub operator_token: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest page a list returns (`count` is clamped to it).
    pub max_page_size: i64,
    pub pool_size: u32,
    /// How long a request waits for a database connection before it gets 503.
    pub pool_timeout_ms: u64,
    /// Longest a statement may run (or, on SQLite, wait for the write lock).
    pub statement_timeout_ms: u64,
    /// PostgreSQL writer threads of the group-commit pipeline (different tenants write
    /// in parallel); SQLite always has one.
    pub write_writers: usize,
    /// PostgreSQL: most of those writers working on one tenant's burst at once, so a
    /// burst is written by two connections while other tenants keep the rest.
    pub write_writers_per_tenant: usize,
    /// Most write use cases committed together.
    pub write_batch_max: usize,
    /// A batch takes no more writes once it has run this long.
    pub write_batch_budget_ms: u64,
    /// Most writes waiting for a writer; past it a write gets 503 at once.
    pub write_queue_capacity: usize,
    /// Longest a write waits for its turn before it gets 503 without running.
    pub write_queue_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// On SIGTERM, how long roster keeps serving (not ready, closing each connection
    /// after its response) before it stops accepting: the load balancer's time to
    /// notice. SIGINT skips it.
    pub shutdown_drain_secs: u64,
    /// A client must send a request's headers within this.
    pub header_timeout_ms: u64,
    /// A client must send a request's whole body within this (408 otherwise).
    pub body_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive_secs: u64,
    /// Most open client connections (for the whole process).
    pub max_connections: usize,
    /// SCIM requests per second per tenant (token bucket; 0 turns the limit off).
    pub tenant_rate_limit: u32,
    /// Requests a tenant may send at once above its rate.
    pub tenant_rate_burst: u32,
    /// Failed authentications per minute from one address before it gets 429.
    pub auth_failures_per_ip: u32,
    /// Failed authentications per minute for one tenant (any address) before tokens
    /// not seen before get 429.
    pub auth_failures_per_tenant: u32,
    /// Database connections one tenant's reads may hold at once; 0: half the pool.
    pub tenant_connection_share: u32,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Change-sets affecting more users than this recompute in the background.
    pub change_set_inline_limit: usize,
    /// Development only: lets webhook URLs use http and reach loopback, private,
    /// link-local and metadata addresses. Never turn it on in production (SSRF).
    pub allow_private_webhook_urls: bool,
    /// Delays between webhook attempts, comma-separated; after the last a delivery is
    /// dead-lettered. Each delay gets ±20% jitter.
    pub webhook_retry_schedule: String,
    /// How long a worker holds a claimed delivery; a worker that dies lets it go
    /// after this, and another sends it again.
    pub webhook_lease_secs: u64,
    /// How often the delivery worker looks for due deliveries.
    pub webhook_poll_interval_ms: u64,
    /// Days events (and succeeded webhook deliveries) are kept; older ones are deleted
    /// hourly. A consumer behind the oldest kept event gets 410 and bootstraps again
    /// from the snapshot. 0 keeps them forever.
    pub event_retention_days: u64,
    /// Hours an endpoint may fail (no successful delivery) before roster disables it,
    /// once at least 3 deliveries have run out of retries.
    pub webhook_disable_after_hours: u64,
    /// Signs the admin login-state cookie. Unset: one is generated on first start and
    /// stored in the database, so every process sharing it agrees.
    pub session_secret: Option<String>,
    /// Encrypts the secrets roster stores and must use again (webhook signing secrets,
    /// identity providers' client secrets): 32 random bytes, base64. Never stored in
    /// the database. Unset: read from `secrets_key_file`.
    pub secrets_key: Option<String>,
    /// A file holding `secrets_key`. Unset too: on SQLite `{database file}.key`, made on
    /// first start; PostgreSQL refuses to start without a configured key.
    pub secrets_key_file: Option<String>,
    /// Earlier secrets keys, comma-separated, kept to open what they sealed until
    /// `roster secrets rotate` has re-sealed it under `secrets_key`.
    pub secrets_old_keys: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://roster.db".into(),
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            metrics_token: None,
            metrics_listen: None,
            operator_token: None,
            max_body_bytes: 1 << 20,
            max_page_size: 500,
            pool_size: 10,
            pool_timeout_ms: 1500,
            statement_timeout_ms: 5000,
            write_writers: 4,
            write_writers_per_tenant: 2,
            write_batch_max: 256,
            write_batch_budget_ms: 50,
            write_queue_capacity: 4096,
            write_queue_timeout_ms: 10_000,
            shutdown_timeout_secs: 30,
            shutdown_drain_secs: 5,
            header_timeout_ms: 5000,
            body_timeout_ms: 10_000,
            keep_alive_secs: 15,
            max_connections: 4096,
            tenant_rate_limit: 300,
            tenant_rate_burst: 600,
            auth_failures_per_ip: 30,
            auth_failures_per_tenant: 600,
            tenant_connection_share: 0,
            workers: 0,
            change_set_inline_limit: 10_000,
            allow_private_webhook_urls: false,
            webhook_retry_schedule: "10s,1m,5m,30m,2h,6h,12h,24h".into(),
            webhook_lease_secs: 60,
            webhook_poll_interval_ms: 1000,
            event_retention_days: 30,
            webhook_disable_after_hours: 72,
            session_secret: None,
            secrets_key: None,
            secrets_key_file: None,
            secrets_old_keys: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration")]
    Invalid(#[source] toml::de::Error),
}

pub const ENV_PREFIX: &str = "ROSTER_";

/// Every setting's key. `ROSTER_*` variables naming anything else are not settings
/// (scripts set their own, e.g. `ROSTER_BIN`) and are ignored; the TOML file, which is
/// roster's alone, still refuses unknown keys.
pub const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "public_url",
    "log_format",
    "log_level",
    "metrics_token",
    "metrics_listen",
    "operator_token",
    "max_body_bytes",
    "max_page_size",
    "pool_size",
    "pool_timeout_ms",
    "statement_timeout_ms",
    "write_writers",
    "write_writers_per_tenant",
    "write_batch_max",
    "write_batch_budget_ms",
    "write_queue_capacity",
    "write_queue_timeout_ms",
    "shutdown_timeout_secs",
    "shutdown_drain_secs",
    "header_timeout_ms",
    "body_timeout_ms",
    "keep_alive_secs",
    "max_connections",
    "tenant_rate_limit",
    "tenant_rate_burst",
    "auth_failures_per_ip",
    "auth_failures_per_tenant",
    "tenant_connection_share",
    "workers",
    "change_set_inline_limit",
    "allow_private_webhook_urls",
    "webhook_retry_schedule",
    "webhook_lease_secs",
    "webhook_poll_interval_ms",
    "event_retention_days",
    "webhook_disable_after_hours",
    "session_secret",
    "secrets_key",
    "secrets_key_file",
    "secrets_old_keys",
];

impl Settings {
    /// Loads settings; `env` is the process environment (a parameter so tests can pass
    /// their own).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str::<toml::Table>(&text).map_err(ConfigError::Invalid)?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if !KEYS.contains(&name.as_str()) {
                continue;
            }
            table.insert(name, env_value(&value));
        }
        toml::Table::try_into(table).map_err(ConfigError::Invalid)
    }
}

/// An environment value as TOML: numbers and booleans as such, anything else a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let s = Settings::load(None, env(&[("HOME", "/root")])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.database_url, "sqlite://roster.db");
        assert_eq!(s.listen, "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nmax_page_size = 50\n").unwrap();
        let s = Settings::load(
            Some(&path),
            env(&[("ROSTER_LISTEN", "127.0.0.1:1"), ("ROSTER_POOL_SIZE", "3")]),
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:1");
        assert_eq!(s.max_page_size, 50);
        assert_eq!(s.pool_size, 3);
    }

    #[test]
    fn unknown_file_keys_are_refused_but_other_roster_variables_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(&path, "listn = \"x\"\n").unwrap();
        assert!(Settings::load(Some(&path), env(&[])).is_err());
        let s = Settings::load(
            None,
            env(&[("ROSTER_BIN", "/usr/bin/roster"), ("ROSTER_CONFIG", "x")]),
        )
        .unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn every_key_can_be_set_from_the_environment() {
        let values = [
            ("database_url", "sqlite://x.db"),
            ("listen", "0.0.0.0:1"),
            ("public_url", "https://r.example"),
            ("log_format", "json"),
            ("log_level", "debug"),
            ("max_body_bytes", "1"),
            ("max_page_size", "2"),
            ("pool_size", "3"),
            ("pool_timeout_ms", "4"),
            ("statement_timeout_ms", "5"),
            ("write_writers", "2"),
            ("write_writers_per_tenant", "3"),
            ("write_batch_max", "3"),
            ("write_batch_budget_ms", "4"),
            ("write_queue_capacity", "4"),
            ("write_queue_timeout_ms", "5"),
            ("shutdown_timeout_secs", "6"),
            ("shutdown_drain_secs", "1"),
            ("header_timeout_ms", "2"),
            ("body_timeout_ms", "3"),
            ("keep_alive_secs", "4"),
            ("max_connections", "5"),
            ("tenant_rate_limit", "6"),
            ("tenant_rate_burst", "7"),
            ("auth_failures_per_ip", "8"),
            ("auth_failures_per_tenant", "9"),
            ("tenant_connection_share", "2"),
            ("workers", "7"),
            ("change_set_inline_limit", "8"),
            ("allow_private_webhook_urls", "true"),
            ("webhook_retry_schedule", "1s,2s"),
            ("webhook_lease_secs", "8"),
            ("webhook_poll_interval_ms", "9"),
            ("event_retention_days", "7"),
            ("webhook_disable_after_hours", "5"),
            ("session_secret", "s3cret"),
            ("metrics_token", "m"),
            ("metrics_listen", "127.0.0.1:9898"),
            ("operator_token", "o"),
            ("secrets_key", "k"),
            ("secrets_key_file", "/etc/roster/key"),
            ("secrets_old_keys", "a,b"),
        ];
        assert_eq!(values.len(), KEYS.len());
        let vars: Vec<(String, String)> = values
            .iter()
            .map(|(k, v)| {
                (
                    format!("ROSTER_{}", k.to_ascii_uppercase()),
                    (*v).to_owned(),
                )
            })
            .collect();
        let s = Settings::load(None, vars).unwrap();
        assert_ne!(s, Settings::default());
        assert_eq!(
            (s.pool_size, s.workers, s.log_format),
            (3, 7, LogFormat::Json)
        );
        assert_eq!(s.public_url.as_deref(), Some("https://r.example"));
        assert_eq!(s.change_set_inline_limit, 8);
        assert!(s.allow_private_webhook_urls);
        assert_eq!(s.webhook_retry_schedule, "1s,2s");
        assert_eq!((s.webhook_lease_secs, s.webhook_poll_interval_ms), (8, 9));
        assert_eq!(s.event_retention_days, 7);
        assert_eq!(s.webhook_disable_after_hours, 5);
    }

    #[test]
    fn events_are_kept_thirty_days_unless_configured() {
        assert_eq!(Settings::default().event_retention_days, 30);
        let s = Settings::load(None, env(&[("ROSTER_EVENT_RETENTION_DAYS", "0")])).unwrap();
        assert_eq!(s.event_retention_days, 0, "0 keeps events forever");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(&path, "event_retention_days = -1\n").unwrap();
        assert!(
            Settings::load(Some(&path), env(&[])).is_err(),
            "not negative"
        );
    }
}
