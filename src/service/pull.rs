//! Directory pull use cases: a tenant's source, its runs (fetch, diff, record), and
//! applying a run through the same user and group writes as a SCIM push, so the rows,
//! role recomputes, events and webhooks are the same.
//!
//! A run's life: `queued` → `running` (reading JumpCloud, then diffing) → `planned`
//! (or `no_changes`, or `failed` with why) → `applying` → `applied`. Only the newest
//! planned run can be applied; a newer run supersedes it. Applying goes in bounded
//! batches, each one write that also records how far it got, so a crash or a database
//! fault resumes exactly where it stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::admin::Done;
use super::change_sets::ImpactView;
use super::events::{Actor, ActorKind};
use super::run::Runner;
use super::tenants::tenant;
use super::{groups, invalid, now, users, Scope, ServiceError};
use crate::pull::client::{Client, Fetched, Source};
use crate::pull::diff::{self, Change, Kind, LocalGroup, LocalUser, Missing, Newer, Op, Plan};
use crate::pull::jumpcloud::{UserNameFrom, MANAGED};
use crate::scim::etag::Preconditions;
use crate::scim::resource::email_values;
use crate::secrets::KeyRing;
use crate::store::pull::{self as store, ChangeRow, LinkRow, RunRow, SourceRow};
use crate::store::secrets::directory_key_context;
use crate::store::{users as user_store, write_transaction, DbConnection, TenantId};

/// JumpCloud's API host (EU tenants use `https://console.eu.jumpcloud.com`).
pub const DEFAULT_BASE_URL: &str = "https://console.jumpcloud.com";
/// Changes applied per write: bounded, so a 100,000-user first sync never holds the
/// writer for long and other requests take turns between batches.
pub const APPLY_BATCH: i64 = 100;
/// A planned run older than this is not applied: the directory has moved on since.
const MAX_PLAN_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Runs a tenant keeps (older ones and their changes are deleted).
const KEEP_RUNS: i64 = 50;

/// A source as an admin sets it. `api_key` is required the first time; left out, the
/// stored key is kept.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// `jumpcloud` (the default and the only kind so far).
    pub kind: Option<String>,
    /// JumpCloud's API host; `https://console.eu.jumpcloud.com` for EU tenants.
    pub base_url: Option<String>,
    /// A JumpCloud API key (a read-only administrator's): stored encrypted, never shown.
    pub api_key: Option<String>,
    /// `x-org-id`, for multi-tenant (MSP) administrators.
    pub org_id: Option<String>,
    /// Minutes between runs; 0 (the default) runs only when asked.
    pub interval_minutes: Option<i64>,
    /// JumpCloud group names: pull only these groups and their members. Empty: everyone.
    pub scope_groups: Option<Vec<String>>,
    /// `email` (the default, as JumpCloud's SCIM push) or `username`.
    pub user_name_from: Option<String>,
    /// `deactivate` (the default) or `delete` users JumpCloud no longer has.
    pub missing_users: Option<String>,
    /// Apply each run's diff without an admin (default false: every diff is reviewed).
    pub auto_apply: Option<bool>,
    /// With SCIM push too: `report` drift only (the default), or `repair` it.
    pub drift: Option<String>,
}

/// Never the key.
impl std::fmt::Debug for SourceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceInput")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SourceView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceView")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A source as roster shows it: never the key.
#[derive(Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub kind: String,
    pub base_url: String,
    pub org_id: Option<String>,
    pub api_key_set: bool,
    pub interval_minutes: i64,
    pub scope_groups: Vec<String>,
    pub user_name_from: String,
    pub missing_users: String,
    pub auto_apply: bool,
    pub drift: String,
    /// When the schedule runs next (meaningless with interval 0).
    pub next_run_at: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What a run found and did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    /// JumpCloud users and groups in scope.
    pub remote_users: u64,
    pub remote_groups: u64,
    /// Changes by `kind.op` (`user.create`, `membership.remove`, …).
    pub counts: BTreeMap<String, u64>,
    /// Differences from what SCIM pushed, by the side that changed since they agreed.
    pub drift: BTreeMap<String, u64>,
    /// JumpCloud users left out, with why (at most 100 listed).
    pub skipped: Vec<Skipped>,
    pub skipped_count: u64,
    /// The role changes applying would cause, per role slug.
    pub roles: ImpactView,
    /// Changes that could not be applied (each says why in its outcome).
    pub failed: u64,
    /// Requests sent to JumpCloud, and how many of them were retries.
    pub requests: u64,
    pub retries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    pub remote_id: String,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Planned,
    NoChanges,
    Applying,
    Applied,
    Failed,
    Discarded,
    Superseded,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Planned => "planned",
            RunState::NoChanges => "no_changes",
            RunState::Applying => "applying",
            RunState::Applied => "applied",
            RunState::Failed => "failed",
            RunState::Discarded => "discarded",
            RunState::Superseded => "superseded",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "planned" => RunState::Planned,
            "no_changes" => RunState::NoChanges,
            "applying" => RunState::Applying,
            "applied" => RunState::Applied,
            "discarded" => RunState::Discarded,
            "superseded" => RunState::Superseded,
            _ => RunState::Failed,
        }
    }
}

/// A sync run: its diff's summary, its outcome and its timings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    pub state: RunState,
    /// The tenant also receives SCIM push, so differences are drift.
    pub reconcile: bool,
    /// Whether an admin may apply it now.
    pub can_apply: bool,
    pub summary: RunSummary,
    pub error: Option<String>,
    /// Changes applied so far, of all.
    pub applied: i64,
    pub total: i64,
    pub fetch_ms: i64,
    pub plan_ms: i64,
    pub apply_ms: Option<i64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub applied_by: Option<String>,
}

/// One change of a run's diff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    pub seq: i64,
    pub kind: Kind,
    pub op: Op,
    /// The JumpCloud object (for a membership change, the group).
    pub remote_id: String,
    /// roster's resource, unless the run creates it.
    pub resource_id: Option<String>,
    pub label: String,
    /// What the change writes: a SCIM resource (create), PATCH operations, or members.
    #[schema(value_type = Object)]
    pub body: Value,
    pub newer: Option<Newer>,
    /// Empty until applied: `applied`, or why it was skipped.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePage {
    pub changes: Vec<ChangeView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<i64>,
}

fn source_view(row: &SourceRow) -> SourceView {
    SourceView {
        kind: "jumpcloud".into(),
        base_url: row.base_url.clone(),
        org_id: row.org_id.clone(),
        api_key_set: !row.api_key.is_empty(),
        interval_minutes: row.interval_minutes,
        scope_groups: serde_json::from_str(&row.scope_groups).unwrap_or_default(),
        user_name_from: row.user_name_from.clone(),
        missing_users: row.missing_users.clone(),
        auto_apply: row.auto_apply,
        drift: row.drift.clone(),
        next_run_at: row.next_run_at.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
    }
}

