//! Change-sets: every change to mappings or role settings is previewed, applied as
//! one unit, and reverted by a new change-set (spec §6.1, §6.6 S8).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::events::Actor;
use super::outbox::Outbox;
use super::roles::{evaluate, Catalog, MappingTable};
use super::{invalid, Scope, ServiceError};
use crate::roles::{Impact, Mode};
use crate::store::groups;
use crate::store::roles::{self as store, ChangeSetRow, Lock, MappingRow};
use crate::store::{read_transaction, write_transaction, DbConnection, TenantId};

/// Users recomputed per background transaction.
const BATCH: usize = 1_000;

/// One edit. Roles are named by slug, groups by their SCIM id (never their name, M1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    AddMapping {
        group: String,
        role: String,
    },
    RemoveMapping {
        group: String,
        role: String,
    },
    SetMode {
        /// `union` or `highest_priority`.
        #[schema(value_type = String)]
        mode: Mode,
    },
    SetDefaultRole {
        role: Option<String>,
    },
    SetPriority {
        role: String,
        priority: i64,
    },
    SetManualGrants {
        allowed: bool,
    },
}

/// A change-set as an API client sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub operations: Vec<Operation>,
    #[serde(default)]
    pub description: String,
}

/// Which users a change-set can affect.
#[derive(Debug, Clone, PartialEq)]
enum Affected {
    /// Settings changed: everyone.
    All,
    /// Only members of these groups.
    Groups(Vec<String>),
}

/// A change-set resolved against the current state, not yet written.
struct Plan {
    catalog: Catalog,
    mappings: MappingTable,
    adds: Vec<MappingRow>,
    removes: Vec<MappingRow>,
    inverse: Vec<Operation>,
    affected: Affected,
}

