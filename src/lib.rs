//! roster: a SCIM 2.0 provisioning server.
//!
//! Layers: `http` (actix adapters) → `service` (one transaction per use case) →
//! `store` (all diesel). `scim` and `roles` are the pure core underneath them all.
//! `jobs` (background workers) call `service` as `http` does; `webhooks` is what
//! reaches outside the process (SSRF guard, signing, the client); `secrets` encrypts
//! what roster stores and must use again.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod http;
pub mod jobs;
pub mod pull;
pub mod roles;
pub mod scim;
pub mod secrets;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;

/// An error with its causes, `a: b: c`, for one-line reports.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