fn audit_value(view: &SourceView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

fn one_of<T>(
    field: &str,
    value: Option<&str>,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ServiceError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => parse(v)
            .ok_or_else(|| invalid(format!("{field}: '{v}' is not one of the allowed values"))),
    }
}

/// Creates or replaces the tenant's source.
pub fn configure(
    conn: &mut DbConnection,
    slug: &str,
    input: &SourceInput,
    keys: &KeyRing,
) -> Result<Done<SourceView>, ServiceError> {
    if input.kind.as_deref().is_some_and(|k| k != "jumpcloud") {
        return Err(invalid("kind: only 'jumpcloud' is supported"));
    }
    let base_url = match input.base_url.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_BASE_URL.to_owned(),
        Some(u) => super::saml::web_url("base_url", u)?
            .trim_end_matches('/')
            .to_owned(),
    };
    let interval = input.interval_minutes.unwrap_or(0);
    if !(0..=7 * 24 * 60).contains(&interval) {
        return Err(invalid(
            "interval_minutes must be 0 (only when asked) to 10080 (a week)",
        ));
    }
    let scope: Vec<String> = input
        .scope_groups
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if scope.len() > 500 {
        return Err(invalid("at most 500 groups in scope"));
    }
    let user_name_from = one_of(
        "user_name_from",
        input.user_name_from.as_deref(),
        UserNameFrom::Email,
        UserNameFrom::parse,
    )?;
    let missing = one_of(
        "missing_users",
        input.missing_users.as_deref(),
        Missing::Deactivate,
        Missing::parse,
    )?;
    let drift = one_of("drift", input.drift.as_deref(), "report", |d| {
        ["report", "repair"].into_iter().find(|x| *x == d)
    })?;
    let org_id = input
        .org_id
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned);
    if org_id.as_deref().is_some_and(|o| !diff::is_jumpcloud_id(o)) {
        return Err(invalid(
            "org_id: a JumpCloud organization id is 24 hexadecimal digits",
        ));
    }
    let new_key = input
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if new_key.is_some_and(|k| k.len() > 512 || k.chars().any(|c| c.is_control() || c == ' ')) {
        return Err(invalid("api_key: not a JumpCloud API key"));
    }
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let before = store::source(c, &tenant_id)?;
        let stamp = now();
        let api_key = match (new_key, &before) {
            (Some(k), _) => keys.seal(k, &directory_key_context(&tenant_id.0)),
            // The stored key goes only where it went before: whoever changes the host or
            // the organization must know the key (else they could send it anywhere).
            (None, Some(row)) if row.base_url != base_url || row.org_id != org_id => {
                return Err(invalid(
                    "a new API host or organization needs the API key again",
                ))
            }
            (None, Some(row)) => row.api_key.clone(),
            (None, None) => return Err(invalid("api_key is required to connect JumpCloud")),
        };
        let row = SourceRow {
            tenant_id: tenant_id.0.clone(),
            base_url: base_url.clone(),
            api_key,
            org_id: org_id.clone(),
            interval_minutes: interval,
            scope_groups: serde_json::to_string(&scope).unwrap_or_else(|_| "[]".into()),
            user_name_from: user_name_from.as_str().into(),
            missing_users: missing.as_str().into(),
            auto_apply: input.auto_apply.unwrap_or(false),
            drift: drift.into(),
            next_run_at: later(&stamp, interval),
            lease_until: before.as_ref().and_then(|b| b.lease_until.clone()),
            lease_owner: before.as_ref().and_then(|b| b.lease_owner.clone()),
            push_seen: before.as_ref().is_some_and(|b| b.push_seen),
            created_at: before
                .as_ref()
                .map_or_else(|| stamp.clone(), |b| b.created_at.clone()),
            updated_at: stamp,
        };
        store::upsert_source(c, &row)?;
        let view = source_view(&row);
        let mut after = audit_value(&view);
        if new_key.is_some() {
            after["api_key"] = json!("(new key)");
        }
        Ok(Done::new(
            view,
            before.as_ref().map(|b| audit_value(&source_view(b))),
            Some(after),
        ))
    })
}

/// `now` plus `minutes` (a stored stamp).
fn later(now_stamp: &str, minutes: i64) -> String {
    let base = humantime::parse_rfc3339(now_stamp).unwrap_or_else(|_| std::time::SystemTime::now());
    super::stamp(base + std::time::Duration::from_secs(60 * minutes.max(0) as u64))
}

pub fn source(conn: &mut DbConnection, slug: &str) -> Result<Option<SourceView>, ServiceError> {
    let t = tenant(conn, slug)?;
    Ok(store::source(conn, &TenantId(t.id))?.map(|r| source_view(&r)))
}

/// Removes the source, its runs and its links; the users and groups it wrote stay.
pub fn remove(conn: &mut DbConnection, slug: &str) -> Result<Done<()>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let before = store::source(c, &tenant_id)?.ok_or(ServiceError::NotFound {
            kind: "directory source",
        })?;
        store::delete_source(c, &tenant_id)?;
        Ok(Done::new(
            (),
            Some(audit_value(&source_view(&before))),
            None,
        ))
    })
}

fn run_view(row: &RunRow, source: Option<&SourceRow>, newest_planned: bool) -> RunView {
    let state = RunState::parse(&row.state);
    RunView {
        id: row.id.clone(),
        trigger: row.trigger.clone(),
        state,
        reconcile: row.reconcile,
        can_apply: state == RunState::Planned
            && newest_planned
            && source.is_some_and(|s| may_apply(s, row.reconcile)),
        summary: serde_json::from_str(&row.summary).unwrap_or_default(),
        error: row.error.clone(),
        applied: row.applied,
        total: row.total,
        fetch_ms: row.fetch_ms,
        plan_ms: row.plan_ms,
        apply_ms: row.apply_ms,
        started_at: row.started_at.clone(),
        finished_at: row.finished_at.clone(),
        applied_by: row.applied_by.clone(),
    }
}

/// With SCIM push too, a run's differences are drift, applied only if the tenant
/// chose to repair it.
fn may_apply(source: &SourceRow, reconcile: bool) -> bool {
    !reconcile || source.drift == "repair"
}

