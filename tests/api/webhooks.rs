//! Webhooks: signed delivery to a local receiver, retries with backoff, dead letters,
//! 410, the SSRF guard, secret rotation, several workers, and a process killed between
//! claiming a delivery and finishing it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use roster::config::Settings;
use roster::webhooks::signature;
use serde_json::{json, Value};

use crate::cli::{last_line, roster, stdout, Server};
use crate::helpers::{start, TestApp, TestDb, TEST_SECRETS_KEY};

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    Status(u16),
    /// Keep the connection open and never answer.
    Hang,
}

#[derive(Clone, Debug)]
pub(crate) struct Received {
    at: Instant,
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }

    /// Checks the Standard Webhooks signature with `secret`.
    fn verifies_with(&self, secret: &str) -> bool {
        let timestamp: i64 = self.header("webhook-timestamp").parse().expect("timestamp");
        signature::verify(
            secret,
            self.header("webhook-id"),
            timestamp,
            self.body.as_bytes(),
            self.header("webhook-signature"),
        )
    }
}

/// A small HTTP server on 127.0.0.1: answers by `script`, then with `fallback`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) fn start(script: &[Reply], fallback: Reply) -> Self {
        Self::start_with_body(script, fallback, "ok".into())
    }

    fn start_with_body(script: &[Reply], fallback: Reply, reply_body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let script = Arc::new(Mutex::new(script.to_vec()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let log = log.clone();
                let script = script.clone();
                let reply_body = reply_body.clone();
                std::thread::spawn(move || serve_one(stream, &log, &script, fallback, &reply_body));
            }
        });
        Self { url, received }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let got = wait_until(within, || {
            let r = self.received();
            (r.len() >= n).then_some(r)
        });
        got.unwrap_or_else(|| panic!("expected {n} requests, got {:?}", self.received().len()))
    }
}