fn plan(
    conn: &mut DbConnection,
    tenant: &TenantId,
    catalog: Catalog,
    operations: &[Operation],
    now: &str,
) -> Result<Plan, ServiceError> {
    if operations.is_empty() {
        return Err(invalid("a change-set needs at least one operation"));
    }
    if operations.len() > 1_000 {
        return Err(invalid("a change-set may hold at most 1000 operations"));
    }
    let mut draft = catalog.clone();
    let mut all_mappings = store::list_mappings(conn, tenant)?;
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    let mut inverse = Vec::new();
    let mut groups_touched = Vec::new();
    let mut settings_changed = false;
    for op in operations {
        match op {
            Operation::AddMapping { group, role } => {
                let role_id = draft.by_slug(role)?.id.clone();
                if all_mappings
                    .iter()
                    .any(|m| &m.group_id == group && m.role_id == role_id)
                {
                    return Err(invalid(format!(
                        "group {group} is already mapped to '{role}'"
                    )));
                }
                let found = groups::find(conn, tenant, group)?
                    .ok_or_else(|| invalid(format!("no group with id {group}")))?;
                let row = MappingRow {
                    tenant_id: tenant.0.clone(),
                    id: format!("map_{}", uuid::Uuid::new_v4().simple()),
                    group_id: group.clone(),
                    role_id,
                    state: "active".into(),
                    group_display_name: found.display_name,
                    change_set_id: None,
                    created_at: now.to_owned(),
                    updated_at: now.to_owned(),
                };
                all_mappings.push(row.clone());
                adds.push(row);
                groups_touched.push(group.clone());
                inverse.push(Operation::RemoveMapping {
                    group: group.clone(),
                    role: role.clone(),
                });
            }
            Operation::RemoveMapping { group, role } => {
                let role_id = draft.by_slug(role)?.id.clone();
                let index = all_mappings
                    .iter()
                    .position(|m| &m.group_id == group && m.role_id == role_id)
                    .ok_or_else(|| invalid(format!("group {group} is not mapped to '{role}'")))?;
                let row = all_mappings.remove(index);
                if let Some(pos) = adds.iter().position(|a: &MappingRow| a.id == row.id) {
                    adds.remove(pos);
                } else {
                    removes.push(row);
                }
                groups_touched.push(group.clone());
                inverse.push(Operation::AddMapping {
                    group: group.clone(),
                    role: role.clone(),
                });
            }
            Operation::SetMode { mode } => {
                let old = Mode::parse(&draft.settings.mode).unwrap_or(Mode::Union);
                draft.settings.mode = mode.as_str().to_owned();
                inverse.push(Operation::SetMode { mode: old });
                settings_changed = true;
            }
            Operation::SetDefaultRole { role } => {
                let old = draft
                    .settings
                    .default_role_id
                    .as_deref()
                    .map(|id| draft.slug(id));
                draft.settings.default_role_id = match role {
                    Some(slug) => Some(draft.by_slug(slug)?.id.clone()),
                    None => None,
                };
                inverse.push(Operation::SetDefaultRole { role: old });
                settings_changed = true;
            }
            Operation::SetPriority { role, priority } => {
                let index = draft
                    .roles
                    .iter()
                    .position(|r| &r.slug == role)
                    .ok_or_else(|| invalid(format!("no role with slug '{role}'")))?;
                let old = draft.roles[index].priority;
                draft.roles[index].priority = *priority;
                inverse.push(Operation::SetPriority {
                    role: role.clone(),
                    priority: old,
                });
                settings_changed = true;
            }
            Operation::SetManualGrants { allowed } => {
                inverse.push(Operation::SetManualGrants {
                    allowed: draft.settings.allow_manual_grants,
                });
                draft.settings.allow_manual_grants = *allowed;
                settings_changed = true;
            }
        }
    }
    let mut priorities: Vec<i64> = draft.roles.iter().map(|r| r.priority).collect();
    priorities.sort_unstable();
    if priorities.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("two roles would have the same priority"));
    }
    inverse.reverse();
    let mut mappings = MappingTable::new();
    for m in all_mappings.iter().filter(|m| m.state == "active") {
        mappings
            .entry(m.group_id.clone())
            .or_default()
            .push((m.role_id.clone(), m.id.clone()));
    }
    groups_touched.sort();
    groups_touched.dedup();
    Ok(Plan {
        catalog: draft,
        mappings,
        adds,
        removes,
        inverse,
        affected: if settings_changed {
            Affected::All
        } else {
            Affected::Groups(groups_touched)
        },
    })
}

/// The affected users, in id order: a stable order makes a preview's samples and the
/// apply's the same.
fn affected_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    affected: &Affected,
) -> Result<Vec<String>, ServiceError> {
    Ok(match affected {
        Affected::Groups(groups) => store::user_members_of(conn, tenant, groups)?,
        Affected::All => {
            let mut ids = Vec::new();
            loop {
                let page =
                    store::user_ids_after(conn, tenant, ids.last().map(String::as_str), 10_000)?;
                if page.is_empty() {
                    break ids;
                }
                ids.extend(page);
            }
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
        }
    })
}

/// Runs §6.3 read-only over the affected users under the plan.
fn impact_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    plan: &Plan,
    ids: &[String],
) -> Result<Impact, ServiceError> {
    let policy = plan.catalog.policy();
    let mut impact = Impact::default();
    for chunk in ids.chunks(BATCH) {
        for eval in evaluate(conn, tenant, &policy, &plan.mappings, chunk, false)? {
            if let Some(change) = eval.change() {
                impact.record(&eval.user.user_name, &change);
            }
        }
    }
    Ok(impact)
}

/// What a change-set does to one role.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleImpactView {
    pub added: u64,
    pub removed: u64,
    /// A sample of the users who gain it (userName).
    pub added_users: Vec<String>,
    /// A sample of the users who lose it.
    pub removed_users: Vec<String>,
    pub privileged: bool,
}

/// What a change-set does: the users whose roles change, and per role slug what it
/// gains and loses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImpactView {
    pub users_affected: u64,
    pub roles: std::collections::BTreeMap<String, RoleImpactView>,
}

