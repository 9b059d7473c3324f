//! Roles and their recompute: every SCIM write that can change a user's roles calls
//! in here inside its own transaction (spec §6.3).

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::outbox::Outbox;
use super::{invalid, new_id, ServiceError};
use crate::roles::{self as core, Grant, Impact, Mode, Policy, RoleChange, Source, Subject};
use crate::scim::{Invalid, ScimType};
use crate::store::roles::{self as store, GrantRow, Lock, RoleRow, SettingsRow, SubjectRow};
use crate::store::{DbConnection, TenantId};

/// A tenant's settings and roles, read once per transaction.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub settings: SettingsRow,
    pub roles: Vec<RoleRow>,
}

impl Catalog {
    /// Reads the catalog. SCIM writes take it with [`Lock::Share`] before any other
    /// lock, change-sets with [`Lock::Exclusive`]: one lock order, no deadlocks, and a
    /// recompute never misses a change-set committing beside it.
    pub fn load(
        conn: &mut DbConnection,
        tenant: &TenantId,
        lock: Lock,
    ) -> Result<Self, ServiceError> {
        let settings = store::settings(conn, tenant, lock)?;
        let roles = store::list_roles(conn, tenant)?;
        Ok(Catalog { settings, roles })
    }

    pub fn policy(&self) -> Policy {
        Policy {
            mode: Mode::parse(&self.settings.mode).unwrap_or(Mode::Union),
            default_role: self.settings.default_role_id.clone(),
            allow_manual_grants: self.settings.allow_manual_grants,
            priorities: self
                .roles
                .iter()
                .map(|r| (r.id.clone(), r.priority))
                .collect(),
        }
    }

    pub fn role(&self, id: &str) -> Option<&RoleRow> {
        self.roles.iter().find(|r| r.id == id)
    }

    pub fn by_slug(&self, slug: &str) -> Result<&RoleRow, ServiceError> {
        self.roles
            .iter()
            .find(|r| r.slug == slug)
            .ok_or_else(|| invalid(format!("no role with slug '{slug}'")))
    }

    pub fn slug(&self, id: &str) -> String {
        self.role(id)
            .map_or_else(|| id.to_owned(), |r| r.slug.clone())
    }
}

/// Active mappings: group id → (role id, mapping id).
pub type MappingTable = HashMap<String, Vec<(String, String)>>;

pub fn active_mappings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<MappingTable, ServiceError> {
    let mut table = MappingTable::new();
    for m in store::list_mappings(conn, tenant)? {
        if m.state == "active" {
            table.entry(m.group_id).or_default().push((m.role_id, m.id));
        }
    }
    Ok(table)
}

/// One user's inputs and current and target grants.
pub struct Evaluation {
    pub user: SubjectRow,
    pub current: Vec<Grant>,
    pub target: Vec<Grant>,
    /// What the user would hold if active: an inactive user's "suspended" roles (M6).
    pub if_active: Vec<Grant>,
    /// Group id → name, for the groups named in `target`.
    pub group_names: HashMap<String, String>,
}

impl Evaluation {
    pub fn change(&self) -> Option<RoleChange> {
        RoleChange::between(&self.current, &self.target)
    }
}