fn serve_one(
    stream: TcpStream,
    log: &Mutex<Vec<Received>>,
    script: &Mutex<Vec<Reply>>,
    fallback: Reply,
    reply_body: &str,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap_or(0);
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    log.lock().unwrap().push(Received {
        at: Instant::now(),
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    let reply = {
        let mut script = script.lock().unwrap();
        if script.is_empty() {
            fallback
        } else {
            script.remove(0)
        }
    };
    let mut stream = stream;
    match reply {
        Reply::Status(code) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply_body}",
                reply_body.len()
            );
        }
        Reply::Hang => {
            // Hold the connection until the peer goes away.
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

pub(crate) fn wait_until<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// An app whose webhooks may reach this machine, polling often, with `schedule`.
fn hooks_app(schedule: &str) -> TestApp {
    let schedule = schedule.to_owned();
    TestApp::spawn_with(move |s| dev_settings(s, &schedule))
}

pub(crate) fn dev_settings(s: &mut Settings, schedule: &str) {
    s.allow_private_webhook_urls = true;
    s.webhook_poll_interval_ms = 50;
    s.webhook_retry_schedule = schedule.to_owned();
}

/// Creates an endpoint; returns (id, secret).
fn endpoint(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let r = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": url, "description": "test receiver", "event_types": types})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (r.body["id"].as_str().unwrap().to_owned(), secret)
}

/// Waits until no delivery is pending: once none is, nothing more is sent, so what
/// the receivers hold is all they will get.
fn wait_until_drained(app: &TestApp) {
    let drained = wait_until(Duration::from_secs(20), || {
        let pending =
            app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'");
        (pending == 0).then_some(())
    });
    assert!(drained.is_some(), "deliveries still pending after 20 s");
}

fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let r = app.api("GET", &format!("/webhooks/{endpoint}/deliveries"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

/// Waits until the endpoint's only delivery satisfies `f`.
fn wait_for_delivery(app: &TestApp, endpoint: &str, f: impl Fn(&Value) -> bool) -> Value {
    wait_until(Duration::from_secs(20), || {
        deliveries(app, endpoint).into_iter().find(|d| f(d))
    })
    .unwrap_or_else(|| panic!("no such delivery: {:#?}", deliveries(app, endpoint)))
}

#[test]
fn webhook_deliveries_are_signed_with_the_api_secret_and_carry_the_feed_envelope() {
    let app = hooks_app("10s");
    let all = Receiver::start(&[], Reply::Status(200));
    let groups = Receiver::start(&[], Reply::Status(204));
    // Events committed before an endpoint exists (the test token's) are not sent to it.
    let before = app.last_sequence();
    assert!(before > 0);
    let (all_id, secret) = endpoint(&app, &all.url, &[]);
    let (groups_id, _) = endpoint(&app, &groups.url, &["group.created"]);
    let user = app.create_user("ada@example.com");
    // A request that fails commits no event, so queues no delivery.
    let dup = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}),
    );
    assert_eq!(dup.status, 409);
    app.create_group("Eng", &[&user]);

    let feed = app.events_after(before);
    let types: Vec<&str> = feed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"user.created") && types.contains(&"group.created"),
        "{types:?}"
    );
    let got = all.wait_for(feed.len(), Duration::from_secs(20));
    wait_until_drained(&app);
    assert_eq!(all.received().len(), feed.len(), "each event exactly once");
    for event in &feed {
        let id = event["id"].as_str().unwrap();
        let message = got
            .iter()
            .find(|m| m.header("webhook-id") == id)
            .unwrap_or_else(|| panic!("no delivery of {id}"));
        assert!(message.verifies_with(&secret), "signature of {id}");
        assert!(!message.verifies_with(&signature::secret_from_bytes(&[1; 32])));
        assert_eq!(&message.json(), event, "the body is the feed's envelope");
        assert!(message
            .header("content-type")
            .starts_with("application/json"));
        let sent = message.header("webhook-timestamp").parse::<u64>().unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(sent <= now && now - sent < 60);
    }
    let by_groups = groups.wait_for(1, Duration::from_secs(20));
    wait_until_drained(&app);
    assert_eq!(groups.received().len(), 1, "filtered to group.created");
    assert_eq!(by_groups[0].json()["type"], "group.created");

    let listed = wait_for_delivery(&app, &groups_id, |d| d["state"] == "succeeded");
    assert_eq!(listed["attempts"], 1);
    assert_eq!(listed["last_status"], 204);
    assert!(listed["last_latency_ms"].is_number());
    assert_eq!(listed["attempt_log"].as_array().unwrap().len(), 1);
    wait_until(Duration::from_secs(10), || {
        deliveries(&app, &all_id)
            .iter()
            .all(|d| d["state"] == "succeeded")
            .then_some(())
    })
    .expect("all recorded as succeeded");
    assert_eq!(deliveries(&app, &all_id).len(), feed.len());
    assert_eq!(deliveries(&app, &all_id)[0]["last_response"], "ok");
}

#[test]
fn a_webhook_receiver_that_fails_then_recovers_gets_the_event_after_backoff() {
    let app = hooks_app("300ms,600ms,5s");
    let receiver = Receiver::start(
        &[Reply::Status(500), Reply::Status(503)],
        Reply::Status(200),
    );
    let (id, secret) = endpoint(&app, &receiver.url, &["user.created"]);
    app.create_user("grace@example.com");
    let got = receiver.wait_for(3, Duration::from_secs(20));
    assert!(got.iter().all(|m| m.verifies_with(&secret)));
    let ids: Vec<&str> = got.iter().map(|m| m.header("webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one webhook-id: {ids:?}");
    // ±20% jitter around 300 ms and 600 ms.
    let first_gap = got[1].at - got[0].at;
    let second_gap = got[2].at - got[1].at;
    assert!(first_gap >= Duration::from_millis(240), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(480), "{second_gap:?}");
    let d = wait_for_delivery(&app, &id, |d| d["state"] == "succeeded");
    assert_eq!(d["attempts"], 3);
    let statuses: Vec<i64> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 503, 200]);
    let endpoint = app.api("GET", &format!("/webhooks/{id}"), None);
    assert_eq!(
        endpoint.body["consecutive_failures"], 0,
        "reset by the success"
    );
    assert_eq!(endpoint.body["failing_since"], Value::Null);
    assert_eq!(endpoint.body["enabled"], true);
}