/// The impact as the API shows it: keyed by role slug, privileged roles flagged.
pub(crate) fn impact_view(catalog: &Catalog, impact: &Impact) -> ImpactView {
    ImpactView {
        users_affected: impact.users_affected,
        roles: impact
            .roles
            .iter()
            .map(|(id, r)| {
                let view = RoleImpactView {
                    added: r.added,
                    removed: r.removed,
                    added_users: r.added_users.clone(),
                    removed_users: r.removed_users.clone(),
                    privileged: catalog.role(id).is_some_and(|r| r.privileged),
                };
                (catalog.slug(id), view)
            })
            .collect(),
    }
}

/// What applying would do, changing nothing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub operations: Vec<Operation>,
    pub impact: ImpactView,
    /// Too many users to recompute in the request: applying would run in the background.
    pub background: bool,
    /// Why applying would be refused (the lockout guard), if it would.
    pub refused: Option<String>,
}

/// Where a change-set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeSetState {
    /// Its mappings are written; users are being recomputed in the background.
    Applying,
    Applied,
}

/// Users recomputed so far, of all those affected.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
}

/// A change-set: what it did, to whom, and how to undo it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeSetView {
    pub id: String,
    pub actor: String,
    pub description: String,
    pub operations: Vec<Operation>,
    /// The operations that undo it.
    pub inverse: Vec<Operation>,
    pub impact: ImpactView,
    pub state: ChangeSetState,
    pub progress: Progress,
    pub revert_of: Option<String>,
    pub reverted_by: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// Privileged roles the plan would leave without holders (M15), as an error.
fn check_lockout(
    conn: &mut DbConnection,
    tenant: &TenantId,
    plan: &Plan,
    impact: &Impact,
) -> Result<(), ServiceError> {
    let privileged: Vec<String> = plan
        .catalog
        .roles
        .iter()
        .filter(|r| r.privileged)
        .map(|r| r.id.clone())
        .collect();
    if privileged.is_empty() {
        return Ok(());
    }
    let holders: HashMap<String, u64> = store::holder_counts(conn, tenant)?
        .into_iter()
        .map(|(role, n)| (role, n as u64))
        .collect();
    let locked = impact.locked_out(&holders, &privileged);
    if locked.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = locked.iter().map(|id| plan.catalog.slug(id)).collect();
    Err(ServiceError::Conflict(format!(
        "lockout guard: this change-set would leave no user holding the privileged role(s) {}",
        names.join(", ")
    )))
}

/// `POST /change-sets/preview`: what applying would do, changing nothing.
pub fn preview(
    conn: &mut DbConnection,
    scope: &Scope,
    operations: &[Operation],
    inline_limit: usize,
) -> Result<Preview, ServiceError> {
    read_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::None)?;
        let plan = plan(c, &scope.tenant, catalog, operations, &super::now())?;
        let ids = affected_ids(c, &scope.tenant, &plan.affected)?;
        let impact = impact_of(c, &scope.tenant, &plan, &ids)?;
        let lockout = check_lockout(c, &scope.tenant, &plan, &impact)
            .err()
            .map(|e| e.to_string());
        Ok(Preview {
            operations: operations.to_vec(),
            impact: impact_view(&plan.catalog, &impact),
            background: ids.len() > inline_limit,
            refused: lockout,
        })
    })
}

/// More affected users than this need a typed confirmation in the admin UI (S8).
pub const CONFIRM_ABOVE_USERS: u64 = 50;

/// The word an admin types to confirm a large or privileged change-set.
pub const CONFIRM_WORD: &str = "APPLY";

/// Whether a preview needs the typed confirmation: more than
/// [`CONFIRM_ABOVE_USERS`] users affected, or a privileged role granted to anyone.
pub fn needs_confirmation(preview: &Preview) -> bool {
    let impact = &preview.impact;
    impact.users_affected > CONFIRM_ABOVE_USERS
        || impact.roles.values().any(|r| r.privileged && r.added > 0)
}