/// Evaluates `ids` (sorted) under `policy` and `mappings`; users that do not exist are
/// skipped. `lock` locks the user rows first (PostgreSQL).
pub fn evaluate(
    conn: &mut DbConnection,
    tenant: &TenantId,
    policy: &Policy,
    mappings: &MappingTable,
    ids: &[String],
    lock: bool,
) -> Result<Vec<Evaluation>, ServiceError> {
    let batch = store::Batch::plan(conn, tenant, ids)?;
    let subjects = store::subjects(conn, tenant, batch, lock)?;
    let mut memberships: HashMap<String, Vec<String>> = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    if !mappings.is_empty() {
        for m in store::memberships(conn, tenant, batch)? {
            if mappings.contains_key(&m.group_id) {
                names.entry(m.group_id.clone()).or_default();
                memberships.entry(m.user_id).or_default().push(m.group_id);
            }
        }
        let groups: Vec<String> = names.keys().cloned().collect();
        names.extend(store::group_names(conn, tenant, &groups)?);
    }
    let mut manual: HashMap<String, Vec<Grant>> = HashMap::new();
    if policy.allow_manual_grants {
        for g in store::manual_grants_of(conn, tenant, batch)? {
            manual.entry(g.user_id).or_default().push(Grant {
                role_id: g.role_id,
                source: Source::Manual {
                    granted_by: g.granted_by,
                },
            });
        }
    }
    let mut current: HashMap<String, Vec<Grant>> = HashMap::new();
    for row in store::grants_in(conn, tenant, batch)? {
        current
            .entry(row.user_id.clone())
            .or_default()
            .push(to_grant(row));
    }
    Ok(subjects
        .into_iter()
        .map(|user| {
            let mut group_names = HashMap::new();
            let mut mapped = Vec::new();
            for group_id in memberships.remove(&user.id).unwrap_or_default() {
                if let Some(roles) = mappings.get(&group_id) {
                    for (role_id, mapping_id) in roles {
                        mapped.push(Grant::from_group(role_id, &group_id, mapping_id));
                    }
                    let name = names.get(&group_id).cloned().unwrap_or_default();
                    group_names.insert(group_id, name);
                }
            }
            let subject = Subject {
                active: user.active,
                mapped,
                manual: manual.remove(&user.id).unwrap_or_default(),
            };
            let mut current = current.remove(&user.id).unwrap_or_default();
            current.sort();
            Evaluation {
                target: core::resolve(policy, &subject),
                if_active: core::computed(policy, &subject),
                current,
                group_names,
                user,
            }
        })
        .collect())
}

/// The role changes users would see as `subjects` describe them afterwards (a
/// directory pull's diff), read-only: per role slug, who gains and who loses it.
pub fn impact_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    subjects: &[crate::pull::diff::Subject],
) -> Result<super::change_sets::ImpactView, ServiceError> {
    let catalog = Catalog::load(conn, tenant, Lock::None)?;
    let policy = catalog.policy();
    let mappings = active_mappings(conn, tenant)?;
    let mut existing: Vec<String> = subjects.iter().filter_map(|s| s.local_id.clone()).collect();
    existing.sort();
    let mut current: HashMap<String, Vec<Grant>> = HashMap::new();
    for chunk in existing.chunks(1000) {
        let batch = store::Batch::plan(conn, tenant, chunk)?;
        for row in store::grants_in(conn, tenant, batch)? {
            current
                .entry(row.user_id.clone())
                .or_default()
                .push(to_grant(row));
        }
    }
    let mut impact = Impact::default();
    for s in subjects {
        let before = s
            .local_id
            .as_ref()
            .and_then(|id| current.remove(id))
            .unwrap_or_default();
        let after = match s.active_after {
            None => Vec::new(),
            Some(active) => {
                let mapped = s
                    .groups_after
                    .iter()
                    .flat_map(|g| {
                        mappings
                            .get(g)
                            .into_iter()
                            .flatten()
                            .map(move |(role, mapping)| Grant::from_group(role, g, mapping))
                    })
                    .collect();
                let manual = before
                    .iter()
                    .filter(|g| matches!(g.source, Source::Manual { .. }))
                    .cloned()
                    .collect();
                core::resolve(
                    &policy,
                    &Subject {
                        active,
                        mapped,
                        manual,
                    },
                )
            }
        };
        if let Some(change) = RoleChange::between(&before, &after) {
            impact.record(&s.label, &change);
        }
    }
    Ok(super::change_sets::impact_view(&catalog, &impact))
}

fn to_grant(row: GrantRow) -> Grant {
    let source = match row.source.as_str() {
        "group" => Source::Group {
            group_id: row.source_ref,
            mapping_id: row.mapping_id.unwrap_or_default(),
        },
        "manual" => Source::Manual {
            granted_by: row.source_ref,
        },
        _ => Source::Default,
    };
    Grant {
        role_id: row.role_id,
        source,
    }
}

