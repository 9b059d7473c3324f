//! The mass-deprovisioning guard. A wrong group unbind in the IdP can deactivate a
//! whole customer in seconds; past the tenant's threshold, roster holds further
//! deprovisioning for an owner to release or discard.
//!
//! - **What counts:** users losing access through one write: deactivated, deleted, or
//!   losing a role. The write runs in a savepoint and its events say whom it
//!   deprovisions (`tally`), so a PATCH, a PUT, a DELETE and a pull's change are all
//!   judged by their effect, whichever shape they came in.
//! - **The threshold:** within `window_minutes`, at most `percent` of the active users
//!   and at most `max_users`, but never fewer than `min_users`. A write that would go
//!   past it is rolled back and held, as is every deprovisioning write after it until an
//!   owner decides, and every write to a resource that has a held change (order).
//! - **SCIM semantics:** a held request is answered as a success, with the resource as
//!   it will be: the request is stored in the same transaction as any write, so it is
//!   never lost, and roster applies it, in order, when an owner releases the hold. The
//!   identity provider neither retries (it would loop) nor sees an error it would show
//!   its admin as a failed push. If an owner discards the hold, roster never applies it,
//!   and the identity provider's view differs from roster's until it sends again: that
//!   is the owner's decision, recorded in the audit log and the feed.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::admin::Done;
use super::events::Actor;
use super::outbox::Outbox;
use super::{invalid, now, stamp, Scope, ServiceError};
use crate::store::guard::{self as store, GuardRow, HeldRow};
use crate::store::{trial, write_transaction, DbConnection, TenantId};

thread_local! {
    /// Users deprovisioned by the events outboxes committed on this thread (a use case
    /// runs on one thread): id → userName. Kept only while a guard listens.
    static TALLY: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    static LISTENING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Notes whom a use case's events deprovision (called as its outbox commits).
pub(super) fn tally<'a>(drafts: impl Iterator<Item = (&'static str, &'a Value)>) {
    if LISTENING.with(std::cell::Cell::get) == 0 {
        return;
    }
    TALLY.with(|t| {
        let mut t = t.borrow_mut();
        for (event_type, data) in drafts {
            let user = match event_type {
                "user.deactivated" | "user.deleted" => data,
                "user.roles_changed"
                    if data["removed"].as_array().is_some_and(|r| !r.is_empty()) =>
                {
                    &data["user"]
                }
                _ => continue,
            };
            if let Some(id) = user["id"].as_str() {
                let name = user["userName"].as_str().unwrap_or(id);
                t.push((id.to_owned(), name.to_owned()));
            }
        }
    });
}

/// Counts a listening guard while it lives, even if the write panics.
struct Listening;

impl Listening {
    fn start() -> Self {
        LISTENING.with(|l| l.set(l.get() + 1));
        Listening
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        LISTENING.with(|l| l.set(l.get().saturating_sub(1)));
    }
}

fn tally_mark() -> usize {
    TALLY.with(|t| t.borrow().len())
}

/// Whom the events since `mark` deprovision (each user once), forgetting them.
fn tally_since(mark: usize) -> BTreeMap<String, String> {
    TALLY.with(|t| {
        let mut t = t.borrow_mut();
        let out = t.get(mark..).unwrap_or_default().iter().cloned().collect();
        t.truncate(mark);
        out
    })
}

/// A tenant's guard settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    pub enabled: bool,
    /// At most this percentage of the active users within the window (1 to 100).
    pub percent: i64,
    /// And at most this many users.
    pub max_users: i64,
    /// But a threshold never below this (small tenants).
    pub min_users: i64,
    pub window_minutes: i64,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            enabled: false,
            percent: 10,
            max_users: 50,
            min_users: 5,
            window_minutes: 10,
        }
    }
}

impl GuardSettings {
    /// How many users may be deprovisioned within a window, with `active` users.
    pub fn limit(&self, active: i64) -> i64 {
        let by_share = active * self.percent / 100;
        by_share.min(self.max_users).max(self.min_users)
    }