#[test]
fn webhook_deliveries_are_dead_lettered_after_the_schedule_and_can_be_redelivered() {
    let app = hooks_app("10ms,10ms,10ms");
    let receiver = Receiver::start_with_body(
        &[Reply::Status(500); 4],
        Reply::Status(200),
        "x".repeat(5000),
    );
    let (id, _) = endpoint(&app, &receiver.url, &["user.created"]);
    app.create_user("linus@example.com");
    let dead = wait_for_delivery(&app, &id, |d| d["state"] == "dead");
    assert_eq!(dead["attempts"], 4, "the first try and three retries");
    assert_eq!(dead["last_status"], 500);
    assert_eq!(dead["next_attempt_at"], Value::Null);
    assert_eq!(
        dead["last_response"].as_str().unwrap().len(),
        2048,
        "the first 2 KB of the response"
    );
    assert_eq!(receiver.received().len(), 4);

    let delivery_id = dead["id"].as_str().unwrap();
    let r = app.api(
        "POST",
        &format!("/webhooks/deliveries/{delivery_id}/redeliver"),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["state"], "pending");
    let done = wait_for_delivery(&app, &id, |d| d["state"] == "succeeded");
    assert_eq!(
        done["attempt_log"].as_array().unwrap().len(),
        5,
        "history kept"
    );
    let got = receiver.received();
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].header("webhook-id"), got[0].header("webhook-id"));
    let again = app.api(
        "POST",
        &format!("/webhooks/deliveries/{delivery_id}/redeliver"),
        None,
    );
    assert_eq!(again.status, 409, "{}", again.text);
    let missing = app.api("POST", "/webhooks/deliveries/nope/redeliver", None);
    assert_eq!(missing.status, 404);
}

#[test]
fn a_webhook_receiver_answering_410_disables_its_endpoint_at_once() {
    let app = hooks_app("10ms");
    let gone = Receiver::start(&[], Reply::Status(410));
    let watcher = Receiver::start(&[], Reply::Status(200));
    let (id, _) = endpoint(&app, &gone.url, &["user.created"]);
    endpoint(&app, &watcher.url, &["webhook_endpoint.disabled"]);
    app.create_user("a@example.com");
    let d = wait_for_delivery(&app, &id, |d| d["state"] == "dead");
    assert_eq!(d["attempts"], 1, "no retry after 410");
    let e = app.api("GET", &format!("/webhooks/{id}"), None);
    assert_eq!(e.body["enabled"], false);
    assert!(
        e.body["disabled_reason"].as_str().unwrap().contains("410"),
        "{}",
        e.text
    );
    // The owners hear of it through the feed and their other endpoints.
    let notice = watcher.wait_for(1, Duration::from_secs(20));
    assert_eq!(notice[0].json()["type"], "webhook_endpoint.disabled");
    assert_eq!(notice[0].json()["data"]["id"], id.as_str());
    // A disabled endpoint gets nothing new.
    app.create_user("b@example.com");
    wait_until_drained(&app);
    assert_eq!(gone.received().len(), 1);
    assert_eq!(deliveries(&app, &id).len(), 1);
    // Enabling it again clears the reason.
    let r = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"enabled": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["disabled_reason"], Value::Null);
    assert_eq!(r.body["consecutive_failures"], 0);
}

/// The endpoint's row, straight from the API.
fn endpoint_now(app: &TestApp, id: &str) -> Value {
    app.api("GET", &format!("/webhooks/{id}"), None).body
}

/// The audit actions of the tenant.
fn audited(app: &TestApp) -> Vec<String> {
    let mut conn = app.store.connection().unwrap();
    roster::service::admin::audit_log(&mut conn, "acme")
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect()
}

