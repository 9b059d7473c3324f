//! S7 Roles (`/roles`, `/role-settings`): the catalog in priority order, its settings,
//! and the forms that change them. A reorder or a settings change is a change-set like
//! any other, previewed first when its impact needs a confirmation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::html;
use super::mappings::{describe, preview_of, preview_page, PreviewPage};
use super::ui::{snapshot, Admin, Chrome, CsrfForm, Done};
use crate::roles::Mode;
use crate::service::admin::AdminRole;
use crate::service::change_sets::{self, Request, CONFIRM_WORD};
use crate::service::invalid;
use crate::service::now;
use crate::service::roles::{self, RoleInput, RoleSummary};

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
    /// "1" once the admin has seen the preview: the preview page's apply form.
    #[serde(default)]
    previewed: String,
    /// The typed confirmation word, when the impact needs it.
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<RoleSummary>,
    mode: String,
    default_role: String,
}

/// `GET /admin/{tenant}/roles`.
pub async fn roles(admin: Admin) -> Result<HttpResponse, AdminError> {
    let (list, settings) = admin
        .read(|c, scope| {
            Ok((
                roles::list_roles(c, &scope.tenant)?,
                change_sets::settings(c, &scope.tenant)?,
            ))
        })
        .await?;
    let page = RolesPage {
        chrome: admin.chrome("roles"),
        roles: list,
        mode: settings.mode,
        default_role: settings.default_role.unwrap_or_default(),
    };
    html(StatusCode::OK, page.render()?)
}

/// `POST /admin/{tenant}/roles`.
pub async fn create_role(
    admin: Admin,
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
    admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "role.created",
            move |c, scope| {
                let role = roles::create_role(c, scope, input, &now())?;
                Ok(Done::new((), None, Some(snapshot(&role))))
            },
        )
        .await?;
    Ok(admin.see_other("roles"))
}

/// `POST /admin/{tenant}/roles/{slug}`: name, description, privileged; the slug is
/// immutable and the priority changes by moving.
pub async fn update_role(
    admin: Admin,
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
    admin
        .act(
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
    Ok(admin.see_other("roles"))
}

/// `POST /admin/{tenant}/roles/{slug}/delete`: refused while the role is mapped or the
/// default (M9); the service says why.
pub async fn delete_role(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner().1;
    admin
        .act(
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
    Ok(admin.see_other("roles"))
}

/// `POST /admin/{tenant}/roles/{slug}/move`: swaps the role's priority with its
/// neighbour's (`direction` up or down), as one change-set.
pub async fn move_role(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner().1;
    let form = form.into_inner();
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let direction = change_sets::Direction::parse(&form.direction)
        .ok_or_else(|| invalid("the direction is up or down"))?;
    let request = admin
        .read(move |c, scope| change_sets::reorder(c, &scope.tenant, &slug, direction))
        .await?;
    let Some(request) = request else {
        // Already first or last: nothing to move.
        return Ok(admin.see_other("roles"));
    };
    apply_or_confirm(&admin, &form.csrf, "role.reordered", request).await
}

/// `POST /admin/{tenant}/role-settings`: resolution mode and default role, the
/// changed ones as one change-set. A change moves users between roles, so the form
/// first answers with its preview (who gains and loses which role); the preview's
/// form applies it (`previewed=1`, and the typed word when the impact needs it).
pub async fn role_settings(
    admin: Admin,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let mode =
        Mode::parse(&form.mode).ok_or_else(|| invalid("the mode is union or highest_priority"))?;
    let default_role = Some(form.default_role.trim().to_owned()).filter(|r| !r.is_empty());
    let request = admin
        .read(move |c, scope| change_sets::settings_change(c, &scope.tenant, mode, default_role))
        .await?;
    let Some(request) = request else {
        // Nothing changed: no empty change-set, no audit row.
        return Ok(admin.see_other("roles"));
    };
    let (preview, names) = preview_of(&admin, request.operations.clone()).await?;
    let confirm = form.confirm.trim().to_owned();
    let word_ok = !change_sets::needs_confirmation(&preview) || confirm == CONFIRM_WORD;
    if form.previewed != "1" || preview.refused.is_some() || !word_ok {
        let error = (form.previewed == "1" && !word_ok)
            .then(|| format!("Type {CONFIRM_WORD} to apply this change."));
        let status = if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let page = PreviewPage {
            chrome: admin.chrome("roles"),
            error,
            action: "role-settings".into(),
            hidden: vec![
                ("mode", form.mode.clone()),
                ("default_role", form.default_role.trim().to_owned()),
                ("previewed", "1".into()),
            ],
            back: "roles".into(),
            ..PreviewPage::new(
                &admin,
                "Preview: role settings".into(),
                request
                    .operations
                    .iter()
                    .map(|op| describe(op, &names))
                    .collect(),
                &preview,
            )
        };
        return html(status, page.render()?);
    }
    apply(
        &admin,
        &form.csrf,
        "role_settings.updated",
        request,
        confirm,
    )
    .await
}

/// Applies a change-set made by a roles form, then back to the roles page; when its
/// impact needs the typed confirmation, shows the preview instead, whose apply form
/// carries it on to the mapping editor's apply.
async fn apply_or_confirm(
    admin: &Admin,
    csrf: &str,
    action: &'static str,
    request: Request,
) -> Result<HttpResponse, AdminError> {
    let operations = request.operations.clone();
    let (preview, names) = preview_of(admin, operations).await?;
    if change_sets::needs_confirmation(&preview) || preview.refused.is_some() {
        return preview_page(admin, &preview, &names, &request, None, StatusCode::OK);
    }
    apply(admin, csrf, action, request, String::new()).await
}

/// Applies a roles form's change-set (confirmed by `confirm` when its impact needs
/// it), audited with the role state before and after; then back to the roles page.
async fn apply(
    admin: &Admin,
    csrf: &str,
    action: &'static str,
    request: Request,
    confirm: String,
) -> Result<HttpResponse, AdminError> {
    let limit = admin.state.inline_limit;
    admin
        .act(csrf, AdminRole::Admin, action, move |c, scope| {
            let before = change_sets::role_state(c, &scope.tenant)?;
            let set =
                change_sets::apply_confirmed(c, scope, request, None, &confirm, limit, &now())?;
            let mut after = change_sets::role_state(c, &scope.tenant)?;
            after["change_set"] = snapshot(&set);
            Ok(Done::new((), Some(before), Some(after)))
        })
        .await?;
    admin.state.change_sets.notify_one();
    Ok(admin.see_other("roles"))
}