    fn of(row: Option<GuardRow>) -> Self {
        row.map_or_else(Self::default, |r| GuardSettings {
            enabled: r.enabled,
            percent: r.percent,
            max_users: r.max_users,
            min_users: r.min_users,
            window_minutes: r.window_minutes,
        })
    }
}

pub fn settings(conn: &mut DbConnection, tenant: &TenantId) -> Result<GuardSettings, ServiceError> {
    Ok(GuardSettings::of(store::settings(conn, tenant)?))
}

pub fn set_settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
    input: &GuardSettings,
) -> Result<Done<GuardSettings>, ServiceError> {
    if !(1..=100).contains(&input.percent) {
        return Err(invalid("percent must be 1 to 100"));
    }
    if input.max_users < 1 || input.min_users < 1 || input.min_users > input.max_users {
        return Err(invalid(
            "max_users and min_users must be at least 1, min_users at most max_users",
        ));
    }
    if !(1..=7 * 24 * 60).contains(&input.window_minutes) {
        return Err(invalid("window_minutes must be 1 to 10080 (a week)"));
    }
    write_transaction(conn, |c| {
        let before = settings(c, tenant)?;
        store::upsert_settings(
            c,
            &GuardRow {
                tenant_id: tenant.0.clone(),
                enabled: input.enabled,
                percent: input.percent,
                max_users: input.max_users,
                min_users: input.min_users,
                window_minutes: input.window_minutes,
                updated_at: now(),
            },
        )?;
        Ok(Done::new(
            input.clone(),
            serde_json::to_value(before).ok(),
            serde_json::to_value(input).ok(),
        ))
    })
}

/// What to run again when a held change is released.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum Request {
    /// A SCIM write: `PUT`, `PATCH` or `DELETE` of `/Users/{id}` or `/Groups/{id}`.
    Scim {
        method: String,
        endpoint: String,
        id: String,
        body: Value,
    },
    /// A directory pull's change: the run and the change itself (kept whole here, so a
    /// pruned run loses nothing held).
    Directory {
        run_id: String,
        seq: i64,
        kind: String,
        op: String,
        remote_id: String,
        resource_id: Option<String>,
        body: String,
    },
}

impl Request {
    fn origin(&self) -> &'static str {
        match self {
            Request::Scim { .. } => "scim",
            Request::Directory { .. } => "directory",
        }
    }
}

/// Whether a write ran or was held (answered as if it ran: see the module).
#[derive(Debug)]
pub enum Guarded<T> {
    Applied(T),
    Held { value: T, seq: i64 },
}

impl<T> Guarded<T> {
    pub fn value(self) -> T {
        match self {
            Guarded::Applied(v) | Guarded::Held { value: v, .. } => v,
        }
    }
}

