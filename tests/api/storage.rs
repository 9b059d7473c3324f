//! Migrations and the layering rules that keep the protocol core pure.

use std::path::Path;

use diesel::RunQueryDsl;
use roster::store::{migrate, DbConnection};

use crate::helpers::TestDb;

fn names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn migration_folders_match_one_to_one_across_backends() {
    assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
}

#[test]
fn every_migration_reverts_and_reapplies() {
    let db = TestDb::new();
    let store = db.store();
    let mut conn = store.connection().unwrap();
    let count = names("migrations/sqlite").len();
    assert_eq!(migrate::run_pending(&mut conn).unwrap(), count);
    migrate::revert_all(&mut conn).unwrap();
    assert_eq!(migrate::run_pending(&mut conn).unwrap(), count);
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Asserts that no file mentions any of `forbidden` outside its unit tests.
fn assert_none_mention(files: Vec<std::path::PathBuf>, forbidden: &[&str], at_least: usize) {
    let checked = files.len();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for word in forbidden {
            assert!(!code.contains(word), "{} mentions {word}", path.display());
        }
    }
    assert!(checked >= at_least, "found only {checked} files");
}

#[test]
fn the_protocol_core_uses_neither_actix_nor_diesel_nor_tokio() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&root.join("src/scim"));
    files.push(root.join("src/roles.rs"));
    files.push(root.join("src/webhooks/signature.rs"));
    let forbidden = [
        "actix",
        "diesel",
        "tokio",
        "crate::store",
        "crate::http",
        "crate::service",
    ];
    assert_none_mention(files, &forbidden, 10);
}

#[test]
fn the_http_layer_reaches_the_database_only_through_the_service() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rust_files(&root.join("src/http"));
    assert_none_mention(files, &["crate::store", "diesel"], 20);
}

#[derive(diesel::QueryableByName)]
struct Pragma {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[test]
fn sqlite_connections_run_wal_with_full_sync_foreign_keys_and_a_busy_timeout() {
    let db = TestDb::new();
    if db.is_postgres() {
        return;
    }
    let store = db.store();
    let mut conn = store.connection().unwrap();
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        panic!("sqlite expected")
    };
    let pragma = |c: &mut diesel::SqliteConnection, name: &str, column: &str| -> String {
        diesel::sql_query(format!(
            "SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}"
        ))
        .get_result::<Pragma>(c)
        .unwrap()
        .value
    };
    assert_eq!(pragma(sqlite, "journal_mode", "journal_mode"), "wal");
    assert_eq!(pragma(sqlite, "synchronous", "synchronous"), "2", "FULL");
    assert_eq!(pragma(sqlite, "foreign_keys", "foreign_keys"), "1");
    assert_eq!(pragma(sqlite, "busy_timeout", "timeout"), "5000");
}
