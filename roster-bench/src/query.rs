//! `roster-bench query`: look-ups, searches, sorting and paging on a directory of 100k
//! to 1M users.
//!
//! Creating a million users over HTTP would take most of an hour, so the users are
//! written straight into roster's tables (SQL `INSERT … SELECT` over a generated series,
//! in the shape roster stores: the columns, the attributes JSON and the `user_emails`
//! rows), then every timed request goes through a real `roster serve`. This is the one
//! place roster-bench knows roster's schema.

use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::Value;

use super::{encode, run_phase, Client, Phase};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A direct connection to roster's database.
pub(super) enum Db {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    s: String,
}

#[derive(QueryableByName)]
struct PgPlan {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Db {
    pub(super) fn open(url: &str) -> Db {
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = SqliteConnection::establish(path).expect("open SQLite");
                c.batch_execute("PRAGMA busy_timeout = 60000;")
                    .expect("pragma");
                Db::Sqlite(c)
            }
            None => Db::Pg(PgConnection::establish(url).expect("connect to PostgreSQL")),
        }
    }

    pub(super) fn exec(&mut self, sql: &str) {
        match self {
            Db::Sqlite(c) => c.batch_execute(sql),
            Db::Pg(c) => c.batch_execute(sql),
        }
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    pub(super) fn strings(&mut self, sql: &str) -> Vec<String> {
        let rows: Vec<One> = match self {
            Db::Sqlite(c) => diesel::sql_query(sql).load(c),
            Db::Pg(c) => diesel::sql_query(sql).load(c),
        }
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        rows.into_iter().map(|r| r.s).collect()
    }

    pub(super) fn count(&mut self, sql: &str) -> i64 {
        let rows: Vec<N> = match self {
            Db::Sqlite(c) => diesel::sql_query(sql).load(c),
            Db::Pg(c) => diesel::sql_query(sql).load(c),
        }
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        rows.first().map_or(0, |r| r.n)
    }

    pub(super) fn is_pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// The id of user `i`: UUID-shaped lower-case hex, in `i` order.
pub(super) fn user_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-{i:012x}")
}

fn email(i: usize) -> String {
    format!("user{i}@example.com")
}

