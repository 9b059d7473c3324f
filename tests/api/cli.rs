//! The `roster` binary: its commands, first start, graceful shutdown, and several
//! processes on one database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::TestDb;

pub fn roster(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("ROSTER_DATABASE_URL", &db.url)
        .envs(db.secrets_env())
        .env(
            "ROSTER_POOL_TIMEOUT_MS",
            crate::helpers::TEST_POOL_TIMEOUT_MS.to_string(),
        )
        .env("ROSTER_LOG_LEVEL", "warn")
        .output()
        .expect("roster runs")
}

pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

#[test]
fn tenant_and_token_commands_manage_credentials() {
    let db = TestDb::new();
    stdout(&roster(
        &db,
        &["tenant", "create", "acme", "--name", "Acme Inc"],
    ));
    let list = stdout(&roster(&db, &["tenant", "list"]));
    assert!(list.contains("acme") && list.contains("Acme Inc"), "{list}");
    assert!(
        !roster(&db, &["tenant", "create", "acme"]).status.success(),
        "duplicate slug refused"
    );
    assert!(!roster(&db, &["tenant", "create", "Bad Slug"])
        .status
        .success());

    let created = stdout(&roster(
        &db,
        &["token", "create", "acme", "--name", "jumpcloud"],
    ));
    let token = last_line(&created);
    assert!(token.starts_with("rst_") && token.len() == 68, "{created}");

    let tokens = stdout(&roster(&db, &["token", "list", "acme"]));
    assert!(
        tokens.contains("jumpcloud") && !tokens.contains(token),
        "{tokens}"
    );
    let id = tokens
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    stdout(&roster(&db, &["token", "revoke", "acme", &id]));
    assert!(stdout(&roster(&db, &["token", "list", "acme"])).contains(&id));
    assert!(
        !roster(&db, &["token", "revoke", "acme", &id])
            .status
            .success(),
        "already revoked"
    );
    assert!(!roster(&db, &["token", "create", "nosuch"]).status.success());
}

#[test]
fn migrate_applies_migrations_once() {
    let db = TestDb::new();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    let first = stdout(&roster(&db, &["migrate"]));
    assert!(
        first.starts_with(&format!("{migrations} migration")),
        "{first}"
    );
    assert!(stdout(&roster(&db, &["migrate"])).starts_with("0 migration"));
}

pub struct Server {
    child: Child,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `roster serve` on a free port and waits until it says it is serving.
    pub fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[])
    }

    /// Like `start`, with extra environment variables (settings).
    pub fn start_with(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            // Tests send as fast as they can and stop at once; theirs to turn on.
            .env("ROSTER_TENANT_RATE_LIMIT", "0")
            .env("ROSTER_SHUTDOWN_DRAIN_SECS", "0")
            .envs(env.iter().copied())
            .env("ROSTER_DATABASE_URL", &db.url)
            .envs(db.secrets_env())
            .env(
                "ROSTER_POOL_TIMEOUT_MS",
                crate::helpers::TEST_POOL_TIMEOUT_MS.to_string(),
            )
            .env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_LOG_FORMAT", "json")
            .env("ROSTER_SHUTDOWN_TIMEOUT_SECS", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roster serve starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut url = None;
        let mut seen = Vec::new();
        for line in stderr.by_ref() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains("roster is serving") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                url = v["url"].as_str().map(str::to_owned);
                break;
            }
        }
        let url = url.unwrap_or_else(|| panic!("no serving line; stderr:\n{}", seen.join("\n")));
        // Keep reading the log, so the server never writes into a closed pipe.
        let log = Arc::new(Mutex::new(seen));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, url, log }
    }
}

