//! Connection checkout that fails fast while the database is unreachable.
//!
//! r2d2 waits the whole checkout timeout for every request when the database refuses
//! connections, and a write batch waiting that long makes every write queued behind it
//! wait as long again. Once a checkout has failed, the next ones wait only briefly (r2d2
//! keeps trying to connect in the background) until one succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::r2d2::{Pool, PoolError, PooledConnection};

use super::conn::Manager;

/// How long a checkout waits while the database is known to be unreachable.
const FAST_CHECKOUT: Duration = Duration::from_millis(250);

pub struct Gate {
    pool: Pool<Manager>,
    unreachable: AtomicBool,
}

impl Gate {
    pub fn new(pool: Pool<Manager>) -> Self {
        Self {
            pool,
            unreachable: AtomicBool::new(false),
        }
    }

    pub fn pool(&self) -> &Pool<Manager> {
        &self.pool
    }

    /// Whether the last checkout failed (no checkout has succeeded since).
    pub fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    pub fn get(&self) -> Result<PooledConnection<Manager>, PoolError> {
        let got = if self.unreachable() {
            self.pool.get_timeout(FAST_CHECKOUT)
        } else {
            self.pool.get()
        };
        self.unreachable.store(got.is_err(), Ordering::Relaxed);
        got
    }
}
