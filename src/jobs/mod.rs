//! Background work that outlives a request, as tasks on the server's runtime:
//!
//! - `change_sets`: finishes large change-set recomputes, batch by batch;
//! - `webhooks`: the delivery worker (claim, send, record) and event retention;
//! - `sync_log`: saves the sync log's queued entries in batches, and prunes it;
//! - `pull`: directory pulls from JumpCloud, on schedule or when asked.
//!
//! The sync log's writer starts with the HTTP state, whose middleware needs its queue
//! from the first request; the others start once the database is prepared ([`spawn`]).
//! Their writes go through `Store::write`, like a request's.

pub mod change_sets;
pub mod pull;
pub mod sync_log;
pub mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::store::Store;

/// Starts the workers that need a prepared database, on the current runtime.
pub fn spawn(
    store: Store,
    change_sets: Arc<Notify>,
    delivery: webhooks::DeliveryConfig,
    keys: Arc<crate::secrets::KeyRing>,
    directory: (crate::service::pull::PullContext, Arc<Notify>),
) {
    change_sets::spawn(store.clone(), change_sets);
    pull::spawn(
        crate::service::run::Runner::new(store.clone()),
        keys.clone(),
        directory.0,
        directory.1,
    );
    // One delivery worker per process; several processes share the queue through leases.
    webhooks::spawn(store, delivery, keys);
}

/// A background job, as `/metrics` labels its failures.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    ChangeSets,
    WebhookDelivery,
    EventRetention,
    SyncLog,
    DirectoryPull,
}

impl Job {
    const ALL: [Job; 5] = [
        Job::ChangeSets,
        Job::WebhookDelivery,
        Job::EventRetention,
        Job::SyncLog,
        Job::DirectoryPull,
    ];

    fn label(self) -> &'static str {
        match self {
            Job::ChangeSets => "change_sets",
            Job::WebhookDelivery => "webhook_delivery",
            Job::EventRetention => "event_retention",
            Job::SyncLog => "sync_log",
            Job::DirectoryPull => "directory_pull",
        }
    }
}

static FAILURES: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// Counts a failed run of `job` (the job logs why, and retries).
pub fn failed(job: Job) {
    FAILURES[job as usize].fetch_add(1, Ordering::Relaxed);
}

/// Failed runs so far, by job label.
pub fn failures() -> impl Iterator<Item = (&'static str, u64)> {
    Job::ALL
        .into_iter()
        .map(|job| (job.label(), FAILURES[job as usize].load(Ordering::Relaxed)))
}
