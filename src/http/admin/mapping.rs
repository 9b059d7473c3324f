//! S7 Roles, S8 the mapping editor with its impact preview, and the change-set page
//! with revert. Every change goes through the same services as the application API
//! (`service::roles`, `service::change_sets`); this module only turns their JSON into
//! what the templates show.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ui::{self, Chrome, Done};
use super::{html, AdminSession};
use crate::http::error::AdminError;
use crate::http::state::AppState;
use crate::roles::Mode;
use crate::service::admin::AdminRole;
use crate::service::change_sets::{
    self, ChangeSetState, Operation, Preview, Request, CONFIRM_WORD,
};
use crate::service::roles::{self, RoleInput, RoleSummary};
use crate::service::{groups, invalid, now, ServiceError};

/// Recent change-sets the mappings page lists.
const RECENT_CHANGE_SETS: usize = 20;

// ----- View models ----------------------------------------------------------------

/// An audit row's before or after.
fn snapshot<T: serde::Serialize>(view: &T) -> Value {
    serde_json::to_value(view).unwrap_or_default()
}

/// What one role gains and loses in a preview or an applied change-set.
pub struct ImpactView {
    pub slug: String,
    pub privileged: bool,
    pub added: u64,
    pub removed: u64,
    pub added_users: Vec<String>,
    pub removed_users: Vec<String>,
}

impl ImpactView {
    /// Users beyond the listed sample.
    pub fn more_added(&self) -> u64 {
        self.added.saturating_sub(self.added_users.len() as u64)
    }

    pub fn more_removed(&self) -> u64 {
        self.removed.saturating_sub(self.removed_users.len() as u64)
    }
}

fn impact_views(impact: &change_sets::ImpactView) -> Vec<ImpactView> {
    impact
        .roles
        .iter()
        .map(|(slug, r)| ImpactView {
            slug: slug.clone(),
            privileged: r.privileged,
            added: r.added,
            removed: r.removed,
            added_users: r.added_users.clone(),
            removed_users: r.removed_users.clone(),
        })
        .collect()
}

/// Group id → display name, to show operations by name (they are keyed by id, M1).
type GroupNames = HashMap<String, String>;

fn group_names(
    c: &mut crate::store::DbConnection,
    scope: &crate::service::Scope,
) -> Result<GroupNames, ServiceError> {
    Ok(groups::names(c, &scope.tenant)?.into_iter().collect())
}

/// One operation in words.
fn describe(op: &Operation, names: &GroupNames) -> String {
    let group = |id: &str| {
        names
            .get(id)
            .map_or_else(|| format!("{id} (deleted)"), |n| format!("“{n}”"))
    };
    match op {
        Operation::AddMapping { group: g, role } => format!("map group {} → {role}", group(g)),
        Operation::RemoveMapping { group: g, role } => {
            format!("unmap group {} from {role}", group(g))
        }
        Operation::SetMode { mode } => format!("resolution mode → {}", mode_label(mode.as_str())),
        Operation::SetDefaultRole { role } => {
            format!("default role → {}", role.as_deref().unwrap_or("none"))
        }
        Operation::SetPriority { role, priority } => format!("priority of {role} → {priority}"),
        Operation::SetManualGrants { allowed } => {
            format!("manual grants → {}", if *allowed { "on" } else { "off" })
        }
    }
}

pub fn mode_label(mode: &str) -> &'static str {
    match Mode::parse(mode) {
        Some(Mode::HighestPriority) => "highest priority",
        _ => "union",
    }
}

pub struct ChangeSetView {
    pub id: String,
    pub state: ChangeSetState,
    pub actor: String,
    pub description: String,
    pub created: String,
    pub finished: String,
    pub done: i64,
    pub total: i64,
    pub users_affected: u64,
    pub revert_of: Option<String>,
    pub reverted_by: Option<String>,
    pub ops: Vec<String>,
    pub impact: Vec<ImpactView>,
}

impl ChangeSetView {
    fn new(v: &change_sets::ChangeSetView, names: &GroupNames) -> Self {
        Self {
            id: v.id.clone(),
            state: v.state,
            actor: v.actor.clone(),
            description: v.description.clone(),
            created: ui::when(&v.created_at),
            finished: ui::when_or(v.finished_at.as_deref(), "not yet"),
            done: v.progress.done,
            total: v.progress.total,
            users_affected: v.impact.users_affected,
            revert_of: v.revert_of.clone(),
            reverted_by: v.reverted_by.clone(),
            ops: v.operations.iter().map(|op| describe(op, names)).collect(),
            impact: impact_views(&v.impact),
        }
    }