#[test]
fn a_short_outage_fails_deliveries_and_warns_but_never_disables_the_endpoint() {
    let app = hooks_app("5ms");
    let receiver = Receiver::start(&[], Reply::Status(500));
    let watcher = Receiver::start(&[], Reply::Status(200));
    let (id, _) = endpoint(&app, &receiver.url, &["user.created"]);
    endpoint(&app, &watcher.url, &["webhook_endpoint.failing"]);
    // 25 deliveries, two attempts each: 50 failed attempts, which used to disable it.
    for i in 0..25 {
        app.create_user(&format!("f{i}@example.com"));
    }
    wait_until_drained(&app);
    assert!(receiver.received().len() >= 50);
    let e = endpoint_now(&app, &id);
    assert_eq!(e["enabled"], true, "{e}");
    assert_eq!(
        e["consecutive_failures"], 25,
        "failed deliveries, not attempts"
    );
    assert!(e["failing_since"].is_string(), "{e}");

    // The owner is told once, when it starts failing, with the time it would be disabled.
    let types = app.event_types_after(0);
    let failing: Vec<&String> = types
        .iter()
        .filter(|t| *t == "webhook_endpoint.failing")
        .collect();
    assert_eq!(failing.len(), 1, "{types:?}");
    assert!(!types.contains(&"webhook_endpoint.disabled".to_owned()));
    let notice = watcher.wait_for(1, Duration::from_secs(20));
    let data = &notice[0].json()["data"];
    assert_eq!(data["id"], id.as_str());
    assert!(data["disable_at"].as_str().unwrap() > e["failing_since"].as_str().unwrap());
    assert!(audited(&app).contains(&"webhook.failing".to_owned()));
    let mut owner = crate::browser::Browser::owner(&app, "acme");
    let overview = owner.screen(&app, "acme", "");
    assert!(
        overview.text.contains("failing delivery"),
        "{}",
        overview.text
    );

    // It recovers by itself: a success clears the failure.
    let healthy = Receiver::start(&[], Reply::Status(200));
    let moved = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"url": healthy.url})),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    app.create_user("ok@example.com");
    wait_until_drained(&app);
    let e = endpoint_now(&app, &id);
    assert_eq!(
        (e["consecutive_failures"].as_i64(), &e["failing_since"]),
        (Some(0), &Value::Null)
    );
}

#[test]
fn an_endpoint_failing_longer_than_the_period_is_disabled_after_a_notice() {
    let app = hooks_app("5ms");
    let receiver = Receiver::start(&[], Reply::Status(503));
    let (id, _) = endpoint(&app, &receiver.url, &["user.created"]);
    for i in 0..3 {
        app.create_user(&format!("f{i}@example.com"));
    }
    wait_until_drained(&app);
    assert_eq!(endpoint_now(&app, &id)["enabled"], true);

    // As if the outage had begun four days ago (the period is 72 hours).
    let four_days_ago = roster::service::stamp(SystemTime::now() - Duration::from_secs(4 * 86_400));
    {
        use diesel::RunQueryDsl;
        let mut conn = app.store.connection().unwrap();
        diesel::sql_query(format!(
            "UPDATE webhook_endpoints SET failing_since = '{four_days_ago}' WHERE id = '{id}'"
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    app.create_user("last@example.com");
    let disabled = wait_until(Duration::from_secs(20), || {
        let e = endpoint_now(&app, &id);
        (e["enabled"] == false).then_some(e)
    })
    .expect("disabled");
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains(&four_days_ago) && reason.contains("deliveries failed"),
        "{reason}"
    );

    let types = app.event_types_after(0);
    let at = |t: &str| {
        types
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("{t} in {types:?}"))
    };
    assert!(
        at("webhook_endpoint.failing") < at("webhook_endpoint.disabled"),
        "told first"
    );
    let actions = audited(&app);
    assert!(
        actions.contains(&"webhook.disabled_by_roster".to_owned()),
        "{actions:?}"
    );

    // Enabling it again starts afresh.
    let r = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"enabled": true})),
    );
    assert_eq!(r.body["consecutive_failures"], 0);
    assert_eq!(r.body["failing_since"], Value::Null);
}

