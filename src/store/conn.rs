//! The database connection: one type over SQLite and PostgreSQL, chosen from the URL.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::error::StoreError;

diesel::define_sql_function! {
    /// Unicode lower case exactly as `scim::resource::fold` (Rust's `to_lowercase`)
    /// computes it; SQLite's own `lower()` folds ASCII only. Case-insensitive filters
    /// on SQLite use it, so they fold as `user_name_folded` and `matches` do.
    fn roster_fold(text: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    /// The SQL dialect, for the few queries written by hand.
    pub fn dialect(&self) -> super::filter_sql::Dialect {
        match self {
            DbConnection::Postgres(_) => super::filter_sql::Dialect::Postgres,
            DbConnection::Sqlite(_) => super::filter_sql::Dialect::Sqlite,
        }
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file path (`sqlite://roster.db`, `sqlite:///var/lib/roster.db`).
    Sqlite(String),
    Postgres(String),
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::BadUrl("sqlite URL has no file path".into()));
            }
            return Ok(Target::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        Err(StoreError::BadUrl(
            "database URL must start with sqlite:// or postgres://".into(),
        ))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres(_) => "postgres",
        }
    }
}

/// An r2d2 manager that opens the backend the URL names (never guessing, as
/// `MultiConnection::establish` would) and applies the per-connection settings.
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
    statement_timeout: Duration,
}

impl Manager {
    pub fn new(target: Target, statement_timeout: Duration) -> Self {
        Self {
            target,
            statement_timeout,
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; FULL makes every commit durable;
                // the busy timeout turns writer contention into waiting, not errors.
                // `optimize` on open (SQLite's advice for long-lived connections) gathers
                // the planner's statistics for tables that grew; without them the admin
                // browsers walk 100k users where an index range would do. r2d2 recycles
                // connections within 30 minutes, so the statistics follow the data.
                // A group commit runs each write in a savepoint: their sub-journals stay
                // in memory. The pipeline checkpoints the WAL in the background (see
                // `pipeline::checkpointer`), so a commit seldom stops to do it; the
                // automatic checkpoint stays as a backstop at ~40 MB of WAL.
                let busy_ms = self.statement_timeout.as_millis();
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA case_sensitive_like = ON; PRAGMA temp_store = MEMORY; \
                     PRAGMA wal_autocheckpoint = 10000; PRAGMA analysis_limit = 1000;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                // `optimize` may write its statistics: it must not wait behind a busy
                // writer (a read would stall for the whole busy timeout), so it runs
                // only when the lock is free and is skipped otherwise.
                let _ = conn.batch_execute("PRAGMA busy_timeout = 0; PRAGMA optimize = 0x10002;");
                conn.batch_execute(&format!("PRAGMA busy_timeout = {busy_ms};"))
                    .map_err(r2d2::Error::QueryError)?;
                roster_fold_utils::register_impl(&mut conn, |text: Option<String>| {
                    text.map(|t| crate::scim::resource::fold(&t))
                })
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Target::Postgres(url) => {
                let mut conn = PgConnection::establish(&with_connect_timeout(url))
                    .map_err(r2d2::Error::ConnectionError)?;
                // A hung query must end in an error the caller can turn into 503. JIT
                // compiling a filter's many small subqueries took seconds where running
                // them takes milliseconds (their row estimates look huge), so it is off.
                let ms = self.statement_timeout.as_millis();
                conn.batch_execute(&format!(
                    "SET statement_timeout = {ms}; SET lock_timeout = {ms}; SET jit = off;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        match conn {
            DbConnection::Postgres(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

/// libpq waits for the OS TCP timeout on an unreachable host unless told otherwise.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout=2")
}

// The pieces of a group-commit batch (see `pipeline`): one outer transaction, a
// savepoint per use case.

fn depth_of<C>(c: &mut C) -> u32
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    AnsiTransactionManager::transaction_manager_status_mut(c)
        .transaction_depth()
        .ok()
        .flatten()
        .map_or(0, |d| d.get())
}

/// How many transactions and savepoints are open.
pub(super) fn depth(conn: &mut DbConnection) -> u32 {
    match conn {
        DbConnection::Sqlite(c) => depth_of(c),
        DbConnection::Postgres(c) => depth_of(c),
    }
}

/// Opens a batch's transaction; `BEGIN IMMEDIATE` takes SQLite's write lock up front.
/// On PostgreSQL the transaction carries its row-count shard, in the same round trip, for
/// the triggers that count users and groups (see `pipeline::claim_shard`).
pub(super) fn begin_batch(conn: &mut DbConnection, shard: u32) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            &format!("BEGIN; SELECT set_config('roster.shard', '{shard}', true)"),
        )?,
    }
    Ok(())
}

/// Opens a savepoint inside the open transaction.
pub(super) fn begin(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c),
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Commits (or releases) the innermost transaction or savepoint.
pub(super) fn end(conn: &mut DbConnection, commit: bool) -> Result<(), diesel::result::Error> {
    match (commit, conn) {
        (true, DbConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (true, DbConnection::Postgres(c)) => AnsiTransactionManager::commit_transaction(c),
        (false, DbConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (false, DbConnection::Postgres(c)) => AnsiTransactionManager::rollback_transaction(c),
    }
}

/// Rolls back savepoints (and, at 0, the transaction) until `depth` remain open. A
/// connection that cannot roll back is left broken; the pool then discards it.
pub(super) fn unwind_to(conn: &mut DbConnection, target: u32) {
    while depth(conn) > target {
        if end(conn, false).is_err() {
            return;
        }
    }
}

/// A PASSIVE WAL checkpoint (SQLite): copies what it can without waiting for anyone.
pub(super) fn checkpoint(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
}
