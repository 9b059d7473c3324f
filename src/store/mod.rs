//! Everything diesel: the only module that names a database backend.
//!
//! Every query on tenant data takes the tenant id and filters by it, so a caller cannot
//! forget the scope. Use cases run through [`Store::run`], the one place that moves
//! blocking database work off the async workers.

pub mod admin;
pub mod api_keys;
pub mod conn;
pub mod directory;
pub mod error;
pub mod events;
pub mod filter_sql;
pub mod groups;
pub mod migrate;
pub mod overview;
pub mod raw;
pub mod roles;
pub mod schema;
pub mod sync_log;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::r2d2::Pool;

pub use conn::{read_transaction, write_transaction, DbConnection, Target};
pub use error::StoreError;

/// Pool settings; the defaults keep failures fast (see `roster serve --help`).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: u32,
    /// How long a request waits for a connection before it gets 503.
    pub checkout_timeout: Duration,
    /// Per-statement limit (PostgreSQL `statement_timeout`, SQLite busy timeout).
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            checkout_timeout: Duration::from_millis(1500),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A tenant's primary key. Only the auth layer and the CLI make one, from a stored row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(pub String);

#[derive(Clone)]
pub struct Store {
    pool: Pool<conn::Manager>,
    target: Target,
    /// SQLite admits one writer at a time; queueing writers here, in order, beats
    /// SQLite's sleep-and-retry busy handler on tail latency.
    sqlite_writer: Arc<Mutex<()>>,
    /// How long a request may wait for its turn or a connection before it gets 503.
    checkout_timeout: Duration,
}

/// What `/readyz` and `/metrics` report about the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max_size: u32,
}

impl Store {
    /// Builds the pool without connecting, so roster starts (and reports not-ready)
    /// while the database is still down.
    pub fn new(url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        let manager = conn::Manager::new(target.clone(), settings.statement_timeout);
        let pool = Pool::builder()
            .max_size(settings.max_size)
            .min_idle(Some(0))
            .connection_timeout(settings.checkout_timeout)
            .build_unchecked(manager);
        Ok(Self {
            pool,
            target,
            sqlite_writer: Arc::default(),
            checkout_timeout: settings.checkout_timeout,
        })
    }

    pub fn backend_name(&self) -> &'static str {
        self.target.backend_name()
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }

    /// Checks out a connection on the calling thread (CLI and start-up only).
    pub fn connection(&self) -> Result<diesel::r2d2::PooledConnection<conn::Manager>, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs one read-only use case on a blocking thread with a pooled connection.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(None, f).await
    }

    /// Runs one use case that writes; on SQLite, writers take turns in-process first.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let writer = matches!(self.target, Target::Sqlite(_)).then(|| self.sqlite_writer.clone());
        self.blocking(writer, f).await
    }

    /// Hands a pooled connection (or the reason there is none) to `f` on a blocking
    /// thread and returns at once: for responses streamed while they are read.
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(Result<&mut DbConnection, StoreError>) + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            match pool.get() {
                Ok(mut conn) => f(Ok(&mut conn)),
                Err(e) => f(Err(e.into())),
            }
        });
    }

    async fn blocking<T, E, F>(&self, writer: Option<Arc<Mutex<()>>>, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let deadline = std::time::Instant::now() + self.checkout_timeout;
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _turn = match &writer {
                Some(w) => Some(wait_for_turn(w, deadline)?),
                None => None,
            };
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::TaskFailed(e)))?
    }
}

/// Takes the SQLite writer's turn, waiting no longer than the pool would for a
/// connection: a stuck writer turns the queue behind it into 503s, never a hang.
fn wait_for_turn(
    writer: &Mutex<()>,
    deadline: std::time::Instant,
) -> Result<std::sync::MutexGuard<'_, ()>, StoreError> {
    loop {
        match writer.try_lock() {
            Ok(guard) => return Ok(guard),
            // A poisoned lock only means another writer panicked; the database is fine.
            Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(
                    "timed out waiting for the SQLite writer".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_that_cannot_get_its_turn_in_time_is_unavailable() {
        let writer = Mutex::new(());
        let _held = writer.lock().unwrap();
        let started = std::time::Instant::now();
        let err = wait_for_turn(&writer, started + Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
