//! Shared state of the HTTP layer.

use crate::scim::discovery::Limits;
use crate::store::Store;

use super::metrics::Metrics;

pub struct AppState {
    pub store: Store,
    pub limits: Limits,
    /// Public base of the server, without a trailing slash (`https://roster.example`).
    pub public_url: String,
    pub metrics: Metrics,
    /// Development only: webhook URLs may be http and private (see `config`).
    pub allow_private_webhook_urls: bool,
}