/// Applies `request` (or reverts `revert_of` when set, with the inverse operations)
/// only if its impact, previewed in the same transaction, needs no confirmation or
/// `confirm` is [`CONFIRM_WORD`]: what the admin saw cannot have grown unconfirmed.
pub fn apply_confirmed(
    conn: &mut DbConnection,
    scope: &Scope,
    request: Request,
    revert_of: Option<&str>,
    confirm: &str,
    inline_limit: usize,
    now: &str,
) -> Result<ChangeSetView, ServiceError> {
    write_transaction(conn, |c| {
        let preview = preview(c, scope, &request.operations, inline_limit)?;
        if needs_confirmation(&preview) && confirm.trim() != CONFIRM_WORD {
            return Err(invalid(format!(
                "this change-set needs confirmation: type {CONFIRM_WORD}"
            )));
        }
        apply(c, scope, request, revert_of, inline_limit, now)
    })
}

/// `POST /change-sets`: applies the operations as one change-set. Up to
/// `inline_limit` affected users are recomputed in this transaction; beyond that the
/// mappings commit now and the users are recomputed in the background, in batches.
pub fn apply(
    conn: &mut DbConnection,
    scope: &Scope,
    request: Request,
    revert_of: Option<&str>,
    inline_limit: usize,
    now: &str,
) -> Result<ChangeSetView, ServiceError> {
    let id = format!("cs_{}", uuid::Uuid::new_v4().simple());
    let row = write_transaction(conn, |c| {
        // The exclusive lock makes every SCIM recompute wait for this change-set.
        let catalog = Catalog::load(c, &scope.tenant, Lock::Exclusive)?;
        let mut plan = plan(c, &scope.tenant, catalog, &request.operations, now)?;
        let ids = affected_ids(c, &scope.tenant, &plan.affected)?;
        let background = ids.len() > inline_limit;
        let preview = impact_of(c, &scope.tenant, &plan, &ids)?;
        check_lockout(c, &scope.tenant, &plan, &preview)?;
        plan.catalog.settings.mapping_version += 1;
        write_plan(c, &scope.tenant, &plan, &id, now)?;
        let mut outbox = Outbox::new(scope, now);
        let cause = outbox.len();
        let (state, impact, done) = if background {
            ("applying", preview, 0)
        } else {
            let impact = super::roles::recompute(
                c,
                &mut outbox,
                &scope.tenant,
                &plan.catalog,
                &ids,
                true,
                now,
            )?;
            ("applied", impact, ids.len() as i64)
        };
        let row = ChangeSetRow {
            tenant_id: scope.tenant.0.clone(),
            id: id.clone(),
            actor: scope.actor.id.clone(),
            description: request.description.clone(),
            operations: json!({"apply": request.operations, "inverse": plan.inverse}).to_string(),
            impact: serde_json::to_string(&impact_view(&plan.catalog, &impact)).unwrap_or_default(),
            state: state.into(),
            progress_done: done,
            progress_total: ids.len() as i64,
            resume_after: None,
            revert_of: revert_of.map(str::to_owned),
            reverted_by: None,
            created_at: now.to_owned(),
            finished_at: (!background).then(|| now.to_owned()),
        };
        store::insert_change_set(c, &row)?;
        if let Some(original) = revert_of {
            let mut reverted = store::find_change_set(c, &scope.tenant, original)?
                .ok_or(ServiceError::NotFound { kind: "change-set" })?;
            if reverted.reverted_by.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "change-set {original} was already reverted"
                )));
            }
            reverted.reverted_by = Some(id.clone());
            store::update_change_set(c, &reverted)?;
        }
        // The event carries the diff and the (previewed, for background runs) impact.
        outbox.emit_at(
            cause,
            "role_mapping.changed",
            serde_json::to_value(change_set_view(&row)).unwrap_or_default(),
        );
        outbox.commit(c)?;
        Ok::<_, ServiceError>(row)
    })?;
    Ok(change_set_view(&row))
}

