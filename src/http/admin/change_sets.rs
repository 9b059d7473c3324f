//! A change-set's page (`/change-sets/{id}`) and its revert: a new change-set of the
//! inverse operations, under the same confirmation rule as any other.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::error::AdminError;
use super::html;
use super::mappings::{describe, group_names, ChangeSetView, GroupNames, PreviewPage};
use super::ui::{snapshot, Admin, Chrome, CsrfForm, Done};
use crate::service::admin::AdminRole;
use crate::service::change_sets::{
    self, ChangeSetState, Operation, Preview, Request, CONFIRM_WORD,
};
use crate::service::now;

#[derive(Deserialize)]
pub struct RevertForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "admin/change_set.html")]
struct ChangeSetPage {
    chrome: Chrome,
    cs: ChangeSetView,
    can_revert: bool,
}

/// `GET /admin/{tenant}/change-sets/{id}`.
pub async fn change_set(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let (set, names) = admin
        .read(move |c, scope| {
            Ok((
                change_sets::get(c, &scope.tenant, &id)?,
                group_names(c, scope)?,
            ))
        })
        .await?;
    let cs = ChangeSetView::new(&set, &names);
    let chrome = admin.chrome("mappings");
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
    admin: &Admin,
    id: String,
) -> Result<(Preview, GroupNames, Vec<Operation>), AdminError> {
    let limit = admin.state.inline_limit;
    admin
        .read(move |c, scope| {
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
    admin: &Admin,
    id: &str,
    preview: &Preview,
    names: &GroupNames,
    inverse: &[Operation],
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let ops = inverse.iter().map(|op| describe(op, names)).collect();
    let page = PreviewPage {
        error,
        action: format!("change-sets/{id}/revert"),
        back: format!("change-sets/{id}"),
        ..PreviewPage::new(admin, format!("Preview revert of {id}"), ops, preview)
    };
    html(status, page.render()?)
}

/// `POST /admin/{tenant}/change-sets/{id}/revert/preview`.
pub async fn revert_preview(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let (preview, names, inverse) = revert_preview_of(&admin, id.clone()).await?;
    revert_page(
        &admin,
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
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<RevertForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let form = form.into_inner();
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    let (preview, names, inverse) = revert_preview_of(&admin, id.clone()).await?;
    if change_sets::needs_confirmation(&preview) && form.confirm.trim() != CONFIRM_WORD {
        let error = format!("Type {CONFIRM_WORD} to revert this change-set.");
        return revert_page(
            &admin,
            &id,
            &preview,
            &names,
            &inverse,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let limit = admin.state.inline_limit;
    let confirm = form.confirm;
    let original = id.clone();
    let new_id = admin
        .act(
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
    admin.state.change_sets.notify_one();
    Ok(admin.see_other(&format!("change-sets/{new_id}")))
}
