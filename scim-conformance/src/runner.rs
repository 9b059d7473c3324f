//! Cases, their context, and the loop that runs them, cleans up after each one and
//! reports.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use serde_json::{json, Value};

use crate::http::{enc, Client, Resp};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Profile {
    Rfc,
    JumpCloud,
    Okta,
    Entra,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Rfc => "rfc",
            Profile::JumpCloud => "jumpcloud",
            Profile::Okta => "okta",
            Profile::Entra => "entra",
        }
    }
}

/// The optional capabilities of RFC 7643 §5 that a server may say it lacks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Feature {
    Patch,
    Bulk,
    Filter,
    Sort,
    Etag,
    ChangePassword,
}

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::Patch,
        Feature::Bulk,
        Feature::Filter,
        Feature::Sort,
        Feature::Etag,
        Feature::ChangePassword,
    ];

    /// The key in `/ServiceProviderConfig`.
    pub fn key(self) -> &'static str {
        match self {
            Feature::Patch => "patch",
            Feature::Bulk => "bulk",
            Feature::Filter => "filter",
            Feature::Sort => "sort",
            Feature::Etag => "etag",
            Feature::ChangePassword => "changePassword",
        }
    }
}

/// Why a case did not pass.
#[derive(Debug)]
pub enum Verdict {
    Fail(String),
    Skip(String),
}

pub type CaseResult = Result<(), Verdict>;

impl From<String> for Verdict {
    /// Transport errors and other plain messages are failures.
    fn from(message: String) -> Self {
        Verdict::Fail(message)
    }
}

pub fn fail<T>(message: impl Into<String>) -> Result<T, Verdict> {
    Err(Verdict::Fail(message.into()))
}

pub fn skip<T>(message: impl Into<String>) -> Result<T, Verdict> {
    Err(Verdict::Skip(message.into()))
}

/// `ensure!(condition, "reason {}", x)` fails the case with the reason.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::runner::Verdict::Fail(format!($($arg)+)));
        }
    };
}

pub struct Case {
    pub profile: Profile,
    /// `rfc7644-3.5.2.2`, `jumpcloud`, …
    pub section: &'static str,
    pub name: &'static str,
    pub needs: &'static [Feature],
    pub run: fn(&mut Ctx) -> CaseResult,
}

/// `case!(Profile::Rfc, "rfc7644-3.3", [Filter], function)`: the name is the function's.
#[macro_export]
macro_rules! case {
    ($profile:expr, $section:expr, [$($need:ident),*], $f:ident) => {
        $crate::runner::Case {
            profile: $profile,
            section: $section,
            name: stringify!($f),
            needs: &[$($crate::runner::Feature::$need),*],
            run: $f,
        }
    };
}

/// What `/ServiceProviderConfig` said.
pub struct Capabilities {
    pub config: Value,
    /// Set when the document could not be read; every feature then counts as supported,
    /// so the cases themselves show what works.
    pub unreadable: Option<String>,
}

impl Capabilities {
    pub fn supports(&self, feature: Feature) -> bool {
        self.unreadable.is_some()
            || self.config[feature.key()]["supported"]
                .as_bool()
                .unwrap_or(false)
    }
}

/// Everything a case gets: the client, the server's capabilities, unique names, and a
/// record of what it created so that the runner can delete it afterwards.
pub struct Ctx {
    pub http: Client,
    pub caps: Capabilities,
    run_id: String,
    seq: u32,
    created: Vec<String>,
}

impl Ctx {
    pub fn new(http: Client, caps: Capabilities) -> Self {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Self {
            http,
            caps,
            run_id,
            seq: 0,
            created: Vec::new(),
        }
    }

    /// The prefix of every name this run creates, so it can share a server.
    pub fn prefix(&self) -> String {
        format!("scimconf-{}-", self.run_id)
    }

    /// A name no other run or case uses: `scimconf-<run>-<n><suffix>`.
    pub fn unique(&mut self, suffix: &str) -> String {
        self.seq += 1;
        format!("{}{}{suffix}", self.prefix(), self.seq)
    }

    /// Remembers `/Users/{id}` or `/Groups/{id}` for deletion after the case.
    pub fn track(&mut self, path: String) {
        if !self.created.contains(&path) {
            self.created.push(path);
        }
    }

