//! The sync log's writer: every SCIM request is recorded off the request path, the
//! access-log middleware handing an [`Entry`] to a bounded queue and a writer task
//! inserting in batches. A full queue drops entries (counted) rather than slow the IdP
//! down; a crash loses at most the last half second of log, never SCIM data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::sync_log::{self, LogRow};
use crate::store::{Store, StoreError};

/// How long entries are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
const QUEUE: usize = 10_000;
const BATCH: usize = 500;

/// One SCIM request as the middleware saw it. Its tenant is named by slug: the writer
/// looks the id up, off the request path.
#[derive(Debug, Clone)]
pub struct Entry {
    pub slug: String,
    /// The request id; an id recorded twice keeps its first entry.
    pub id: String,
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub latency: Duration,
    /// The error's `detail`, for failures.
    pub detail: Option<String>,
    /// `User` or `Group`, and its id, when the path (or a 201's body) names one.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

impl Entry {
    fn into_row(self, tenant_id: String) -> LogRow {
        LogRow {
            tenant_id,
            id: self.id,
            at: self.at,
            method: self.method,
            path: self.path,
            status: i32::from(self.status),
            latency_us: self.latency.as_micros() as i64,
            result: if self.status < 400 {
                "success"
            } else {
                "failure"
            }
            .to_owned(),
            detail: self.detail,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            request_body: self.request_body,
            response_body: self.response_body,
        }
    }
}

#[derive(Clone)]
pub struct SyncLog {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl SyncLog {
    /// Starts the writer on the current actix runtime.
    pub fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        actix_web::rt::spawn(writer(store, rx));
        SyncLog {
            tx,
            dropped: Arc::default(),
        }
    }

    pub fn record(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Entry>) {
    let mut last_prune = std::time::Instant::now() - Duration::from_secs(3600);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(entry)) => batch.push(entry),
                _ => break,
            }
        }
        let prune = last_prune.elapsed() > Duration::from_secs(3600);
        if prune {
            last_prune = std::time::Instant::now();
        }
        let result = store
            .write(move |c| -> Result<(), StoreError> {
                save(c, batch)?;
                if prune {
                    let cutoff = crate::service::stamp(std::time::SystemTime::now() - RETENTION);
                    while sync_log::prune(c, &cutoff, 1000)? == 1000 {}
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            super::failed(super::Job::SyncLog);
            tracing::warn!(error = %crate::error_chain(&e), "sync log entries not saved");
        }
    }
}

fn save(conn: &mut crate::store::DbConnection, batch: Vec<Entry>) -> Result<(), StoreError> {
    let mut slugs: Vec<String> = batch.iter().map(|e| e.slug.clone()).collect();
    slugs.sort();
    slugs.dedup();
    let ids: std::collections::HashMap<String, String> =
        sync_log::tenant_ids(conn, &slugs)?.into_iter().collect();
    let rows: Vec<LogRow> = batch
        .into_iter()
        .filter_map(|e| {
            // A request to a tenant that does not exist belongs to no tenant's log.
            let tenant_id = ids.get(&e.slug)?.clone();
            Some(e.into_row(tenant_id))
        })
        .collect();
    sync_log::insert(conn, &rows)
}
