//! A real roster on a fresh database per test, and a small HTTP client.
//!
//! `TEST_DATABASE_URL` picks the backend: unset (or `sqlite`) means a new SQLite file in
//! a temporary directory; a `postgres://…` URL names a server on which each test creates
//! and later drops its own database.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use roster::config::Settings;
use roster::secrets::KeyRing;
use roster::service::events::Actor;
use roster::service::{api_keys, tenants};
use roster::startup::Application;
use roster::store::Store;
use serde_json::Value;

/// How long tests wait for a database connection (roster's default is 1.5 s).
pub const TEST_POOL_TIMEOUT_MS: u64 = 10_000;

/// The secrets key of PostgreSQL tests (SQLite tests use the key file roster makes).
pub const TEST_SECRETS_KEY: &str = "dGVzdHMgb2Ygcm9zdGVyIGhhdmUgdGhpcyBrZXkhISE=";

pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            Some(admin_url) => {
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let url = with_database(&admin_url, &name);
                Self {
                    url,
                    admin_url: Some(admin_url),
                    name,
                    _dir: dir,
                }
            }
            None => {
                let url = format!("sqlite://{}", dir.path().join("roster.db").display());
                Self {
                    url,
                    admin_url: None,
                    name: String::new(),
                    _dir: dir,
                }
            }
        }
    }

    /// A store on this database for tests that read or write it directly.
    pub fn store(&self) -> Store {
        let settings = roster::store::PoolSettings {
            checkout_timeout: Duration::from_millis(TEST_POOL_TIMEOUT_MS),
            ..Default::default()
        };
        Store::new(&self.url, &settings).expect("store")
    }

    /// What a roster process started on this database needs in its environment for
    /// its secrets key: PostgreSQL's configured test key; SQLite makes its key file.
    pub fn secrets_env(&self) -> Vec<(&'static str, &'static str)> {
        if self.is_postgres() {
            vec![("ROSTER_SECRETS_KEY", TEST_SECRETS_KEY)]
        } else {
            Vec::new()
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin_url.is_some()
    }

    /// Whether this run's backend is the one a backend-specific test needs; if not, the
    /// test is reported skipped (see [`skipped`]): CI runs both backends and checks that
    /// every test ran on at least one.
    pub fn runs_on(&self, postgres: bool, why: &str) -> bool {
        if self.is_postgres() != postgres {
            let needs = if postgres { "PostgreSQL" } else { "SQLite" };
            skipped(&format!("needs {needs}: {why}"), Skip::OtherBackend);
            return false;
        }
        true
    }

    /// Runs SQL as an administrator of the server (PostgreSQL only).
    pub fn admin_execute(&self, sql: &str) {
        let admin_url = self.admin_url.as_deref().expect("postgres only");
        let mut admin = PgConnection::establish(admin_url).expect("admin connection");
        admin.batch_execute(sql).expect("admin SQL");
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin_url) = &self.admin_url {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

/// Why a test did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// It tests the other backend; the other backend's run covers it.
    OtherBackend,
    /// Something it needs is not installed here.
    Missing,
}

/// Reports the running test as skipped: a `SKIPPED` line on its output and, when
/// `ROSTER_SKIP_LOG` names a file, a line there (`.ci/run` collects them). With
/// `ROSTER_NO_SKIPS` set (CI), a test that lacks something it needs fails instead.
pub fn skipped(why: &str, kind: Skip) {
    let test = std::thread::current()
        .name()
        .unwrap_or("unknown")
        .to_owned();
    if kind == Skip::Missing && std::env::var_os("ROSTER_NO_SKIPS").is_some() {
        panic!("{test} cannot run and ROSTER_NO_SKIPS is set: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    if let Some(path) = std::env::var_os("ROSTER_SKIP_LOG") {
        use std::io::Write;
        let kind = match kind {
            Skip::OtherBackend => "other-backend",
            Skip::Missing => "missing",
        };
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(log, "{test}\t{kind}\t{why}");
        }
    }
}

/// `postgres://host/old?x` → `postgres://host/name?x`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    // Tests talk to a local server: TLS adds nothing, and OpenSSL's exit-time cleanup
    // racing roster's background threads crashed a test process once it had passed.
    if !out.contains("sslmode=") {
        out.push(if query.is_some() { '&' } else { '?' });
        out.push_str("sslmode=disable");
    }
    out
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The SCIM base URL of tenant `acme`.
    pub base: String,
    pub token: String,
    /// An `admin` API key of tenant `acme`.
    pub api_key: String,
    pub store: Store,
    /// The app's secrets key, for tests that read or write sealed secrets directly.
    pub keys: Arc<KeyRing>,
    agent: ureq::Agent,
    /// Stops the server when the test ends, before its database is dropped.
    _server: Started,
    pub db: TestDb,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an RFC 7644 §3.12 error body with this status (and scimType, if given).
    pub fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "{}", self.text);
        }
        assert!(self.body["detail"].is_string(), "{}", self.text);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "content type of {}",
            self.text
        );
    }
}