#[test]
fn webhook_urls_reaching_internal_addresses_are_refused_without_the_dev_setting() {
    let app = TestApp::spawn();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://192.168.1.20/",
        "https://100.64.0.1/",
        "https://[::1]/",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:127.0.0.1]/",
        "https://2130706433/",
        "https://localhost/hook",
        "https://localhost:8443/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "not a url",
    ] {
        let r = app.api("POST", "/webhooks", Some(&json!({"url": url})));
        assert_eq!(r.status, 400, "{url}: {}", r.text);
    }
    let r = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "https://localhost/x"})),
    );
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("private") || detail.contains("resolve"),
        "{detail}"
    );
    assert_eq!(app.api("GET", "/webhooks", None).body, json!([]));
}

#[test]
fn webhook_sends_recheck_the_address_so_dns_rebinding_cannot_reach_internal_hosts() {
    let app = TestApp::spawn_with(|s| s.webhook_poll_interval_ms = 50);
    let canary = Receiver::start(&[], Reply::Status(200));
    // As if the name resolved to a public address when saved and to loopback now.
    {
        let mut conn = app.store.connection().unwrap();
        let tenant = roster::service::tenants::tenant(&mut conn, "acme").unwrap();
        let now = roster::service::now();
        roster::store::webhooks::insert_endpoint(
            &mut conn,
            &roster::store::webhooks::EndpointRow {
                id: "rebound".into(),
                tenant_id: tenant.id,
                url: canary.url.clone(),
                description: String::new(),
                event_types: String::new(),
                secret: signature::secret_from_bytes(&[3; 32]),
                previous_secret: None,
                previous_secret_expires_at: None,
                enabled: true,
                disabled_reason: None,
                consecutive_failures: 0,
                created_at: now.clone(),
                updated_at: now,
                failing_since: None,
            },
        )
        .unwrap();
    }
    app.create_user("c@example.com");
    let d = wait_for_delivery(&app, "rebound", |d| {
        d["attempts"] == 1 && d["last_error"].is_string()
    });
    assert!(
        d["last_error"].as_str().unwrap().contains("private"),
        "{d:#}"
    );
    assert_eq!(d["state"], "pending", "retried later, like any failure");
    assert_eq!(canary.received().len(), 0, "the canary was never reached");
}