/// Asks for a run now: queued for the pull worker, unless one is queued already.
pub fn queue_run(conn: &mut DbConnection, slug: &str) -> Result<RunView, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let source = store::source(c, &tenant_id)?.ok_or(ServiceError::NotFound {
            kind: "directory source",
        })?;
        // One waiting run is enough; a running one finishes first (runs of a tenant go
        // one at a time, under its source's lease).
        if let Some(waiting) = store::runs_in(c, &tenant_id, &["queued"])?.pop() {
            return Ok(run_view(&waiting, Some(&source), false));
        }
        let row = new_run(&tenant_id, "manual", RunState::Queued);
        store::insert_run(c, &row)?;
        Ok(run_view(&row, Some(&source), false))
    })
}

fn new_run(tenant: &TenantId, trigger: &str, state: RunState) -> RunRow {
    RunRow {
        tenant_id: tenant.0.clone(),
        id: uuid::Uuid::now_v7().to_string(),
        trigger: trigger.into(),
        state: state.as_str().into(),
        reconcile: false,
        summary: "{}".into(),
        error: None,
        applied: 0,
        total: 0,
        fetch_ms: 0,
        plan_ms: 0,
        apply_ms: None,
        started_at: now(),
        finished_at: None,
        applied_by: None,
    }
}

pub fn runs(conn: &mut DbConnection, slug: &str, limit: i64) -> Result<Vec<RunView>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    let source = store::source(conn, &tenant_id)?;
    let rows = store::runs(conn, &tenant_id, limit.clamp(1, 200))?;
    let newest_planned = rows
        .iter()
        .find(|r| r.state == "planned")
        .map(|r| r.id.clone());
    Ok(rows
        .iter()
        .map(|r| run_view(r, source.as_ref(), newest_planned.as_deref() == Some(&r.id)))
        .collect())
}

pub fn run(conn: &mut DbConnection, slug: &str, id: &str) -> Result<RunView, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    let row = store::run(conn, &tenant_id, id)?.ok_or(NOT_FOUND)?;
    let source = store::source(conn, &tenant_id)?;
    // Planned runs other than the newest are superseded when a run is recorded.
    Ok(run_view(&row, source.as_ref(), true))
}

const NOT_FOUND: ServiceError = ServiceError::NotFound { kind: "sync run" };

pub fn changes(
    conn: &mut DbConnection,
    slug: &str,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<ChangePage, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    store::run(conn, &tenant_id, id)?.ok_or(NOT_FOUND)?;
    let limit = limit.clamp(1, 1000);
    let rows = store::changes(conn, &tenant_id, id, after, limit)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(ChangePage {
        changes: rows.into_iter().map(change_view).collect(),
        next,
    })
}

fn change_view(row: ChangeRow) -> ChangeView {
    ChangeView {
        seq: row.seq,
        kind: parse_kind(&row.kind),
        op: parse_op(&row.op),
        remote_id: row.remote_id,
        resource_id: row.resource_id,
        label: row.label,
        body: serde_json::from_str(&row.body).unwrap_or(Value::Null),
        newer: row
            .newer
            .as_deref()
            .and_then(|n| serde_json::from_value(json!(n)).ok()),
        outcome: row.outcome,
    }
}

fn parse_kind(text: &str) -> Kind {
    serde_json::from_value(json!(text)).unwrap_or(Kind::User)
}

fn parse_op(text: &str) -> Op {
    serde_json::from_value(json!(text)).unwrap_or(Op::Update)
}

/// An admin's decision on a planned run: apply it (the worker does, in batches) or
/// discard it. Returns the run and its state before, for the audit row.
pub fn decide(
    conn: &mut DbConnection,
    slug: &str,
    id: &str,
    apply: bool,
    actor: &str,
) -> Result<Done<RunView>, ServiceError> {
    let t = tenant(conn, slug)?;
    let tenant_id = TenantId(t.id);
    write_transaction(conn, |c| {
        let mut row = store::run(c, &tenant_id, id)?.ok_or(NOT_FOUND)?;
        let source = store::source(c, &tenant_id)?;
        if row.state != "planned" {
            return Err(ServiceError::Conflict(format!(
                "this run is {}: only a planned run can be applied or discarded",
                row.state
            )));
        }
        if apply {
            let newest = store::runs(c, &tenant_id, 1)?;
            if newest.first().is_some_and(|n| n.id != row.id) {
                return Err(ServiceError::Conflict(
                    "a newer run exists: apply that one (this diff may no longer be true)".into(),
                ));
            }
            let age = humantime::parse_rfc3339(&row.started_at)
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            if age > MAX_PLAN_AGE {
                return Err(ServiceError::Conflict(
                    "this diff is more than a day old: run the pull again and apply the new one"
                        .into(),
                ));
            }
        }
        if apply && !source.as_ref().is_some_and(|s| may_apply(s, row.reconcile)) {
            return Err(ServiceError::Conflict(
                "this tenant also receives SCIM push and its drift policy is 'report': \
                 set drift to 'repair' to apply what the pull found"
                    .into(),
            ));
        }
        let before = json!({"state": row.state});
        row.state = if apply { "applying" } else { "discarded" }.into();
        row.applied_by = Some(actor.to_owned());
        if !apply {
            row.finished_at = Some(now());
        }
        store::update_run(c, &row)?;
        Ok(Done::new(
            run_view(&row, source.as_ref(), true),
            Some(before),
            Some(json!({"state": row.state, "run": row.id})),
        ))
    })
}

// ---- the worker's side: a run, start to end ----

/// What the worker needs to reach JumpCloud and write as a pull.
#[derive(Clone)]
pub struct PullContext {
    pub public_url: String,
    pub allow_private: bool,
    pub backoff: crate::pull::client::Backoff,
    /// This process's id as a lease holder.
    pub owner: String,
}

/// The source's settings and key, opened for one run.
pub struct Prepared {
    pub tenant: TenantId,
    pub slug: String,
    pub source: Source,
    pub missing: Missing,
    pub reconcile: bool,
    pub auto_apply: bool,
    pub run: RunRow,
}

