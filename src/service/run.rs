//! How the edges run use cases: the service, not the HTTP layer, decides how a use case
//! meets the database (a pooled connection, one snapshot, or a turn in a tenant's group
//! commit). The edges get a [`Tx`], which only these functions hand out, and pass it on
//! to use cases; they never see the store.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::ServiceError;
use crate::store::{read_transaction, DbConnection, Store, StoreError};

/// What `/metrics` and the overview show of the pool and the write pipeline.
pub use crate::store::{PipelineStats, PoolState, BATCH_BUCKETS};

/// A connection lent to one use case, inside whatever the runner opened for it.
pub struct Tx<'c>(&'c mut DbConnection);

impl<'c> Tx<'c> {
    /// Only the service opens transactions, so only it lends connections.
    pub(super) fn lend(conn: &'c mut DbConnection) -> Self {
        Tx(conn)
    }
}

impl Deref for Tx<'_> {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        self.0
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.0
    }
}

/// The use cases' way to the database, shared by every request.
#[derive(Clone)]
pub struct Runner {
    store: Store,
}

impl Runner {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Runs a use case that only reads, statement by statement, on a pooled connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        self.store.run(move |c| f(&mut Tx(c))).await
    }

    /// Runs a use case that reads several things on one snapshot of the database.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        self.store
            .run(move |c| read_transaction(c, |c| f(&mut Tx(c))))
            .await
    }

    /// Runs a use case that writes, on behalf of a tenant (its slug): it joins that
    /// tenant's group commit, in a savepoint of its own, and returns once the batch is
    /// durable. `""` is roster's own work (sessions, logins).
    pub async fn write<T, F>(&self, tenant: &str, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        self.store.write_for(tenant, move |c| f(&mut Tx(c))).await
    }

    /// Like [`Runner::write`], for a use case that may run more than once (it clones
    /// what it hands on): one that loses a lock race to another batch of its tenant is
    /// rolled back and runs again after its own batch commits.
    pub async fn write_retryable<T, F>(&self, tenant: &str, mut f: F) -> Result<T, ServiceError>
    where
        F: FnMut(&mut Tx<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        self.store
            .write_retryable_for(tenant, move |c| f(&mut Tx(c)))
            .await
    }

    /// Hands a connection (or the reason there is none) to `f` on a blocking thread and
    /// returns at once: for responses streamed while they are read.
    pub fn stream<F>(&self, f: F)
    where
        F: FnOnce(Result<&mut Tx<'_>, ServiceError>) + Send + 'static,
    {
        self.store.spawn(move |conn| match conn {
            Ok(c) => f(Ok(&mut Tx(c))),
            Err(e) => f(Err(e.into())),
        });
    }

    /// Whether the database answers within `deadline` (readiness probes).
    pub async fn ping(&self, deadline: Duration) -> Result<(), ServiceError> {
        self.store
            .run_within(deadline, |c| {
                c.batch_execute("SELECT 1")
                    .map_err(|e| ServiceError::from(StoreError::from(e)))
            })
            .await
    }

    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    pub fn pool_state(&self) -> PoolState {
        self.store.pool_state()
    }

    /// The write pipeline's counters, and how many writes wait now.
    pub fn pipeline_stats(&self) -> (&PipelineStats, usize) {
        self.store.pipeline_stats()
    }

    /// The store itself, for background jobs and start-up (never for a request).
    pub fn store(&self) -> &Store {
        &self.store
    }
}
