//! Directory pull from the JumpCloud API, against the local stand-in
//! (`tests/jumpcloud/standin.py`, JumpCloud's documented shapes, paging, rate limiting
//! and faults): the dry-run diff, applying it, incremental runs, drift from SCIM push,
//! failures part-way and a 429 storm.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::roles::{map, role};

/// The stand-in JumpCloud API: a python child process, killed on drop.
pub struct Standin {
    child: Child,
    pub url: String,
    agent: ureq::Agent,
}

impl Standin {
    pub fn start(users: usize, groups: usize) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jumpcloud/standin.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0", "--watch-parent"])
            .args([
                "--users",
                &users.to_string(),
                "--groups",
                &groups.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let line = crate::helpers::ready_line(&mut child, Duration::from_secs(60))
            .expect("the stand-in prints its ready line");
        let ready: Value = serde_json::from_str(&line).expect("a JSON ready line");
        Self {
            child,
            url: ready["url"].as_str().unwrap().to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    /// A control-plane call (`/_standin/...`).
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let request = self
            .agent
            .request(method, &format!("{}/_standin{path}", self.url));
        let response = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        }
        .unwrap_or_else(|e| panic!("stand-in {method} {path}: {e}"));
        response.into_json().unwrap_or(Value::Null)
    }

    pub fn state(&self) -> Value {
        self.control("GET", "/state", None)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn connect(app: &TestApp, standin: &Standin, extra: Value) {
    let mut body = json!({"base_url": standin.url, "api_key": "jc-test-key"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.api("PUT", "/directory-source", Some(&body));
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Waits until the run is in one of `states` (or fails the test after `within`).
pub fn wait_for(app: &TestApp, id: &str, states: &[&str], within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = app.api("GET", &format!("/directory-runs/{id}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let state = r.body["state"].as_str().unwrap_or_default().to_owned();
        if states.contains(&state.as_str()) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} still {state} after {within:?}: {}",
            r.text
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts a run and waits for its diff.
pub fn plan(app: &TestApp) -> Value {
    let r = app.api("POST", "/directory-runs", None);
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    wait_for(
        app,
        &id,
        &["planned", "no_changes", "failed"],
        Duration::from_secs(120),
    )
}

pub fn apply(app: &TestApp, run: &Value) -> Value {
    let id = run["id"].as_str().unwrap();
    let r = app.api("POST", &format!("/directory-runs/{id}/apply"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    wait_for(app, id, &["applied"], Duration::from_secs(600))
}

fn changes(app: &TestApp, run: &Value) -> Vec<Value> {
    let id = run["id"].as_str().unwrap();
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = app.api(
            "GET",
            &format!("/directory-runs/{id}/changes?after={after}&limit=1000"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text);
        out.extend(r.body["changes"].as_array().unwrap().iter().cloned());
        match r.body["next"].as_i64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

fn execute(app: &TestApp, sql: &str) {
    use diesel::RunQueryDsl;
    let mut conn = app.store.connection().expect("connection");
    diesel::sql_query(sql).execute(&mut *conn).expect("SQL");
}

fn total(app: &TestApp, path: &str) -> i64 {
    let r = app.call("GET", path, None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["totalResults"].as_i64().unwrap()
}

fn user_by_external(app: &TestApp, external: &str) -> Value {
    let r = app.call(
        "GET",
        &format!("/Users?filter=externalId%20eq%20%22{external}%22"),
        None,
    );
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    r.body["Resources"][0].clone()
}

/// roster's id of the group JumpCloud's `external` became.
fn group_by_external(app: &TestApp, external: &str) -> String {
    let r = app.call(
        "GET",
        &format!("/Groups?filter=externalId%20eq%20%22{external}%22"),
        None,
    );
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    r.body["Resources"][0]["id"].as_str().unwrap().to_owned()
}

fn count(run: &Value, key: &str) -> u64 {
    run["summary"]["counts"][key].as_u64().unwrap_or(0)
}

fn uid(i: usize) -> String {
    format!("64f0{:020x}", i + 1)
}

fn gid(k: usize) -> String {
    format!("6500{:020x}", k + 1)
}

#[test]
fn a_first_pull_of_10000_users_and_200_groups_is_reviewed_then_applied_as_a_push_would_be() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(10_000, 200);
    connect(&app, &standin, json!({}));
    let before = app.last_sequence();

    let run = plan(&app);
    assert_eq!(run["state"], "planned", "{run}");
    // user40 and user41 share an e-mail, hence a userName: both are left out.
    assert_eq!(run["summary"]["skipped_count"], 2, "{run}");
    assert_eq!(count(&run, "user.create"), 9_998);
    // "All Users" is JumpCloud's dynamic everyone-group: left out unless named.
    assert_eq!(count(&run, "group.create"), 199);
    assert_eq!(run["summary"]["remote_users"], 10_000);
    assert!(!run["reconcile"].as_bool().unwrap());
    assert!(run["can_apply"].as_bool().unwrap());
    // A dry run writes nothing (reading through SCIM activates the connection).
    assert_eq!(total(&app, "/Users?count=0"), 0);
    let types: Vec<Value> = app
        .events_after(before)
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("connection.activated")]);

    let applied = apply(&app, &run);
    assert_eq!(applied["applied"], applied["total"], "{applied}");
    assert_eq!(applied["summary"]["failed"], 0, "{applied}");
    assert_eq!(total(&app, "/Users?count=0"), 9_998);
    assert_eq!(total(&app, "/Groups?count=0"), 199);
    assert_eq!(
        total(&app, "/Users?count=0&filter=active%20eq%20false"),
        i64::try_from(
            (0..10_000)
                .filter(|i| ![40, 41].contains(i))
                .filter(|i| i % 33 == 5 || i % 50 == 11 || i % 89 == 17)
                .count()
        )
        .unwrap()
    );

    // The same resource shape as JumpCloud's SCIM push.
    let ada = user_by_external(&app, &uid(7));
    assert_eq!(ada["userName"], "user7@acme.test");
    assert_eq!(ada["active"], true, "state absent, not suspended: {ada}");
    assert_eq!(ada["emails"][0]["value"], "user7@acme.test");
    assert_eq!(user_by_external(&app, &uid(5))["active"], false);

    // Memberships equal JumpCloud's.
    let state = standin.state();
    let jc_members = state["members"][gid(1)].as_array().unwrap().len();
    let skipped = state["members"][gid(1)]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| [uid(40), uid(41)].contains(&m.as_str().unwrap().to_owned()))
        .count();
    let group_id = &group_by_external(&app, &gid(1));
    assert_eq!(app.member_ids(group_id).len(), jc_members - skipped);

    // The same events as a push, by the directory.
    let mut events = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(before, |e: &Value| e["sequence"].as_i64().unwrap());
        let page = app.events_after(after);
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    let created = events
        .iter()
        .filter(|e| e["type"] == "user.created")
        .count();
    assert_eq!(created, 9_998);
    assert!(events
        .iter()
        .filter(|e| e["type"] != "connection.activated")
        .all(|e| e["actor"]["type"] == "directory"));
    assert!(app
        .audit_actions()
        .contains(&"directory.run_applied".to_owned()));
    // The sync log shows the run beside the SCIM requests.
    let log = app.api("GET", "/sync-log?limit=50", None);
    let methods: Vec<&str> = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["method"].as_str())
        .collect();
    assert!(
        methods.contains(&"PULL") && methods.contains(&"APPLY"),
        "{}",
        log.text
    );
    // A second run finds nothing to do.
    let again = plan(&app);
    assert_eq!(again["state"], "no_changes", "{again}");
}

#[test]
fn an_incremental_pull_changes_only_what_changed_and_shows_the_role_impact() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(60, 6);
    connect(&app, &standin, json!({}));
    let first = plan(&app);
    apply(&app, &first);
    let users = total(&app, "/Users?count=0");

    // A role mapped to JumpCloud's group 1.
    let group_id = group_by_external(&app, &gid(1));
    role(&app, "editor", 10, false);
    map(&app, &group_id, "editor");

    let state = standin.state();
    let member_of = |group: &str| -> Vec<String> {
        state["members"][group]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    };
    let touched = [uid(2), uid(3), uid(4), uid(40), uid(41)];
    let members: Vec<String> = member_of(&gid(1))
        .into_iter()
        .filter(|m| !touched.contains(m))
        .collect();
    let (leaver, suspended) = (members[0].clone(), members[1].clone());
    // The deleted user leaves each of its groups (All Users is not pulled).
    let groups_of_deleted: Vec<usize> = (1..6)
        .filter(|k| member_of(&gid(*k)).contains(&uid(3)))
        .collect();
    let removals = groups_of_deleted.len() + usize::from(!groups_of_deleted.contains(&1));
    standin.control(
        "POST",
        &format!("/groups/{}/members", gid(1)),
        Some(json!({"remove": [leaver]})),
    );
    standin.control(
        "POST",
        "/users",
        Some(json!({"id": suspended, "state": "SUSPENDED", "suspended": true})),
    );
    standin.control(
        "POST",
        "/users",
        Some(json!({"id": uid(2), "jobTitle": "CTO"})),
    );
    standin.control(
        "POST",
        "/groups",
        Some(json!({"id": gid(2), "name": "Renamed"})),
    );
    let new = standin.control(
        "POST",
        "/users",
        Some(
            json!({"username": "newbie", "email": "newbie@acme.test", "firstname": "New",
                    "lastname": "Bie", "state": "ACTIVATED"}),
        ),
    );
    let new_id = new["id"].as_str().unwrap().to_owned();
    standin.control(
        "POST",
        &format!("/groups/{}/members", gid(1)),
        Some(json!({"add": [new_id]})),
    );
    standin.control("DELETE", &format!("/users/{}", uid(3)), None);

    let run = plan(&app);
    assert_eq!(run["state"], "planned", "{run}");
    let counts = &run["summary"]["counts"];
    assert_eq!(
        counts,
        &json!({"user.create": 1, "user.update": 1, "user.deactivate": 2,
                "group.update": 1, "membership.add": 1, "membership.remove": removals}),
        "{run}"
    );
    assert!(
        !run["reconcile"].as_bool().unwrap(),
        "nothing was pushed: {run}"
    );
    let editor = &run["summary"]["roles"]["roles"]["editor"];
    // The new member gains it; the leaver, the suspended member and (if a member) the
    // deleted user lose it.
    assert_eq!(editor["added"], 1, "{run}");
    assert_eq!(
        editor["removed"],
        2 + u64::from(groups_of_deleted.contains(&1)),
        "{run}"
    );
    let listed = changes(&app, &run);
    assert_eq!(listed.len() as u64, run["total"].as_u64().unwrap());
    assert!(listed.iter().all(|c| c["outcome"].is_null()));
    // Groups first, then users, memberships, and removals last.
    let rank = |c: &Value| match (c["kind"].as_str().unwrap(), c["op"].as_str().unwrap()) {
        ("group", "update") => 0,
        ("user", "create") => 1,
        ("user", "update") => 2,
        ("membership", "add") => 3,
        ("membership", "remove") => 4,
        ("user", "deactivate") => 5,
        other => panic!("unexpected change {other:?}"),
    };
    assert!(
        listed.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{listed:?}"
    );

    apply(&app, &run);
    assert_eq!(total(&app, "/Users?count=0"), users + 1);
    assert_eq!(user_by_external(&app, &uid(2))["title"], "CTO");
    assert_eq!(user_by_external(&app, &uid(3))["active"], false);
    assert_eq!(user_by_external(&app, &suspended)["active"], false);
    let roles = app.api("GET", "/roles/editor/holders?limit=1000", None);
    let holders: Vec<&str> = roles.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["userName"].as_str().unwrap_or_default())
        .collect();
    assert!(holders.contains(&"newbie@acme.test"), "{}", roles.text);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE written_by = 'directory'"),
        users + 1
    );

    // Runs on schedule, applied automatically.
    standin.control(
        "POST",
        "/users",
        Some(json!({"id": uid(4), "jobTitle": "Chief"})),
    );
    connect(
        &app,
        &standin,
        json!({"interval_minutes": 15, "auto_apply": true}),
    );
    execute(
        &app,
        "UPDATE directory_sources SET next_run_at = '2000-01-01T00:00:00.000Z'",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = app.api("GET", "/directory-runs?limit=1", None);
        let newest = &runs.body[0];
        if newest["trigger"] == "schedule" && newest["state"] == "applied" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled run applied: {}",
            runs.text
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(user_by_external(&app, &uid(4))["title"], "Chief");
}

#[test]
fn drift_from_scim_push_is_reported_with_the_newer_side_and_repaired_only_when_asked() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(3, 0);
    // JumpCloud's push created user 0 and 1 earlier; a push for user 1's title was lost.
    for i in [0, 1] {
        let r = app.call(
            "POST",
            "/Users",
            Some(&json!({"userName": format!("user{i}@acme.test"), "externalId": uid(i),
                         "emails": [{"value": format!("user{i}@acme.test"), "type": "work", "primary": true}],
                         "active": true})),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    connect(&app, &standin, json!({}));
    let run = plan(&app);
    assert!(run["reconcile"].as_bool().unwrap(), "{run}");
    assert!(!run["can_apply"].as_bool().unwrap(), "{run}");
    assert!(
        run["summary"]["drift"]["unknown"].as_u64().unwrap() >= 2,
        "{run}"
    );
    let id = run["id"].as_str().unwrap();
    let refused = app.api("POST", &format!("/directory-runs/{id}/apply"), None);
    assert_eq!(refused.status, 409, "{}", refused.text);

    connect(&app, &standin, json!({"drift": "repair"}));
    let run = plan(&app);
    let applied = apply(&app, &run);
    assert_eq!(applied["summary"]["failed"], 0, "{applied}");
    let first_name = standin.state()["users"][1]["firstname"].clone();
    assert_eq!(
        user_by_external(&app, &uid(1))["name"]["givenName"],
        first_name
    );
    assert_eq!(total(&app, "/Users?count=0"), 3);

    // Now they agree. A push changes roster, then JumpCloud changes another user.
    let pushed = user_by_external(&app, &uid(0));
    let r = app.patch(
        &format!("/Users/{}", pushed["id"].as_str().unwrap()),
        &crate::helpers::patch_op(json!([{"op": "replace", "path": "title", "value": "Pushed"}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    standin.control(
        "POST",
        "/users",
        Some(json!({"id": uid(2), "jobTitle": "Pulled"})),
    );
    let run = plan(&app);
    let drift: Vec<(String, String)> = changes(&app, &run)
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap().to_owned(),
                c["newer"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        drift.contains(&("user0@acme.test".into(), "roster".into())),
        "{drift:?}"
    );
    assert!(
        drift.contains(&("user2@acme.test".into(), "jumpcloud".into())),
        "{drift:?}"
    );
    let writers = app.count("SELECT count(*) AS n FROM users WHERE written_by = 'scim'");
    assert_eq!(writers, 1, "user0 was last written by the push");
}

#[test]
fn a_pull_that_fails_part_way_applies_nothing_and_says_why() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(300, 5);
    connect(&app, &standin, json!({}));
    // Pages of users pass, then one group's members answer 502 for good.
    standin.control(
        "POST",
        "/faults",
        Some(json!([{"status": 502, "path": "/members", "after": 2}])),
    );
    let run = plan(&app);
    assert_eq!(run["state"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("502") && error.contains("attempts"),
        "{error}"
    );
    assert_eq!(total(&app, "/Users?count=0"), 0);
    assert!(app
        .audit_actions()
        .contains(&"directory.run_failed".to_owned()));

    // A truncated body is retried like a broken connection.
    standin.control(
        "POST",
        "/faults",
        Some(json!([{"truncate": true, "path": "/api/systemusers", "count": 2}])),
    );
    assert_eq!(plan(&app)["state"], "planned");

    // A key JumpCloud refuses is said plainly, and not retried.
    connect(&app, &standin, json!({"api_key": "wrong"}));
    standin.control("POST", "/faults", Some(json!([])));
    standin.control("POST", "/stats/reset", None);
    let run = plan(&app);
    assert_eq!(run["state"], "failed");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("refused the API key"),
        "{run}"
    );
    assert_eq!(standin.control("GET", "/stats", None)["requests"], 1);
    // And a 403 (JumpCloud's IP block) stops the run at once.
    connect(&app, &standin, json!({"api_key": "jc-test-key"}));
    standin.control("POST", "/faults", Some(json!([{"status": 403}])));
    let run = plan(&app);
    assert!(run["error"].as_str().unwrap().contains("403"), "{run}");
}

#[test]
fn a_429_storm_is_waited_out_honouring_retry_after_and_the_pull_completes() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(1_000, 20);
    connect(&app, &standin, json!({}));
    standin.control(
        "POST",
        "/faults",
        Some(json!([
            {"status": 429, "path": "/api/systemusers", "count": 2, "retry_after": 1},
            {"status": 429, "rate": 0.6, "retry_after": 0},
        ])),
    );
    let started = Instant::now();
    let run = plan(&app);
    assert_eq!(run["state"], "planned", "{run}");
    assert_eq!(count(&run, "user.create"), 998);
    assert_eq!(count(&run, "group.create"), 19);
    let stats = standin.control("GET", "/stats", None);
    let served = stats["faults_served"].as_u64().unwrap();
    assert!(served > 20, "{stats}");
    assert!(
        run["summary"]["retries"].as_u64().unwrap() >= served,
        "{run}"
    );
    // Two one-second Retry-After waits, in order.
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn the_api_key_is_stored_sealed_and_never_shown() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let r = app.api(
        "PUT",
        "/directory-source",
        Some(&json!({"base_url": "http://127.0.0.1:9"})),
    );
    assert_eq!(r.status, 400, "the first connect needs a key: {}", r.text);
    let r = app.api(
        "PUT",
        "/directory-source",
        Some(
            &json!({"api_key": "jc-secret-value", "interval_minutes": 15, "scope_groups": ["Eng"]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["base_url"], "https://console.jumpcloud.com");
    assert_eq!(r.body["api_key_set"], true);
    assert!(!r.text.contains("jc-secret-value"));
    assert!(!app
        .api("GET", "/directory-source", None)
        .text
        .contains("jc-secret-value"));
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM directory_sources WHERE api_key LIKE '%jc-secret-value%'"
        ),
        0
    );
    for bad in [
        json!({"base_url": "http://jumpcloud.example"}),
        json!({"drift": "sometimes"}),
        json!({"org_id": "nope"}),
        json!({"interval_minutes": -1}),
        json!({"unknown": 1}),
    ] {
        let r = app.api("PUT", "/directory-source", Some(&bad));
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = app.api("DELETE", "/directory-source", None);
    assert_eq!(r.status, 204);
    assert_eq!(app.api("GET", "/directory-source", None).status, 404);
}

#[test]
fn the_command_line_connects_jumpcloud_and_runs_a_pull_in_process() {
    let db = crate::helpers::TestDb::new();
    let standin = Standin::start(50, 4);
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(args)
            .env("ROSTER_DATABASE_URL", &db.url)
            .envs(db.secrets_env())
            .env("ROSTER_ALLOW_PRIVATE_WEBHOOK_URLS", "true")
            .env("ROSTER_LOG_LEVEL", "warn")
            .output()
            .expect("roster runs")
    };
    crate::cli::stdout(&cli(&["tenant", "create", "acme"]));
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), "jc-test-key\n").unwrap();
    let connected = crate::cli::stdout(&cli(&[
        "directory",
        "connect",
        "acme",
        "--api-key-file",
        key.path().to_str().unwrap(),
        "--base-url",
        &standin.url,
        "--scope-group",
        "Alumni 3",
    ]));
    assert!(!connected.contains("jc-test-key"), "{connected}");
    // "Alumni 3" is the stand-in's empty group: scope by it, and nobody is pulled.
    let run: Value =
        serde_json::from_str(&crate::cli::stdout(&cli(&["directory", "run", "acme"]))).unwrap();
    assert_eq!(run["state"], "planned", "{run}");
    assert_eq!(count(&run, "group.create"), 1, "{run}");
    assert_eq!(count(&run, "user.create"), 0, "{run}");

    // Widen the scope to everyone (other settings are kept) and apply.
    crate::cli::stdout(&cli(&["directory", "connect", "acme", "--scope-group", ""]));
    let empty: Value =
        serde_json::from_str(&crate::cli::stdout(&cli(&["directory", "show", "acme"]))).unwrap();
    assert_eq!(empty["source"]["base_url"], standin.url.as_str());
    assert_eq!(empty["source"]["scope_groups"], json!([]));
    let applied: Value = serde_json::from_str(&crate::cli::stdout(&cli(&[
        "directory",
        "run",
        "acme",
        "--apply",
    ])))
    .unwrap();
    assert_eq!(applied["state"], "applied", "{applied}");
    assert_eq!(count(&applied, "user.create"), 48, "{applied}");
    assert_eq!(applied["applied_by"], "cli");
    // A wrong scope fails plainly, naming the group.
    crate::cli::stdout(&cli(&[
        "directory",
        "connect",
        "acme",
        "--scope-group",
        "Nope",
    ]));
    let failed: Value =
        serde_json::from_str(&crate::cli::stdout(&cli(&["directory", "run", "acme"]))).unwrap();
    assert!(
        failed["error"].as_str().unwrap().contains("Nope"),
        "{failed}"
    );
}

#[test]
fn an_apply_that_stopped_part_way_resumes_exactly_where_it_stopped() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(250, 3);
    connect(&app, &standin, json!({}));
    let run = plan(&app);
    let id = run["id"].as_str().unwrap();
    let all = run["total"].as_i64().unwrap();
    assert!(all > 200, "{run}");
    // As a process that died after committing its first batch leaves it.
    execute(
        &app,
        &format!("UPDATE directory_runs SET state = 'applying', applied = 100 WHERE id = '{id}'"),
    );
    let applied = wait_for(&app, id, &["applied"], Duration::from_secs(60));
    assert_eq!(applied["applied"], all, "{applied}");
    let listed = changes(&app, &run);
    assert!(
        listed[..100].iter().all(|c| c["outcome"].is_null()),
        "the first batch is not redone"
    );
    // Each later change ran once (memberships of groups the faked first batch never
    // created are skipped, and say so).
    assert!(
        listed[100..].iter().all(|c| c["outcome"].is_string()),
        "every later change ran once"
    );
    assert!(listed[100..]
        .iter()
        .filter(|c| c["kind"] == "user")
        .all(|c| c["outcome"] == "applied"));
    let created = listed[100..]
        .iter()
        .filter(|c| c["kind"] == "user" && c["op"] == "create")
        .count();
    assert_eq!(total(&app, "/Users?count=0"), created as i64);
}

#[test]
fn hundreds_of_members_leaving_a_group_leave_it_in_one_run() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(300, 3);
    connect(&app, &standin, json!({}));
    apply(&app, &plan(&app));
    let group_id = group_by_external(&app, &gid(1));
    let before = app.member_ids(&group_id).len();
    assert!(before > 250, "{before}");
    standin.control(
        "PUT",
        &format!("/groups/{}/members", gid(1)),
        Some(json!([])),
    );
    let run = plan(&app);
    assert_eq!(count(&run, "membership.remove"), 1, "{run}");
    let applied = apply(&app, &run);
    assert_eq!(applied["summary"]["failed"], 0, "{applied}");
    assert!(app.member_ids(&group_id).is_empty());
}
