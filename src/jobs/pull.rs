//! The directory pull worker: claims a tenant's source whose run is due, queued or
//! being applied (a lease, so several processes share the work), and does it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::secrets::KeyRing;
use crate::service::pull::{self, PullContext};
use crate::service::run::Runner;
use crate::service::ServiceError;

/// How often the schedule is looked at when nothing wakes the worker.
const TICK: Duration = Duration::from_secs(5);

pub fn spawn(runner: Runner, keys: Arc<KeyRing>, ctx: PullContext, wake: Arc<Notify>) {
    actix_web::rt::spawn(async move {
        loop {
            match runner.write("", |c| pull::claim(c)).await {
                Ok(Some(tenant)) => {
                    if let Err(e) = pull::work(&runner, &keys, &ctx, &tenant).await {
                        log_error(&e);
                    }
                    let t = tenant.clone();
                    if let Err(e) = runner.write("", move |c| pull::hold(c, &t, false)).await {
                        log_error(&e);
                    }
                    // More may be waiting: look again at once.
                    continue;
                }
                Ok(None) => {}
                Err(e) => log_error(&e),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    });
}

fn log_error(e: &ServiceError) {
    super::failed(super::Job::DirectoryPull);
    tracing::error!(error = %crate::error_chain(e), "directory pull failed; will retry");
}
