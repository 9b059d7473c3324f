//! `roster-bench admin`: every admin UI page on a loaded directory (by default 100k
//! users in 1k groups, one of them holding everyone, and 100k sync-log rows), timed by
//! the server's own `Server-Timing` header and by the client, against the HTTP floor
//! (`/healthz`) measured in the same run.
//!
//! Users, groups and log rows are written straight into roster's tables, as `query`
//! does; roles and mappings go through the application API, so grants are real.

use std::time::{Duration, Instant};

use serde_json::json;

use super::query::{load, user_id, user_id_sql, Db};
use super::{Client, Phase};

fn group_id(g: usize) -> String {
    format!("{g:08x}-0000-4000-9000-{g:012x}")
}

/// Groups `0..groups`: group 0 ("All Staff") holds every user, and user `i` is also in
/// group `1 + i % (groups - 1)`.
fn load_groups(db: &mut Db, tenant: &str, users: usize, groups: usize) {
    let started = Instant::now();
    let stamp = "2026-01-01T00:00:00.000Z";
    let mut values = Vec::new();
    for g in 0..groups {
        let name = if g == 0 {
            "All Staff".to_owned()
        } else {
            format!("Group {g:04}")
        };
        values.push(format!(
            "('{tenant}', '{id}', '{name}', '{folded}', 'gext-{g}', '{{\"displayName\":\"{name}\"}}', 1, '{stamp}', '{stamp}')",
            id = group_id(g),
            folded = name.to_lowercase(),
        ));
    }
    db.exec(&format!(
        "INSERT INTO groups (tenant_id, id, display_name, display_name_folded, external_id, attributes, version, created_at, updated_at) VALUES {};",
        values.join(",")
    ));
    let rest = groups - 1;
    let sql = if db.is_pg() {
        let uid = user_id_sql(true, "i");
        let gid = |g: &str| {
            format!("lpad(to_hex({g}), 8, '0') || '-0000-4000-9000-' || lpad(to_hex({g}), 12, '0')")
        };
        format!(
            "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display, created_at)
             SELECT '{tenant}', {g0}, {uid}, 'User', NULL, '{stamp}' FROM generate_series(0, {last}) AS i;
             INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display, created_at)
             SELECT '{tenant}', {gi}, {uid}, 'User', NULL, '{stamp}' FROM generate_series(0, {last}) AS i;",
            g0 = gid("0"),
            gi = gid(&format!("(1 + i % {rest})")),
            last = users - 1,
        )
    } else {
        let seq = format!(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {users})"
        );
        let uid = user_id_sql(false, "i");
        format!(
            "BEGIN IMMEDIATE;
             {seq} INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display, created_at)
             SELECT '{tenant}', printf('%08x-0000-4000-9000-%012x', 0, 0), {uid}, 'User', NULL, '{stamp}' FROM seq;
             {seq} INSERT INTO group_members (tenant_id, group_id, member_id, member_type, display, created_at)
             SELECT '{tenant}', printf('%08x-0000-4000-9000-%012x', 1 + i % {rest}, 1 + i % {rest}), {uid}, 'User', NULL, '{stamp}' FROM seq;
             COMMIT; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;"
        )
    };
    db.exec(&sql);
    if db.is_pg() {
        // Alone: VACUUM refuses to run inside the batch's implicit transaction.
        db.exec("VACUUM ANALYZE groups");
        db.exec("VACUUM ANALYZE group_members");
    }
    eprintln!(
        "loaded {groups} groups and {} memberships in {:.1}s",
        users * 2,
        started.elapsed().as_secs_f64()
    );
}

/// `rows` sync-log entries over the last 30 days, one in 50 a failure.
fn load_sync_log(db: &mut Db, tenant: &str, rows: usize) {
    let step = (30 * 24 * 3600 / rows.max(1)).max(1);
    let columns = "tenant_id, id, at, method, path, status, latency_us, result, detail, resource_type, resource_id, request_body, response_body";
    let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"someone@example.com","active":true}"#;
    let sql = if db.is_pg() {
        format!(
            "INSERT INTO scim_request_log ({columns})
             SELECT '{tenant}', 'bench-' || i,
                    to_char((now() AT TIME ZONE 'utc') - i * interval '{step} seconds', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    CASE WHEN i % 3 = 0 THEN 'PUT' ELSE 'GET' END, '/scim/v2/bench/Users/' || i,
                    CASE WHEN i % 50 = 0 THEN 409 ELSE 200 END, 1500,
                    CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END,
                    CASE WHEN i % 50 = 0 THEN 'userName is already in use in this tenant' END,
                    'User', '' || i, '{body}', '{body}'
             FROM generate_series(1, {rows}) AS i;"
        )
    } else {
        format!(
            "BEGIN IMMEDIATE;
             WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows})
             INSERT INTO scim_request_log ({columns})
             SELECT '{tenant}', 'bench-' || i,
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (i * {step}) || ' seconds'),
                    CASE WHEN i % 3 = 0 THEN 'PUT' ELSE 'GET' END, '/scim/v2/bench/Users/' || i,
                    CASE WHEN i % 50 = 0 THEN 409 ELSE 200 END, 1500,
                    CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END,
                    CASE WHEN i % 50 = 0 THEN 'userName is already in use in this tenant' END,
                    'User', '' || i, '{body}', '{body}'
             FROM seq;
             COMMIT; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;"
        )
    };
    db.exec(&sql);
    if db.is_pg() {
        db.exec("VACUUM ANALYZE scim_request_log");
    }
}