/// A server left running by a failed assertion would outlive the test.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// The first-start banner: printed before the serving line, so it is all in the pipe.
    fn banner(&mut self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.child.stdout.as_mut().unwrap().read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    pub fn token(&mut self) -> String {
        let banner = self.banner();
        banner
            .lines()
            .find_map(|l| l.split("store it now): ").nth(1))
            .expect("token line")
            .trim()
            .to_owned()
    }

    /// SIGKILL: no shutdown, no flush, as when the machine dies.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status and whatever else went to stdout.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                if let Some(mut out) = self.child.stdout.take() {
                    out.read_to_string(&mut rest).unwrap();
                }
                return (status, rest);
            }
            assert!(Instant::now() < deadline, "roster did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn first_start_creates_tenant_default_and_prints_base_url_and_token() {
    let db = TestDb::new();
    let mut server = Server::start(&db);
    let banner = server.banner();
    assert!(
        banner.contains(&format!("SCIM Base URL: {}/scim/v2/default", server.url)),
        "{banner}"
    );
    assert!(
        banner.contains("roster admin login-link default")
            && banner.contains(&format!("{}/admin/", server.url)),
        "how to open the admin UI: {banner}"
    );
    let token = banner
        .lines()
        .find_map(|l| l.split("store it now): ").nth(1))
        .expect("token line")
        .trim()
        .to_owned();
    let r = ureq::get(&format!("{}/scim/v2/default/Users", server.url))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(server.terminate().0.success());
    // A second start prints no new token.
    let (status, out) = Server::start(&db).terminate();
    assert!(status.success());
    assert!(!out.contains("Bearer token"), "{out}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    let db = TestDb::new();
    let mut server = Server::start(&db);
    let token = server.token();
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = serde_json::json!({"userName": "in-flight"}).to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /scim/v2/default/Users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body.as_bytes()[5..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(server.terminate().0.success());
}

#[test]
fn two_processes_starting_at_once_on_an_empty_database_both_come_up() {
    let db = TestDb::new();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(&db));
        let b = s.spawn(|| Server::start(&db));
        (a.join().unwrap(), b.join().unwrap())
    });
    for server in [&a, &b] {
        let r = ureq::get(&format!("{}/readyz", server.url)).call().unwrap();
        assert_eq!(r.status(), 200);
    }
    let tenants = stdout(&roster(&db, &["tenant", "list"]));
    assert_eq!(
        tenants.lines().filter(|l| l.starts_with("default")).count(),
        1,
        "{tenants}"
    );
    assert!(a.terminate().0.success());
    assert!(b.terminate().0.success());
}

#[test]
fn the_log_has_one_json_line_per_request_and_never_the_query_string_or_token() {
    let db = TestDb::new();
    let mut server = Server::start(&db);
    let token = server.token();
    let url = format!(
        "{}/scim/v2/default/Users?filter=userName%20eq%20%22secret.person%40example.com%22",
        server.url
    );
    let r = ureq::get(&url)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let request_id = r.header("x-request-id").unwrap().to_owned();
    let log = server.log.clone();
    assert!(server.terminate().0.success());
    let log = log.lock().unwrap();
    assert!(
        !log.iter()
            .any(|l| l.contains("secret.person") || l.contains(&token)),
        "{log:#?}"
    );
    let line = log
        .iter()
        .find(|l| l.contains(&request_id))
        .expect("a line for the request");
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["tenant"], "default");
    assert_eq!(line["status"], 200);
    assert_eq!(line["path"], "/scim/v2/default/Users");
    assert!(line["latency_ms"].is_number());
}

#[test]
fn a_login_link_names_an_address_a_browser_can_open() {
    let db = TestDb::new();
    stdout(&roster(&db, &["tenant", "create", "acme"]));
    let link = |listen: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["admin", "login-link", "acme"])
            .env("ROSTER_DATABASE_URL", &db.url)
            .envs(db.secrets_env())
            .env("ROSTER_LISTEN", listen)
            .env("ROSTER_LOG_LEVEL", "warn")
            .output()
            .unwrap();
        last_line(&stdout(&out)).to_owned()
    };
    // A wildcard listen address is not one to browse to: loopback is, on this machine.
    assert!(
        link("0.0.0.0:8123").starts_with("http://127.0.0.1:8123/admin/acme/login-link/"),
        "{}",
        link("0.0.0.0:8123")
    );
    assert!(link("[::]:8123").starts_with("http://[::1]:8123/admin/acme/login-link/"));
    assert!(link("10.1.2.3:80").starts_with("http://10.1.2.3:80/admin/acme/login-link/"));
}