    pub fn badge(&self) -> &'static str {
        match self.state {
            ChangeSetState::Applied => "good",
            ChangeSetState::Applying => "warn",
        }
    }

    /// The state as the screen shows it.
    pub fn state_label(&self) -> &'static str {
        match self.state {
            ChangeSetState::Applied => "applied",
            ChangeSetState::Applying => "applying",
        }
    }
}

// ----- Forms ----------------------------------------------------------------------

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// An HTML checkbox: present ("on") when ticked, absent otherwise.
fn ticked(field: &Option<String>) -> bool {
    field.is_some()
}

#[derive(Deserialize)]
pub struct NewRoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// Blank: after the lowest-priority role.
    #[serde(default)]
    priority: String,
    privileged: Option<String>,
}

#[derive(Deserialize)]
pub struct EditRoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    privileged: Option<String>,
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    direction: String,
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    /// A role slug, or "" for no default role.
    #[serde(default)]
    default_role: String,
}

/// A draft change-set: one edit from the draft form (`op`, `group`, `role`), or the
/// whole draft as JSON (`operations`), as the preview page hands it on to apply.
#[derive(Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    operations: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    confirm: String,
}

impl DraftForm {
    fn request(&self) -> Result<Request, ServiceError> {
        let operations = if !self.operations.is_empty() {
            serde_json::from_str(&self.operations)
                .map_err(|_| invalid("the draft is damaged; start it again"))?
        } else {
            let (group, role) = (self.group.trim().to_owned(), self.role.trim().to_owned());
            if group.is_empty() || role.is_empty() {
                return Err(invalid("choose a group and a role"));
            }
            vec![match self.op.as_str() {
                "add" => Operation::AddMapping { group, role },
                "remove" => Operation::RemoveMapping { group, role },
                _ => return Err(invalid("the operation is add or remove")),
            }]
        };
        Ok(Request {
            operations,
            description: self.description.trim().to_owned(),
        })
    }
}

#[derive(Deserialize)]
pub struct RevertForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

// ----- S7 Roles ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<RoleSummary>,
    mode: String,
    default_role: String,
}

/// `GET /admin/{tenant}/roles`.
pub async fn roles(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let (list, settings) = ui::read(&state, &session, &req, |c, scope| {
        Ok((
            roles::list_roles(c, &scope.tenant)?,
            change_sets::settings(c, &scope.tenant)?,
        ))
    })
    .await?;
    let page = RolesPage {
        chrome: session.chrome("roles"),
        roles: list,
        mode: settings.mode,
        default_role: settings.default_role.unwrap_or_default(),
    };
    html(StatusCode::OK, page.render()?)
}

/// `POST /admin/{tenant}/roles`.
pub async fn create_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<NewRoleForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let priority = match form.priority.trim() {
        "" => None,
        p => Some(
            p.parse::<i64>()
                .map_err(|_| invalid("the priority is a whole number"))?,
        ),
    };
    let blank = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = RoleInput {
        slug: Some(form.slug.trim().to_owned()),
        name: blank(form.name),
        description: Some(form.description.trim().to_owned()),
        priority,
        privileged: Some(ticked(&form.privileged)),
    };
    ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "role.created",
        move |c, scope| {
            let role = roles::create_role(c, scope, input, &now())?;
            Ok(Done::new((), None, Some(snapshot(&role))))
        },
    )
    .await?;
    Ok(ui::see_other(&session, "roles"))
}

/// `POST /admin/{tenant}/roles/{slug}`: name, description, privileged; the slug is
/// immutable and the priority changes by moving.
pub async fn update_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<EditRoleForm>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner().1;
    let form = form.into_inner();
    let input = RoleInput {
        slug: None,
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        description: Some(form.description.trim().to_owned()),
        priority: None,
        privileged: Some(ticked(&form.privileged)),
    };
    ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "role.updated",
        move |c, scope| {
            let before = roles::role_summary(c, &scope.tenant, &slug)?;
            let after = roles::update_role(c, scope, &slug, input, &now())?;
            Ok(Done::new(
                (),
                Some(snapshot(&before)),
                Some(snapshot(&after)),
            ))
        },
    )
    .await?;
    Ok(ui::see_other(&session, "roles"))
}

/// `POST /admin/{tenant}/roles/{slug}/delete`: refused while the role is mapped or the
/// default (M9); the service says why.
pub async fn delete_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner().1;
    ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "role.deleted",
        move |c, scope| {
            let before = roles::role_summary(c, &scope.tenant, &slug)?;
            roles::delete_role(c, scope, &slug, &now())?;
            Ok(Done::new((), Some(snapshot(&before)), None))
        },
    )
    .await?;
    Ok(ui::see_other(&session, "roles"))
}