/// Writes the plan's mappings and settings.
fn write_plan(
    conn: &mut DbConnection,
    tenant: &TenantId,
    plan: &Plan,
    change_set: &str,
    now: &str,
) -> Result<(), ServiceError> {
    for row in &plan.removes {
        store::delete_mapping(conn, tenant, &row.id)?;
    }
    for row in &plan.adds {
        let mut row = row.clone();
        row.change_set_id = Some(change_set.to_owned());
        store::insert_mapping(conn, &row)?;
    }
    store::update_settings(conn, &plan.catalog.settings)?;
    // Priorities are unique, so move changed roles out of the way before setting them.
    let current = store::list_roles(conn, tenant)?;
    let changed: Vec<_> = plan
        .catalog
        .roles
        .iter()
        .filter(|r| {
            current
                .iter()
                .any(|c| c.id == r.id && c.priority != r.priority)
        })
        .collect();
    for (i, role) in changed.iter().enumerate() {
        let mut parked = (*role).clone();
        parked.priority = -1_000_000_000 - i as i64;
        store::update_role(conn, &parked)?;
    }
    for role in changed {
        let mut row = role.clone();
        row.updated_at = now.to_owned();
        store::update_role(conn, &row)?;
    }
    Ok(())
}

/// A stored change-set as its view. Its operations and impact are stored as JSON that
/// this module wrote; what cannot be read back shows as empty.
pub fn change_set_view(row: &ChangeSetRow) -> ChangeSetView {
    #[derive(Deserialize, Default)]
    struct Stored {
        #[serde(default)]
        apply: Vec<Operation>,
        #[serde(default)]
        inverse: Vec<Operation>,
    }
    let stored: Stored = serde_json::from_str(&row.operations).unwrap_or_default();
    ChangeSetView {
        id: row.id.clone(),
        actor: row.actor.clone(),
        description: row.description.clone(),
        operations: stored.apply,
        inverse: stored.inverse,
        impact: serde_json::from_str(&row.impact).unwrap_or_default(),
        state: if row.state == "applying" {
            ChangeSetState::Applying
        } else {
            ChangeSetState::Applied
        },
        progress: Progress {
            done: row.progress_done,
            total: row.progress_total,
        },
        revert_of: row.revert_of.clone(),
        reverted_by: row.reverted_by.clone(),
        created_at: row.created_at.clone(),
        finished_at: row.finished_at.clone(),
    }
}

pub fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<ChangeSetView, ServiceError> {
    store::find_change_set(conn, tenant, id)?
        .map(|row| change_set_view(&row))
        .ok_or(ServiceError::NotFound { kind: "change-set" })
}

/// The newest 200 change-sets, newest first.
pub fn list(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<ChangeSetView>, ServiceError> {
    Ok(store::list_change_sets(conn, tenant, 200)?
        .iter()
        .map(change_set_view)
        .collect())
}

/// The operations that undo change-set `id`.
pub fn inverse_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Vec<Operation>, ServiceError> {
    let row = store::find_change_set(conn, tenant, id)?
        .ok_or(ServiceError::NotFound { kind: "change-set" })?;
    if row.reverted_by.is_some() {
        return Err(ServiceError::Conflict(format!(
            "change-set {id} was already reverted"
        )));
    }
    let stored: Value = serde_json::from_str(&row.operations).unwrap_or(Value::Null);
    serde_json::from_value(stored["inverse"].clone())
        .map_err(|_| invalid("stored change-set is damaged"))
}

/// `DELETE /mappings/{id}`: a one-operation change-set removing that mapping.
pub fn remove_mapping(
    conn: &mut DbConnection,
    scope: &Scope,
    mapping_id: &str,
    inline_limit: usize,
    now: &str,
) -> Result<ChangeSetView, ServiceError> {
    let mapping = store::list_mappings(conn, &scope.tenant)?
        .into_iter()
        .find(|m| m.id == mapping_id)
        .ok_or(ServiceError::NotFound { kind: "mapping" })?;
    let catalog = Catalog::load(conn, &scope.tenant, Lock::None)?;
    let request = Request {
        operations: vec![Operation::RemoveMapping {
            group: mapping.group_id,
            role: catalog.slug(&mapping.role_id),
        }],
        description: format!("remove mapping {mapping_id}"),
    };
    apply(conn, scope, request, None, inline_limit, now)
}

/// Whether a mapping still grants its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MappingState {
    Active,
    /// Its group was deleted: it grants nothing, and is shown until removed (M8).
    Orphaned,
}

