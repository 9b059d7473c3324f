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

/// Tables that belong to no tenant: the tenants themselves, server-wide settings, and
/// diesel's own. On a distributed PostgreSQL they are reference tables.
const GLOBAL_TABLES: &[&str] = &["tenants", "server_settings", "__diesel_schema_migrations"];

#[derive(diesel::QueryableByName, Debug)]
struct KeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    /// The key's columns, in order, comma-separated.
    #[diesel(sql_type = diesel::sql_types::Text)]
    columns: String,
}

#[test]
fn every_key_of_a_tenant_owned_table_starts_with_tenant_id_on_postgresql() {
    let db = TestDb::new();
    if !db.runs_on(true, "the schema's readiness for a distributed PostgreSQL") {
        return;
    }
    let store = db.store();
    let mut conn = store.connection().unwrap();
    migrate::run_pending(&mut conn).unwrap();
    // Primary keys, unique constraints and unique indexes, and foreign keys, with their
    // columns in key order.
    let keys: Vec<KeyRow> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, \
                CASE WHEN x.contype = 'f' THEN 'foreign key' ELSE 'unique' END AS kind, \
                x.conname::text AS name, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                   FROM unnest(x.conkey) WITH ORDINALITY AS k(attnum, n) \
                   JOIN pg_attribute a ON a.attrelid = x.conrelid AND a.attnum = k.attnum) AS columns \
           FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid \
           JOIN pg_namespace s ON s.oid = c.relnamespace \
          WHERE s.nspname = current_schema() AND x.contype IN ('p', 'u', 'f') \
         UNION ALL \
         SELECT t.relname::text, 'unique', i.relname::text, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                   FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) \
           FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
           JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace \
          WHERE s.nspname = current_schema() AND ix.indisunique \
            AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = ix.indexrelid)",
    )
    .load(&mut *conn)
    .unwrap();
    assert!(
        keys.len() > 40,
        "the catalog query found {} keys",
        keys.len()
    );
    let wrong: Vec<String> = keys
        .iter()
        .filter(|k| !GLOBAL_TABLES.contains(&k.table_name.as_str()))
        .filter(|k| match k.kind.as_str() {
            // A foreign key to a tenant's row names the tenant too (one to `tenants`
            // is the tenant itself).
            "foreign key" => !k.columns.split(',').any(|c| c == "tenant_id"),
            _ => k.columns.split(',').next() != Some("tenant_id"),
        })
        .map(|k| format!("{} {} {} ({})", k.table_name, k.kind, k.name, k.columns))
        .collect();
    assert!(wrong.is_empty(), "keys without tenant_id first: {wrong:#?}");

    #[derive(diesel::QueryableByName)]
    struct Sequence {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    // Ids are UUIDs and event sequences are per tenant: a global sequence would be one
    // counter for every node to agree on.
    let sequences: Vec<Sequence> = diesel::sql_query(
        "SELECT sequence_name::text AS name FROM information_schema.sequences \
          WHERE sequence_schema = current_schema()",
    )
    .load(&mut *conn)
    .unwrap();
    let names: Vec<&str> = sequences.iter().map(|s| s.name.as_str()).collect();
    assert!(names.is_empty(), "global sequences: {names:?}");
}

#[test]
fn every_join_in_the_store_stays_within_one_tenant() {
    let files = rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store"));
    let mut joins = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // SQL: a join's condition (or, for a lateral join, its subquery's filter)
            // names tenant_id on the same or the next line.
            if line.contains("JOIN ") {
                joins += 1;
                let window = lines[i..lines.len().min(i + 2)].join(" ");
                assert!(
                    window.contains("tenant_id") || window.contains("{tenant_column}"),
                    "{}:{}: a join without tenant_id: {line}",
                    path.display(),
                    i + 1
                );
            }
            // diesel: only the tenant row itself is joined (on `tenant_id`).
            for call in [".inner_join(", ".left_join(", ".left_outer_join("] {
                if let Some(at) = line.find(call) {
                    joins += 1;
                    assert!(
                        line[at..].starts_with(&format!("{call}tenants::table)")),
                        "{}:{}: a diesel join other than to the tenant's row: {line}",
                        path.display(),
                        i + 1
                    );
                }
            }
        }
    }
    assert!(
        joins >= 5,
        "found {joins} joins: is the scan still looking?"
    );
}