    /// Deletes what the case created: groups first, so no membership points at a user
    /// being deleted. A 404 is fine (the case may have deleted it itself).
    pub fn cleanup(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut paths = std::mem::take(&mut self.created);
        paths.sort_by_key(|p| !p.starts_with("/Groups"));
        for path in paths {
            match self.http.delete(&path) {
                Ok(r) if matches!(r.status, 200 | 204 | 404) => {}
                Ok(r) => problems.push(format!("DELETE {path} answered {}", r.status)),
                Err(e) => problems.push(e),
            }
        }
        problems
    }

    /// Deletes anything left with this run's prefix (a create whose response lacked an
    /// id cannot be tracked). Needs filtering; without it, tracking is all there is.
    pub fn sweep(&mut self) -> Vec<String> {
        if !self.caps.supports(Feature::Filter) {
            return Vec::new();
        }
        let prefix = self.prefix();
        for (endpoint, attribute) in [("/Groups", "displayName"), ("/Users", "userName")] {
            let filter = format!("{attribute} sw \"{prefix}\"");
            let target = format!("{endpoint}?count=500&filter={}", enc(&filter));
            if let Ok(r) = self.http.get(&target) {
                if let Some(resources) = r.body["Resources"].as_array() {
                    for id in resources.iter().filter_map(|r| r["id"].as_str()) {
                        self.created.push(format!("{endpoint}/{id}"));
                    }
                }
            }
        }
        self.cleanup()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        })
    }
}

pub struct Outcome {
    pub profile: Profile,
    pub section: &'static str,
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
}

impl Outcome {
    pub fn line(&self) -> String {
        let mut line = format!("{}  {:<16}  {}", self.status, self.section, self.name);
        if !self.reason.is_empty() {
            line.push_str("  ");
            line.push_str(&self.reason);
        }
        line
    }

    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status.to_string(),
            "section": self.section,
            "name": self.name,
            "profile": self.profile.name(),
            "reason": self.reason,
        })
    }
}

/// Runs the cases in order, printing one line per case as it finishes.
pub fn run(ctx: &mut Ctx, cases: &[Case]) -> Vec<Outcome> {
    // A panicking case is a failed case; its message goes into the reason, not stderr.
    panic::set_hook(Box::new(|_| {}));
    let mut outcomes = Vec::new();
    for case in cases {
        let missing: Vec<&str> = case
            .needs
            .iter()
            .filter(|f| !ctx.caps.supports(**f))
            .map(|f| f.key())
            .collect();
        let result = if missing.is_empty() {
            match panic::catch_unwind(AssertUnwindSafe(|| (case.run)(ctx))) {
                Ok(result) => result,
                Err(payload) => {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(Verdict::Fail(format!("panicked: {message}")))
                }
            }
        } else {
            Err(Verdict::Skip(format!(
                "ServiceProviderConfig: {} not supported",
                missing.join(", ")
            )))
        };
        let problems = ctx.cleanup();
        let (mut status, mut reason) = match result {
            Ok(()) => (Status::Pass, String::new()),
            Err(Verdict::Fail(r)) => (Status::Fail, r),
            Err(Verdict::Skip(r)) => (Status::Skip, r),
        };
        if !problems.is_empty() {
            // Leaving data behind on a shared server is a failure of its own.
            let note = format!("cleanup: {}", problems.join("; "));
            if status == Status::Pass {
                (status, reason) = (Status::Fail, note);
            } else {
                reason = format!("{reason} ({note})");
            }
        }
        let outcome = Outcome {
            profile: case.profile,
            section: case.section,
            name: case.name,
            status,
            reason,
        };
        println!("{}", outcome.line());
        outcomes.push(outcome);
    }
    let _ = panic::take_hook();
    outcomes
}

/// Reads `/ServiceProviderConfig` before anything else, to know what to skip.
pub fn capabilities(http: &Client) -> Capabilities {
    let unreadable = |why: String| Capabilities {
        config: Value::Null,
        unreadable: Some(why),
    };
    match http.get("/ServiceProviderConfig") {
        Ok(Resp {
            status: 200, body, ..
        }) if body.is_object() => Capabilities {
            config: body,
            unreadable: None,
        },
        Ok(r) => unreadable(format!("GET /ServiceProviderConfig answered {}", r.status)),
        Err(e) => unreadable(e),
    }
}
