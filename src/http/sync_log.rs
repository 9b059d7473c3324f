//! Records every SCIM request for the tenant's sync log, off the request path: the
//! middleware hands an entry to a bounded queue and a writer task inserts in batches.
//! A full queue drops entries (counted) rather than slow the IdP down; a crash loses at
//! most the last half second of log, never SCIM data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::store::sync_log::{self, LogRow};
use crate::store::{Store, StoreError};

/// Bodies are kept up to this many bytes.
pub const BODY_LIMIT: usize = 16 * 1024;
/// How long entries are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
const QUEUE: usize = 10_000;
const BATCH: usize = 500;

/// One SCIM request, before its tenant slug is resolved.
#[derive(Debug, Clone)]
pub struct Entry {
    pub slug: String,
    pub row: LogRow,
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
        .filter_map(|mut e| {
            // A request to a tenant that does not exist belongs to no tenant's log.
            e.row.tenant_id = ids.get(&e.slug)?.clone();
            Some(e.row)
        })
        .collect();
    sync_log::insert(conn, &rows)
}

/// Secrets never reach the log: values of keys that name a password, secret or token.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                if ["password", "secret", "token"]
                    .iter()
                    .any(|s| key.contains(s))
                {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A body as the log keeps it: redacted JSON (or the raw text if it is not JSON), cut at
/// [`BODY_LIMIT`].
pub fn keep_body(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let mut text = match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    if text.len() > BODY_LIMIT {
        let mut cut = BODY_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…(truncated)");
    }
    Some(text)
}

/// `(resource type, id)` named by a SCIM path, e.g. `/scim/v2/acme/Users/42`.
pub fn resource_of(path: &str) -> (Option<String>, Option<String>) {
    let mut parts = path.trim_start_matches("/scim/v2/").split('/').skip(1);
    let kind = parts.next().filter(|k| *k == "Users" || *k == "Groups");
    let id = parts
        .next()
        .filter(|id| !id.starts_with('.') && !id.is_empty());
    (
        kind.map(|k| k.trim_end_matches('s').to_owned()),
        kind.and(id).map(str::to_owned),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_and_tokens_are_redacted_at_any_depth() {
        let mut v = json!({"userName": "a", "password": "hunter2",
                           "Operations": [{"op": "replace", "value": {"Password": "x", "accessToken": "y"}}]});
        redact(&mut v);
        assert_eq!(v["password"], "[redacted]");
        assert_eq!(v["Operations"][0]["value"]["Password"], "[redacted]");
        assert_eq!(v["Operations"][0]["value"]["accessToken"], "[redacted]");
        assert_eq!(v["userName"], "a");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let long = format!("\"{}\"", "é".repeat(BODY_LIMIT));
        let kept = keep_body(long.as_bytes()).unwrap();
        assert!(kept.ends_with("…(truncated)"));
        assert!(kept.len() <= BODY_LIMIT + "…(truncated)".len());
    }

    #[test]
    fn paths_name_their_resource() {
        assert_eq!(
            resource_of("/scim/v2/acme/Users/42"),
            (Some("User".into()), Some("42".into()))
        );
        assert_eq!(
            resource_of("/scim/v2/acme/Groups"),
            (Some("Group".into()), None)
        );
        assert_eq!(
            resource_of("/scim/v2/acme/Users/.search"),
            (Some("User".into()), None)
        );
        assert_eq!(
            resource_of("/scim/v2/acme/ServiceProviderConfig"),
            (None, None)
        );
    }
}
