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

/// Spreads `i` over 32 bits (a bijection: the multiplier is odd), so that ids, like
/// roster's UUIDv4s, start with uniformly spread hex digits.
const SPREAD: u64 = 2_654_435_761;

/// The id of user `i`: UUID-shaped lower-case hex. Its first eight digits are `i`
/// spread over 32 bits, as random as a UUIDv4's; the last twelve are `i`.
pub(super) fn user_id(i: usize) -> String {
    let spread = (i as u64).wrapping_mul(SPREAD) % (1 << 32);
    format!("{spread:08x}-0000-4000-8000-{i:012x}")
}

/// [`user_id`] in SQL, of the integer column or expression `i`.
pub(super) fn user_id_sql(pg: bool, i: &str) -> String {
    if pg {
        format!(
            "lpad(to_hex(({i} * CAST({SPREAD} AS BIGINT)) % 4294967296), 8, '0') || '-0000-4000-8000-' || lpad(to_hex({i}), 12, '0')"
        )
    } else {
        format!("printf('%08x-0000-4000-8000-%012x', ({i} * {SPREAD}) % 4294967296, {i})")
    }
}

/// The ids of users `0..size`, in id order (the order roster lists them in).
pub(super) fn sorted_ids(size: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..size).map(user_id).collect();
    ids.sort_unstable();
    ids
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
            let id = user_id_sql(true, "i");
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
            let id = user_id_sql(false, "i");
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
    // Page 1, the middle page, the page at 90 % and the last page, by startIndex and by
    // cursor. A deep cursor is page 1's cursor moved to the id before the page, which is
    // what a walk would hand out there (walking thousands of pages first would only add
    // time).
    let ids = sorted_ids(size);
    let starts = [
        ("page_1", 0),
        ("mid_page", size / 2),
        ("deep_page", size - size / 10),
        ("last_page", size - page),
    ];
    for (name, start) in starts {
        let phase = leak(format!("index_{name}"));
        out.push(run_phase(phase, pages, 1, |agent, _| {
            get(
                client,
                agent,
                &format!("/Users?startIndex={}&count={page}", start + 1),
                Some(page),
            )
            .and_then(|body| first_id_is(&body, &ids[start]))
        }));
    }
    let agent = ureq::AgentBuilder::new().build();
    let first = get(
        client,
        &agent,
        &format!("/Users?cursor=&count={page}"),
        Some(page),
    )
    .expect("first cursor page");
    let template: Value =
        serde_json::from_slice(&unb64(first["nextCursor"].as_str().expect("nextCursor")))
            .expect("cursor JSON");
    for (name, start) in starts {
        let cursor = if start == 0 {
            String::new()
        } else {
            let mut moved = template.clone();
            moved["i"] = ids[start - 1].clone().into();
            b64(moved.to_string().as_bytes())
        };
        let phase = leak(format!("cursor_{name}"));
        let last = start + page == size;
        out.push(run_phase(phase, pages, 1, |agent, _| {
            let body = get(
                client,
                agent,
                &format!("/Users?cursor={cursor}&count={page}"),
                Some(page),
            )?;
            if body.get("nextCursor").is_some() == last {
                return Err(format!("cursor page at {start}: nextCursor wrong"));
            }
            first_id_is(&body, &ids[start])
        }));
    }
    out
}

/// A phase name made at run time (phases are named by `&'static str`).
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// Checks that a page starts at the expected user.
fn first_id_is(body: &Value, want: &str) -> Result<(), String> {
    match body["Resources"][0]["id"].as_str() {
        Some(id) if id == want => Ok(()),
        other => Err(format!("page starts at {other:?}, want {want}")),
    }
}

/// Checks a whole cursor walk once: every user exactly once, in id order.
pub(super) fn walk(client: &Client, size: usize) -> Phase {
    let agent = ureq::AgentBuilder::new().build();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let ids = sorted_ids(size);
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
            if r["id"].as_str() != ids.get(seen).map(String::as_str) {
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
    let ids = sorted_ids(size);
    let deep = size - size / 10;
    let deep_id = &ids[deep - 1];
    // The seek to the deep page: its first row's bucket (the id's first three
    // characters), and how many of the bucket's rows come before it.
    let bucket = &ids[deep][..3];
    let skip = ids[..deep]
        .iter()
        .filter(|id| id.starts_with(bucket))
        .count();
    let who = email(size / 2);
    let select = format!("SELECT users.*, CAST(NULL AS TEXT) AS sort_key FROM users WHERE users.tenant_id = '{tenant}'");
    let queries = [
        ("userName eq (page)", format!("{select} AND ((users.user_name_folded = '{who}')) ORDER BY users.id LIMIT {page} OFFSET 0")),
        ("emails[value eq] (count)", format!("SELECT COUNT(*) AS n FROM users WHERE users.tenant_id = '{tenant}' AND (((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue WHERE ue.value_folded = '{who}')))")),
        ("emails[value eq] (page)", format!("{select} AND (((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue WHERE ue.value_folded = '{who}'))) ORDER BY users.id LIMIT {page} OFFSET 0")),
        ("count of all, as roster counted before row_counts", format!("SELECT COUNT(*) AS n FROM users WHERE users.tenant_id = '{tenant}'")),
        ("count of all (row_counts)", format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM row_counts WHERE tenant_id = '{tenant}' AND kind = 'users'")),
        ("buckets, for a deep startIndex page", format!("SELECT bucket, CAST(SUM(n) AS BIGINT) AS n FROM row_counts WHERE tenant_id = '{tenant}' AND kind = 'users' GROUP BY bucket HAVING SUM(n) > 0 ORDER BY bucket")),
        ("sortBy=userName page", format!("SELECT users.*, users.user_name_folded AS sort_key FROM users WHERE users.tenant_id = '{tenant}' ORDER BY users.user_name_folded, users.id LIMIT {}", page + 1)),
        ("cursor deep page", format!("{select} AND (users.id) > ('{deep_id}') ORDER BY users.id LIMIT {}", page + 1)),
        ("startIndex deep page, as roster paged before row_counts", format!("{select} ORDER BY users.id LIMIT {page} OFFSET {}", deep)),
        ("startIndex deep page (seek)", format!("{select} AND users.id >= (SELECT id FROM users WHERE tenant_id = '{tenant}' AND id >= '{bucket}' ORDER BY id LIMIT 1 OFFSET {skip}) ORDER BY users.id LIMIT {page}")),
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
        // A roster without the table (an older build, for a before run) has no plan.
        .unwrap_or_else(|e| vec![format!("(no plan: {e})")]);
        eprintln!("-- plan @{size}: {name}\n{}", plan.join("\n"));
    }
}