fn to_row(tenant: &TenantId, user_id: &str, grant: &Grant, version: i64, now: &str) -> GrantRow {
    let (source, source_ref) = grant.source.key();
    GrantRow {
        tenant_id: tenant.0.clone(),
        user_id: user_id.to_owned(),
        role_id: grant.role_id.clone(),
        source: source.to_owned(),
        source_ref: source_ref.to_owned(),
        mapping_id: match &grant.source {
            Source::Group { mapping_id, .. } => Some(mapping_id.clone()),
            _ => None,
        },
        mapping_version: version,
        granted_at: now.to_owned(),
    }
}

/// Recomputes `ids` under the stored mappings, writes the grants that differ and emits
/// `user.roles_changed` for every user whose role set changed. Returns the impact.
pub fn recompute(
    conn: &mut DbConnection,
    outbox: &mut Outbox,
    tenant: &TenantId,
    catalog: &Catalog,
    ids: &[String],
    lock: bool,
    now: &str,
) -> Result<Impact, ServiceError> {
    let mut impact = Impact::default();
    if catalog.roles.is_empty() || ids.is_empty() {
        // Without roles nobody holds any; nothing can change.
        return Ok(impact);
    }
    let policy = catalog.policy();
    let mappings = active_mappings(conn, tenant)?;
    let version = catalog.settings.mapping_version;
    for chunk in ids.chunks(1000) {
        // Only what differs is written: a grant the user keeps keeps its row.
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for eval in evaluate(conn, tenant, &policy, &mappings, chunk, lock)? {
            let user = &eval.user.id;
            for g in eval.current.iter().filter(|g| !eval.target.contains(g)) {
                removed.push(to_row(tenant, user, g, version, now));
            }
            for g in eval.target.iter().filter(|g| !eval.current.contains(g)) {
                added.push(to_row(tenant, user, g, version, now));
            }
            if let Some(change) = eval.change() {
                impact.record(&eval.user.user_name, &change);
                outbox.emit("user.roles_changed", roles_changed(catalog, &eval, &change));
            }
        }
        store::change_grants(conn, tenant, &removed, &added)?;
    }
    Ok(impact)
}

fn roles_changed(catalog: &Catalog, eval: &Evaluation, change: &RoleChange) -> Value {
    let slugs = |ids: &mut dyn Iterator<Item = &String>| -> Vec<String> {
        let mut out: Vec<String> = ids.map(|id| catalog.slug(id)).collect();
        out.sort();
        out
    };
    json!({
        "user": {
            "id": eval.user.id,
            "userName": eval.user.user_name,
            "active": eval.user.active,
        },
        "before": slugs(&mut change.before.iter()),
        "after": slugs(&mut change.after.iter()),
        "added": slugs(&mut change.added()),
        "removed": slugs(&mut change.removed()),
        "sources": eval.target.iter().map(|g| reason(catalog, g, &eval.group_names)).collect::<Vec<_>>(),
    })
}

/// Why a user holds a role, with a sentence an admin can read.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum Reason {
    /// A mapping of one of the user's groups grants it.
    Group {
        role: String,
        group: GroupRef,
        mapping_id: String,
        text: String,
    },
    /// It is the tenant's default role.
    Default { role: String, text: String },
    /// An admin granted it by hand.
    Manual {
        role: String,
        granted_by: String,
        text: String,
    },
}

impl Reason {
    /// The sentence that explains it.
    pub fn text(&self) -> &str {
        match self {
            Reason::Group { text, .. }
            | Reason::Default { text, .. }
            | Reason::Manual { text, .. } => text,
        }
    }
}

/// A group, named.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GroupRef {
    pub id: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// A user, named.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: String,
    #[serde(rename = "userName")]
    pub user_name: String,
    pub active: bool,
}

/// One role a user holds (or would hold once active), with every reason for it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HeldRole {
    pub id: String,
    pub slug: String,
    pub name: Option<String>,
    pub reasons: Vec<Reason>,
}

/// A user's effective roles, explained.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EffectiveRoles {
    pub user: UserRef,
    pub roles: Vec<HeldRole>,
    /// While the user is inactive: the roles it would hold once active again.
    pub suspended: Vec<HeldRole>,
    /// `highest_priority` or `union`.
    pub mode: String,
    /// Bumped by every applied change-set.
    pub mapping_version: i64,
}