impl MappingState {
    fn stored(state: &str) -> Self {
        if state == "orphaned" {
            MappingState::Orphaned
        } else {
            MappingState::Active
        }
    }
}

/// A group → role mapping, named.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MappingView {
    pub id: String,
    pub group: super::roles::GroupRef,
    /// The role's slug.
    pub role: String,
    pub state: MappingState,
    /// The change-set that made it.
    pub change_set_id: Option<String>,
    pub created_at: String,
}

/// Mappings with the names of their roles and groups.
pub fn mappings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<MappingView>, ServiceError> {
    let catalog = Catalog::load(conn, tenant, Lock::None)?;
    Ok(store::list_mappings(conn, tenant)?
        .into_iter()
        .map(|m| MappingView {
            role: catalog.slug(&m.role_id),
            state: MappingState::stored(&m.state),
            group: super::roles::GroupRef {
                id: m.group_id,
                display_name: m.group_display_name,
            },
            id: m.id,
            change_set_id: m.change_set_id,
            created_at: m.created_at,
        })
        .collect())
}

/// How a tenant resolves roles.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoleSettings {
    /// `union` (every mapped role) or `highest_priority` (the one that wins).
    pub mode: String,
    /// The role every active user holds, by slug.
    pub default_role: Option<String>,
    pub allow_manual_grants: bool,
    /// Bumped by every applied change-set.
    pub mapping_version: i64,
}

pub fn settings(conn: &mut DbConnection, tenant: &TenantId) -> Result<RoleSettings, ServiceError> {
    let catalog = Catalog::load(conn, tenant, Lock::None)?;
    let s = &catalog.settings;
    Ok(RoleSettings {
        mode: s.mode.clone(),
        default_role: s.default_role_id.as_deref().map(|id| catalog.slug(id)),
        allow_manual_grants: s.allow_manual_grants,
        mapping_version: s.mapping_version,
    })
}

/// Which way a role moves in the priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The change-set that swaps role `slug`'s priority with its neighbour's in
/// `direction`; none when the role is already first (up) or last (down).
pub fn reorder(
    conn: &mut DbConnection,
    tenant: &TenantId,
    slug: &str,
    direction: Direction,
) -> Result<Option<Request>, ServiceError> {
    let ordered = super::roles::list_roles(conn, tenant)?;
    let at = ordered
        .iter()
        .position(|r| r.slug == slug)
        .ok_or_else(super::roles::not_found_role)?;
    let other = match direction {
        Direction::Up => at.checked_sub(1),
        Direction::Down => Some(at + 1).filter(|&i| i < ordered.len()),
    };
    Ok(other.map(|other| {
        let (a, b) = (&ordered[at], &ordered[other]);
        Request {
            operations: vec![
                Operation::SetPriority {
                    role: a.slug.clone(),
                    priority: b.priority,
                },
                Operation::SetPriority {
                    role: b.slug.clone(),
                    priority: a.priority,
                },
            ],
            description: format!("move {} {}", a.slug, direction.as_str()),
        }
    }))
}

/// The change-set that sets the resolution mode and the default role, with only the
/// settings that differ from the current ones; none when nothing would change.
pub fn settings_change(
    conn: &mut DbConnection,
    tenant: &TenantId,
    mode: Mode,
    default_role: Option<String>,
) -> Result<Option<Request>, ServiceError> {
    let current = settings(conn, tenant)?;
    let mut operations = Vec::new();
    if current.mode != mode.as_str() {
        operations.push(Operation::SetMode { mode });
    }
    if current.default_role != default_role {
        operations.push(Operation::SetDefaultRole { role: default_role });
    }
    Ok((!operations.is_empty()).then(|| Request {
        operations,
        description: "role settings".into(),
    }))
}