/// Runs a write that may deprovision under the tenant's guard: applied, or held.
pub fn run<T>(
    conn: &mut DbConnection,
    scope: &Scope,
    resource: Option<&str>,
    label: &str,
    request: &Request,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ServiceError>,
) -> Result<Guarded<T>, ServiceError> {
    let tenant = &scope.tenant;
    // A tenant that never turned the guard on holds nothing: one lookup, the write.
    let Some(row) = store::settings(conn, tenant)? else {
        return f(conn).map(Guarded::Applied);
    };
    if !row.enabled && !store::pending(conn, tenant, resource)?.0 {
        return f(conn).map(Guarded::Applied);
    }
    // Guarded writes of a tenant take turns (two batches of a tenant, or two processes,
    // on PostgreSQL): the window and the held queue are read and written by one at a
    // time. So both are read again under the lock: the write that held it before may
    // have just held a change or turned the guard off.
    store::lock_guard(conn, tenant)?;
    let settings = GuardSettings::of(store::settings(conn, tenant)?);
    let (held_any, held_here) = store::pending(conn, tenant, resource)?;
    if !settings.enabled && !held_any {
        return f(conn).map(Guarded::Applied);
    }
    let mark = tally_mark();
    let _listening = Listening::start();
    let mut whom = BTreeMap::new();
    let tried = trial(conn, f, |c, _| {
        whom = tally_since(mark);
        if held_here {
            return Ok(false);
        }
        if whom.is_empty() || !settings.enabled {
            return Ok(true);
        }
        if held_any {
            return Ok(false);
        }
        let at = now();
        let since = stamp(
            std::time::SystemTime::now()
                - std::time::Duration::from_secs(60 * settings.window_minutes as u64),
        );
        let recent = store::window(c, tenant, &since)?;
        // The share is of the users active as the window began: those active now plus
        // those it already deprovisioned (a role loss leaves its user counted twice,
        // which errs by a user or two towards letting a change through).
        let active = store::active_users(c, tenant)? + recent + whom.len() as i64;
        if recent + whom.len() as i64 > settings.limit(active) {
            return Ok(false);
        }
        store::record(
            c,
            tenant,
            &uuid::Uuid::new_v4().to_string(),
            &at,
            whom.len() as i64,
        )?;
        Ok(true)
    });
    tally_since(mark);
    let (value, kept) = tried?;
    if kept {
        return Ok(Guarded::Applied(value));
    }
    let seq = hold(conn, scope, resource, label, request, &whom, !held_any)?;
    Ok(Guarded::Held { value, seq })
}

fn hold(
    conn: &mut DbConnection,
    scope: &Scope,
    resource: Option<&str>,
    label: &str,
    request: &Request,
    whom: &BTreeMap<String, String>,
    first: bool,
) -> Result<i64, ServiceError> {
    let stamp_now = now();
    let users: Vec<&String> = whom.values().collect();
    let seq = store::hold(
        conn,
        HeldRow {
            tenant_id: scope.tenant.0.clone(),
            seq: 0,
            state: "pending".into(),
            origin: request.origin().into(),
            resource_id: resource.map(str::to_owned),
            label: label.to_owned(),
            users: json!(users).to_string(),
            request: serde_json::to_string(request).unwrap_or_default(),
            actor: serde_json::to_string(&scope.actor).unwrap_or_default(),
            correlation_id: scope.correlation_id.clone(),
            held_at: stamp_now.clone(),
            decided_at: None,
            decided_by: None,
            outcome: None,
        },
    )?;
    if first {
        // The owners are told once per hold: the feed, webhooks, and the admin banner.
        let mut outbox = Outbox::new(scope, &stamp_now);
        outbox.emit(
            "directory.deprovisioning_held",
            json!({"first_held": seq, "label": label, "users": users,
                   "reason": "more users would lose access within the window than the tenant's threshold allows"}),
        );
        outbox.commit(conn)?;
    }
    tracing::warn!(tenant = %scope.tenant.0, seq, label, "deprovisioning held by the guard");
    Ok(seq)
}

/// A held change, as an owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldView {
    pub seq: i64,
    /// `pending`, `released` or `discarded`.
    pub state: String,
    /// `scim` or `directory`.
    pub origin: String,
    pub label: String,
    /// The userNames it deprovisions.
    pub users: Vec<String>,
    pub held_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub outcome: Option<String>,
}

/// What the guard holds now, and the latest decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldList {
    pub settings: GuardSettings,
    pub pending: Vec<HeldView>,
    /// Users the pending changes deprovision, all told.
    pub pending_users: usize,
    pub decided: Vec<HeldView>,
}

fn held_view(row: HeldRow) -> HeldView {
    HeldView {
        seq: row.seq,
        state: row.state,
        origin: row.origin,
        label: row.label,
        users: serde_json::from_str(&row.users).unwrap_or_default(),
        held_at: row.held_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by,
        outcome: row.outcome,
    }
}