/// Starts the run the tenant has waiting (queued, or due on schedule): marks it
/// running. `None` when nothing is due. Runs left `running` by a process that died are
/// failed first.
pub fn start_run(
    conn: &mut DbConnection,
    tenant_id: &TenantId,
    keys: &KeyRing,
) -> Result<Option<Prepared>, ServiceError> {
    write_transaction(conn, |c| {
        let Some(source) = store::source(c, tenant_id)? else {
            return Ok(None);
        };
        let t = super::tenants::tenant_by_id(c, tenant_id)?;
        let stamp = now();
        for mut stale in store::runs_in(c, tenant_id, &["running"])? {
            stale.state = "failed".into();
            stale.error = Some("interrupted: the process running it stopped".into());
            stale.finished_at = Some(stamp.clone());
            store::update_run(c, &stale)?;
        }
        let queued = store::runs_in(c, tenant_id, &["queued"])?
            .into_iter()
            .next();
        let due = source.interval_minutes > 0 && source.next_run_at.as_str() <= stamp.as_str();
        let mut run = match queued {
            Some(run) => run,
            None if due => {
                let run = new_run(tenant_id, "schedule", RunState::Running);
                store::insert_run(c, &run)?;
                run
            }
            None => return Ok(None),
        };
        run.state = "running".into();
        run.started_at = stamp.clone();
        run.reconcile = source.push_seen || store::receives_push(c, tenant_id)?;
        if run.reconcile && !source.push_seen {
            store::mark_push_seen(c, tenant_id)?;
        }
        store::update_run(c, &run)?;
        store::set_next_run(c, tenant_id, &later(&stamp, source.interval_minutes))?;
        let api_key = keys.open(&source.api_key, &directory_key_context(&tenant_id.0))?;
        Ok(Some(Prepared {
            tenant: tenant_id.clone(),
            slug: t.slug,
            source: Source {
                base_url: source.base_url.clone(),
                api_key,
                org_id: source.org_id.clone(),
                scope_groups: serde_json::from_str(&source.scope_groups).unwrap_or_default(),
                user_name_from: UserNameFrom::parse(&source.user_name_from)
                    .unwrap_or(UserNameFrom::Email),
            },
            missing: Missing::parse(&source.missing_users).unwrap_or(Missing::Deactivate),
            reconcile: run.reconcile,
            auto_apply: source.auto_apply && may_apply(&source, run.reconcile),
            run,
        }))
    })
}

/// Records a run that failed to read JumpCloud: nothing is applied.
pub fn fail_run(
    conn: &mut DbConnection,
    prepared: &Prepared,
    why: &str,
    fetch_ms: i64,
) -> Result<RunView, ServiceError> {
    write_transaction(conn, |c| {
        let mut row = prepared.run.clone();
        row.state = "failed".into();
        row.error = Some(why.to_owned());
        row.fetch_ms = fetch_ms;
        row.finished_at = Some(now());
        store::update_run(c, &row)?;
        sync_log(
            c,
            &prepared.tenant,
            &row,
            "PULL",
            502,
            fetch_ms,
            Some(why.to_owned()),
        )?;
        super::audit::audit(
            c,
            &prepared.tenant,
            "directory",
            "directory.run_failed",
            None,
            Some(json!({"run": row.id, "error": why})),
            &Default::default(),
        )?;
        Ok(run_view(&row, None, false))
    })
}

/// roster's side of the diff, read on one snapshot.
pub struct Local {
    pub users: Vec<LocalUser>,
    pub groups: Vec<LocalGroup>,
    pub links: diff::Links,
}

/// Users per read while loading roster's side: each read is bounded like a request's.
const LOAD_PAGE: i64 = 5000;
/// Memberships or links per read.
const LOAD_ROWS: i64 = 20_000;

/// A page of the tenant's users after `after` (their managed attributes only).
pub fn local_users(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<&str>,
) -> Result<Vec<LocalUser>, ServiceError> {
    let page = user_store::page_after(conn, tenant, after, LOAD_PAGE)?;
    Ok(page
        .into_iter()
        .map(|row| {
            let attributes: serde_json::Map<String, Value> =
                serde_json::from_str(&row.attributes).unwrap_or_default();
            let managed = MANAGED
                .iter()
                .filter_map(|k| Some((k.to_string(), attributes.get(*k)?.clone())))
                .collect();
            let email = email_values(&row.attributes)
                .into_iter()
                .next()
                .map(|(v, _)| v);
            LocalUser {
                id: row.id,
                user_name: row.user_name,
                external_id: row.external_id,
                email,
                active: row.active,
                attributes: managed,
            }
        })
        .collect())
}

/// roster's side of the diff, a bounded read at a time (not one snapshot: a change
/// meanwhile is in the next run's diff, and applying writes only what differs).
pub async fn load_local(runner: &Runner, tenant: &TenantId) -> Result<Local, ServiceError> {
    let mut users = Vec::new();
    loop {
        let (t, after) = (
            tenant.clone(),
            users.last().map(|u: &LocalUser| u.id.clone()),
        );
        let page = runner
            .read(move |c| local_users(c, &t, after.as_deref()))
            .await?;
        let done = (page.len() as i64) < LOAD_PAGE;
        users.extend(page);
        if done {
            break;
        }
    }
    let mut members: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let (t, a) = (tenant.clone(), after.clone());
        let page = runner
            .read(move |c| {
                let a = a.as_ref().map(|(g, m)| (g.as_str(), m.as_str()));
                Ok(store::user_memberships_after(c, &t, a, LOAD_ROWS)?)
            })
            .await?;
        let done = (page.len() as i64) < LOAD_ROWS;
        after = page.last().cloned();
        for (group, user) in page {
            members.entry(group).or_default().insert(user);
        }
        if done {
            break;
        }
    }
    let t = tenant.clone();
    let groups = runner
        .read(move |c| Ok(store::all_groups(c, &t)?))
        .await?
        .into_iter()
        .map(|(id, name, external_id)| LocalGroup {
            members: members.remove(&id).unwrap_or_default(),
            id,
            name,
            external_id,
        })
        .collect();
    let mut links = diff::Links::default();
    let mut after: Option<(String, String)> = None;
    loop {
        let (t, a) = (tenant.clone(), after.clone());
        let page = runner
            .read(move |c| {
                let a = a.as_ref().map(|(k, r)| (k.as_str(), r.as_str()));
                Ok(store::links_after(c, &t, a, LOAD_ROWS)?)
            })
            .await?;
        let done = (page.len() as i64) < LOAD_ROWS;
        after = page.last().map(|l| (l.kind.clone(), l.remote_id.clone()));
        for l in page {
            let link = diff::Link {
                resource_id: l.resource_id,
                digest: l.digest,
            };
            match l.kind.as_str() {
                "group" => links.groups.insert(l.remote_id, link),
                _ => links.users.insert(l.remote_id, link),
            };
        }
        if done {
            break;
        }
    }
    Ok(Local {
        users,
        groups,
        links,
    })
}

/// What a pull read, kept once the diff is made (the users themselves are dropped).
#[derive(Debug, Clone, Copy)]
pub struct Read {
    pub users: u64,
    pub groups: u64,
    pub requests: u64,
    pub retries: u64,
}