#[test]
fn rotating_a_webhook_secret_signs_with_both_secrets_for_a_day() {
    let app = hooks_app("10s");
    let receiver = Receiver::start(&[], Reply::Status(200));
    let (id, old) = endpoint(&app, &receiver.url, &[]);
    let r = app.api("POST", &format!("/webhooks/{id}/rotate-secret"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let new = r.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let until = r.body["previous_secret_expires_at"].as_str().unwrap();
    let until = humantime::parse_rfc3339(until).unwrap();
    let left = until.duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(23 * 3600) && left <= Duration::from_secs(24 * 3600));
    // The secret is never shown again.
    let shown = app.api("GET", &format!("/webhooks/{id}"), None);
    assert!(!shown.text.contains(&new) && !shown.text.contains(&old));
    assert!(!app.api("GET", "/webhooks", None).text.contains("whsec_"));

    let r = app.api("POST", &format!("/webhooks/{id}/test"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let got = receiver.wait_for(1, Duration::from_secs(20));
    let message = &got[0];
    assert_eq!(message.json()["type"], "webhook.test");
    assert_eq!(
        message.header("webhook-id"),
        r.body["event_id"].as_str().unwrap()
    );
    assert_eq!(message.header("webhook-signature").split(' ').count(), 2);
    assert!(message.verifies_with(&new));
    assert!(message.verifies_with(&old));
    // The test message is not a tenant event.
    assert!(app.event_types_after(0).iter().all(|t| t != "webhook.test"));
}

#[test]
fn webhook_endpoints_are_listed_changed_and_deleted_by_admin_keys_only() {
    let app = hooks_app("10s");
    let (id, _) = endpoint(&app, "http://127.0.0.1:9/a", &["user.created"]);
    let listed = app.api("GET", "/webhooks", None);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["event_types"], json!(["user.created"]));

    let r = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"description": "new", "event_types": [], "enabled": false, "url": "http://127.0.0.1:9/b"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["description"], "new");
    assert_eq!(r.body["event_types"], json!([]));
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["url"], "http://127.0.0.1:9/b");
    let test = app.api("POST", &format!("/webhooks/{id}/test"), None);
    assert_eq!(test.status, 409, "a disabled endpoint is not tested");

    let bad = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"event_types": ["Not A Type"]})),
    );
    assert_eq!(bad.status, 400);
    let unknown = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "http://127.0.0.1:9/", "secret": "x"})),
    );
    assert_eq!(unknown.status, 400, "unknown fields are refused");

    let reader = {
        let mut conn = app.store.connection().unwrap();
        roster::service::api_keys::create(&mut conn, "acme", None, &["events:read".into()])
            .unwrap()
            .secret
    };
    assert_eq!(app.api_as(&reader, "GET", "/webhooks", None).status, 403);
    assert_eq!(
        app.api_as(&reader, "DELETE", &format!("/webhooks/{id}"), None)
            .status,
        403
    );

    assert_eq!(
        app.api("DELETE", &format!("/webhooks/{id}"), None).status,
        204
    );
    assert_eq!(app.api("GET", &format!("/webhooks/{id}"), None).status, 404);
    assert_eq!(
        app.api("DELETE", &format!("/webhooks/{id}"), None).status,
        404
    );
    assert_eq!(
        app.api("GET", &format!("/webhooks/{id}/deliveries"), None)
            .status,
        404
    );

    let served = app.raw(
        "GET",
        &format!("{}/api/v1/openapi.json", app.address),
        &[],
        None,
        None,
    );
    let paths = &served.body["paths"];
    for path in [
        "/api/v1/tenants/{tenant}/webhooks",
        "/api/v1/tenants/{tenant}/webhooks/{id}",
        "/api/v1/tenants/{tenant}/webhooks/{id}/rotate-secret",
        "/api/v1/tenants/{tenant}/webhooks/{id}/test",
        "/api/v1/tenants/{tenant}/webhooks/{id}/deliveries",
        "/api/v1/tenants/{tenant}/webhooks/deliveries/{delivery_id}/redeliver",
    ] {
        assert!(paths[path].is_object(), "{path} in /api/v1/openapi.json");
    }
}