pub fn list(conn: &mut DbConnection, tenant: &TenantId) -> Result<HeldList, ServiceError> {
    let pending: Vec<HeldView> = store::held(conn, tenant, "pending", i64::MAX, 10_000)?
        .into_iter()
        .map(held_view)
        .collect();
    let mut users: Vec<&String> = pending.iter().flat_map(|h| &h.users).collect();
    users.sort();
    users.dedup();
    let pending_users = users.len();
    Ok(HeldList {
        settings: settings(conn, tenant)?,
        pending,
        pending_users,
        decided: store::decided(conn, tenant, 100)?
            .into_iter()
            .map(held_view)
            .collect(),
    })
}

/// How many changes wait for an owner (the admin banner).
pub fn pending_count(conn: &mut DbConnection, tenant: &TenantId) -> Result<i64, ServiceError> {
    Ok(store::pending_count(conn, tenant)?)
}

/// Changes per release write: bounded, like a pull's batches.
const RELEASE_BATCH: i64 = 100;

/// Releases (applies, in order) or discards the pending held changes up to `up_to`
/// (what the owner saw), a batch at a time; returns how many it decided (0: none left).
/// Released changes skip the guard: an owner approved them. A change that no longer
/// fits (its resource deleted since) is skipped and says why.
pub fn decide_batch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    base_url: &str,
    decision: &Decision,
    replay: &dyn Fn(&mut DbConnection, &Scope, &Request) -> Result<(), ServiceError>,
) -> Result<usize, ServiceError> {
    write_transaction(conn, |c| {
        // One decision at a time (two owners, two processes): the second finds nothing.
        store::lock_guard(c, tenant)?;
        let batch = store::held(c, tenant, "pending", decision.up_to, RELEASE_BATCH)?;
        let stamp_now = now();
        let state = if decision.release {
            "released"
        } else {
            "discarded"
        };
        for row in &batch {
            let outcome = if decision.release {
                let actor: Actor =
                    serde_json::from_str(&row.actor).unwrap_or_else(|_| Actor::system());
                let scope = Scope {
                    tenant: tenant.clone(),
                    base_url: base_url.to_owned(),
                    actor,
                    correlation_id: row.correlation_id.clone(),
                };
                let request: Request = serde_json::from_str(&row.request)
                    .map_err(|e| invalid(format!("a held change cannot be read: {e}")))?;
                match write_transaction(c, |c| replay(c, &scope, &request)) {
                    Ok(()) => "applied".to_owned(),
                    Err(e) if super::pull::skippable(&e) => format!("skipped: {e}"),
                    Err(e) => return Err(e),
                }
            } else {
                "not applied".to_owned()
            };
            store::decide(
                c,
                tenant,
                row.seq,
                state,
                &decision.by.id,
                &stamp_now,
                Some(&outcome),
            )?;
        }
        Ok(batch.len())
    })
}

/// An owner's decision on what the guard holds.
#[derive(Debug, Clone)]
pub struct Decision {
    pub release: bool,
    /// The last held change the owner saw: later ones wait for their own decision.
    pub up_to: i64,
    pub by: Actor,
}