fn reason(catalog: &Catalog, grant: &Grant, group_names: &HashMap<String, String>) -> Reason {
    let role = catalog.slug(&grant.role_id);
    match &grant.source {
        Source::Group {
            group_id,
            mapping_id,
        } => {
            let name = group_names.get(group_id).cloned().unwrap_or_default();
            // A group deleted since has no name left: the sentence names its id.
            let shown = if name.is_empty() {
                format!("{group_id} (deleted)")
            } else {
                name.clone()
            };
            Reason::Group {
                text: format!("{role} ← group {shown} (mapping {mapping_id})"),
                role,
                group: GroupRef {
                    id: group_id.clone(),
                    display_name: name,
                },
                mapping_id: mapping_id.clone(),
            }
        }
        Source::Default => Reason::Default {
            text: format!("{role} ← default role"),
            role,
        },
        Source::Manual { granted_by } => Reason::Manual {
            text: format!("{role} ← manual grant by {granted_by}"),
            role,
            granted_by: granted_by.clone(),
        },
    }
}

/// After a user was created or changed (its `active` flag may have flipped).
pub fn user_written(
    conn: &mut DbConnection,
    outbox: &mut Outbox,
    tenant: &TenantId,
    catalog: &Catalog,
    user_id: &str,
    now: &str,
) -> Result<(), ServiceError> {
    // The caller holds the user's row lock already.
    recompute(
        conn,
        outbox,
        tenant,
        catalog,
        &[user_id.to_owned()],
        false,
        now,
    )?;
    Ok(())
}

/// After the user members of a group changed.
pub fn members_changed(
    conn: &mut DbConnection,
    outbox: &mut Outbox,
    tenant: &TenantId,
    catalog: &Catalog,
    group_id: &str,
    user_ids: Vec<String>,
    now: &str,
) -> Result<(), ServiceError> {
    if user_ids.is_empty()
        || catalog.roles.is_empty()
        || !store::group_is_mapped(conn, tenant, group_id)?
    {
        return Ok(());
    }
    let mut ids = user_ids;
    ids.sort_unstable();
    ids.dedup();
    recompute(conn, outbox, tenant, catalog, &ids, true, now)?;
    Ok(())
}

/// Before a user row is deleted: its grants go, and so do its manual grants (M7).
pub fn user_deleted(
    conn: &mut DbConnection,
    outbox: &mut Outbox,
    tenant: &TenantId,
    catalog: &Catalog,
    user: &SubjectRow,
) -> Result<(), ServiceError> {
    let ids = [user.id.clone()];
    let current: Vec<Grant> = store::grants_of(conn, tenant, &ids)?
        .into_iter()
        .map(to_grant)
        .collect();
    store::replace_grants(conn, tenant, &user.id, &[])?;
    store::delete_manual_grants_of(conn, tenant, &user.id)?;
    if let Some(change) = RoleChange::between(&current, &[]) {
        let eval = Evaluation {
            user: SubjectRow {
                id: user.id.clone(),
                user_name: user.user_name.clone(),
                active: false,
            },
            current,
            target: Vec::new(),
            if_active: Vec::new(),
            group_names: HashMap::new(),
        };
        outbox.emit("user.roles_changed", roles_changed(catalog, &eval, &change));
    }
    Ok(())
}

/// After a group was deleted: its mappings are orphaned (M8) and its former members
/// recomputed.
pub fn group_deleted(
    conn: &mut DbConnection,
    outbox: &mut Outbox,
    tenant: &TenantId,
    catalog: &Catalog,
    group_id: &str,
    former_user_members: Vec<String>,
    now: &str,
) -> Result<(), ServiceError> {
    if store::orphan_mappings(conn, tenant, group_id, now)? > 0 {
        let mut ids = former_user_members;
        ids.sort_unstable();
        ids.dedup();
        recompute(conn, outbox, tenant, catalog, &ids, true, now)?;
    }
    Ok(())
}