/// Writes users `from..to` of the tenant, in batches of 100k, one transaction each.
pub(super) fn load(db: &mut Db, tenant: &str, from: usize, to: usize) {
    let mut start = from;
    while start < to {
        let end = (start + 100_000).min(to);
        let started = Instant::now();
        let sql = if db.is_pg() {
            let id = "lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0')";
            format!(
                "BEGIN;
                 INSERT INTO users (tenant_id, id, user_name, user_name_folded, external_id, display_name,
                                    active, attributes, version, created_at, updated_at)
                 SELECT '{tenant}', {id}, 'user' || i || '@example.com', 'user' || i || '@example.com',
                        'ext-' || i, 'Given' || i || ' Family' || (i % 5000), TRUE,
                        CAST(jsonb_build_object(
                          'active', TRUE, 'displayName', 'Given' || i || ' Family' || (i % 5000),
                          'emails', jsonb_build_array(jsonb_build_object('primary', TRUE, 'type', 'work',
                                                                          'value', 'user' || i || '@example.com')),
                          'externalId', 'ext-' || i,
                          'name', jsonb_build_object('familyName', 'Family' || (i % 5000), 'givenName', 'Given' || i),
                          'title', 'Engineer', 'userName', 'user' || i || '@example.com',
                          '{ENTERPRISE}', jsonb_build_object('department', 'Dept' || (i % 50), 'employeeNumber', '' || i)
                        ) AS TEXT),
                        1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                 FROM generate_series({start}, {last}) AS i;
                 INSERT INTO user_emails (tenant_id, user_id, position, value_folded, bare)
                 SELECT '{tenant}', {id}, 0, 'user' || i || '@example.com', FALSE
                 FROM generate_series({start}, {last}) AS i;
                 COMMIT;",
                last = end - 1
            )
        } else {
            let seq = format!(
                "WITH RECURSIVE seq(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {end})"
            );
            let id = "printf('%08x-0000-4000-8000-%012x', i, i)";
            format!(
                "BEGIN IMMEDIATE;
                 {seq}
                 INSERT INTO users (tenant_id, id, user_name, user_name_folded, external_id, display_name,
                                    active, attributes, version, created_at, updated_at)
                 SELECT '{tenant}', {id}, 'user' || i || '@example.com', 'user' || i || '@example.com',
                        'ext-' || i, 'Given' || i || ' Family' || (i % 5000), 1,
                        json_object(
                          'active', json('true'), 'displayName', 'Given' || i || ' Family' || (i % 5000),
                          'emails', json_array(json_object('primary', json('true'), 'type', 'work',
                                                           'value', 'user' || i || '@example.com')),
                          'externalId', 'ext-' || i,
                          'name', json_object('familyName', 'Family' || (i % 5000), 'givenName', 'Given' || i),
                          'title', 'Engineer', 'userName', 'user' || i || '@example.com',
                          '{ENTERPRISE}', json_object('department', 'Dept' || (i % 50), 'employeeNumber', '' || i)
                        ),
                        1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                 FROM seq;
                 {seq}
                 INSERT INTO user_emails (tenant_id, user_id, position, value_folded, bare)
                 SELECT '{tenant}', {id}, 0, 'user' || i || '@example.com', 0 FROM seq;
                 COMMIT;"
            )
        };
        db.exec(&sql);
        eprintln!(
            "loaded users {start}..{end} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        start = end;
    }
    if db.is_pg() {
        // One statement each: several in one call would share a transaction VACUUM refuses.
        db.exec("VACUUM ANALYZE users");
        db.exec("VACUUM ANALYZE user_emails");
    } else {
        // Fold the load's WAL into the database, as a long-running server would have.
        db.exec("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;");
    }
}

/// base64url without padding, both ways: to move a cursor roster issued to another id.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn unb64(text: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= (A.iter().position(|a| a == c).unwrap_or(0) as u32) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Sends GET `path` and checks the page: `want` resources (None: any number).
fn get(
    client: &Client,
    agent: &ureq::Agent,
    path: &str,
    want: Option<usize>,
) -> Result<Value, String> {
    let body = client.send(agent, "GET", path, None)?;
    let got = body["Resources"].as_array().map_or(0, Vec::len);
    match want {
        Some(w) if w != got => Err(format!("{path}: {got} resources, want {w}")),
        _ => Ok(body),
    }
}

/// The timed phases at the current directory size.
pub(super) fn phases(client: &Client, size: usize, lookups: usize, page: usize) -> Vec<Phase> {
    let pick = |k: usize| (k * 7919 + 13) % size;
    let q = |f: &str| format!("/Users?filter={}", encode(f));
    let mut out = Vec::new();
    out.push(run_phase("user_name_eq", lookups, 1, |agent, k| {
        let f = format!(r#"userName eq "{}""#, email(pick(k)));
        get(client, agent, &q(&f), Some(1)).map(drop)
    }));
    out.push(run_phase("emails_value_path_eq", lookups, 1, |agent, k| {
        // Another case than stored: emails.value is not case-exact.
        let f = format!(r#"emails[value eq "{}"]"#, email(pick(k)).to_uppercase());
        get(client, agent, &q(&f), Some(1)).map(drop)
    }));
    out.push(run_phase("emails_value_eq", lookups, 1, |agent, k| {
        let f = format!(r#"emails.value eq "{}""#, email(pick(k)));
        get(client, agent, &q(&f), Some(1)).map(drop)
    }));
    out.push(run_phase("emails_entra_eq", lookups, 1, |agent, k| {
        // Entra's form: the index narrows to the value's users, the JSON walk decides.
        let f = format!(r#"emails[type eq "work"].value eq "{}""#, email(pick(k)));
        get(client, agent, &q(&f), Some(1)).map(drop)
    }));
    let slow = (lookups / 50).max(5);
    let pages = (lookups / 15).max(5);
    out.push(run_phase("co_search", slow, 1, |agent, k| {
        // `user12345` and `user123450`-`user123459` when the directory is big enough.
        let f = format!(r#"userName co "er{}@""#, pick(k));
        get(client, agent, &format!("{}&count={page}", q(&f)), Some(1)).map(drop)
    }));
    out.push(run_phase("sort_by_user_name_page", pages, 1, |agent, _| {
        get(
            client,
            agent,
            &format!("/Users?sortBy=userName&count={page}"),
            Some(page),
        )
        .map(drop)
    }));
    out.push(run_phase("index_page_1", pages, 1, |agent, _| {
        get(
            client,
            agent,
            &format!("/Users?startIndex=1&count={page}"),
            Some(page),
        )
        .map(drop)
    }));
    out.push(run_phase("index_deep_page", pages, 1, |agent, _| {
        let start = size - size / 10;
        get(
            client,
            agent,
            &format!("/Users?startIndex={start}&count={page}"),
            Some(page),
        )
        .map(drop)
    }));
    out.push(run_phase("cursor_page_1", pages, 1, |agent, _| {
        get(
            client,
            agent,
            &format!("/Users?cursor=&count={page}"),
            Some(page),
        )
        .map(drop)
    }));
    // The cursor to 90 % of the walk: page 1's cursor, moved to user 0.9·N's id, which
    // is what the walk's 9,000th page of 100 would hand out.
    let agent = ureq::AgentBuilder::new().build();
    let first = get(
        client,
        &agent,
        &format!("/Users?cursor=&count={page}"),
        Some(page),
    )
    .expect("first cursor page");
    let mut cursor: Value =
        serde_json::from_slice(&unb64(first["nextCursor"].as_str().expect("nextCursor")))
            .expect("cursor JSON");
    cursor["i"] = user_id(size - size / 10).into();
    let deep = b64(cursor.to_string().as_bytes());
    out.push(run_phase("cursor_deep_page", pages, 1, |agent, _| {
        get(
            client,
            agent,
            &format!("/Users?cursor={deep}&count={page}"),
            Some(page),
        )
        .map(drop)
    }));
    out
}

/// Checks a whole cursor walk once: every user exactly once, in id order.
pub(super) fn walk(client: &Client, size: usize) -> Phase {
    let agent = ureq::AgentBuilder::new().build();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let (mut seen, mut errors, mut cursor) = (0usize, 0usize, String::new());
    loop {
        let t = Instant::now();
        let Ok(body) = get(
            client,
            &agent,
            &format!("/Users?count=500&cursor={cursor}"),
            None,
        ) else {
            errors += 1;
            break;
        };
        latencies.push(t.elapsed());
        for r in body["Resources"].as_array().into_iter().flatten() {
            if r["id"].as_str() != Some(user_id(seen).as_str()) {
                errors += 1;
            }
            seen += 1;
        }
        match body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    if seen != size {
        eprintln!("cursor walk: saw {seen} users of {size}");
        errors += 1;
    }
    Phase {
        name: "cursor_walk_500",
        ops: latencies.len(),
        errors,
        elapsed: started.elapsed(),
        latencies,
        ..Phase::default()
    }
}

/// Loads the directory up to each size in turn and runs the phases at each.
pub(super) fn run(
    client: &Client,
    database_url: &str,
    tenant_slug: &str,
    sizes: &[usize],
    lookups: usize,
    page: usize,
    label: &str,
) -> Vec<(String, Vec<Phase>)> {
    let mut db = Db::open(database_url);
    let tenant = db
        .strings(&format!(
            "SELECT id AS s FROM tenants WHERE slug = '{}'",
            tenant_slug.replace('\'', "")
        ))
        .pop()
        .expect("tenant exists");
    let mut results = Vec::new();
    for &size in sizes {
        let have = db.count(&format!(
            "SELECT COUNT(*) AS n FROM users WHERE tenant_id = '{tenant}'"
        )) as usize;
        load(&mut db, &tenant, have, size);
        let mut phases = phases(client, size, lookups, page);
        if size <= 100_000 {
            phases.push(walk(client, size));
        }
        explain(&mut db, &tenant, size, page);
        results.push((format!("{label}@{size}"), phases));
    }
    results
}

/// Prints the plans of the hot queries, as roster sends them (binds written inline).
fn explain(db: &mut Db, tenant: &str, size: usize, page: usize) {
    let deep_id = user_id(size - size / 10);
    let who = email(size / 2);
    let select = format!("SELECT users.*, CAST(NULL AS TEXT) AS sort_key FROM users WHERE users.tenant_id = '{tenant}'");
    let queries = [
        ("userName eq (page)", format!("{select} AND ((users.user_name_folded = '{who}')) ORDER BY users.id LIMIT {page} OFFSET 0")),
        ("emails[value eq] (count)", format!("SELECT COUNT(*) AS n FROM users WHERE users.tenant_id = '{tenant}' AND (((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue WHERE ue.value_folded = '{who}')))")),
        ("emails[value eq] (page)", format!("{select} AND (((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue WHERE ue.value_folded = '{who}'))) ORDER BY users.id LIMIT {page} OFFSET 0")),
        ("count of all", format!("SELECT COUNT(*) AS n FROM users WHERE users.tenant_id = '{tenant}'")),
        ("sortBy=userName page", format!("SELECT users.*, users.user_name_folded AS sort_key FROM users WHERE users.tenant_id = '{tenant}' ORDER BY users.user_name_folded, users.id LIMIT {}", page + 1)),
        ("cursor deep page", format!("{select} AND (users.id) > ('{deep_id}') ORDER BY users.id LIMIT {}", page + 1)),
        ("startIndex deep page", format!("{select} ORDER BY users.id LIMIT {page} OFFSET {}", size - size / 10 - 1)),
    ];
    for (name, sql) in queries {
        let plan: Vec<String> = match db {
            Db::Pg(c) => diesel::sql_query(format!("EXPLAIN ANALYZE {sql}"))
                .load::<PgPlan>(c)
                .map(|rows| rows.into_iter().map(|r| r.line).collect()),
            Db::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load::<SqlitePlan>(c)
                .map(|rows| rows.into_iter().map(|r| r.detail).collect()),
        }
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        eprintln!("-- plan @{size}: {name}\n{}", plan.join("\n"));
    }
}