/// `POST /admin/{tenant}/roles/{slug}/move`: swaps the role's priority with its
/// neighbour's (`direction` up or down), as one change-set.
pub async fn move_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner().1;
    let form = form.into_inner();
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let list = ui::read(&state, &session, &req, |c, scope| {
        roles::list_roles(c, &scope.tenant)
    })
    .await?;
    let ordered = list;
    let at = ordered
        .iter()
        .position(|r| r.slug == slug)
        .ok_or_else(roles::not_found_role)?;
    let other = match form.direction.as_str() {
        "up" => at.checked_sub(1),
        "down" => Some(at + 1).filter(|&i| i < ordered.len()),
        _ => return Err(invalid("the direction is up or down").into()),
    };
    let Some(other) = other else {
        // Already first or last: nothing to move.
        return Ok(ui::see_other(&session, "roles"));
    };
    let (a, b) = (&ordered[at], &ordered[other]);
    let request = Request {
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
        description: format!("move {} {}", a.slug, form.direction),
    };
    apply_or_confirm(
        &state,
        &session,
        &req,
        &form.csrf,
        "role.reordered",
        request,
    )
    .await
}

/// `POST /admin/{tenant}/role-settings`: resolution mode and default role, the
/// changed ones as one change-set.
pub async fn role_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let mode =
        Mode::parse(&form.mode).ok_or_else(|| invalid("the mode is union or highest_priority"))?;
    let default_role = Some(form.default_role.trim().to_owned()).filter(|r| !r.is_empty());
    let current = ui::read(&state, &session, &req, |c, scope| {
        change_sets::settings(c, &scope.tenant)
    })
    .await?;
    let mut operations = Vec::new();
    if current.mode != mode.as_str() {
        operations.push(Operation::SetMode { mode });
    }
    if current.default_role != default_role {
        operations.push(Operation::SetDefaultRole { role: default_role });
    }
    if operations.is_empty() {
        // Nothing changed: no empty change-set, no audit row.
        return Ok(ui::see_other(&session, "roles"));
    }
    let request = Request {
        operations,
        description: "role settings".into(),
    };
    apply_or_confirm(
        &state,
        &session,
        &req,
        &form.csrf,
        "role_settings.updated",
        request,
    )
    .await
}

/// Applies a change-set made by a roles form, then back to the roles page; when its
/// impact needs the typed confirmation, shows the preview instead, whose apply form
/// carries it on to the mapping editor's apply.
async fn apply_or_confirm(
    state: &AppState,
    session: &AdminSession,
    req: &HttpRequest,
    csrf: &str,
    action: &'static str,
    request: Request,
) -> Result<HttpResponse, AdminError> {
    let operations = request.operations.clone();
    let (preview, names) = preview_of(state, session, req, operations).await?;
    if change_sets::needs_confirmation(&preview) || preview.refused.is_some() {
        return preview_page(session, &preview, &names, &request, None, StatusCode::OK);
    }
    let limit = state.inline_limit;
    ui::act(
        state,
        session,
        req,
        csrf,
        AdminRole::Admin,
        action,
        move |c, scope| {
            let before = role_state(c, scope)?;
            let set = change_sets::apply_confirmed(c, scope, request, None, "", limit, &now())?;
            let mut after = role_state(c, scope)?;
            after["change_set"] = snapshot(&set);
            Ok(Done::new((), Some(before), Some(after)))
        },
    )
    .await?;
    state.change_sets.notify_one();
    Ok(ui::see_other(session, "roles"))
}

/// What the roles screen's change-sets change, for their audit rows: the settings and
/// every role's priority.
fn role_state(
    c: &mut crate::store::DbConnection,
    scope: &crate::service::Scope,
) -> Result<Value, ServiceError> {
    let priorities: serde_json::Map<String, Value> = roles::list_roles(c, &scope.tenant)?
        .into_iter()
        .map(|r| (r.role.slug, json!(r.role.priority)))
        .collect();
    Ok(json!({
        "settings": snapshot(&change_sets::settings(c, &scope.tenant)?),
        "priorities": priorities,
    }))
}

// ----- S8 Mapping editor ------------------------------------------------------------