/// The diff and its role impact: roster's side read a page at a time, the diff made
/// off the async runtime, the impact read in bounded batches.
pub async fn plan(
    runner: &Runner,
    prepared: &Prepared,
    fetched: Fetched,
) -> Result<(Plan, ImpactView, Read), ServiceError> {
    let tenant = prepared.tenant.clone();
    let local = load_local(runner, &tenant).await?;
    if fetched.users.is_empty() && !local.links.users.is_empty() {
        // A sweep that returns nobody where earlier runs found people is a fault on
        // JumpCloud's side or a key that sees nothing, far likelier than an empty company.
        return Err(ServiceError::Conflict(
            "JumpCloud returned no users in scope, where earlier runs found some: nothing \
             was planned (check the API key's administrator and the scope)"
                .into(),
        ));
    }
    let read = Read {
        users: fetched.users.len() as u64,
        groups: fetched.groups.len() as u64,
        requests: fetched.requests,
        retries: fetched.retries,
    };
    let missing = prepared.missing;
    let mut plan = tokio::task::spawn_blocking(move || {
        diff::plan(&diff::Inputs {
            remote_users: &fetched.users,
            remote_groups: &fetched.groups,
            users: &local.users,
            groups: &local.groups,
            links: &local.links,
            missing,
        })
    })
    .await
    .map_err(|e| ServiceError::unavailable(e.to_string()))?;
    // A resource with a change the guard holds is left to that change: planning it
    // again would hold a copy per run.
    let t = tenant.clone();
    let held: std::collections::HashSet<String> = runner
        .read(move |c| {
            Ok(crate::store::guard::held(
                c,
                &t,
                "pending",
                i64::MAX,
                10_000,
            )?)
        })
        .await?
        .into_iter()
        .filter_map(|h| h.resource_id)
        .collect();
    if !held.is_empty() {
        let (kept, waiting): (Vec<Change>, Vec<Change>) = plan
            .changes
            .into_iter()
            .partition(|c| c.resource_id.as_ref().is_none_or(|r| !held.contains(r)));
        plan.changes = kept;
        plan.skipped.extend(waiting.into_iter().map(|c| {
            (
                c.remote_id,
                "the deprovisioning guard holds an earlier change to it".to_owned(),
            )
        }));
    }
    let subjects = std::mem::take(&mut plan.subjects);
    let t = tenant.clone();
    let impact = runner
        .read(move |c| super::roles::impact_of(c, &t, &subjects))
        .await?;
    Ok((plan, impact, read))
}

/// Change rows (or links) per write while a run is recorded.
const RECORD_BATCH: usize = 2000;

/// Records the planned run: its changes (a bounded write at a time, while the run is
/// still `running`, so nobody can apply half a diff), the links of what already
/// agrees, then its summary. Older planned runs are superseded.
pub async fn record_plan(
    runner: &Runner,
    prepared: &Prepared,
    plan: Plan,
    impact: ImpactView,
    read: Read,
    timings: (i64, i64),
) -> Result<RunView, ServiceError> {
    let tenant = prepared.tenant.clone();
    let run_id = prepared.run.id.clone();
    let slug = prepared.slug.clone();
    let mut summary = RunSummary {
        remote_users: read.users,
        remote_groups: read.groups,
        skipped_count: plan.skipped.len() as u64,
        skipped: plan
            .skipped
            .iter()
            .take(100)
            .map(|(remote_id, why)| Skipped {
                remote_id: remote_id.clone(),
                why: why.clone(),
            })
            .collect(),
        roles: impact,
        requests: read.requests,
        retries: read.retries,
        ..RunSummary::default()
    };
    let total = plan.changes.len();
    let mut rows = Vec::with_capacity(RECORD_BATCH);
    let mut changes = plan.changes.into_iter().enumerate().peekable();
    while changes.peek().is_some() {
        rows.clear();
        for (i, c) in changes.by_ref().take(RECORD_BATCH) {
            *summary
                .counts
                .entry(format!("{}.{}", c.kind.as_str(), c.op.as_str()))
                .or_default() += 1;
            if prepared.reconcile {
                if let Some(n) = c.newer {
                    *summary.drift.entry(n.as_str().to_owned()).or_default() += 1;
                }
            }
            rows.push(change_row(&tenant, &run_id, i as i64 + 1, &c));
        }
        let (t, id, batch) = (tenant.clone(), run_id.clone(), std::mem::take(&mut rows));
        runner
            .write(&slug, move |c| {
                still_running(c, &t, &id)?;
                Ok(store::insert_changes(c, &batch)?)
            })
            .await?;
    }
    let links: Vec<LinkRow> = plan
        .agreements
        .into_iter()
        .map(|a| LinkRow {
            tenant_id: tenant.0.clone(),
            kind: a.kind.as_str().into(),
            remote_id: a.remote_id,
            resource_id: a.resource_id,
            digest: a.digest,
        })
        .collect();
    for chunk in links.chunks(RECORD_BATCH) {
        let (t, id, chunk) = (tenant.clone(), run_id.clone(), chunk.to_vec());
        runner
            .write(&slug, move |c| {
                still_running(c, &t, &id)?;
                for link in &chunk {
                    store::upsert_link(c, link)?;
                }
                Ok(())
            })
            .await?;
    }
    let mut run = prepared.run.clone();
    runner
        .write(&slug, move |c| {
            still_running(c, &tenant, &run.id)?;
            let stamp = now();
            run.state = if total == 0 { "no_changes" } else { "planned" }.into();
            run.total = total as i64;
            run.summary = serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into());
            (run.fetch_ms, run.plan_ms) = timings;
            if total == 0 {
                run.finished_at = Some(stamp.clone());
            }
            store::update_run(c, &run)?;
            store::supersede(c, &tenant, &run.id, &stamp)?;
            prune_runs(c, &tenant)?;
            let counts: Vec<String> = summary
                .counts
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            sync_log(
                c,
                &tenant,
                &run,
                "PULL",
                200,
                timings.0 + timings.1,
                Some(counts.join(", ")),
            )?;
            super::audit::audit(
                c,
                &tenant,
                "directory",
                "directory.run_planned",
                None,
                Some(
                    json!({"run": run.id, "state": run.state, "counts": summary.counts,
                            "drift": summary.drift}),
                ),
                &Default::default(),
            )?;
            Ok(run_view(&run, None, true))
        })
        .await
}

/// Fails unless the run is still `running`: another process may have taken it over
/// (this one was paused past its lease), and a diff is not recorded twice.
fn still_running(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run_id: &str,
) -> Result<(), ServiceError> {
    let current = store::run(conn, tenant, run_id)?;
    if current.as_ref().is_none_or(|r| r.state != "running") {
        return Err(ServiceError::Conflict(
            "the run was taken over or ended while it was read".into(),
        ));
    }
    Ok(())
}

fn prune_runs(conn: &mut DbConnection, tenant: &TenantId) -> Result<(), ServiceError> {
    let all = store::runs(conn, tenant, KEEP_RUNS + 20)?;
    for old in all.iter().skip(KEEP_RUNS as usize) {
        if matches!(old.state.as_str(), "applying" | "queued" | "running") {
            continue;
        }
        store::delete_run(conn, tenant, &old.id)?;
    }
    Ok(())
}

