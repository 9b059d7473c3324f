//! Large change-set recomputes, finished in the background.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::service::{change_sets, ServiceError};
use crate::store::Store;

/// Finishes change-sets left `applying`, batch by batch, one transaction per batch:
/// woken when a change-set is applied, and every few seconds to resume work a stopped
/// process left behind. Batches are idempotent, so two processes on one database only
/// duplicate effort, never grants or events.
pub fn spawn(store: Store, wake: Arc<Notify>) {
    actix_web::rt::spawn(async move {
        loop {
            match store.run(change_sets::unfinished).await {
                Ok(pending) => {
                    for (tenant, id) in pending {
                        finish(&store, tenant, id).await;
                    }
                }
                Err(e) => log_error(&e),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    });
}

async fn finish(store: &Store, tenant: crate::store::TenantId, id: String) {
    loop {
        let (t, i) = (tenant.clone(), id.clone());
        match store
            .write(move |c| change_sets::resume_batch(c, &t, &i))
            .await
        {
            Ok(true) => return,
            Ok(false) => tokio::task::yield_now().await,
            Err(e) => {
                log_error(&e);
                return;
            }
        }
    }
}

fn log_error(e: &ServiceError) {
    super::failed(super::Job::ChangeSets);
    tracing::error!(error = %crate::error_chain(e), "background change-set failed; will retry");
}
