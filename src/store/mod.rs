//! Everything diesel: the only module that names a database backend.
//!
//! Every query on tenant data takes the tenant id and filters by it, so a caller cannot
//! forget the scope. Use cases run through [`Store::run`], the one place that moves
//! blocking database work off the async workers.
//!
//! A look-up by a unique key ends in `get_result`, not `first`: `first` binds its
//! `LIMIT`, and SQLite plans a bound `LIMIT` as a constant, so it prepares such a
//! statement again on every run (7 % of the writer's time before this rule). A check
//! for any matching row asks `EXISTS`, for the same reason.

pub mod admin;
pub mod api_keys;
pub mod backup;
pub mod conn;
pub mod directory;
pub mod error;
pub mod events;
pub mod filter_sql;
pub mod fleet;
pub mod gate;
pub mod groups;
pub mod guard;
pub mod migrate;
pub mod oauth;
pub mod overview;
pub mod paging;
pub mod pipeline;
pub mod portable;
pub mod pull;
pub mod query;
pub mod raw;
pub mod roles;
pub mod saml;
pub mod schema;
pub mod secrets;
pub mod sync_log;
pub mod tenants;
pub mod tokens;
mod transaction;
pub mod users;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::Pool;

pub use conn::{DbConnection, Target};
pub use error::StoreError;
pub use pipeline::{
    after_commit, flush_before_commit, FlushFn, PipelineSettings, PipelineStats, BATCH_BUCKETS,
};
pub use transaction::{read_transaction, trial, write_transaction};

/// Pool settings; the defaults keep failures fast (see `roster serve --help`).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: u32,
    /// How long a request waits for a connection before it gets 503.
    pub checkout_timeout: Duration,
    /// Per-statement limit (PostgreSQL `statement_timeout`, SQLite busy timeout).
    pub statement_timeout: Duration,
    /// The group-commit write path.
    pub pipeline: PipelineSettings,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            checkout_timeout: Duration::from_millis(1500),
            statement_timeout: Duration::from_secs(5),
            pipeline: PipelineSettings::default(),
        }
    }
}

/// A tenant's primary key. Only the auth layer and the CLI make one, from a stored row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(pub String);

#[derive(Clone)]
pub struct Store {
    pool: Arc<gate::Gate>,
    target: Target,
    /// Every write goes through it: batches of use cases, one commit each.
    pipeline: Arc<pipeline::Pipeline>,
    /// Longest a read use case may take, checkout included: a hung database (which
    /// cannot enforce its own statement timeout) still gets the request a 503.
    deadline: Duration,
    /// Reads wait here for their turn at a connection, first come first served. r2d2's
    /// own wait is not fair: under a burst of 256 clients on PostgreSQL some reads
    /// waited past the checkout timeout (503) while later ones went first.
    readers: Arc<tokio::sync::Semaphore>,
    /// A shared hold on the SQLite file while this store lives, so a restore cannot
    /// replace it underneath (see `backup`).
    _in_use: Option<Arc<std::fs::File>>,
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
        let pool = Arc::new(gate::Gate::new(pool));
        let mut pipeline = settings.pipeline.clone();
        let sqlite = matches!(target, Target::Sqlite(_));
        if sqlite {
            // SQLite admits one writer; a second would only wait for the first.
            pipeline.writers = 1;
        }
        // The writers hold connections of the same pool; reads get the rest.
        let readers = settings
            .max_size
            .saturating_sub(pipeline.writers as u32)
            .max(1) as usize;
        let in_use = match &target {
            Target::Sqlite(path) => backup::hold(std::path::Path::new(path)).map(Arc::new),
            Target::Postgres(_) => None,
        };
        Ok(Self {
            _in_use: in_use,
            pipeline: Arc::new(pipeline::Pipeline::new(pool.clone(), pipeline, sqlite)),
            pool,
            target,
            deadline: settings.checkout_timeout + settings.statement_timeout,
            readers: Arc::new(tokio::sync::Semaphore::new(readers)),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        self.target.backend_name()
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.pool().state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.pool().max_size(),
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
        self.run_within(self.deadline, f).await
    }

    /// [`Store::run`] with its own deadline (readiness checks answer sooner).
    pub async fn run_within<T, E, F>(&self, deadline: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let readers = self.readers.clone();
        let work = async move {
            let Ok(turn) = readers.acquire_owned().await else {
                return Err(E::from(StoreError::Unavailable(
                    "the store is closed".into(),
                )));
            };
            tokio::task::spawn_blocking(move || {
                // Held until the use case returns, even past the request's deadline:
                // its connection is still in use until then.
                let _turn = turn;
                let _entered = span.enter();
                let mut conn = pool.get().map_err(StoreError::from)?;
                f(&mut conn)
            })
            .await
            .map_err(|e| E::from(StoreError::TaskFailed(e)))?
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(done) => done,
            Err(_) => Err(E::from(StoreError::Unavailable(
                "the database did not answer in time".into(),
            ))),
        }
    }

    /// Whether the last attempt to reach the database failed.
    pub fn unreachable(&self) -> bool {
        self.pool.unreachable()
    }

    /// Runs one use case that writes, for roster's own work (see [`Store::write_for`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.pipeline.write("", f).await
    }

    /// Runs one use case that writes, on behalf of `key` (a tenant's slug): it joins a
    /// group-commit batch and returns once that batch is durable. Keys take turns.
    pub async fn write_for<T, E, F>(&self, key: &str, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.pipeline.write(key, f).await
    }

    /// Like [`Store::write_for`], for a use case that may run more than once: one that
    /// loses a lock race to a batch of its key running beside its own runs again.
    pub async fn write_retryable_for<T, E, F>(&self, key: &str, f: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.pipeline.write_retryable(key, f).await
    }

    /// The write pipeline's counters, and how many writes wait now.
    pub fn pipeline_stats(&self) -> (&PipelineStats, usize) {
        (self.pipeline.stats(), self.pipeline.waiting())
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
}

/// The writer of rows exported before roster recorded one: SCIM was the only one then.
fn written_by_scim() -> String {
    "scim".into()
}