fn change_row(tenant: &TenantId, run_id: &str, seq: i64, c: &Change) -> ChangeRow {
    ChangeRow {
        tenant_id: tenant.0.clone(),
        run_id: run_id.to_owned(),
        seq,
        kind: c.kind.as_str().into(),
        op: c.op.as_str().into(),
        remote_id: c.remote_id.clone(),
        resource_id: c.resource_id.clone(),
        label: c.label.clone(),
        body: c.body.to_string(),
        newer: c
            .newer
            .and_then(|n| serde_json::to_value(n).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        outcome: None,
    }
}

/// Marks a planned run for applying by the worker (automatic apply).
pub fn auto_apply(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run_id: &str,
) -> Result<(), ServiceError> {
    write_transaction(conn, |c| {
        if let Some(mut row) = store::run(c, tenant, run_id)? {
            if row.state == "planned" {
                row.state = "applying".into();
                row.applied_by = Some("automatic".into());
                store::update_run(c, &row)?;
            }
        }
        Ok(())
    })
}

/// The run the tenant is applying, if any (the worker resumes it).
pub fn applying(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<(String, RunRow)>, ServiceError> {
    let Some(run) = store::runs_in(conn, tenant, &["applying"])?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let t = super::tenants::tenant_by_id(conn, tenant)?;
    Ok(Some((t.slug, run)))
}

/// The next batch of a run's changes to apply: up to `APPLY_BATCH` changes, and fewer
/// when they carry many members (a membership change of 1,000 members weighs 100), so
/// every batch is a write about as long as any other.
pub fn next_batch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run: &RunRow,
) -> Result<Vec<ChangeRow>, ServiceError> {
    let mut batch = store::changes(conn, tenant, &run.id, run.applied, APPLY_BATCH)?;
    let mut weight = 0;
    let keep = batch
        .iter()
        .take_while(|c| {
            let members = serde_json::from_str::<Value>(&c.body)
                .ok()
                .and_then(|b| b["members"].as_array().map(Vec::len))
                .unwrap_or(0);
            weight += 1 + members as i64 / 10;
            weight <= APPLY_BATCH
        })
        .count()
        .max(1);
    batch.truncate(keep);
    Ok(batch)
}

/// The scope a pull writes under: the directory as actor, the run as correlation id.
pub fn scope(tenant: &TenantId, slug: &str, public_url: &str, run_id: &str) -> Scope {
    Scope {
        tenant: tenant.clone(),
        base_url: format!("{}/scim/v2/{slug}", public_url.trim_end_matches('/')),
        actor: Actor {
            kind: ActorKind::Directory,
            id: "jumpcloud".into(),
        },
        correlation_id: run_id.to_owned(),
    }
}

/// Applies one batch in one write: each change in a savepoint of its own, then the
/// run's progress. A change that no longer fits (the user was deleted meanwhile, a
/// userName taken) is skipped with why; a database fault undoes the batch, which the
/// worker retries.
pub fn apply_batch(
    conn: &mut DbConnection,
    scope: &Scope,
    run_id: &str,
    batch: &[ChangeRow],
) -> Result<RunRow, ServiceError> {
    let tenant = &scope.tenant;
    let mut run = store::run(conn, tenant, run_id)?.ok_or(NOT_FOUND)?;
    if run.state != "applying" {
        return Ok(run);
    }
    let mut failed = 0;
    let from = run.applied;
    for change in batch.iter().filter(|c| c.seq > from) {
        let stamp = now();
        let request = super::guard::Request::Directory {
            run_id: run_id.to_owned(),
            seq: change.seq,
            kind: change.kind.clone(),
            op: change.op.clone(),
            remote_id: change.remote_id.clone(),
            resource_id: change.resource_id.clone(),
            body: change.body.clone(),
        };
        let label = format!("{} {} {}", change.op, change.kind, change.label);
        let guarded = super::guard::run(
            conn,
            scope,
            change.resource_id.as_deref(),
            &label,
            &request,
            |c| apply_one(c, scope, change, &stamp),
        );
        let outcome = match guarded {
            Ok(super::guard::Guarded::Applied(())) => "applied".to_owned(),
            Ok(super::guard::Guarded::Held { seq, .. }) => {
                format!("held by the deprovisioning guard (held change {seq})")
            }
            Err(e) if skippable(&e) => {
                failed += 1;
                format!("skipped: {e}")
            }
            Err(e) => return Err(e),
        };
        store::set_outcome(conn, tenant, run_id, change.seq, &outcome)?;
        run.applied = change.seq;
    }
    if failed > 0 {
        let mut summary: RunSummary = serde_json::from_str(&run.summary).unwrap_or_default();
        summary.failed += failed;
        run.summary = serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into());
    }
    store::update_run(conn, &run)?;
    Ok(run)
}

pub(crate) fn skippable(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Invalid(_)
            | ServiceError::NotFound { .. }
            | ServiceError::Uniqueness { .. }
            | ServiceError::PreconditionFailed
            | ServiceError::Conflict(_)
    )
}