#[test]
fn two_webhook_workers_on_one_database_deliver_each_event_exactly_once() {
    let app = hooks_app("10s");
    let mut settings = Settings {
        database_url: app.db.url.clone(),
        listen: "127.0.0.1:0".into(),
        workers: 1,
        ..Settings::default()
    };
    dev_settings(&mut settings, "10s");
    let _second = start(settings);
    let receiver = Receiver::start(&[], Reply::Status(200));
    endpoint(&app, &receiver.url, &["user.created"]);
    for i in 0..20 {
        app.create_user(&format!("user{i}@example.com"));
    }
    receiver.wait_for(20, Duration::from_secs(30));
    wait_until_drained(&app);
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|m| m.header("webhook-id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(receiver.received().len(), 20, "no event sent twice");
}

#[test]
fn events_and_succeeded_deliveries_past_retention_are_pruned() {
    let app = hooks_app("10s");
    let receiver = Receiver::start(&[], Reply::Status(200));
    let (id, _) = endpoint(&app, &receiver.url, &[]);
    app.create_user("old@example.com");
    wait_until(Duration::from_secs(20), || {
        let all = deliveries(&app, &id);
        (!all.is_empty() && all.iter().all(|d| d["state"] == "succeeded")).then_some(())
    })
    .expect("every delivery succeeded");
    let mut conn = app.store.connection().unwrap();
    // Nothing is 30 days old yet.
    let now = roster::service::stamp(SystemTime::now() - Duration::from_secs(30 * 86400));
    assert_eq!(
        roster::service::webhooks::prune_batch(&mut conn, &now, 1000).unwrap(),
        (0, 0)
    );
    // A cutoff in the future stands for "30 days later".
    let later = roster::service::stamp(SystemTime::now() + Duration::from_secs(60));
    let (events, deliveries_pruned) =
        roster::service::webhooks::prune_batch(&mut conn, &later, 1000).unwrap();
    assert!(
        events >= 1 && deliveries_pruned >= 1,
        "{events} {deliveries_pruned}"
    );
    drop(conn);
    assert!(deliveries(&app, &id).is_empty());
    // A consumer still at 0 would skip them: it is told to bootstrap again instead.
    let r = app.api("GET", "/events?after=0", None);
    assert_eq!(r.status, 410, "{}", r.text);
}

/// T5: a roster killed after claiming a delivery (the request has reached the
/// receiver, which never answers) loses nothing: once the lease runs out, the next
/// roster on the database sends it again, with the same `webhook-id`.
#[test]
fn a_webhook_claimed_by_a_killed_roster_is_delivered_by_the_next_one() {
    let db = TestDb::new();
    let env = [
        ("ROSTER_ALLOW_PRIVATE_WEBHOOK_URLS", "true"),
        ("ROSTER_WEBHOOK_LEASE_SECS", "2"),
        ("ROSTER_WEBHOOK_POLL_INTERVAL_MS", "100"),
    ];
    let first = Server::start_with(&db, &env);
    let key = last_line(&stdout(&roster(&db, &["api-key", "create", "default"]))).to_owned();
    let token = last_line(&stdout(&roster(&db, &["token", "create", "default"]))).to_owned();
    let receiver = Receiver::start(&[Reply::Hang], Reply::Status(200));
    let api = |server: &Server, method: &str, path: &str, body: Option<Value>| -> Value {
        let request = ureq::request(
            method,
            &format!("{}/api/v1/tenants/default{path}", server.url),
        )
        .set("Authorization", &format!("Bearer {key}"));
        let response = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        }
        .unwrap();
        response.into_json().unwrap()
    };
    let hook = api(
        &first,
        "POST",
        "/webhooks",
        Some(json!({"url": receiver.url, "event_types": ["user.created"]})),
    );
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let created = ureq::post(&format!("{}/scim/v2/default/Users", first.url))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "t5@example.com"}))
        .unwrap();
    assert_eq!(created.status(), 201);

    let sent = receiver.wait_for(1, Duration::from_secs(20));
    first.kill();

    let second = Server::start_with(&db, &env);
    let got = receiver.wait_for(2, Duration::from_secs(20));
    assert_eq!(got[1].header("webhook-id"), sent[0].header("webhook-id"));
    assert_eq!(got[1].body, sent[0].body);
    assert!(got[1].verifies_with(&secret));
    let feed = api(&second, "GET", "/events?after=0", None);
    let event = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "user.created")
        .cloned()
        .unwrap();
    assert_eq!(got[1].header("webhook-id"), event["id"].as_str().unwrap());
    let done = wait_until(Duration::from_secs(10), || {
        let list = api(
            &second,
            "GET",
            &format!("/webhooks/{hook_id}/deliveries"),
            None,
        );
        let d = list["data"][0].clone();
        (d["state"] == "succeeded").then_some(d)
    })
    .expect("recorded as delivered");
    assert_eq!(done["attempts"], 2, "the killed attempt counts");
    second.terminate();
}

