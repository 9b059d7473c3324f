//! The JumpCloud directory API client (`shared/research/jumpcloud-api-saml.md` §1):
//! read-only, blocking (ureq; callers run it off the async runtime).
//!
//! - Every list is paged with `limit=100`, `skip` and `sort=_id`: unsorted pages skip
//!   and repeat rows while the directory changes. A page ends the list when it is empty.
//! - 429 and 5xx answers and broken connections are retried with capped exponential
//!   backoff and jitter, honouring `Retry-After` (429s for as long as they come, within
//!   the pull's deadline; failures six times); 401, 403 and 404 are not retried.
//! - A pull either reads everything or fails with why: there are no partial results,
//!   because a missing page would read as users removed. The user count is read again
//!   at the end, and a directory that changed meanwhile is read again.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::jumpcloud::{self, member_ids, RemoteGroup, RemoteUser, UserNameFrom, ALL_USERS_GROUP};

/// JumpCloud's page cap.
const PAGE: usize = 100;
/// Connecting, and then each read, gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed attempts (5xx, broken connections) before a request gives up.
const ATTEMPTS: u32 = 6;
/// The first retry's pause without `Retry-After`; it doubles, up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// A whole pull gives up after this long.
const DEADLINE: Duration = Duration::from_secs(30 * 60);
/// A response body larger than this is refused (a page of 100 users is ~100 KB).
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// A list longer than this is a server that ignores `skip`, not a directory.
const MAX_ROWS: usize = 5_000_000;
/// Times the whole directory is read again when it changed while being read.
const REREADS: usize = 3;
/// The v1 user fields a pull maps (a projection keeps pages small).
const USER_FIELDS: &str = "_id username email firstname middlename lastname displayname \
    jobTitle department costCenter company employeeIdentifier employeeType state suspended \
    password_expired phoneNumbers addresses";

/// Where and how to read one tenant's JumpCloud directory.
#[derive(Clone)]
pub struct Source {
    pub base_url: String,
    pub api_key: String,
    pub org_id: Option<String>,
    /// JumpCloud group names: only these groups and their members. Empty: everyone.
    pub scope_groups: Vec<String>,
    pub user_name_from: UserNameFrom,
}

/// Never the key.
impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("base_url", &self.base_url)
            .field("org_id", &self.org_id)
            .field("scope_groups", &self.scope_groups)
            .finish_non_exhaustive()
    }
}

/// What a pull read.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub users: Vec<RemoteUser>,
    pub groups: Vec<RemoteGroup>,
    /// HTTP requests sent, retries included, and retries alone.
    pub requests: u64,
    pub retries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("JumpCloud refused the API key (401): {0}. Check the key, which resetting it in JumpCloud revokes")]
    Unauthorized(String),
    #[error("JumpCloud answered 403 Forbidden: {0}. JumpCloud blocks addresses it suspects of abuse; nothing is retried until an admin runs the pull again")]
    Forbidden(String),
    #[error("JumpCloud answered {status} on {path}: {message}")]
    Status {
        status: u16,
        path: String,
        message: String,
    },
    #[error("JumpCloud could not be reached on {path} after {attempts} attempts: {last}")]
    GaveUp {
        path: String,
        attempts: u32,
        last: String,
    },
    #[error("JumpCloud's answer on {path} was not the expected JSON: {why}")]
    Body { path: String, why: String },
    #[error("the pull took longer than {0:?} and was stopped")]
    Deadline(Duration),
    #[error("the scope names JumpCloud groups that do not exist: {0}")]
    UnknownGroups(String),
    #[error("the directory kept changing while it was read ({0} tries); the next run tries again")]
    Unsettled(usize),
}

/// Pauses between retries; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: FIRST_PAUSE,
            max: MAX_PAUSE,
        }
    }
}

pub struct Client {
    agent: ureq::Agent,
    source: Source,
    backoff: Backoff,
    started: Instant,
    requests: u64,
    retries: u64,
}

impl Client {
    /// `agent` is the outbound client with the SSRF rules (see `webhooks::client`).
    pub fn new(agent: ureq::Agent, source: Source, backoff: Backoff) -> Self {
        Client {
            agent,
            source,
            backoff,
            started: Instant::now(),
            requests: 0,
            retries: 0,
        }
    }

