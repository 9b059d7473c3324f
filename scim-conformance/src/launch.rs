//! Without `--base-url`, the suite starts roster itself, as a separate process on a
//! temporary SQLite database, through its command line only.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TENANT: &str = "conformance";

pub struct Roster {
    child: Child,
    dir: PathBuf,
    pub base_url: String,
    pub token: String,
}

/// `ROSTER_BIN`, else the `roster` built beside this binary or in the workspace's
/// `target/{debug,release}`, else `roster` on `PATH`.
fn roster_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ROSTER_BIN") {
        return PathBuf::from(bin);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("roster")));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    beside
        .into_iter()
        .chain(["debug", "release"].map(|p| workspace.join("target").join(p).join("roster")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("roster"))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl Roster {
    pub fn start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "scim-conformance-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let started = Self::start_in(dir.clone());
        if started.is_err() {
            // Once roster runs, Drop cleans up; before that, this does.
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    fn start_in(dir: PathBuf) -> Result<Self, String> {
        let bin = roster_binary();
        let database_url = format!("sqlite://{}", dir.join("roster.db").display());
        let command = |args: &[&str]| {
            let mut c = Command::new(&bin);
            // roster reads every ROSTER_* variable as a setting and refuses unknown ones
            // (ROSTER_BIN among them), so the child gets only the ones set here.
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("ROSTER_") {
                    c.env_remove(key);
                }
            }
            c.args(args)
                .env("ROSTER_DATABASE_URL", &database_url)
                .env("ROSTER_LOG_LEVEL", "warn");
            c
        };
        let run = |args: &[&str]| -> Result<String, String> {
            let out = command(args)
                .output()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "`roster {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        run(&["tenant", "create", TENANT])?;
        // The token is alone on the last line of stdout.
        let token = run(&["token", "create", TENANT])?
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .ok_or("`roster token create` printed no token")?;

        let port = free_port()?;
        let log = std::fs::File::create(dir.join("roster.log")).map_err(|e| e.to_string())?;
        let child = command(&["serve"])
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut roster = Roster {
            child,
            dir,
            base_url: format!("http://127.0.0.1:{port}/scim/v2/{TENANT}"),
            token,
        };
        roster.wait_ready(port)?;
        eprintln!(
            "scim-conformance: started {} on {} (SQLite in {})",
            bin.display(),
            roster.base_url,
            roster.dir.display()
        );
        Ok(roster)
    }

    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("http://127.0.0.1:{port}/readyz");
        loop {
            if let Ok(r) = agent.get(&url).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("roster exited ({status}): {}", self.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!("roster not ready after 30 s: {}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("roster.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }
}

impl Drop for Roster {
    /// SIGTERM (roster drains and exits 0), then SIGKILL if it does not stop in 10 s.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
