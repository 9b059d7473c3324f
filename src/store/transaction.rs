//! Transactions a use case opens (as opposed to the pipeline's batches): a write
//! transaction, or a savepoint when one is open already, and a read-only snapshot.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use super::conn::DbConnection;

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so the busy handler
/// applies at the start instead of failing at the first write), `BEGIN` on PostgreSQL.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    // Inside a transaction already (an admin action and its audit row, or a group commit),
    // `begin_transaction` makes a savepoint, so the caller's transaction covers both; a
    // savepoint that rolls back also drops the work it deferred to the batch's end.
    let deferred = super::pipeline::deferred_len();
    match conn {
        DbConnection::Sqlite(c) => {
            if in_transaction(c) {
                AnsiTransactionManager::begin_transaction(c)?
            } else {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
            }
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let outcome = finish(conn, f);
    if outcome.is_err() {
        super::pipeline::drop_deferred_after(deferred);
    }
    outcome
}

/// Runs `f` in a savepoint (or a transaction), then keeps its work only if `keep` says
/// so, looking at what `f` returned while the savepoint is still open. Returns `f`'s
/// value and whether it was kept.
pub fn trial<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    keep: impl FnOnce(&mut DbConnection, &T) -> Result<bool, E>,
) -> Result<(T, bool), E>
where
    E: From<diesel::result::Error>,
{
    let mut value = None;
    let outcome: Result<(), Trial<E>> = write_transaction(conn, |c| {
        let v = f(c).map_err(Trial::Failed)?;
        let kept = keep(c, &v).map_err(Trial::Failed)?;
        value = Some(v);
        if kept {
            Ok(())
        } else {
            Err(Trial::Undo)
        }
    });
    match (outcome, value) {
        (Ok(()), Some(v)) => Ok((v, true)),
        (Err(Trial::Undo), Some(v)) => Ok((v, false)),
        (Err(Trial::Failed(e)), _) => Err(e),
        (Ok(()) | Err(Trial::Undo), None) => unreachable!("f succeeded, so it left a value"),
    }
}

/// How a trial ends when its work is not kept: rolled back on purpose, or failed.
enum Trial<E> {
    Undo,
    Failed(E),
}

impl<E: From<diesel::result::Error>> From<diesel::result::Error> for Trial<E> {
    fn from(e: diesel::result::Error) -> Self {
        Trial::Failed(e.into())
    }
}

fn in_transaction<C>(c: &mut C) -> bool
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    AnsiTransactionManager::transaction_manager_status_mut(c)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some())
}

/// Runs `f` inside the transaction just begun, then commits or rolls back.
fn finish<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let outcome = f(conn);
    let end = match (&outcome, &mut *conn) {
        (Ok(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), DbConnection::Postgres(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), DbConnection::Postgres(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (outcome, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(e.into()),
        // The use case's own error explains more than a failed rollback would.
        (Err(e), _) => Err(e),
    }
}

/// Runs `f` in a read-only transaction, so several queries see one snapshot
/// (`REPEATABLE READ` on PostgreSQL; a WAL read snapshot on SQLite).
pub fn read_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let nested = match conn {
        DbConnection::Sqlite(c) => in_transaction(c),
        DbConnection::Postgres(c) => in_transaction(c),
    };
    if nested {
        // The enclosing transaction already gives one snapshot.
        return f(conn);
    }
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
    }
    finish(conn, f)
}