    /// An agent for JumpCloud: bounded timeouts, no redirects, the SSRF rules.
    pub fn agent(allow_private: bool) -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout_connect(REQUEST_TIMEOUT)
            .timeout_read(REQUEST_TIMEOUT)
            .timeout_write(REQUEST_TIMEOUT)
            .redirects(0)
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .resolver(move |netloc: &str| {
                crate::webhooks::guard::resolve(netloc, allow_private)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))
            })
            .build()
    }

    /// Reads the directory in scope: users, groups and memberships.
    pub fn pull(mut self) -> Result<Fetched, PullError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let before = self.user_count()?;
            let (users, groups) = self.read_all()?;
            let after = self.user_count()?;
            if before == after || tries > REREADS {
                if before != after {
                    return Err(PullError::Unsettled(tries));
                }
                return Ok(Fetched {
                    users,
                    groups,
                    requests: self.requests,
                    retries: self.retries,
                });
            }
            tracing::info!(
                before,
                after,
                "the JumpCloud directory changed while read; reading it again"
            );
        }
    }

    fn user_count(&mut self) -> Result<u64, PullError> {
        let body = self.get(
            "/api/systemusers",
            &[
                ("limit", "1"),
                ("skip", "0"),
                ("sort", "_id"),
                ("fields", "_id"),
            ],
        )?;
        body.get("totalCount")
            .and_then(Value::as_u64)
            .ok_or_else(|| PullError::Body {
                path: "/api/systemusers".into(),
                why: "no totalCount".into(),
            })
    }

    fn read_all(&mut self) -> Result<(Vec<RemoteUser>, Vec<RemoteGroup>), PullError> {
        // Users are mapped page by page: 100,000 raw JSON users would weigh ~200 MB.
        let mut users: HashMap<String, RemoteUser> = HashMap::new();
        let from = self.source.user_name_from;
        self.each(
            "/api/systemusers",
            &[("fields", USER_FIELDS)],
            true,
            |object| {
                if let Some(u) = jumpcloud::user(&object, from) {
                    users.insert(u.id.clone(), u);
                }
            },
        )?;
        let raw_groups = self.pages("/api/v2/usergroups", &[], false)?;
        let scope_names = self.source.scope_groups.clone();
        let scope: BTreeSet<&str> = scope_names.iter().map(String::as_str).collect();
        let mut named: BTreeSet<&str> = BTreeSet::new();
        let mut groups = Vec::new();
        let wanted: Vec<(String, String)> = raw_groups
            .iter()
            .filter_map(|g| {
                let id = jumpcloud::object_id(g)?;
                let name = g.get("name")?.as_str()?.to_owned();
                Some((id, name))
            })
            .filter(|(_, name)| {
                if scope.is_empty() {
                    name != ALL_USERS_GROUP
                } else {
                    scope.contains(name.as_str())
                }
            })
            .collect();
        for (id, name) in wanted {
            let edges = self.pages(&format!("/api/v2/usergroups/{id}/members"), &[], false)?;
            let mut members: Vec<String> = member_ids(&edges).collect();
            members.sort();
            members.dedup();
            members.retain(|m| users.contains_key(m));
            if let Some(n) = scope.get(name.as_str()) {
                named.insert(n);
            }
            groups.push(RemoteGroup { id, name, members });
        }
        let unknown: Vec<&str> = scope.difference(&named).copied().collect();
        if !unknown.is_empty() {
            return Err(PullError::UnknownGroups(unknown.join(", ")));
        }
        let users = if scope.is_empty() {
            users.into_values().collect()
        } else {
            let members: BTreeSet<&String> = groups.iter().flat_map(|g| &g.members).collect();
            users
                .into_values()
                .filter(|u| members.contains(&u.id))
                .collect()
        };
        Ok((users, groups))
    }

    /// Every element of a paged list.
    fn pages(
        &mut self,
        path: &str,
        extra: &[(&str, &str)],
        v1: bool,
    ) -> Result<Vec<Value>, PullError> {
        let mut out = Vec::new();
        self.each(path, extra, v1, |v| out.push(v))?;
        Ok(out)
    }

    /// Calls `f` on every element of a paged list. v1 lists wrap the page in
    /// `results`, v2 lists are bare arrays.
    fn each(
        &mut self,
        path: &str,
        extra: &[(&str, &str)],
        v1: bool,
        mut f: impl FnMut(Value),
    ) -> Result<(), PullError> {
        let mut skip = 0usize;
        loop {
            let (limit, skip_text) = (PAGE.to_string(), skip.to_string());
            let mut query: Vec<(&str, &str)> =
                vec![("limit", &limit), ("skip", &skip_text), ("sort", "_id")];
            query.extend_from_slice(extra);
            let body = self.get(path, &query)?;
            let page = if v1 {
                body.get("results").cloned()
            } else {
                Some(body)
            };
            let Some(Value::Array(page)) = page else {
                return Err(PullError::Body {
                    path: path.into(),
                    why: "not a list".into(),
                });
            };
            let last = page.len() < PAGE;
            skip += page.len();
            page.into_iter().for_each(&mut f);
            // A short page is the last (one request fewer than waiting for an empty one).
            if last {
                return Ok(());
            }
            if skip > MAX_ROWS {
                return Err(PullError::Body {
                    path: path.into(),
                    why: format!("more than {MAX_ROWS} rows: paging does not end"),
                });
            }
        }
    }

    /// One GET, with retries: failures (5xx, a broken connection or body) up to
    /// `ATTEMPTS` in all; rate limiting (429) for as long as JumpCloud asks, within the
    /// pull's deadline, since slowing down is what it asks for.
    fn get(&mut self, path: &str, query: &[(&str, &str)]) -> Result<Value, PullError> {
        let url = format!("{}{path}", self.source.base_url.trim_end_matches('/'));
        let mut last;
        let mut failures = 0;
        let mut limited = 0;
        loop {
            if self.started.elapsed() > DEADLINE {
                return Err(PullError::Deadline(DEADLINE));
            }
            self.requests += 1;
            let mut request = self
                .agent
                .get(&url)
                .set("x-api-key", &self.source.api_key)
                .set("accept", "application/json");
            if let Some(org) = &self.source.org_id {
                request = request.set("x-org-id", org);
            }
            for (k, v) in query {
                request = request.query(k, v);
            }
            let pause = match request.call() {
                Ok(response) => match read_json(response) {
                    Ok(v) => return Ok(v),
                    Err(why) => {
                        // A body cut short is a transport failure: retry it.
                        last = why;
                        failures += 1;
                        self.pause(failures)
                    }
                },
                Err(ureq::Error::Status(status, response)) => {
                    let retry_after = retry_after(&response);
                    let message = message_of(response);
                    match status {
                        401 => return Err(PullError::Unauthorized(message)),
                        403 => return Err(PullError::Forbidden(message)),
                        429 => {
                            last = format!("429 {message}");
                            limited += 1;
                            retry_after.unwrap_or_else(|| self.pause(limited.min(8)))
                        }
                        500..=599 => {
                            last = format!("{status} {message}");
                            failures += 1;
                            retry_after.unwrap_or_else(|| self.pause(failures))
                        }
                        _ => {
                            return Err(PullError::Status {
                                status,
                                path: path.into(),
                                message,
                            })
                        }
                    }
                }
                Err(e) => {
                    last = e.to_string();
                    failures += 1;
                    self.pause(failures)
                }
            };
            if failures >= ATTEMPTS {
                return Err(PullError::GaveUp {
                    path: path.into(),
                    attempts: failures,
                    last,
                });
            }
            self.retries += 1;
            let pause = pause.min(self.backoff.max);
            tracing::debug!(path, failures, limited, ?pause, %last, "JumpCloud request retried");
            std::thread::sleep(pause);
        }
    }

    /// Exponential backoff with jitter: between half and all of first × 2^(n-1).
    fn pause(&self, n: u32) -> Duration {
        let ceiling = self
            .backoff
            .first
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.backoff.max);
        let mut byte = [0u8; 2];
        let _ = getrandom::fill(&mut byte);
        let fraction = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX);
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }
}

fn read_json(response: ureq::Response) -> Result<Value, String> {
    let mut text = String::new();
    response
        .into_reader()
        .take(MAX_BODY_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("the body could not be read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the body is not JSON: {e}"))
}

/// `Retry-After` in seconds (JumpCloud sends no date form that we know of).
fn retry_after(response: &ureq::Response) -> Option<Duration> {
    let value = response.header("retry-after")?.trim().parse::<f64>().ok()?;
    // Capped before the conversion, which panics on absurd values (the pause is capped
    // at `MAX_PAUSE` anyway).
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(3600.0)))
}

/// The error's `message` (the one field JumpCloud's error bodies reliably carry).
fn message_of(response: ureq::Response) -> String {
    let mut text = String::new();
    let _ = response.into_reader().take(4096).read_to_string(&mut text);
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}
