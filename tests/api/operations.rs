//! Health, readiness, metrics, request ids, and behaviour when the database fails.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::json;

use crate::helpers::TestApp;

#[test]
fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn();
    let r = app.raw("GET", &format!("{}/healthz", app.address), &[], None, None);
    assert_eq!(r.status, 200);
    let r = app.raw("GET", &format!("{}/readyz", app.address), &[], None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ready");
}

#[test]
fn every_response_carries_a_request_id() {
    let app = TestApp::spawn();
    let ok = app.get("/Users");
    let err = app.get("/Users/nope");
    let a = ok.header("x-request-id").expect("request id");
    let b = err
        .header("x-request-id")
        .expect("request id on errors too");
    assert_ne!(a, b);
}

#[test]
fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = TestApp::spawn();
    app.get("/Users");
    app.get("/Users/nope");
    let r = app.raw("GET", &format!("{}/metrics", app.address), &[], None, None);
    assert_eq!(r.status, 200);
    let text = r.text;
    assert!(text.contains("roster_http_requests_total{route=\"/scim/v2/{tenant}/{endpoint}\",method=\"GET\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("roster_http_requests_total{route=\"/scim/v2/{tenant}/{endpoint}/{id}\",method=\"GET\",status=\"404\"} 1"), "{text}");
    assert!(
        text.contains("roster_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("roster_db_pool_max_connections 10"), "{text}");
}

#[test]
fn metrics_count_each_tenants_scim_requests_by_outcome_and_never_a_strangers_slug() {
    let app = TestApp::spawn();
    app.get("/Users");
    app.get("/Groups");
    app.get("/Users/nope");
    let unknown = app.raw(
        "GET",
        &format!("{}/scim/v2/stranger/Users", app.address),
        &[("Authorization", "Bearer rst_wrong")],
        None,
        None,
    );
    assert_eq!(unknown.status, 401);
    let text = app
        .raw("GET", &format!("{}/metrics", app.address), &[], None, None)
        .text;
    let count = |outcome: &str| {
        crate::helpers::metric(
            &text,
            &format!("roster_scim_requests_total{{tenant=\"acme\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!((count("ok"), count("client_error")), (2, 1), "{text}");
    assert!(!text.contains("tenant=\"stranger\""), "{text}");
}

#[test]
fn metrics_show_each_tenants_health_webhook_backlog_feed_lag_and_job_failures() {
    // Nothing listens on port 9 (discard): the delivery fails and waits an hour to retry.
    let app = TestApp::spawn_with(|s| {
        crate::webhooks::dev_settings(s, "1h");
    });
    app.add_tenant("quiet");
    app.create_user("alice@example.com");
    let r = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "http://127.0.0.1:9/hook", "event_types": ["user.created"]})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    app.create_user("bob@example.com");
    let latest = app.last_sequence();
    // A consumer that has read up to event 1 only.
    assert_eq!(app.api("GET", "/events?after=1&limit=1", None).status, 200);
    let failing = crate::webhooks::wait_until(Duration::from_secs(20), || {
        let text = app
            .raw("GET", &format!("{}/metrics", app.address), &[], None, None)
            .text;
        let seen = |name: &str| crate::helpers::metric(&text, name) > 0;
        // The delivery's attempt and the sync log's writer both run in the background.
        (seen("roster_webhook_endpoints_failing{tenant=\"acme\"}")
            && seen("roster_tenant_last_scim_request_timestamp_seconds{tenant=\"acme\"}"))
        .then_some(text)
    });
    let text = failing.expect("the failed attempt and the sync log show");
    let gauge = |name: &str| crate::helpers::metric(&text, name);
    assert_eq!(gauge("roster_metrics_database_ok"), 1, "{text}");
    assert_eq!(
        gauge("roster_webhook_deliveries_pending{tenant=\"acme\"}"),
        1,
        "{text}"
    );
    assert_eq!(
        gauge("roster_webhook_deliveries_pending{tenant=\"quiet\"}"),
        0,
        "{text}"
    );
    assert_eq!(
        gauge("roster_events_latest_sequence{tenant=\"acme\"}"),
        latest as u64
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let last = gauge("roster_tenant_last_scim_request_timestamp_seconds{tenant=\"acme\"}");
    assert!(now - 120 < last && last <= now, "{last} vs {now}\n{text}");
    assert!(
        !text.contains("roster_tenant_last_scim_request_timestamp_seconds{tenant=\"quiet\"}"),
        "a tenant that never pushed has no last request: {text}"
    );
    let lag = text
        .lines()
        .find(|l| l.starts_with("roster_event_feed_lag_events{tenant=\"acme\",api_key=\""))
        .expect("the feed reader's lag");
    assert!(lag.ends_with(&format!(" {}", latest - 1)), "{lag}");
    assert_eq!(gauge("roster_change_sets_running{tenant=\"acme\"}"), 0);
    assert!(
        text.contains("roster_job_failures_total{task=\"webhook_delivery\"}"),
        "{text}"
    );
}

#[test]
fn metrics_answer_only_with_the_configured_token() {
    let app = TestApp::spawn_with(|s| s.metrics_token = Some("scrape-secret".into()));
    let url = format!("{}/metrics", app.address);
    let without = app.raw("GET", &url, &[], None, None);
    assert_eq!(without.status, 401);
    assert_eq!(without.header("www-authenticate"), Some("Bearer"));
    let wrong = app.raw(
        "GET",
        &url,
        &[("Authorization", "Bearer scrape")],
        None,
        None,
    );
    assert_eq!(wrong.status, 401);
    let right = app.raw(
        "GET",
        &url,
        &[("Authorization", "Bearer scrape-secret")],
        None,
        None,
    );
    assert_eq!(right.status, 200);
    assert!(right.text.contains("roster_http_requests_total"));
    // The probes stay open for the orchestrator.
    let ready = app.raw("GET", &format!("{}/readyz", app.address), &[], None, None);
    assert_eq!(ready.status, 200);
}

#[test]
fn a_separate_metrics_listener_serves_metrics_and_probes_and_nothing_else() {
    let app = TestApp::spawn_with(|s| s.metrics_listen = Some("127.0.0.1:0".into()));
    let metrics = app.metrics_address().expect("a metrics listener");
    assert_ne!(metrics, app.address);
    let get = |url: String| app.raw("GET", &url, &[], None, None).status;
    assert_eq!(get(format!("{metrics}/metrics")), 200);
    assert_eq!(get(format!("{metrics}/readyz")), 200);
    assert_eq!(get(format!("{metrics}/healthz")), 200);
    assert_eq!(get(format!("{metrics}/scim/v2/acme/Users")), 404);
    assert_eq!(get(format!("{metrics}/admin/acme/")), 404);
    assert_eq!(get(format!("{metrics}/scim/v2/evil/Users")), 404);
    let text = app
        .raw("GET", &format!("{metrics}/metrics"), &[], None, None)
        .text;
    assert!(
        !text.contains("roster_scim_requests_total{"),
        "an unauthenticated request counts for no tenant: {text}"
    );
    // The main listener no longer shows them, and still serves SCIM.
    assert_eq!(get(format!("{}/metrics", app.address)), 404);
    assert_eq!(app.get("/Users").status, 200);
}

#[test]
fn a_locked_sqlite_database_gives_503_with_retry_after_then_recovers() {
    let app = TestApp::spawn_with(|s| {
        s.statement_timeout_ms = 300;
        s.pool_timeout_ms = 1500;
    });
    if !app.db.runs_on(false, "SQLite's file lock") {
        return;
    }
    app.get("/Users");
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    let mut blocker = SqliteConnection::establish(&path).unwrap();
    // roster's WAL checkpointer may hold the lock for a moment: wait for it, as roster does.
    blocker
        .batch_execute("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE")
        .unwrap();
    let started = Instant::now();
    let r = app.post("/Users", &json!({"userName": "waits"}));
    r.assert_scim_error(503, None);
    assert!(r.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    blocker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        app.post("/Users", &json!({"userName": "waits"})).status,
        201
    );
}

#[test]
fn an_unreachable_postgres_database_gives_503_within_two_seconds_then_recovers() {
    let app = TestApp::spawn_with(|s| s.pool_timeout_ms = 1500);
    if !app.db.runs_on(true, "a server that can refuse connections") {
        return;
    }
    assert_eq!(app.get("/Users").status, 200);
    let name = app.db.name().to_owned();
    app.db.admin_execute(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
    ));
    // Eight clients at once, reads and writes: every one is answered 503 within 2 s,
    // including writes queued behind a batch that is itself waiting for a connection.
    std::thread::scope(|s| {
        for client in 0..8 {
            let app = &app;
            s.spawn(move || {
                for i in 0..3 {
                    let started = Instant::now();
                    let r = if client % 2 == 0 {
                        app.post(
                            "/Users",
                            &json!({"userName": format!("later-{client}-{i}")}),
                        )
                    } else {
                        app.get("/Users?count=1")
                    };
                    r.assert_scim_error(503, None);
                    assert!(r.header("retry-after").is_some());
                    assert!(
                        started.elapsed() < Duration::from_secs(2),
                        "answered in {:?}",
                        started.elapsed()
                    );
                }
            });
        }
    });
    let r = app.raw("GET", &format!("{}/readyz", app.address), &[], None, None);
    assert_eq!(r.status, 503);
    let r = app.raw("GET", &format!("{}/healthz", app.address), &[], None, None);
    assert_eq!(r.status, 200, "liveness does not depend on the database");
    app.db
        .admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    // Back by itself: the first success within 5 s (reliability.md C4), then no more 503.
    let back = Instant::now();
    while app.get("/Users?count=1").status != 200 {
        assert!(back.elapsed() < Duration::from_secs(5), "never recovered");
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..10 {
        let r = app.post("/Users", &json!({"userName": format!("back-{i}")}));
        assert_eq!(r.status, 201, "{}", r.text);
    }
}
