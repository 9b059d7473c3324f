//! S8 the mapping editor (`/mappings`): mappings by group, a draft's impact preview,
//! and applying it; and the view models every change-set screen shares. Every change
//! goes through the same services as the application API (`service::change_sets`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::html;
use super::ui::{self, snapshot, Admin, Chrome, Done};
use crate::roles::Mode;
use crate::service::admin::AdminRole;
use crate::service::change_sets::{
    self, ChangeSetState, Operation, Preview, Request, CONFIRM_WORD,
};
use crate::service::invalid;
use crate::service::roles::{self, RoleSummary};
use crate::service::run::Tx;
use crate::service::{groups, now, ServiceError};

/// Recent change-sets the mappings page lists.
const RECENT_CHANGE_SETS: usize = 20;

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

pub fn impact_views(impact: &change_sets::ImpactView) -> Vec<ImpactView> {
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
pub type GroupNames = HashMap<String, String>;

pub fn group_names(
    c: &mut Tx<'_>,
    scope: &crate::service::Scope,
) -> Result<GroupNames, ServiceError> {
    Ok(groups::names(c, &scope.tenant)?.into_iter().collect())
}

/// One operation in words.
pub fn describe(op: &Operation, names: &GroupNames) -> String {
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
    pub fn new(v: &change_sets::ChangeSetView, names: &GroupNames) -> Self {
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
pub async fn mappings(admin: Admin) -> Result<HttpResponse, AdminError> {
    let (mappings, groups, list, sets) = admin
        .read(|c, scope| {
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
        chrome: admin.chrome("mappings"),
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
pub struct PreviewPage {
    pub chrome: Chrome,
    pub heading: String,
    pub ops: Vec<String>,
    pub users_affected: u64,
    pub impact: Vec<ImpactView>,
    pub background: bool,
    pub refused: Option<String>,
    pub needs_confirm: bool,
    pub word: &'static str,
    pub error: Option<String>,
    /// Where the apply form posts, under the tenant.
    pub action: String,
    /// The draft, carried by the apply form.
    pub hidden: Vec<(&'static str, String)>,
    pub back: String,
}

/// The preview of `operations`, with the group names to describe them.
pub async fn preview_of(
    admin: &Admin,
    operations: Vec<Operation>,
) -> Result<(Preview, GroupNames), AdminError> {
    let limit = admin.state.inline_limit;
    admin
        .read(move |c, scope| {
            Ok((
                change_sets::preview(c, scope, &operations, limit)?,
                group_names(c, scope)?,
            ))
        })
        .await
}

impl PreviewPage {
    /// The preview of `ops` (in words), applied by a form posting to `action` (under
    /// the tenant) that carries `hidden`; `back` is where cancelling leads.
    pub fn new(admin: &Admin, heading: String, ops: Vec<String>, preview: &Preview) -> Self {
        PreviewPage {
            chrome: admin.chrome("mappings"),
            heading,
            ops,
            users_affected: preview.impact.users_affected,
            impact: impact_views(&preview.impact),
            background: preview.background,
            refused: preview.refused.clone(),
            needs_confirm: change_sets::needs_confirmation(preview),
            word: CONFIRM_WORD,
            error: None,
            action: String::new(),
            hidden: Vec::new(),
            back: String::new(),
        }
    }
}

pub fn preview_page(
    admin: &Admin,
    preview: &Preview,
    names: &GroupNames,
    request: &Request,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let ops = request.operations.iter().map(|op| describe(op, names));
    let page = PreviewPage {
        error,
        action: "mappings/apply".into(),
        hidden: vec![
            (
                "operations",
                serde_json::to_string(&request.operations).unwrap_or_default(),
            ),
            ("description", request.description.clone()),
        ],
        back: "mappings".into(),
        ..PreviewPage::new(admin, "Preview change-set".into(), ops.collect(), preview)
    };
    html(status, page.render()?)
}

/// `POST /admin/{tenant}/mappings/preview`: the draft's impact, changing nothing.
pub async fn preview(admin: Admin, form: web::Form<DraftForm>) -> Result<HttpResponse, AdminError> {
    // A form of admins (viewers get none), so it is checked as one, though it writes
    // nothing.
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let request = form.request()?;
    let (preview, names) = preview_of(&admin, request.operations.clone()).await?;
    preview_page(&admin, &preview, &names, &request, None, StatusCode::OK)
}

/// `POST /admin/{tenant}/mappings/apply`: applies the previewed draft, then shows its
/// change-set. A wrong or missing confirmation word shows the preview again.
pub async fn apply(admin: Admin, form: web::Form<DraftForm>) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let request = form.request()?;
    let (preview, names) = preview_of(&admin, request.operations.clone()).await?;
    if change_sets::needs_confirmation(&preview) && form.confirm.trim() != CONFIRM_WORD {
        let error = format!("Type {CONFIRM_WORD} to apply this change-set.");
        return preview_page(
            &admin,
            &preview,
            &names,
            &request,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let limit = admin.state.inline_limit;
    let confirm = form.confirm;
    let id = admin
        .act(
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
    admin.state.change_sets.notify_one();
    Ok(admin.see_other(&format!("change-sets/{id}")))
}