fn apply_one(
    conn: &mut DbConnection,
    scope: &Scope,
    change: &ChangeRow,
    stamp: &str,
) -> Result<(), ServiceError> {
    let body: Value = serde_json::from_str(&change.body).unwrap_or(Value::Null);
    let tenant = &scope.tenant;
    let any = Preconditions::default();
    let link = |c: &mut DbConnection, kind: &str, resource_id: &str, digest: String| {
        store::upsert_link(
            c,
            &LinkRow {
                tenant_id: tenant.0.clone(),
                kind: kind.into(),
                remote_id: change.remote_id.clone(),
                resource_id: resource_id.to_owned(),
                digest,
            },
        )
    };
    let resource = || {
        change.resource_id.clone().ok_or(ServiceError::NotFound {
            kind: "resource of the change",
        })
    };
    match (parse_kind(&change.kind), parse_op(&change.op)) {
        (Kind::User, Op::Create) => {
            let digest = user_digest(&body);
            let made = users::create(conn, scope, body, stamp)?;
            let id = made.body["id"].as_str().unwrap_or_default().to_owned();
            link(conn, "user", &id, digest)?;
        }
        (Kind::User, Op::Update | Op::Deactivate | Op::Reactivate) => {
            let id = resource()?;
            let done = users::patch(conn, scope, &id, body, stamp, &any)?;
            // Applied, the user is JumpCloud's from now on (a match by name or e-mail is
            // linked only here, never by a dry run).
            link(conn, "user", &id, user_digest(&done.body))?;
        }
        (Kind::User, Op::Delete) => {
            users::delete(conn, scope, &resource()?, &any)?;
            store::delete_link(conn, tenant, "user", &change.remote_id)?;
        }
        (Kind::Group, Op::Create) => {
            let name = body["displayName"].as_str().unwrap_or_default().to_owned();
            let made = groups::create(conn, scope, body, stamp)?;
            let id = made.body["id"].as_str().unwrap_or_default().to_owned();
            link(conn, "group", &id, diff::group_digest(&name))?;
        }
        (Kind::Group, Op::Update) => {
            let id = resource()?;
            let done = groups::patch(conn, scope, &id, body, stamp, &any, false)?;
            let name = done.body["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            link(conn, "group", &id, diff::group_digest(&name))?;
        }
        (Kind::Group, Op::Delete) => {
            groups::delete(conn, scope, &resource()?, &any)?;
            store::delete_link(conn, tenant, "group", &change.remote_id)?;
        }
        (Kind::Membership, op) => {
            let group = match change.resource_id.clone() {
                Some(id) => id,
                None => store::linked_ids(
                    conn,
                    tenant,
                    "group",
                    std::slice::from_ref(&change.remote_id),
                )?
                .pop()
                .map(|(_, id)| id)
                .ok_or(ServiceError::NotFound { kind: "group" })?,
            };
            let listed: Vec<String> =
                serde_json::from_value(body["members"].clone()).unwrap_or_default();
            let members: Vec<String> = if op == Op::Add {
                store::linked_ids(conn, tenant, "user", &listed)?
                    .into_iter()
                    .map(|(_, id)| id)
                    .collect()
            } else {
                listed
            };
            if members.is_empty() {
                return Ok(());
            }
            let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
            // A value list (as Entra sends removals), not a filter: a filter of 1,000 ids
            // would pass the filter length limit.
            let verb = if op == Op::Add { "add" } else { "remove" };
            let operation = json!({"op": verb, "path": "members", "value": value});
            let patch =
                json!({"schemas": [crate::scim::schema::PATCH_OP], "Operations": [operation]});
            groups::patch(conn, scope, &group, patch, stamp, &any, false)?;
        }
        (kind, op) => {
            return Err(invalid(format!(
                "no such change: {} {}",
                kind.as_str(),
                op.as_str()
            )));
        }
    }
    Ok(())
}

/// Applies a run's change that the guard held, when an owner releases it.
pub fn replay_change(
    conn: &mut DbConnection,
    scope: &Scope,
    request: &super::guard::Request,
) -> Result<(), ServiceError> {
    let super::guard::Request::Directory {
        run_id,
        seq,
        kind,
        op,
        remote_id,
        resource_id,
        body,
    } = request
    else {
        return Err(invalid("not a directory change"));
    };
    let change = ChangeRow {
        tenant_id: scope.tenant.0.clone(),
        run_id: run_id.clone(),
        seq: *seq,
        kind: kind.clone(),
        op: op.clone(),
        remote_id: remote_id.clone(),
        resource_id: resource_id.clone(),
        label: String::new(),
        body: body.clone(),
        newer: None,
        outcome: None,
    };
    apply_one(conn, scope, &change, &now())?;
    // The run may have been pruned since; its record is best effort.
    store::set_outcome(
        conn,
        &scope.tenant,
        run_id,
        *seq,
        "applied (released from the guard)",
    )?;
    Ok(())
}

fn user_digest(body: &Value) -> String {
    let attributes = body.as_object().cloned().unwrap_or_default();
    crate::pull::jumpcloud::digest(&crate::pull::jumpcloud::canonical_user(&attributes))
}

/// Ends an applied run, and audits it.
pub fn finish_apply(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run_id: &str,
    apply_ms: i64,
) -> Result<RunView, ServiceError> {
    write_transaction(conn, |c| {
        let mut run = store::run(c, tenant, run_id)?.ok_or(NOT_FOUND)?;
        run.state = "applied".into();
        run.finished_at = Some(now());
        run.apply_ms = Some(run.apply_ms.unwrap_or(0) + apply_ms);
        store::update_run(c, &run)?;
        let summary: RunSummary = serde_json::from_str(&run.summary).unwrap_or_default();
        let detail = format!(
            "{} changes applied, {} skipped",
            run.applied, summary.failed
        );
        sync_log(c, tenant, &run, "APPLY", 200, apply_ms, Some(detail))?;
        super::audit::audit(
            c,
            tenant,
            run.applied_by.as_deref().unwrap_or("directory"),
            "directory.run_applied",
            None,
            Some(json!({"run": run.id, "counts": summary.counts, "failed": summary.failed})),
            &Default::default(),
        )?;
        Ok(run_view(&run, None, false))
    })
}

/// A sync run in the sync log, beside the SCIM requests: `PULL` (read and diffed, or
/// failed: 502) and `APPLY`, at `/directory-runs/{id}`.
fn sync_log(
    conn: &mut DbConnection,
    tenant: &TenantId,
    run: &RunRow,
    method: &str,
    status: i32,
    millis: i64,
    detail: Option<String>,
) -> Result<(), ServiceError> {
    let row = crate::store::sync_log::LogRow {
        tenant_id: tenant.0.clone(),
        id: format!("{}-{}", run.id, method.to_lowercase()),
        at: now(),
        method: method.to_owned(),
        path: format!("/directory-runs/{}", run.id),
        status,
        latency_us: millis.saturating_mul(1000),
        result: if status < 400 { "success" } else { "failure" }.to_owned(),
        detail,
        resource_type: None,
        resource_id: None,
        request_body: None,
        response_body: None,
    };
    Ok(crate::store::sync_log::insert(conn, &[row])?)
}

/// Time since `start`, in whole milliseconds.
pub fn millis(start: Instant) -> i64 {
    start.elapsed().as_millis() as i64
}

// ---- orchestration: several transactions around the blocking fetch ----

/// How long a process holds a tenant's source while it works on it; extended while
/// it applies.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Takes the lease of a source with work waiting, for `owner`; returns its tenant.
pub fn claim(conn: &mut DbConnection, owner: &str) -> Result<Option<TenantId>, ServiceError> {
    let stamp = now();
    let until = super::stamp(std::time::SystemTime::now() + LEASE);
    Ok(store::claim_due(conn, &stamp, &until, owner)?.map(TenantId))
}

/// Renews `owner`'s lease for `keep` more (or frees it, `None`); false when the lease
/// is no longer `owner`'s.
pub fn hold(
    conn: &mut DbConnection,
    tenant: &TenantId,
    owner: &str,
    keep: Option<std::time::Duration>,
) -> Result<bool, ServiceError> {
    let until = keep.map(|d| super::stamp(std::time::SystemTime::now() + d));
    Ok(store::extend_lease(conn, tenant, owner, until.as_deref())?)
}

/// Renews the lease every minute while `work` runs (a fetch of 100,000 users, or a 429
/// storm, outlasts one lease).
async fn holding<T>(
    runner: &Runner,
    tenant: &TenantId,
    owner: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let (t, o) = (tenant.clone(), owner.to_owned());
            if let Err(e) = runner
                .write("", move |c| hold(c, &t, &o, Some(LEASE)))
                .await
            {
                tracing::warn!(error = %e, "the directory pull's lease could not be renewed");
            }
        }
    };
    tokio::select! {
        done = work => done,
        () = renew => unreachable!("renewing never ends"),
    }
}