/// A user holding a role.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Holder {
    /// roster's id of the user.
    pub id: String,
    #[serde(rename = "userName")]
    pub user_name: String,
}

/// One page of a role's holders, in id order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct HolderPage {
    pub data: Vec<Holder>,
    /// Pass it as `after` for the next page; absent on the last one.
    pub next_after: Option<String>,
}

/// The users holding role `slug` now (what `/users/{id}/roles` would list for each),
/// `limit` at a time after user id `after`.
pub fn holders(
    conn: &mut DbConnection,
    tenant: &TenantId,
    slug: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<HolderPage, ServiceError> {
    crate::store::read_transaction(conn, |c| {
        let catalog = Catalog::load(c, tenant, Lock::None)?;
        let role = catalog.by_slug(slug).map_err(|_| not_found_role())?;
        let mut rows = store::holders_page(c, tenant, &role.id, after, limit + 1)?;
        let next_after = (rows.len() as i64 > limit).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.clone()).unwrap_or_default()
        });
        Ok(HolderPage {
            data: rows
                .into_iter()
                .map(|r| Holder {
                    id: r.id,
                    user_name: r.user_name,
                })
                .collect(),
            next_after,
        })
    })
}

/// How an application names a user when it asks for its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    Id(String),
    UserName(String),
    ExternalId(String),
    Email(String),
}

/// [`effective`] for a user named by id, `userName`, `externalId` or an e-mail. An
/// e-mail (or an external id) that several users share is a conflict naming how many,
/// never a guess.
pub fn effective_by(
    conn: &mut DbConnection,
    tenant: &TenantId,
    lookup: &UserLookup,
) -> Result<EffectiveRoles, ServiceError> {
    use crate::store::users::{ids_by, UserKey};
    let (key, value) = match lookup {
        UserLookup::Id(id) => return effective(conn, tenant, id),
        UserLookup::UserName(v) => (UserKey::UserName, v),
        UserLookup::ExternalId(v) => (UserKey::ExternalId, v),
        UserLookup::Email(v) => (UserKey::Email, v),
    };
    let ids = crate::store::read_transaction(conn, |c| ids_by(c, tenant, key, value, 2))?;
    match ids.as_slice() {
        [] => Err(ServiceError::NotFound { kind: "User" }),
        [id] => effective(conn, tenant, id),
        _ => Err(ServiceError::Conflict(
            "more than one user matches; ask by id or userName".into(),
        )),
    }
}

/// A user's effective roles with the reason for each (and, while the user is inactive,
/// the roles that are suspended).
pub fn effective(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<EffectiveRoles, ServiceError> {
    let catalog = Catalog::load(conn, tenant, Lock::None)?;
    let policy = catalog.policy();
    let mappings = active_mappings(conn, tenant)?;
    let ids = [user_id.to_owned()];
    let eval = evaluate(conn, tenant, &policy, &mappings, &ids, false)?
        .pop()
        .ok_or(ServiceError::NotFound { kind: "User" })?;
    let stored = &eval.current;
    let describe = |grants: &[Grant]| -> Vec<HeldRole> {
        let mut by_role: BTreeMap<String, Vec<Reason>> = BTreeMap::new();
        for g in grants {
            by_role.entry(g.role_id.clone()).or_default().push(reason(
                &catalog,
                g,
                &eval.group_names,
            ));
        }
        let mut by_role: Vec<_> = by_role.into_iter().collect();
        by_role.sort_by_key(|(id, _)| catalog.role(id).map(|r| r.priority));
        by_role
            .into_iter()
            .map(|(role_id, reasons)| HeldRole {
                slug: catalog.slug(&role_id),
                name: catalog.role(&role_id).map(|r| r.name.clone()),
                id: role_id,
                reasons,
            })
            .collect()
    };
    let suspended = if eval.user.active {
        Vec::new()
    } else {
        describe(&eval.if_active)
    };
    Ok(EffectiveRoles {
        user: UserRef {
            id: eval.user.id.clone(),
            user_name: eval.user.user_name.clone(),
            active: eval.user.active,
        },
        roles: describe(stored),
        suspended,
        mode: policy.mode.as_str().to_owned(),
        mapping_version: catalog.settings.mapping_version,
    })
}

// ----- Roles ---------------------------------------------------------------------

/// What an API client sends to create or change a role.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub priority: Option<i64>,
    pub privileged: Option<bool>,
}