/// Ends a decision: the feed and webhooks say it, and the audit log.
pub fn finish_decision(
    conn: &mut DbConnection,
    tenant: &TenantId,
    base_url: &str,
    decision: &Decision,
    count: usize,
) -> Result<(), ServiceError> {
    write_transaction(conn, |c| {
        let stamp_now = now();
        let scope = Scope {
            tenant: tenant.clone(),
            base_url: base_url.to_owned(),
            actor: decision.by.clone(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
        };
        let (event, action) = if decision.release {
            (
                "directory.deprovisioning_released",
                "directory.held_released",
            )
        } else {
            (
                "directory.deprovisioning_discarded",
                "directory.held_discarded",
            )
        };
        let data = json!({"changes": count, "up_to": decision.up_to});
        let mut outbox = Outbox::new(&scope, &stamp_now);
        outbox.emit(event, data.clone());
        outbox.commit(c)?;
        super::audit::audit(
            c,
            tenant,
            &decision.by.id,
            action,
            None,
            Some(data),
            &Default::default(),
        )?;
        Ok(())
    })
}

/// Runs a held change again, as it was asked for (no preconditions: they held when it
/// was answered).
pub fn replay(
    conn: &mut DbConnection,
    scope: &Scope,
    request: &Request,
) -> Result<(), ServiceError> {
    let any = crate::scim::etag::Preconditions::default();
    let at = now();
    match request {
        Request::Scim {
            method,
            endpoint,
            id,
            body,
        } => {
            let kind = match endpoint.as_str() {
                "Users" => crate::scim::schema::ResourceKind::User,
                "Groups" => crate::scim::schema::ResourceKind::Group,
                _ => return Err(invalid(format!("{method} /{endpoint} is never held"))),
            };
            write(conn, scope, method, kind, id, body.clone(), &any, &at).map(drop)
        }
        Request::Directory { .. } => super::pull::replay_change(conn, scope, request),
    }
}

/// A SCIM `PUT`, `PATCH` or `DELETE` under the guard. The answer is the resource as it
/// is (or, held, as it will be); `None` for a `DELETE`.
#[allow(clippy::too_many_arguments)]
pub fn scim(
    conn: &mut DbConnection,
    scope: &Scope,
    method: &str,
    kind: crate::scim::schema::ResourceKind,
    id: &str,
    body: Value,
    pre: &crate::scim::etag::Preconditions,
    at: &str,
) -> Result<Guarded<Option<super::Rendered>>, ServiceError> {
    let endpoint = kind.endpoint().trim_start_matches('/');
    let request = Request::Scim {
        method: method.to_owned(),
        endpoint: endpoint.to_owned(),
        id: id.to_owned(),
        body: body.clone(),
    };
    let label = format!("{method} /{endpoint}/{id}");
    run(conn, scope, Some(id), &label, &request, |c| {
        write(c, scope, method, kind, id, body, pre, at)
    })
}

/// The SCIM use case of a `PUT`, `PATCH` or `DELETE`: what a request runs, under the
/// guard, and what a released hold runs again.
#[allow(clippy::too_many_arguments)]
fn write(
    conn: &mut DbConnection,
    scope: &Scope,
    method: &str,
    kind: crate::scim::schema::ResourceKind,
    id: &str,
    body: Value,
    pre: &crate::scim::etag::Preconditions,
    at: &str,
) -> Result<Option<super::Rendered>, ServiceError> {
    use super::{groups, users};
    use crate::scim::schema::ResourceKind;
    match (kind, method) {
        (ResourceKind::User, "PUT") => users::replace(conn, scope, id, body, at, pre).map(Some),
        (ResourceKind::User, "PATCH") => users::patch(conn, scope, id, body, at, pre).map(Some),
        (ResourceKind::User, _) => users::delete(conn, scope, id, pre).map(|()| None),
        (ResourceKind::Group, "PUT") => {
            groups::replace(conn, scope, id, body, at, pre, false).map(Some)
        }
        (ResourceKind::Group, "PATCH") => {
            groups::patch(conn, scope, id, body, at, pre, false).map(Some)
        }
        (ResourceKind::Group, _) => groups::delete(conn, scope, id, pre).map(|()| None),
    }
}

/// Releases or discards everything held up to `decision.up_to`, batch by batch, then
/// says so in the feed and the audit log. Returns how many changes it decided.
pub async fn decide_all(
    runner: &super::run::Runner,
    slug: &str,
    tenant: &TenantId,
    base_url: &str,
    decision: Decision,
) -> Result<usize, ServiceError> {
    let decision = std::sync::Arc::new(decision);
    let mut total = 0;
    loop {
        let (t, b, d) = (tenant.clone(), base_url.to_owned(), decision.clone());
        let n = runner
            .write(slug, move |c| decide_batch(c, &t, &b, &d, &replay))
            .await?;
        total += n;
        if n == 0 {
            break;
        }
    }
    if total > 0 {
        let (t, b, d) = (tenant.clone(), base_url.to_owned(), decision.clone());
        runner
            .write(slug, move |c| finish_decision(c, &t, &b, &d, total))
            .await?;
    }
    Ok(total)
}
