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
/// A tenant whose pull failed (a fault, not JumpCloud's answer, which its run records)
/// is tried again after this.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

pub fn spawn(runner: Runner, keys: Arc<KeyRing>, ctx: PullContext, wake: Arc<Notify>) {
    actix_web::rt::spawn(async move {
        loop {
            let owner = ctx.owner.clone();
            match runner.write("", move |c| pull::claim(c, &owner)).await {
                Ok(Some(tenant)) => {
                    // A failed tenant keeps its lease a while: the same fault would
                    // otherwise be retried at once, again and again.
                    let keep = match pull::work(&runner, &keys, &ctx, &tenant).await {
                        Ok(_) => None,
                        Err(e) => {
                            log_error(&e);
                            Some(RETRY_AFTER_FAILURE)
                        }
                    };
                    let (t, o) = (tenant.clone(), ctx.owner.clone());
                    if let Err(e) = runner.write("", move |c| pull::hold(c, &t, &o, keep)).await {
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