pub struct MappingView {
    pub id: String,
    pub group_id: String,
    pub group_name: String,
    pub role: String,
    pub privileged: bool,
    pub orphaned: bool,
    pub change_set: Option<String>,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/mappings.html")]
struct MappingsPage {
    chrome: Chrome,
    mappings: Vec<MappingView>,
    groups: Vec<(String, String)>,
    /// The picker shows only the first groups by name.
    groups_truncated: bool,
    roles: Vec<RoleSummary>,
    change_sets: Vec<ChangeSetView>,
}

/// `GET /admin/{tenant}/mappings`.
pub async fn mappings(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let (mappings, groups, list, sets) = ui::read(&state, &session, &req, |c, scope| {
        Ok((
            change_sets::mappings(c, &scope.tenant)?,
            groups::names(c, &scope.tenant)?,
            roles::list_roles(c, &scope.tenant)?,
            change_sets::list(c, &scope.tenant)?,
        ))
    })
    .await?;
    let roles = list;
    let names: GroupNames = groups.iter().cloned().collect();
    let privileged = |slug: &str| roles.iter().any(|r| r.slug == slug && r.privileged);
    let mut mappings: Vec<MappingView> = mappings
        .into_iter()
        .map(|m| MappingView {
            privileged: privileged(&m.role),
            orphaned: m.state == change_sets::MappingState::Orphaned,
            created: ui::when(&m.created_at),
            id: m.id,
            group_id: m.group.id,
            group_name: m.group.display_name,
            role: m.role,
            change_set: m.change_set_id,
        })
        .collect();
    mappings.sort_by(|a, b| {
        (a.group_name.to_lowercase(), &a.role).cmp(&(b.group_name.to_lowercase(), &b.role))
    });
    let change_sets = sets
        .iter()
        .take(RECENT_CHANGE_SETS)
        .map(|v| ChangeSetView::new(v, &names))
        .collect();
    let page = MappingsPage {
        chrome: session.chrome("mappings"),
        mappings,
        groups_truncated: groups.len() as i64 >= groups::PICKER_LIMIT,
        groups,
        roles,
        change_sets,
    };
    html(StatusCode::OK, page.render()?)
}

#[derive(Template)]
#[template(path = "admin/preview.html")]
struct PreviewPage {
    chrome: Chrome,
    heading: String,
    ops: Vec<String>,
    users_affected: u64,
    impact: Vec<ImpactView>,
    background: bool,
    refused: Option<String>,
    needs_confirm: bool,
    word: &'static str,
    error: Option<String>,
    /// Where the apply form posts, under the tenant.
    action: String,
    /// The draft, carried by the apply form.
    hidden: Vec<(&'static str, String)>,
    back: String,
}

/// The preview of `operations`, with the group names to describe them.
async fn preview_of(
    state: &AppState,
    session: &AdminSession,
    req: &HttpRequest,
    operations: Vec<Operation>,
) -> Result<(Preview, GroupNames), AdminError> {
    let limit = state.inline_limit;
    ui::read(state, session, req, move |c, scope| {
        Ok((
            change_sets::preview(c, scope, &operations, limit)?,
            group_names(c, scope)?,
        ))
    })
    .await
}

fn preview_page(
    session: &AdminSession,
    preview: &Preview,
    names: &GroupNames,
    request: &Request,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let operations = serde_json::to_string(&request.operations).unwrap_or_default();
    let page = PreviewPage {
        chrome: session.chrome("mappings"),
        heading: "Preview change-set".into(),
        ops: request
            .operations
            .iter()
            .map(|op| describe(op, names))
            .collect(),
        users_affected: preview.impact.users_affected,
        impact: impact_views(&preview.impact),
        background: preview.background,
        refused: preview.refused.clone(),
        needs_confirm: change_sets::needs_confirmation(preview),
        word: CONFIRM_WORD,
        error,
        action: "mappings/apply".into(),
        hidden: vec![
            ("operations", operations),
            ("description", request.description.clone()),
        ],
        back: "mappings".into(),
    };
    html(status, page.render()?)
}

/// `POST /admin/{tenant}/mappings/preview`: the draft's impact, changing nothing.
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<DraftForm>,
) -> Result<HttpResponse, AdminError> {
    // A form of admins (viewers get none), so it is checked as one, though it writes
    // nothing.
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let request = form.request()?;
    let (preview, names) = preview_of(&state, &session, &req, request.operations.clone()).await?;
    preview_page(&session, &preview, &names, &request, None, StatusCode::OK)
}

/// `POST /admin/{tenant}/mappings/apply`: applies the previewed draft, then shows its
/// change-set. A wrong or missing confirmation word shows the preview again.
pub async fn apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<DraftForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let request = form.request()?;
    let (preview, names) = preview_of(&state, &session, &req, request.operations.clone()).await?;
    if change_sets::needs_confirmation(&preview) && form.confirm.trim() != CONFIRM_WORD {
        let error = format!("Type {CONFIRM_WORD} to apply this change-set.");
        return preview_page(
            &session,
            &preview,
            &names,
            &request,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let limit = state.inline_limit;
    let confirm = form.confirm;
    let id = ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "change_set.applied",
        move |c, scope| {
            // Confirmed again inside the transaction: the impact may have grown.
            let set =
                change_sets::apply_confirmed(c, scope, request, None, &confirm, limit, &now())?;
            Ok(Done::new(set.id.clone(), None, Some(snapshot(&set))))
        },
    )
    .await?;
    state.change_sets.notify_one();
    Ok(ui::see_other(&session, &format!("change-sets/{id}")))
}

// ----- Change-sets --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/change_set.html")]
struct ChangeSetPage {
    chrome: Chrome,
    cs: ChangeSetView,
    can_revert: bool,
}

/// `GET /admin/{tenant}/change-sets/{id}`.
pub async fn change_set(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let (set, names) = ui::read(&state, &session, &req, move |c, scope| {
        Ok((
            change_sets::get(c, &scope.tenant, &id)?,
            group_names(c, scope)?,
        ))
    })
    .await?;
    let cs = ChangeSetView::new(&set, &names);
    let chrome = session.chrome("mappings");
    let page = ChangeSetPage {
        can_revert: chrome.can_write
            && cs.reverted_by.is_none()
            && cs.state == ChangeSetState::Applied,
        chrome,
        cs,
    };
    html(StatusCode::OK, page.render()?)
}

/// The revert of change-set `id` previewed: its inverse operations and their impact.
async fn revert_preview_of(
    state: &AppState,
    session: &AdminSession,
    req: &HttpRequest,
    id: String,
) -> Result<(Preview, GroupNames, Vec<Operation>), AdminError> {
    let limit = state.inline_limit;
    ui::read(state, session, req, move |c, scope| {
        let inverse = change_sets::inverse_of(c, &scope.tenant, &id)?;
        Ok((
            change_sets::preview(c, scope, &inverse, limit)?,
            group_names(c, scope)?,
            inverse,
        ))
    })
    .await
}

fn revert_page(
    session: &AdminSession,
    id: &str,
    preview: &Preview,
    names: &GroupNames,
    inverse: &[Operation],
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let page = PreviewPage {
        chrome: session.chrome("mappings"),
        heading: format!("Preview revert of {id}"),
        ops: inverse.iter().map(|op| describe(op, names)).collect(),
        users_affected: preview.impact.users_affected,
        impact: impact_views(&preview.impact),
        background: preview.background,
        refused: preview.refused.clone(),
        needs_confirm: change_sets::needs_confirmation(preview),
        word: CONFIRM_WORD,
        error,
        action: format!("change-sets/{id}/revert"),
        hidden: Vec::new(),
        back: format!("change-sets/{id}"),
    };
    html(status, page.render()?)
}

/// `POST /admin/{tenant}/change-sets/{id}/revert/preview`.
pub async fn revert_preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let (preview, names, inverse) = revert_preview_of(&state, &session, &req, id.clone()).await?;
    revert_page(
        &session,
        &id,
        &preview,
        &names,
        &inverse,
        None,
        StatusCode::OK,
    )
}