/// On PostgreSQL a worker skips rows another worker has locked but not yet leased,
/// rather than waiting for them or taking them too.
#[test]
fn webhook_claims_skip_rows_locked_by_another_worker_on_postgres() {
    use roster::service::delivery::claim;
    use roster::service::stamp;
    use roster::store::migrate;
    use roster::store::webhooks::{self, DeliveryRow, EndpointRow};

    let db = TestDb::new();
    if !db.is_postgres() {
        return;
    }
    let store = db.store();
    let keys = std::sync::Arc::new(roster::secrets::KeyRing::new(TEST_SECRETS_KEY, &[]).unwrap());
    let mut a = store.connection().unwrap();
    migrate::run_pending(&mut a).unwrap();
    let tenant = roster::service::tenants::create_tenant(&mut a, "acme", None)
        .unwrap()
        .id;
    let now = roster::service::now();
    webhooks::insert_endpoint(
        &mut a,
        &EndpointRow {
            id: "e".into(),
            tenant_id: tenant.clone(),
            url: "https://example.com/hook".into(),
            description: String::new(),
            event_types: String::new(),
            secret: signature::secret_from_bytes(&[5; 32]),
            previous_secret: None,
            previous_secret_expires_at: None,
            enabled: true,
            disabled_reason: None,
            consecutive_failures: 0,
            created_at: now.clone(),
            updated_at: now.clone(),
            failing_since: None,
        },
    )
    .unwrap();
    let rows: Vec<DeliveryRow> = (0..3)
        .map(|i| DeliveryRow {
            id: format!("d{i}"),
            tenant_id: tenant.clone(),
            endpoint_id: "e".into(),
            event_id: format!("evt_{i}"),
            event_type: "user.created".into(),
            payload: Some("{}".into()),
            state: "pending".into(),
            attempts: 0,
            // Ordered due times, so the first worker's row is d0.
            next_attempt_at: stamp(SystemTime::now() - Duration::from_secs(10 - i)),
            claimed_until: None,
            last_status: None,
            last_error: None,
            last_latency_ms: None,
            last_response: None,
            created_at: now.clone(),
            updated_at: now.clone(),
        })
        .collect();
    webhooks::insert_deliveries(&mut a, &rows).unwrap();

    use diesel::Connection;
    a.transaction::<_, diesel::result::Error, _>(|a| {
        let held = webhooks::lock_due(a, &stamp(SystemTime::now()), 1).unwrap();
        assert_eq!(held, ["d0"]);
        let other = store.clone();
        let ring = keys.clone();
        let started = Instant::now();
        let claimed = std::thread::spawn(move || {
            let mut b = other.connection().unwrap();
            claim(
                &mut b,
                SystemTime::now(),
                Duration::from_secs(60),
                10,
                &ring,
            )
            .unwrap()
        })
        .join()
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "did not wait");
        let mut ids: Vec<String> = claimed.into_iter().map(|c| c.delivery_id).collect();
        ids.sort();
        assert_eq!(ids, ["d1", "d2"]);
        Ok(())
    })
    .unwrap();
    // Leased rows are not due again until the lease runs out.
    let mut c = store.connection().unwrap();
    let again = claim(
        &mut c,
        SystemTime::now(),
        Duration::from_secs(60),
        10,
        &keys,
    )
    .unwrap();
    let ids: Vec<String> = again.into_iter().map(|c| c.delivery_id).collect();
    assert_eq!(ids, ["d0"]);
    let later = SystemTime::now() + Duration::from_secs(61);
    assert_eq!(
        claim(&mut c, later, Duration::from_secs(60), 10, &keys)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn an_endpoint_naming_an_unknown_event_type_is_refused_with_the_valid_types() {
    let app = hooks_app("10s");
    let created = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "http://127.0.0.1:9/a", "event_types": ["user.created", "user.renamed"]})),
    );
    created.assert_scim_error(400, Some("invalidValue"));
    let detail = created.body["detail"].as_str().unwrap();
    assert!(detail.contains("'user.renamed'"), "{detail}");
    for valid in ["user.created", "group.member_added", "user.roles_changed"] {
        assert!(detail.contains(valid), "{detail} lists {valid}");
    }
    assert_eq!(app.api("GET", "/webhooks", None).body, json!([]));

    let (id, _) = endpoint(&app, "http://127.0.0.1:9/a", &["user.created"]);
    let changed = app.api(
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(&json!({"event_types": ["group.created", "webhook.test"]})),
    );
    changed.assert_scim_error(400, Some("invalidValue"));
    let kept = app.api("GET", &format!("/webhooks/{id}"), None);
    assert_eq!(
        kept.body["event_types"],
        json!(["user.created"]),
        "unchanged"
    );

    let doc = app.raw(
        "GET",
        &format!("{}/api/v1/openapi.json", app.address),
        &[],
        None,
        None,
    );
    let listed = &doc.body["components"]["schemas"]["EventType"]["enum"];
    assert!(
        listed
            .as_array()
            .is_some_and(|t| t.contains(&json!("user.roles_changed"))),
        "the document lists the valid types: {listed}"
    );
}
