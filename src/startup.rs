//! Building and running the server: `Application::build` binds (port 0 in tests) and
//! prepares the database (or keeps trying in the background); `run_until_stopped`
//! serves until SIGTERM or Ctrl-C, draining in-flight requests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::http::limits::{LimitSettings, Limiters};
use crate::http::metrics::{Metrics, MetricsAccess};
use crate::http::state::{AppState, Lifecycle};
use crate::jobs::webhooks::DeliveryConfig;
use crate::scim::discovery::Limits;
use crate::service::secrets::PrepareError;
use crate::service::ServiceError;
use crate::store::{migrate, DbConnection, PoolSettings, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database")]
    Store(#[from] StoreError),
    #[error("invalid setting {key}: {detail}")]
    Setting { key: &'static str, detail: String },
    #[error("preparing the database")]
    Service(#[from] ServiceError),
    #[error("secrets key")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("secrets key")]
    KeyMismatch(#[from] crate::service::secrets::KeyMismatch),
    #[error("cannot set up {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

impl StartupError {
    /// The database did not answer: preparing it is worth trying again.
    fn database_unavailable(&self) -> bool {
        matches!(
            self,
            StartupError::Store(StoreError::Unavailable(_))
                | StartupError::Service(ServiceError::Store(StoreError::Unavailable(_)))
        )
    }
}

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    public_url: String,
    store: Store,
    server: Server,
}

/// Run once the database is prepared (migrations applied), on a connection of it:
/// `roster serve` makes the first tenant there. Called again if it fails for an outage.
pub type OnPrepared =
    Arc<dyn Fn(&mut DbConnection, &str) -> Result<(), ServiceError> + Send + Sync + 'static>;

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Arc::new(|_, _| Ok(()))).await
    }

    /// Binds, serves, and prepares the database: at once if it answers, else in the
    /// background, retrying with backoff while `/healthz` says alive and everything
    /// else answers 503 (a supervisor sees a live process, not a crash loop).
    pub async fn build_with(
        settings: &Settings,
        on_prepared: OnPrepared,
    ) -> Result<Self, StartupError> {
        let store = open_store(settings)?;
        let secrets = Arc::new(crate::secrets::KeyRing::from_settings(settings)?);
        let delivery =
            DeliveryConfig::from_settings(settings).map_err(|detail| StartupError::Setting {
                key: "webhook_retry_schedule",
                detail,
            })?;
        let listener =
            TcpListener::bind(&settings.listen).map_err(|source| StartupError::Bind {
                address: settings.listen.clone(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.listen.clone(),
            source,
        })?;
        let metrics_listener = settings
            .metrics_listen
            .as_deref()
            .map(|at| {
                let bind_error = |source| StartupError::Bind {
                    address: at.to_owned(),
                    source,
                };
                let listener = TcpListener::bind(at).map_err(bind_error)?;
                let address = listener.local_addr().map_err(bind_error)?;
                Ok::<_, StartupError>((listener, address))
            })
            .transpose()?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"))
            .trim_end_matches('/')
            .to_owned();
        let state = web::Data::new(AppState {
            service: crate::service::run::Runner::new(store.clone()),
            limits: Limits {
                max_page_size: settings.max_page_size.max(1),
                max_body_bytes: settings.max_body_bytes,
            },
            body_timeout: Duration::from_millis(settings.body_timeout_ms),
            public_url: public_url.clone(),
            metrics: Metrics::default(),
            operator: crate::auth::operator::Operator::new(settings.operator_token.as_deref()),
            metrics_access: MetricsAccess::new(
                settings.metrics_token.as_deref(),
                metrics_listener.as_ref().map(|(_, address)| *address),
            ),
            tokens: Default::default(),
            change_sets: Default::default(),
            directory_pull: Default::default(),
            inline_limit: settings.change_set_inline_limit,
            sync_log: crate::jobs::sync_log::SyncLog::spawn(store.clone()),
            allow_private_webhook_urls: settings.allow_private_webhook_urls,
            oidc: Default::default(),
            session_secret: Default::default(),
            secrets,
            jwks: Default::default(),
            lifecycle: Default::default(),
            limiters: Limiters::new(LimitSettings {
                tenant_rate: settings.tenant_rate_limit,
                tenant_burst: settings.tenant_rate_burst,
                ip_auth_failures_per_minute: settings.auth_failures_per_ip,
                tenant_auth_failures_per_minute: settings.auth_failures_per_tenant,
                tenant_connections: match settings.tenant_connection_share {
                    0 => (settings.pool_size / 2).max(1) as usize,
                    n => n as usize,
                },
            }),
        });
        let prepared = Preparation {
            state: state.clone(),
            configured_secret: settings.session_secret.clone(),
            on_prepared,
            delivery,
        };
        // A database that answers is prepared before the port serves anything, so a
        // caller of `build` (a test, `serve`) finds it migrated.
        match prepared.attempt().await {
            Ok(()) => {}
            Err(e) if e.database_unavailable() => {
                tracing::warn!(error = %crate::error_chain(&e), "database not reachable; serving 503 until it is");
                actix_web::rt::spawn(prepared.retry());
            }
            Err(e) => return Err(e),
        }
        let app_state = state.clone();
        let workers = match settings.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let metrics_port = metrics_listener.as_ref().map(|(_, address)| address.port());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(from_fn(crate::http::guard::admit))
                .wrap(from_fn(crate::http::access_log))
                .wrap(TracingLogger::<crate::http::RequestSpan>::new())
                // Outermost: JumpCloud appends "/Users" to whatever the admin typed.
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                .configure(crate::http::configure)
        })
        .workers(workers)
        .shutdown_timeout(settings.shutdown_timeout_secs)
        // Signals are ours (see `stop_on_signals`), so they count from the moment
        // `build` returns, before anything says "serving".
        .disable_signals()
        .client_request_timeout(Duration::from_millis(settings.header_timeout_ms))
        .keep_alive(Duration::from_secs(settings.keep_alive_secs))
        .max_connections(settings.max_connections.div_ceil(workers).max(1))
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            address: settings.listen.clone(),
            source,
        })?;
        if let Some((listener, address)) = metrics_listener {
            server = server
                .listen(listener)
                .map_err(|source| StartupError::Bind {
                    address: address.to_string(),
                    source,
                })?;
        }
        let server = server.run();
        stop_on_signals(
            &server,
            state.lifecycle.clone(),
            Duration::from_secs(settings.shutdown_drain_secs),
        )?;
        Ok(Self {
            port: address.port(),
            metrics_port,
            public_url,
            store,
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The separate `/metrics` listener's port, when `metrics_listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops the server from elsewhere (tests stop the servers they start).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// What preparing the database takes, kept for retries.
struct Preparation {
    state: web::Data<AppState>,
    configured_secret: Option<String>,
    on_prepared: OnPrepared,
    delivery: DeliveryConfig,
}

impl Preparation {
    /// Migrations, the session secret and `on_prepared` in one hop; then serving opens
    /// and the background workers start.
    async fn attempt(&self) -> Result<(), StartupError> {
        let configured = self.configured_secret.clone();
        let keys = self.state.secrets.clone();
        let on_prepared = self.on_prepared.clone();
        let public_url = self.state.public_url.clone();
        let backend = self.state.service.backend_name();
        let secret = self
            .state
            .service
            .store()
            .run(move |c| {
                let applied = migrate::run_pending(c)?;
                if applied > 0 {
                    tracing::info!(applied, backend, "migrations applied");
                }
                let sealed = crate::service::secrets::prepare(c, &keys).map_err(|e| match e {
                    PrepareError::Mismatch(m) => StartupError::KeyMismatch(m),
                    PrepareError::Service(e) => e.into(),
                })?;
                if sealed.plain > 0 {
                    tracing::info!(
                        sealed = sealed.plain,
                        "secrets stored before encryption are now sealed"
                    );
                }
                if sealed.under_old_keys > 0 {
                    tracing::warn!(
                        count = sealed.under_old_keys,
                        "secrets are still sealed with an old key: run `roster secrets rotate`"
                    );
                }
                let secret =
                    crate::service::admin::session_secret(c, configured.as_deref(), &keys)?;
                on_prepared(c, &public_url)?;
                Ok::<_, StartupError>(secret)
            })
            .await?;
        let _ = self.state.session_secret.set(secret);
        crate::jobs::spawn(
            self.state.service.store().clone(),
            self.state.change_sets.clone(),
            self.delivery.clone(),
            self.state.secrets.clone(),
            (
                crate::service::pull::PullContext {
                    public_url: self.state.public_url.clone(),
                    allow_private: self.state.allow_private_webhook_urls,
                    backoff: Default::default(),
                    owner: uuid::Uuid::new_v4().to_string(),
                },
                self.state.directory_pull.clone(),
            ),
        );
        self.state.lifecycle.set_prepared();
        Ok(())
    }

    /// Tries again with backoff (up to 5 s apart) until the database is prepared.
    async fn retry(self) {
        let mut delay = Duration::from_millis(200);
        loop {
            tokio::time::sleep(delay).await;
            match self.attempt().await {
                Ok(()) => {
                    tracing::info!("database prepared; serving");
                    return;
                }
                Err(e) if !e.database_unavailable() => {
                    // A wrong secrets key, say: the log must say so loudly.
                    tracing::error!(error = %crate::error_chain(&e), retry_in_ms = delay.as_millis() as u64, "cannot prepare the database");
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::warn!(error = %crate::error_chain(&e), retry_in_ms = delay.as_millis() as u64, "database not prepared yet");
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// SIGTERM drains: readiness turns 503 and every response closes its connection for
/// `drain`, while requests are still served; then roster stops accepting and finishes
/// what is in flight (up to `shutdown_timeout_secs`). SIGINT (Ctrl-C) skips the drain.
/// The handlers are registered here, synchronously.
fn stop_on_signals(
    server: &Server,
    lifecycle: Arc<Lifecycle>,
    drain: Duration,
) -> Result<(), StartupError> {
    use tokio::signal::unix::{signal, SignalKind};
    let signal_error = |source| StartupError::Bind {
        address: "signal handler".into(),
        source,
    };
    for (kind, drain) in [
        (SignalKind::terminate(), drain),
        (SignalKind::interrupt(), Duration::ZERO),
    ] {
        let mut stream = signal(kind).map_err(signal_error)?;
        let handle = server.handle();
        let lifecycle = lifecycle.clone();
        actix_web::rt::spawn(async move {
            if stream.recv().await.is_some() {
                lifecycle.start_draining();
                tracing::info!(
                    drain_secs = drain.as_secs(),
                    "shutting down: not ready; draining, then finishing in-flight requests"
                );
                tokio::time::sleep(drain).await;
                handle.stop(true).await;
            }
        });
    }
    Ok(())
}

/// The store for these settings, without connecting yet.
pub fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    Store::new(
        &settings.database_url,
        &PoolSettings {
            max_size: settings.pool_size.max(1),
            checkout_timeout: Duration::from_millis(settings.pool_timeout_ms),
            statement_timeout: Duration::from_millis(settings.statement_timeout_ms),
            pipeline: crate::store::PipelineSettings {
                writers: settings.write_writers.max(1),
                writers_per_key: settings.write_writers_per_tenant.max(1),
                max_batch: settings.write_batch_max.max(1),
                batch_budget: Duration::from_millis(settings.write_batch_budget_ms),
                capacity: settings.write_queue_capacity.max(1),
                queue_timeout: Duration::from_millis(settings.write_queue_timeout_ms),
                run_timeout: Duration::from_millis(settings.statement_timeout_ms),
            },
        },
    )
}
