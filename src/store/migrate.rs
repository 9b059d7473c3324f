//! Embedded migrations, one folder per backend with the same names.

use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::conn::DbConnection;
use super::error::StoreError;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant: the PostgreSQL advisory lock that serialises migrations, so
/// several roster processes starting on an empty database all come up.
const MIGRATION_LOCK: i64 = 0x726f_7374_6572;

/// Applies every pending migration; returns how many ran.
pub fn run_pending(conn: &mut DbConnection) -> Result<usize, StoreError> {
    match conn {
        // One IMMEDIATE transaction around the check and the run (each migration nests
        // as a savepoint), so processes starting together on one file take turns.
        DbConnection::Sqlite(_) => super::write_transaction(conn, |c| match c {
            DbConnection::Sqlite(c) => apply(c, SQLITE),
            DbConnection::Postgres(c) => apply(c, POSTGRES),
        }),
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let applied = apply(c, POSTGRES);
            let unlocked = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
    }
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<usize, StoreError>
where
    C: MigrationHarness<<C as diesel::Connection>::Backend> + diesel::Connection,
{
    conn.run_pending_migrations(migrations)
        .map(|done| done.len())
        .map_err(|e| {
            // Another process migrating the same SQLite file holds the lock: retryable.
            if super::error::is_transient(&e.to_string()) {
                StoreError::Unavailable(e)
            } else {
                StoreError::Migration(e)
            }
        })
}

/// Reverts every migration (used by the migration round-trip test).
pub fn revert_all(conn: &mut DbConnection) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(drop),
        DbConnection::Postgres(c) => c.revert_all_migrations(POSTGRES).map(drop),
    }
    .map_err(StoreError::Migration)
}