/// A role, as the application API, the events and the audit log show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub id: String,
    /// Stable, lower-case: what the application checks.
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Lower wins in highest-priority mode; unique in a tenant.
    pub priority: i64,
    /// Granting it is shown as privileged in previews and reviews.
    pub privileged: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RoleRow> for RoleView {
    fn from(role: &RoleRow) -> Self {
        Self {
            id: role.id.clone(),
            slug: role.slug.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            priority: role.priority,
            privileged: role.privileged,
            created_at: role.created_at.clone(),
            updated_at: role.updated_at.clone(),
        }
    }
}

/// A role with what hangs on it: its holders, its mappings, whether it is the default.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoleSummary {
    #[serde(flatten)]
    pub role: RoleView,
    /// Users holding it now.
    pub holders: i64,
    /// Group mappings granting it.
    pub mappings: i64,
    /// Every active user holds it.
    pub is_default: bool,
}

impl std::ops::Deref for RoleSummary {
    type Target = RoleView;

    fn deref(&self) -> &RoleView {
        &self.role
    }
}

/// The role as an event's or audit row's JSON.
fn role_json(role: &RoleRow) -> Value {
    serde_json::to_value(RoleView::from(role)).unwrap_or_default()
}

fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub fn create_role(
    conn: &mut DbConnection,
    scope: &super::Scope,
    input: RoleInput,
    now: &str,
) -> Result<RoleView, ServiceError> {
    let slug = input.slug.ok_or_else(|| invalid("'slug' is required"))?;
    if !valid_slug(&slug) {
        return Err(invalid(
            "a slug is 1-63 lower-case letters, digits, '-' and '_'",
        ));
    }
    crate::store::write_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::Exclusive)?;
        if catalog.roles.iter().any(|r| r.slug == slug) {
            return Err(ServiceError::Conflict(format!(
                "role '{slug}' already exists"
            )));
        }
        let priority = match input.priority {
            Some(p) => p,
            None => catalog.roles.iter().map(|r| r.priority).max().unwrap_or(0) + 10,
        };
        if catalog.roles.iter().any(|r| r.priority == priority) {
            return Err(ServiceError::Conflict(format!(
                "priority {priority} is taken"
            )));
        }
        let row = RoleRow {
            tenant_id: scope.tenant.0.clone(),
            id: new_id(),
            name: input.name.unwrap_or_else(|| slug.clone()),
            slug,
            description: input.description.unwrap_or_default(),
            priority,
            privileged: input.privileged.unwrap_or(false),
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        store::insert_role(c, &row)?;
        let mut outbox = Outbox::new(scope, now);
        outbox.emit("role.created", role_json(&row));
        outbox.commit(c)?;
        Ok(RoleView::from(&row))
    })
}

/// Changes a role's name, description or privileged flag. The slug never changes, and
/// priorities change only through change-sets (they can change who holds what).
pub fn update_role(
    conn: &mut DbConnection,
    scope: &super::Scope,
    slug: &str,
    input: RoleInput,
    now: &str,
) -> Result<RoleView, ServiceError> {
    if input.slug.as_deref().is_some_and(|s| s != slug) {
        return Err(ServiceError::Invalid(Invalid::new(
            ScimType::Mutability,
            "a role's slug is immutable",
        )));
    }
    if input.priority.is_some() {
        return Err(invalid(
            "change a priority with a change-set (set_priority), so its impact is previewed",
        ));
    }
    crate::store::write_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::Exclusive)?;
        let old = catalog.by_slug(slug).map_err(|_| not_found_role())?.clone();
        let mut row = old.clone();
        if let Some(name) = input.name {
            row.name = name;
        }
        if let Some(description) = input.description {
            row.description = description;
        }
        if let Some(privileged) = input.privileged {
            row.privileged = privileged;
        }
        if row != old {
            row.updated_at = now.to_owned();
            store::update_role(c, &row)?;
            let mut outbox = Outbox::new(scope, now);
            let previous = super::events::previous_attributes(
                role_json(&old).as_object().expect("object"),
                role_json(&row).as_object().expect("object"),
            );
            outbox.emit_change("role.updated", role_json(&row), previous);
            outbox.commit(c)?;
        }
        Ok(RoleView::from(&row))
    })
}