/// Does a tenant's waiting pull work: resumes a run being applied, or runs a queued or
/// due pull, and applies it when the tenant applies automatically. Returns the run.
pub async fn work(
    runner: &Runner,
    keys: &Arc<KeyRing>,
    ctx: &PullContext,
    tenant: &TenantId,
) -> Result<Option<String>, ServiceError> {
    let t = tenant.clone();
    if let Some((slug, run)) = runner.read(move |c| applying(c, &t)).await? {
        apply_run(runner, ctx, tenant, &slug, &run.id).await?;
        return Ok(Some(run.id));
    }
    let (t, k) = (tenant.clone(), keys.clone());
    let Some(prepared) = runner
        .write(&tenant.0, move |c| start_run(c, &t, &k))
        .await?
    else {
        return Ok(None);
    };
    let prepared = Arc::new(prepared);
    let (slug, run_id) = (prepared.slug.clone(), prepared.run.id.clone());
    let fetching = Instant::now();
    let client = Client::new(
        Client::agent(ctx.allow_private),
        prepared.source.clone(),
        ctx.backoff,
    );
    let fetched = holding(
        runner,
        tenant,
        &ctx.owner,
        tokio::task::spawn_blocking(move || client.pull()),
    )
    .await
    .map_err(|e| ServiceError::unavailable(e.to_string()))?;
    let fetch_ms = millis(fetching);
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => {
            let (p, why) = (prepared.clone(), e.to_string());
            tracing::warn!(tenant = %slug, run = %run_id, error = %why, "directory pull failed");
            runner
                .write(&slug, move |c| fail_run(c, &p, &why, fetch_ms))
                .await?;
            return Ok(Some(run_id));
        }
    };
    let planning = Instant::now();
    let planned = holding(runner, tenant, &ctx.owner, plan(runner, &prepared, fetched)).await;
    let (plan, impact, read) = match planned {
        Ok(done) => done,
        Err(ServiceError::Conflict(why)) => {
            let p = prepared.clone();
            runner
                .write(&slug, move |c| fail_run(c, &p, &why, fetch_ms))
                .await?;
            return Ok(Some(run_id));
        }
        Err(e) => return Err(e),
    };
    let plan_ms = millis(planning);
    let recording = record_plan(runner, &prepared, plan, impact, read, (fetch_ms, plan_ms));
    let view = holding(runner, tenant, &ctx.owner, recording).await?;
    if prepared.auto_apply && view.state == RunState::Planned {
        let (t, id) = (tenant.clone(), run_id.clone());
        runner.write(&slug, move |c| auto_apply(c, &t, &id)).await?;
        apply_run(runner, ctx, tenant, &slug, &run_id).await?;
    }
    Ok(Some(run_id))
}

/// Applies a run marked `applying`, batch by batch, from where it stopped.
pub async fn apply_run(
    runner: &Runner,
    ctx: &PullContext,
    tenant: &TenantId,
    slug: &str,
    run_id: &str,
) -> Result<(), ServiceError> {
    let started = Instant::now();
    let mut held = Instant::now();
    let scope = Arc::new(scope(tenant, slug, &ctx.public_url, run_id));
    loop {
        let (t, id) = (tenant.clone(), run_id.to_owned());
        let batch = runner
            .read(move |c| {
                let run = store::run(c, &t, &id)?.ok_or(NOT_FOUND)?;
                if run.state != "applying" {
                    return Ok(None);
                }
                next_batch(c, &t, &run).map(Some)
            })
            .await?;
        let Some(batch) = batch else { return Ok(()) };
        if batch.is_empty() {
            let (t, id, ms) = (tenant.clone(), run_id.to_owned(), millis(started));
            runner
                .write(slug, move |c| finish_apply(c, &t, &id, ms))
                .await?;
            return Ok(());
        }
        let (s, id) = (scope.clone(), run_id.to_owned());
        runner
            .write(slug, move |c| apply_batch(c, &s, &id, &batch))
            .await?;
        if held.elapsed() > LEASE / 10 {
            let (t, o) = (tenant.clone(), ctx.owner.clone());
            if !runner
                .write("", move |c| hold(c, &t, &o, Some(LEASE)))
                .await?
            {
                // Another process took the source over: it resumes from the progress
                // every batch recorded.
                return Ok(());
            }
            held = Instant::now();
        }
    }
}

/// A run in this process (the CLI): queued, read, diffed and, with `apply`, applied,
/// holding the source's lease so a serving process does not run it as well.
pub async fn run_now(
    runner: Runner,
    keys: Arc<KeyRing>,
    ctx: PullContext,
    slug: String,
    apply: bool,
) -> Result<RunView, ServiceError> {
    let (s, owner) = (slug.clone(), ctx.owner.clone());
    let tenant = runner
        .write(&slug, move |c| {
            let t = TenantId(tenant(c, &s)?.id);
            let until = super::stamp(std::time::SystemTime::now() + LEASE);
            if !store::claim_tenant(c, &t, &now(), &until, &owner)? {
                return Err(ServiceError::Conflict(
                    "another roster process is working on this source now; try again shortly"
                        .into(),
                ));
            }
            Ok(t)
        })
        .await?;
    let result = async {
        let s = slug.clone();
        runner.write(&slug, move |c| queue_run(c, &s)).await?;
        let id = work(&runner, &keys, &ctx, &tenant)
            .await?
            .ok_or(ServiceError::NotFound { kind: "sync run" })?;
        let (s, i) = (slug.clone(), id.clone());
        let view = runner.read(move |c| run(c, &s, &i)).await?;
        if apply && view.state == RunState::Planned {
            let (s, i) = (slug.clone(), id.clone());
            runner
                .write(&slug, move |c| decide(c, &s, &i, true, "cli"))
                .await?;
            apply_run(&runner, &ctx, &tenant, &slug, &id).await?;
        }
        let (s, i) = (slug.clone(), id.clone());
        runner.read(move |c| run(c, &s, &i)).await
    }
    .await;
    let (t, o) = (tenant.clone(), ctx.owner.clone());
    runner.write("", move |c| hold(c, &t, &o, None)).await?;
    result
}