/// `POST /admin/{tenant}/change-sets/{id}/revert`: a new change-set undoing `id`, under
/// the same confirmation rule as any other.
pub async fn revert(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<RevertForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let form = form.into_inner();
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let (preview, names, inverse) = revert_preview_of(&state, &session, &req, id.clone()).await?;
    if change_sets::needs_confirmation(&preview) && form.confirm.trim() != CONFIRM_WORD {
        let error = format!("Type {CONFIRM_WORD} to revert this change-set.");
        return revert_page(
            &session,
            &id,
            &preview,
            &names,
            &inverse,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let limit = state.inline_limit;
    let confirm = form.confirm;
    let original = id.clone();
    let new_id = ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "change_set.reverted",
        move |c, scope| {
            let inverse = change_sets::inverse_of(c, &scope.tenant, &original)?;
            let request = Request {
                operations: inverse,
                description: format!("revert of {original}"),
            };
            let set = change_sets::apply_confirmed(
                c,
                scope,
                request,
                Some(&original),
                &confirm,
                limit,
                &now(),
            )?;
            Ok(Done::new(
                set.id.clone(),
                Some(json!({"change_set": original})),
                Some(snapshot(&set)),
            ))
        },
    )
    .await?;
    state.change_sets.notify_one();
    Ok(ui::see_other(&session, &format!("change-sets/{new_id}")))
}