pub fn not_found_role() -> ServiceError {
    ServiceError::NotFound { kind: "role" }
}

/// The tenant's roles, in priority order.
pub fn list_roles(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<RoleSummary>, ServiceError> {
    let catalog = Catalog::load(conn, tenant, Lock::None)?;
    let holders: HashMap<String, i64> = store::holder_counts(conn, tenant)?.into_iter().collect();
    let mappings = store::list_mappings(conn, tenant)?;
    let mut roles: Vec<RoleSummary> = catalog
        .roles
        .iter()
        .map(|r| RoleSummary {
            role: RoleView::from(r),
            holders: holders.get(&r.id).copied().unwrap_or(0),
            mappings: mappings.iter().filter(|m| m.role_id == r.id).count() as i64,
            is_default: catalog.settings.default_role_id.as_deref() == Some(&r.id),
        })
        .collect();
    roles.sort_by_key(|r| r.priority);
    Ok(roles)
}

/// One role by slug, with what hangs on it.
pub fn role_summary(
    conn: &mut DbConnection,
    tenant: &TenantId,
    slug: &str,
) -> Result<RoleSummary, ServiceError> {
    list_roles(conn, tenant)?
        .into_iter()
        .find(|r| r.slug == slug)
        .ok_or_else(not_found_role)
}

/// Deletes a role that nothing refers to (M9); a mapped or default role needs a
/// change-set that reassigns it first.
pub fn delete_role(
    conn: &mut DbConnection,
    scope: &super::Scope,
    slug: &str,
    now: &str,
) -> Result<(), ServiceError> {
    crate::store::write_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::Exclusive)?;
        let role = catalog.by_slug(slug).map_err(|_| not_found_role())?.clone();
        if catalog.settings.default_role_id.as_deref() == Some(&role.id) {
            return Err(ServiceError::Conflict(format!(
                "role '{slug}' is the default role; set another default (or none) first"
            )));
        }
        let mapped = store::list_mappings(c, &scope.tenant)?
            .into_iter()
            .filter(|m| m.role_id == role.id)
            .count();
        if mapped > 0 {
            return Err(ServiceError::Conflict(format!(
                "role '{slug}' has {mapped} mapping(s); remove or reassign them with a change-set first"
            )));
        }
        // Only manual grants can remain; their holders are recomputed without them.
        let holders = store::holders_of(c, &scope.tenant, &role.id)?;
        store::delete_role(c, &scope.tenant, &role.id)?;
        let after = Catalog::load(c, &scope.tenant, Lock::None)?;
        let mut outbox = Outbox::new(scope, now);
        outbox.emit("role.deleted", role_json(&role));
        recompute(c, &mut outbox, &scope.tenant, &after, &holders, true, now)?;
        if after.roles.is_empty() {
            // recompute skips tenants without roles; clear what is left by hand.
            for id in &holders {
                store::replace_grants(c, &scope.tenant, id, &[])?;
            }
        }
        outbox.commit(c)?;
        Ok(())
    })
}