impl TestApp {
    /// The number `sql` (a `SELECT count(*) AS n …`) counts, read straight from the
    /// database.
    pub fn count(&self, sql: &str) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.store.connection().expect("connection");
        diesel::sql_query(sql)
            .get_result::<Count>(&mut *conn)
            .expect("count")
            .n
    }

    pub fn spawn() -> Self {
        Self::spawn_with(|_| {})
    }

    pub fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let db = TestDb::new();
        let mut settings = Settings {
            database_url: db.url.clone(),
            listen: "127.0.0.1:0".into(),
            workers: 2,
            shutdown_timeout_secs: 1,
            // Generous: a loaded CI machine is not what these tests measure. The tests of
            // the 503 path set the production value themselves.
            pool_timeout_ms: TEST_POOL_TIMEOUT_MS,
            // Tests send as fast as they can; the rate-limit tests turn it on.
            tenant_rate_limit: 0,
            ..Settings::default()
        };
        configure(&mut settings);
        with_test_key(&mut settings);
        let started = start(settings.clone());
        let keys = Arc::new(KeyRing::from_settings(&settings).expect("the app's secrets key"));
        let (address, store) = (started.address.clone(), started.store.clone());
        let token = {
            let mut conn = store.connection().expect("connection");
            tenants::create_tenant(&mut conn, "acme", None).expect("tenant");
            tenants::create_token(&mut conn, "acme", None, &Actor::cli())
                .expect("token")
                .secret
        };
        let api_key = {
            let mut conn = store.connection().expect("connection");
            api_keys::create(&mut conn, "acme", Some("tests"), &[])
                .expect("api key")
                .secret
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Self {
            base: format!("{address}/scim/v2/acme"),
            address,
            token,
            api_key,
            store,
            keys,
            db,
            agent,
            _server: started,
        }
    }

    /// The actions in tenant `acme`'s audit log, newest first.
    pub fn audit_actions(&self) -> Vec<String> {
        let mut conn = self.store.connection().expect("connection");
        roster::service::admin::audit_log(&mut conn, "acme")
            .expect("audit log")
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    /// The separate `/metrics` listener's address, when `metrics_listen` is set.
    pub fn metrics_address(&self) -> Option<String> {
        self._server
            .metrics_port
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// Another tenant with its own token: (base URL, token).
    pub fn add_tenant(&self, slug: &str) -> (String, String) {
        let mut conn = self.store.connection().expect("connection");
        tenants::create_tenant(&mut conn, slug, None).expect("tenant");
        let token = tenants::create_token(&mut conn, slug, None, &Actor::cli())
            .expect("token")
            .secret;
        (format!("{}/scim/v2/{slug}", self.address), token)
    }

    /// A request with this tenant's token; `path` is relative to the SCIM base.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.raw(
            method,
            &format!("{}{path}", self.base),
            &[("Authorization", &format!("Bearer {}", self.token))],
            body.map(Value::to_string).as_deref(),
            Some("application/scim+json"),
        )
    }

    /// An application API request with the admin key; `path` is relative to
    /// `/api/v1/tenants/acme`.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.api_as(&self.api_key, method, path, body)
    }

    pub fn api_as(&self, key: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.raw(
            method,
            &format!("{}/api/v1/tenants/acme{path}", self.address),
            &[("Authorization", &format!("Bearer {key}"))],
            body.map(Value::to_string).as_deref(),
            Some("application/json"),
        )
    }

    /// The tenant's events after `after`, in order.
    pub fn events_after(&self, after: i64) -> Vec<Value> {
        let r = self.api("GET", &format!("/events?after={after}&limit=500"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["data"].as_array().cloned().unwrap_or_default()
    }

    /// The types of the tenant's events after `after`.
    pub fn event_types_after(&self, after: i64) -> Vec<String> {
        self.events_after(after)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The sequence of the tenant's newest event (0 when there is none).
    pub fn last_sequence(&self) -> i64 {
        let mut after = 0;
        loop {
            let page = self.events_after(after);
            match page.last() {
                Some(e) => after = e["sequence"].as_i64().unwrap(),
                None => return after,
            }
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.call("PUT", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None)
    }

    /// Any request: absolute URL, explicit headers, raw body and content type.
    pub fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> Resp {
        let mut request = self.agent.request(method, url);
        for (k, v) in headers {
            request = request.set(k, v);
        }
        if let (Some(ct), Some(_)) = (content_type, body) {
            request = request.set("Content-Type", ct);
        }
        let result = match body {
            Some(b) => request.send_string(b),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_owned())))
            .collect();
        let text = response.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    /// Creates a user and returns its id.
    pub fn create_user(&self, user_name: &str) -> String {
        let r = self.post(
            "/Users",
            &serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "displayName": user_name,
            }),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group with these members and returns its id.
    pub fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({ "value": m }))
            .collect();
        let r = self.post(
            "/Groups",
            &serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members,
            }),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Member ids of a group, sorted.
    pub fn member_ids(&self, group_id: &str) -> Vec<String> {
        let r = self.get(&format!("/Groups/{group_id}"));
        assert_eq!(r.status, 200, "{}", r.text);
        let mut ids: Vec<String> = r.body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

/// Starts the application on its own thread and actix system; returns its address.
/// A running application; dropping it stops the server (and its worker threads).
pub struct Started {
    pub address: String,
    pub store: Store,
    /// The separate `/metrics` listener's port, when `metrics_listen` is set.
    pub metrics_port: Option<u16>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Started {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only waits for the end.
        drop(self.handle.stop(false));
    }
}

/// PostgreSQL needs a configured secrets key: the test key, unless a test chose its
/// own. SQLite makes its own key file, as in production.
fn with_test_key(settings: &mut Settings) {
    let configured = settings.secrets_key.is_some() || settings.secrets_key_file.is_some();
    if settings.database_url.starts_with("postgres") && !configured {
        settings.secrets_key = Some(TEST_SECRETS_KEY.to_owned());
    }
}

/// Starts the application on its own thread and actix system.
pub fn start(mut settings: Settings) -> Started {
    with_test_key(&mut settings);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let app = Application::build(&settings)
                .await
                .expect("application starts");
            tx.send((
                app.port(),
                app.metrics_port(),
                app.store().clone(),
                app.handle(),
            ))
            .expect("send port");
            app.run_until_stopped().await.expect("server runs");
        });
    });
    let (port, metrics_port, store, handle) = rx.recv().expect("application started");
    Started {
        address: format!("http://127.0.0.1:{port}"),
        metrics_port,
        store,
        handle,
    }
}

pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    })
}

/// A seeded generator (splitmix64) for test data: fast, and the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// Any Unicode scalar value, weighted towards each UTF-8 length in turn.
    pub fn any_char(&mut self) -> char {
        loop {
            let code = match self.below(4) {
                0 => self.below(0x80),
                1 => self.below(0x800),
                2 => self.below(0x1_0000),
                _ => self.below(0x11_0000),
            };
            if let Some(c) = char::from_u32(code as u32) {
                return c;
            }
        }
    }

    /// `len` characters of `alphabet` (ASCII).
    pub fn ascii(&mut self, alphabet: &str, len: usize) -> String {
        let bytes = alphabet.as_bytes();
        (0..len)
            .map(|_| bytes[self.below(bytes.len())] as char)
            .collect()
    }
}

/// A sample's value in `/metrics` text (0 if absent).
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// The first line a test's child server prints on stdout (its "ready" line), or `None`
/// if it prints none within `within`: a server that stalls at start must fail the
/// test, not hang the suite. Its stdout is drained afterwards, so it never dies of a
/// full or closed pipe.
pub fn ready_line(child: &mut std::process::Child, within: Duration) -> Option<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take()?;
    let (sent, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = sent.send(line);
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    ready.recv_timeout(within).ok().filter(|l| !l.is_empty())
}