/// What the roles screen's change-sets change, for their audit rows: the settings and
/// every role's priority.
pub fn role_state(conn: &mut DbConnection, tenant: &TenantId) -> Result<Value, ServiceError> {
    let priorities: serde_json::Map<String, Value> = super::roles::list_roles(conn, tenant)?
        .into_iter()
        .map(|r| (r.role.slug, json!(r.role.priority)))
        .collect();
    Ok(json!({
        "settings": serde_json::to_value(settings(conn, tenant)?).unwrap_or_default(),
        "priorities": priorities,
    }))
}

/// Runs one batch of a background change-set; returns whether it has finished.
pub fn resume_batch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, ServiceError> {
    let now = super::now();
    write_transaction(conn, |c| {
        let catalog = Catalog::load(c, tenant, Lock::Share)?;
        let Some(mut row) = store::find_change_set(c, tenant, id)? else {
            return Ok(true);
        };
        if row.state != "applying" {
            return Ok(true);
        }
        let ops: Value = serde_json::from_str(&row.operations).unwrap_or(Value::Null);
        let operations: Vec<Operation> =
            serde_json::from_value(ops["apply"].clone()).unwrap_or_default();
        let affected = if operations.iter().all(|o| {
            matches!(
                o,
                Operation::AddMapping { .. } | Operation::RemoveMapping { .. }
            )
        }) {
            let mut groups: Vec<String> = operations
                .iter()
                .filter_map(|o| match o {
                    Operation::AddMapping { group, .. }
                    | Operation::RemoveMapping { group, .. } => Some(group.clone()),
                    _ => None,
                })
                .collect();
            groups.sort();
            groups.dedup();
            Affected::Groups(groups)
        } else {
            Affected::All
        };
        let batch = match &affected {
            Affected::Groups(groups) => store::user_members_after(
                c,
                tenant,
                groups,
                row.resume_after.as_deref(),
                BATCH as i64,
            )?,
            Affected::All => {
                store::user_ids_after(c, tenant, row.resume_after.as_deref(), BATCH as i64)?
            }
        };
        let scope_actor = Actor::system();
        let mut outbox = Outbox::for_tenant(tenant, &scope_actor, &row.id, &now);
        super::roles::recompute(c, &mut outbox, tenant, &catalog, &batch, true, &now)?;
        row.progress_done = (row.progress_done + batch.len() as i64).min(row.progress_total);
        row.resume_after = batch.last().cloned().or(row.resume_after);
        let finished = batch.len() < BATCH;
        if finished {
            row.state = "applied".into();
            row.progress_done = row.progress_total;
            row.finished_at = Some(now.clone());
        }
        store::update_change_set(c, &row)?;
        outbox.commit(c)?;
        Ok(finished)
    })
}

/// Change-sets still applying in the background, as (tenant, id).
pub fn unfinished(conn: &mut DbConnection) -> Result<Vec<(TenantId, String)>, ServiceError> {
    Ok(store::unfinished_change_sets(conn)?
        .into_iter()
        .map(|row| (TenantId(row.tenant_id), row.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview_of(users: u64, added: u64, removed: u64, privileged: bool) -> Preview {
        let role = RoleImpactView {
            added,
            removed,
            privileged,
            ..RoleImpactView::default()
        };
        Preview {
            operations: Vec::new(),
            impact: ImpactView {
                users_affected: users,
                roles: [("r".to_owned(), role)].into(),
            },
            background: false,
            refused: None,
        }
    }

    #[test]
    fn many_users_or_a_privileged_grant_need_the_typed_word() {
        assert!(!needs_confirmation(&preview_of(50, 50, 0, false)));
        assert!(needs_confirmation(&preview_of(51, 50, 0, false)));
        assert!(needs_confirmation(&preview_of(1, 1, 0, true)));
        // Taking a privileged role away is guarded by the lockout check instead.
        assert!(!needs_confirmation(&preview_of(3, 0, 3, true)));
    }
}
