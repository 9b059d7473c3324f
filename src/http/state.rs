//! Shared state of the HTTP layer.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::scim::discovery::Limits;
use crate::service::run::Runner;

use super::metrics::Metrics;

pub struct AppState {
    /// How requests run their use cases.
    pub service: Runner,
    pub limits: Limits,
    /// A request body must arrive within this.
    pub body_timeout: std::time::Duration,
    /// Public base of the server, without a trailing slash (`https://roster.example`).
    pub public_url: String,
    pub metrics: Metrics,
    /// Who may read `/metrics`, and on which listener.
    pub metrics_access: super::metrics::MetricsAccess,
    /// The deployment's operator, if it has one.
    pub operator: crate::auth::operator::Operator,
    /// SCIM tokens verified within the last second (see `TokenCache`).
    pub tokens: std::sync::Arc<crate::service::tenants::TokenCache>,
    /// Wakes the background change-set worker.
    pub change_sets: std::sync::Arc<tokio::sync::Notify>,
    /// Wakes the directory pull worker (a run was asked for or approved).
    pub directory_pull: std::sync::Arc<tokio::sync::Notify>,
    /// Change-sets affecting more users than this recompute in the background.
    pub inline_limit: usize,
    pub sync_log: crate::jobs::sync_log::SyncLog,
    /// Development only: webhook URLs may be http and private (see `config`).
    pub allow_private_webhook_urls: bool,
    /// Admin login: discovery and JWKS caches.
    pub oidc: std::sync::Arc<crate::auth::oidc::Oidc>,
    /// Signs the admin login-state cookie (HMAC-SHA-256); set once the database is
    /// prepared, before any request other than a probe is served.
    pub session_secret: std::sync::OnceLock<Vec<u8>>,
    /// Opens and seals the secrets roster stores (see `crate::secrets`).
    pub secrets: std::sync::Arc<crate::secrets::KeyRing>,
    /// Tenants' JWKS, for checking access tokens at `userinfo` without the database.
    pub jwks: crate::service::provider::JwksCache,
    pub lifecycle: std::sync::Arc<Lifecycle>,
    pub limiters: super::limits::Limiters,
}

/// Where the process is in its life: serving needs the database prepared; a drain
/// (SIGTERM) turns readiness off while requests are still answered.
#[derive(Debug, Default)]
pub struct Lifecycle {
    prepared: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    /// Migrations are applied and the secrets loaded.
    pub fn prepared(&self) -> bool {
        self.prepared.load(Ordering::Acquire)
    }

    pub fn set_prepared(&self) {
        self.prepared.store(true, Ordering::Release);
    }

    /// A stop was asked for: load balancers should send no more.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}

impl AppState {
    pub fn session_secret(&self) -> &[u8] {
        self.session_secret.get().map_or(&[], Vec::as_slice)
    }

    /// Checks a webhook URL against the SSRF rules (`webhooks::guard`), for the API and
    /// the admin UI alike; DNS resolution blocks, so it runs off the workers.
    pub async fn checked_webhook_url(
        &self,
        url: String,
    ) -> Result<crate::webhooks::guard::CheckedUrl, crate::service::ServiceError> {
        use crate::scim::{Invalid, ScimType};
        let allow = self.allow_private_webhook_urls;
        actix_web::web::block(move || crate::webhooks::guard::check_url(&url, allow))
            .await
            .map_err(crate::service::ServiceError::unavailable)?
            .map_err(|e| Invalid::new(ScimType::InvalidValue, e.to_string()).into())
    }
}
