//! Store errors: diesel and r2d2 failures classified once, here.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// The database cannot be reached, is overloaded or timed out: worth retrying.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database refused a value the client sent (PostgreSQL text cannot hold U+0000).
    #[error("the database refused a value: {0}")]
    InvalidInput(String),
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("migration failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Database(#[source] DieselError),
    /// A use case panicked; its savepoint was rolled back.
    #[error("a database use case panicked")]
    Panicked,
    #[error("database task failed")]
    TaskFailed(#[source] tokio::task::JoinError),
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        if is_lock_conflict(&e) {
            super::pipeline::note_lock_conflict();
        }
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                StoreError::UniqueViolation(info.message().to_owned())
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => StoreError::Unavailable(Box::new(e)),
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("invalid byte sequence") =>
            {
                StoreError::InvalidInput("text cannot contain the character U+0000".into())
            }
            DieselError::DatabaseError(_, ref info) if is_transient(info.message()) => {
                StoreError::Unavailable(Box::new(e))
            }
            DieselError::BrokenTransactionManager => StoreError::Unavailable(Box::new(e)),
            other => StoreError::Database(other),
        }
    }
}

/// A deadlock (PostgreSQL broke a cycle of waits by failing this statement) or a
/// serialization failure: the statement lost a race, and running its use case again
/// after the winner commits succeeds.
fn is_lock_conflict(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => info.message().contains("deadlock detected"),
        _ => false,
    }
}

/// Messages of faults that pass with time: SQLite lock and I/O trouble, PostgreSQL
/// timeouts, shutdowns and resource exhaustion.
pub(crate) fn is_transient(message: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "database is locked",
        "database is busy",
        "disk I/O error",
        "database or disk is full",
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
        // Two batches locking rows in opposite orders: retrying succeeds.
        "deadlock detected",
        "terminating connection",
        "server closed the connection",
        "the database system is",
        "too many connections",
        "could not connect",
        "no connection to the server",
        "connection to server",
    ];
    TRANSIENT.iter().any(|t| message.contains(t))
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(Box::new(e))
    }
}
