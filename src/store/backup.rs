//! Online backups of the SQLite file and restores into a stopped server's place.
//! PostgreSQL has its own tools for both (`pg_dump`, point-in-time recovery: README).
//!
//! Every process that opens a SQLite database holds a shared lock on `<file>.lock` for
//! as long as its store lives; a restore takes it exclusively, so it cannot replace
//! the file under a running server (or a CLI command in flight).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

use super::{DbConnection, StoreError};

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already; choose a new file (a backup never overwrites one)")]
    Exists(PathBuf),
    #[error(
        "backups of PostgreSQL are made with pg_dump or point-in-time recovery (see the README)"
    )]
    Postgres,
    #[error("a roster process is using {0}; stop every `roster serve` on it first")]
    InUse(PathBuf),
    #[error("{path} is not a usable roster backup: {why}")]
    Damaged { path: PathBuf, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file beside the database that its users lock.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(database: &Path) -> std::io::Result<File> {
    let path = lock_path(database);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// A shared hold on a SQLite database, released when dropped. `None` when the lock
/// file cannot be made (a read-only directory): SQLite then cannot write there either.
pub fn hold(database: &Path) -> Option<File> {
    let file = open_lock(database).ok()?;
    file.lock_shared().ok()?;
    Some(file)
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// Copies the database, as one consistent snapshot, to `to` while it serves: SQLite's
/// `VACUUM INTO` reads inside one read transaction, so writers go on and the copy holds
/// exactly the transactions committed before it began. The copy is then checked.
pub fn backup(conn: &mut DbConnection, to: &Path) -> Result<(), BackupError> {
    let DbConnection::Sqlite(c) = conn else {
        return Err(BackupError::Postgres);
    };
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let target = to.to_str().ok_or_else(|| BackupError::Damaged {
        path: to.to_owned(),
        why: "the path is not UTF-8".into(),
    })?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(target)
        .execute(c)
        .map_err(StoreError::from)?;
    verify(to)
}

/// Whether `path` is a sound SQLite file with roster's tables.
fn verify(path: &Path) -> Result<(), BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        path: path.to_owned(),
        why,
    };
    let url = format!("file:{}?mode=ro", path.display());
    let mut c = SqliteConnection::establish(&url).map_err(|e| damaged(e.to_string()))?;
    let check = diesel::sql_query("PRAGMA integrity_check")
        .get_result::<Check>(&mut c)
        .map_err(|e| damaged(e.to_string()))?;
    if check.integrity_check != "ok" {
        return Err(damaged(check.integrity_check));
    }
    c.batch_execute(
        "SELECT 1 FROM __diesel_schema_migrations LIMIT 1; SELECT 1 FROM tenants LIMIT 1",
    )
    .map_err(|_| damaged("it holds no roster database".into()))
}

/// Puts the backup `from` in the place of `database`, which no process may be using.
/// The database it replaces (with its WAL) is kept beside it, renamed with the time.
/// Returns where the replaced database went, if there was one.
pub fn restore(database: &Path, from: &Path) -> Result<Option<PathBuf>, BackupError> {
    verify(from)?;
    let lock = open_lock(database).map_err(io(database))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(database.to_owned())),
        Err(TryLockError::Error(e)) => return Err(io(database)(e)),
    }
    // Copied beside the target first, so the rename that puts it in place is atomic.
    let staged = with_suffix(database, ".restoring");
    std::fs::copy(from, &staged).map_err(io(&staged))?;
    File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(io(&staged))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut kept = None;
    // A WAL left from the old file would be replayed into the new one: move it aside too.
    for suffix in ["", "-wal", "-shm"] {
        let old = with_suffix(database, suffix);
        if old.exists() {
            let aside = with_suffix(database, &format!(".replaced-{stamp}{suffix}"));
            std::fs::rename(&old, &aside).map_err(io(&old))?;
            if suffix.is_empty() {
                kept = Some(aside);
            }
        }
    }
    std::fs::rename(&staged, database).map_err(io(database))?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The renames are durable once the directory is.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(kept)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