/// Adds or removes a manual grant (M5); refused while the tenant does not allow them.
pub fn set_manual_grant(
    conn: &mut DbConnection,
    scope: &super::Scope,
    user_id: &str,
    slug: &str,
    granted: bool,
    now: &str,
) -> Result<EffectiveRoles, ServiceError> {
    crate::store::write_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::Share)?;
        if !catalog.settings.allow_manual_grants {
            return Err(ServiceError::Conflict(
                "manual grants are off for this tenant; enable them with a change-set (set_manual_grants)".into(),
            ));
        }
        let role = catalog.by_slug(slug)?.clone();
        let ids = [user_id.to_owned()];
        if store::subjects(c, &scope.tenant, store::Batch::listed(&ids), true)?.is_empty() {
            return Err(ServiceError::NotFound { kind: "User" });
        }
        if granted {
            let row = store::ManualGrantRow {
                tenant_id: scope.tenant.0.clone(),
                user_id: user_id.to_owned(),
                role_id: role.id.clone(),
                granted_by: scope.actor.id.clone(),
                created_at: now.to_owned(),
            };
            match store::insert_manual_grant(c, &row) {
                Err(crate::store::StoreError::UniqueViolation(_)) => {}
                other => other?,
            }
        } else if !store::delete_manual_grant(c, &scope.tenant, user_id, &role.id)? {
            return Err(ServiceError::NotFound {
                kind: "manual grant",
            });
        }
        let mut outbox = Outbox::new(scope, now);
        recompute(c, &mut outbox, &scope.tenant, &catalog, &ids, false, now)?;
        outbox.commit(c)?;
        Ok(())
    })?;
    effective(conn, &scope.tenant, user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: &str, slug: &str, priority: i64, privileged: bool) -> RoleRow {
        RoleRow {
            tenant_id: "t".into(),
            id: id.into(),
            slug: slug.into(),
            name: slug.to_uppercase(),
            description: String::new(),
            priority,
            privileged,
            created_at: "2026-12-06T00:00:00.000Z".into(),
            updated_at: "2026-12-06T00:00:00.000Z".into(),
        }
    }

    fn catalog() -> Catalog {
        Catalog {
            settings: SettingsRow {
                tenant_id: "t".into(),
                mode: "union".into(),
                default_role_id: Some("r_viewer".into()),
                allow_manual_grants: true,
                mapping_version: 3,
            },
            roles: vec![
                role("r_admin", "admin", 10, true),
                role("r_viewer", "viewer", 20, false),
            ],
        }
    }

    #[test]
    fn each_kind_of_grant_is_explained_in_a_sentence_and_tagged_by_source() {
        let catalog = catalog();
        let names: HashMap<String, String> = [("g1".to_owned(), "Engineering".to_owned())].into();
        let group = reason(&catalog, &Grant::from_group("r_admin", "g1", "m1"), &names);
        assert_eq!(group.text(), "admin ← group Engineering (mapping m1)");
        assert_eq!(
            serde_json::to_value(&group).unwrap(),
            json!({
                "source": "group",
                "role": "admin",
                "group": {"id": "g1", "displayName": "Engineering"},
                "mapping_id": "m1",
                "text": "admin ← group Engineering (mapping m1)",
            })
        );
        let default = Grant {
            role_id: "r_viewer".into(),
            source: Source::Default,
        };
        assert_eq!(
            serde_json::to_value(reason(&catalog, &default, &names)).unwrap(),
            json!({"source": "default", "role": "viewer", "text": "viewer ← default role"})
        );
        let manual = Grant {
            role_id: "r_admin".into(),
            source: Source::Manual {
                granted_by: "key_1".into(),
            },
        };
        let manual = reason(&catalog, &manual, &names);
        assert_eq!(manual.text(), "admin ← manual grant by key_1");
        assert_eq!(serde_json::to_value(&manual).unwrap()["source"], "manual");
    }

    #[test]
    fn a_grant_of_a_group_or_role_gone_since_still_reads() {
        // A deleted group has no name left; a deleted role reads as its id.
        let text = reason(
            &catalog(),
            &Grant::from_group("r_gone", "g9", "m9"),
            &HashMap::new(),
        );
        assert_eq!(text.text(), "r_gone ← group g9 (deleted) (mapping m9)");
    }

    #[test]
    fn a_role_summary_serialises_flat_and_reads_through_to_its_role() {
        let summary = RoleSummary {
            role: RoleView::from(&role("r_admin", "admin", 10, true)),
            holders: 2,
            mappings: 1,
            is_default: false,
        };
        assert_eq!(summary.slug, "admin", "Deref to the role");
        let v = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            (
                v["slug"].clone(),
                v["holders"].clone(),
                v["privileged"].clone()
            ),
            (json!("admin"), json!(2), json!(true))
        );
        assert!(v.get("role").is_none(), "flattened");
    }
}
