//! Background work that outlives a request, as tasks on the server's runtime:
//!
//! - `change_sets`: finishes large change-set recomputes, batch by batch;
//! - `webhooks`: the delivery worker (claim, send, record) and event retention;
//! - `sync_log`: saves the sync log's queued entries in batches, and prunes it.
//!
//! The sync log's writer starts with the HTTP state, whose middleware needs its queue
//! from the first request; the others start once the database is prepared ([`spawn`]).
//! Their writes go through `Store::write`, like a request's.

pub mod change_sets;
pub mod sync_log;
pub mod webhooks;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::store::Store;

/// Starts the workers that need a prepared database, on the current runtime.
pub fn spawn(store: Store, change_sets: Arc<Notify>, delivery: webhooks::DeliveryConfig) {
    change_sets::spawn(store.clone(), change_sets);
    // One delivery worker per process; several processes share the queue through leases.
    webhooks::spawn(store, delivery);
}