/// The pages timed: (name, path under `/admin/{tenant}/`).
fn pages(users: usize) -> Vec<(&'static str, String)> {
    let middle = user_id(users / 2);
    vec![
        ("overview", String::new()),
        ("setup", "setup".into()),
        ("credentials", "credentials".into()),
        ("users", "users".into()),
        ("users_search_prefix", "users?q=user5".into()),
        (
            "users_deep_page",
            format!("users?after=user{}%40example.com", users - 100),
        ),
        ("users_without_role", "users?role=none".into()),
        ("users_with_role", "users?role=member".into()),
        ("users_inactive", "users?active=false".into()),
        ("users_of_big_group", format!("users?group={}", group_id(0))),
        ("user_detail", format!("users/{middle}")),
        ("groups", "groups".into()),
        ("groups_unmapped", "groups?mapped=false".into()),
        ("groups_stale", "groups?stale=1".into()),
        ("group_detail_all_staff", format!("groups/{}", group_id(0))),
        ("group_detail_mapped", format!("groups/{}", group_id(1))),
        ("roles", "roles".into()),
        ("mappings", "mappings".into()),
        ("sync_log", "sync-log".into()),
        ("sync_log_failures", "sync-log?result=failure".into()),
        ("webhooks", "webhooks".into()),
        ("audit", "audit".into()),
    ]
}

pub(super) struct Setup<'a> {
    pub server: &'a str,
    pub tenant: &'a str,
    pub database_url: &'a str,
    pub login_link: &'a str,
    pub api: &'a Client,
    pub users: usize,
    pub groups: usize,
    pub log_rows: usize,
    pub samples: usize,
    /// Load the data only (then restart roster: see admin.sh), or measure only.
    pub load: bool,
    pub measure: bool,
}

pub(super) fn run(s: &Setup) -> Vec<Phase> {
    let mut db = Db::open(s.database_url);
    let tenant = db
        .strings(&format!(
            "SELECT id AS s FROM tenants WHERE slug = '{}'",
            s.tenant.replace('\'', "")
        ))
        .pop()
        .expect("tenant exists");
    if s.load {
        load(&mut db, &tenant, 0, s.users);
        load_groups(&mut db, &tenant, s.users, s.groups);
        load_sync_log(&mut db, &tenant, s.log_rows);
    }
    drop(db);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .redirects(0)
        .build();
    if s.load {
        for (slug, priority, privileged) in [("member", 20, false), ("admin", 10, true)] {
            s.api
            .send(&agent, "POST", "/roles", Some(&json!({"slug": slug, "name": slug, "priority": priority, "privileged": privileged})))
            .expect("role");
        }
        let started = Instant::now();
        for (g, role) in [(1, "member"), (2, "admin")] {
            s.api
                .send(
                    &agent,
                    "POST",
                    "/mappings",
                    Some(&json!({"group": group_id(g), "role": role})),
                )
                .expect("mapping");
        }
        eprintln!("mapped 2 groups in {:.1}s", started.elapsed().as_secs_f64());
    }
    if !s.measure {
        return Vec::new();
    }

    let response = agent.get(s.login_link).call().expect("login link");
    let cookie = response
        .all("set-cookie")
        .into_iter()
        .find_map(|c| c.strip_prefix("roster_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();

    let floor = sample(&agent, &format!("{}/healthz", s.server), None, s.samples);
    let mut phases = vec![phase("http_floor_healthz", floor.1, floor.2)];
    for (name, path) in pages(s.users) {
        let url = format!("{}/admin/{}/{path}", s.server, s.tenant);
        let (server, client, errors) = sample(&agent, &url, Some(&cookie), s.samples);
        phases.push(phase(name, server, errors));
        let client_name: &'static str = Box::leak(format!("{name} (client)").into_boxed_str());
        phases.push(phase(client_name, client, 0));
    }
    phases
}

fn phase(name: &'static str, latencies: Vec<Duration>, errors: usize) -> Phase {
    let elapsed = latencies.iter().sum();
    Phase {
        name,
        ops: latencies.len(),
        errors,
        elapsed,
        latencies,
        ..Phase::default()
    }
}

/// GETs `url` once to warm up, then `n` times: (server times, client times, errors).
fn sample(
    agent: &ureq::Agent,
    url: &str,
    cookie: Option<&str>,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (mut server, mut client, mut errors) = (Vec::new(), Vec::new(), 0);
    for i in 0..=n {
        let mut request = agent.get(url);
        if let Some(c) = cookie {
            request = request.set("Cookie", &format!("roster_session={c}"));
        }
        let t = Instant::now();
        let result = request.call();
        let took = t.elapsed();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                errors += 1;
                eprintln!("{url}: {e}");
                continue;
            }
        };
        let dur = response
            .header("server-timing")
            .and_then(|h| h.split("dur=").nth(1))
            .and_then(|d| d.parse::<f64>().ok())
            .map(|ms| Duration::from_secs_f64(ms / 1000.0));
        let _ = response.into_string();
        if i == 0 {
            continue;
        }
        client.push(took);
        server.push(dur.unwrap_or(took));
    }
    (server, client, errors)
}
