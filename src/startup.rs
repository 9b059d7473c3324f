//! Building and running the server: `Application::build` binds (port 0 in tests) and
//! migrates; `run_until_stopped` serves until SIGTERM or Ctrl-C, draining in-flight
//! requests.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::delivery::DeliveryConfig;
use crate::http::metrics::Metrics;
use crate::http::state::AppState;
use crate::scim::discovery::Limits;
use crate::store::{migrate, PoolSettings, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database")]
    Store(#[from] StoreError),
    #[error("invalid setting {key}: {detail}")]
    Setting { key: &'static str, detail: String },
    #[error("session secret")]
    Service(#[from] crate::service::ServiceError),
    #[error("cannot set up {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    public_url: String,
    store: Store,
    server: Server,
}

/// How long start-up keeps retrying an unreachable database before giving up.
const STARTUP_DB_WAIT: Duration = Duration::from_secs(30);

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let store = open_store(settings)?;
        let delivery =
            DeliveryConfig::from_settings(settings).map_err(|detail| StartupError::Setting {
                key: "webhook_retry_schedule",
                detail,
            })?;
        migrate_with_retry(&store).await?;
        let configured_secret = settings.session_secret.clone();
        let session_secret = store
            .run(move |c| crate::service::admin::session_secret(c, configured_secret.as_deref()))
            .await?;
        let listener =
            TcpListener::bind(&settings.listen).map_err(|source| StartupError::Bind {
                address: settings.listen.clone(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.listen.clone(),
            source,
        })?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"))
            .trim_end_matches('/')
            .to_owned();
        let state = web::Data::new(AppState {
            store: store.clone(),
            limits: Limits {
                max_page_size: settings.max_page_size.max(1),
                max_body_bytes: settings.max_body_bytes,
            },
            public_url: public_url.clone(),
            metrics: Metrics::default(),
            tokens: Default::default(),
            change_sets: Default::default(),
            inline_limit: settings.change_set_inline_limit,
            sync_log: crate::http::sync_log::SyncLog::spawn(store.clone()),
            allow_private_webhook_urls: settings.allow_private_webhook_urls,
            oidc: Default::default(),
            session_secret,
        });
        crate::jobs::spawn_change_set_worker(store.clone(), state.change_sets.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(crate::http::access_log))
                .wrap(TracingLogger::<crate::http::RequestSpan>::new())
                // Outermost: JumpCloud appends "/Users" to whatever the admin typed.
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                .configure(crate::http::configure)
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        // Signals are ours (see `stop_on_signals`), so they count from the moment
        // `build` returns, before anything says "serving".
        .disable_signals()
        .client_request_timeout(Duration::from_secs(10))
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            address: settings.listen.clone(),
            source,
        })?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        let server = server.run();
        stop_on_signals(&server)?;
        // One worker per process; several processes share the queue through leases.
        crate::delivery::spawn(store.clone(), delivery);
        Ok(Self {
            port: address.port(),
            public_url,
            store,
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// SIGTERM or Ctrl-C stops accepting connections and lets in-flight requests finish
/// (up to `shutdown_timeout_secs`). The handlers are registered here, synchronously.
fn stop_on_signals(server: &Server) -> Result<(), StartupError> {
    use tokio::signal::unix::{signal, SignalKind};
    let signal_error = |source| StartupError::Bind {
        address: "signal handler".into(),
        source,
    };
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let mut stream = signal(kind).map_err(signal_error)?;
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            if stream.recv().await.is_some() {
                tracing::info!("shutting down: finishing in-flight requests");
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
                max_batch: settings.write_batch_max.max(1),
                batch_budget: Duration::from_millis(settings.write_batch_budget_ms),
                capacity: settings.write_queue_capacity.max(1),
                queue_timeout: Duration::from_millis(settings.write_queue_timeout_ms),
            },
        },
    )
}

/// Applies migrations, waiting with backoff while the database is unreachable, so a
/// roster started before its database comes up instead of crash-looping.
async fn migrate_with_retry(store: &Store) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match store.run(migrate::run_pending).await {
            Ok(applied) => {
                if applied > 0 {
                    tracing::info!(
                        applied,
                        backend = store.backend_name(),
                        "migrations applied"
                    );
                }
                return Ok(());
            }
            Err(StoreError::Unavailable(e)) if started.elapsed() < STARTUP_DB_WAIT => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}
