//! Directory sync (`/directory-sync`): the tenant's JumpCloud source (owners set it; the
//! API key is write-only), its runs, and each run's diff with its role impact, applied
//! or discarded by an owner. **Held changes** (`/held`): what the mass-deprovisioning
//! guard holds, for an owner to release or discard after reading the list, and the
//! guard's threshold. Every change is audited.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::error::AdminError;
use super::html;
use super::ui::{Admin, Chrome, Done};
use crate::service::admin::AdminRole;
use crate::service::guard::{self, Decision, GuardSettings, HeldList};
use crate::service::pull::{self, ChangePage, RunView, SourceInput, SourceView};
use crate::service::ServiceError;

/// Changes a run's screen lists; the rest are in the API's pages.
const SHOWN_CHANGES: i64 = 500;

#[derive(Template)]
#[template(path = "admin/pull.html")]
struct Page {
    chrome: Chrome,
    source: Option<SourceView>,
    form: SourceForm,
    runs: Vec<RunView>,
    error: Option<String>,
    saved: bool,
}

#[derive(Default, Deserialize)]
pub struct SourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub base_url: String,
    /// Blank keeps the stored key.
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    pub org_id: String,
    #[serde(default)]
    pub interval_minutes: String,
    /// One group name a line.
    #[serde(default)]
    pub scope_groups: String,
    #[serde(default)]
    pub user_name_from: String,
    #[serde(default)]
    pub missing_users: String,
    pub auto_apply: Option<String>,
    #[serde(default)]
    pub drift: String,
}

impl SourceForm {
    fn of(source: &SourceView) -> Self {
        SourceForm {
            base_url: source.base_url.clone(),
            org_id: source.org_id.clone().unwrap_or_default(),
            interval_minutes: source.interval_minutes.to_string(),
            scope_groups: source.scope_groups.join("\n"),
            user_name_from: source.user_name_from.clone(),
            missing_users: source.missing_users.clone(),
            auto_apply: source.auto_apply.then(|| "on".into()),
            drift: source.drift.clone(),
            ..SourceForm::default()
        }
    }

    fn input(&self) -> Result<SourceInput, String> {
        let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let interval = match self.interval_minutes.trim() {
            "" => None,
            n => Some(
                n.parse::<i64>()
                    .map_err(|_| "the interval is a whole number of minutes".to_owned())?,
            ),
        };
        Ok(SourceInput {
            kind: None,
            base_url: blank(&self.base_url),
            api_key: blank(&self.api_key),
            org_id: blank(&self.org_id),
            interval_minutes: interval,
            scope_groups: Some(self.scope_groups.lines().map(str::to_owned).collect()),
            user_name_from: blank(&self.user_name_from),
            missing_users: blank(&self.missing_users),
            auto_apply: Some(self.auto_apply.is_some()),
            drift: blank(&self.drift),
        })
    }
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

async fn render(
    admin: &Admin,
    entered: Option<SourceForm>,
    error: Option<String>,
    saved: bool,
) -> Result<HttpResponse, AdminError> {
    let slug = admin.session.tenant.clone();
    let (source, runs) = admin
        .read(move |c, _| Ok((pull::source(c, &slug)?, pull::runs(c, &slug, 20)?)))
        .await?;
    let form = entered.unwrap_or_else(|| source.as_ref().map(SourceForm::of).unwrap_or_default());
    let status = if error.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    let page = Page {
        chrome: admin.chrome("directory-sync"),
        source,
        form,
        runs,
        error,
        saved,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/directory-sync`.
pub async fn show(admin: Admin, query: web::Query<SavedQuery>) -> Result<HttpResponse, AdminError> {
    render(&admin, None, None, query.saved.is_some()).await
}

/// `POST /admin/{tenant}/directory-sync`: connects JumpCloud or changes the source.
pub async fn save(admin: Admin, form: web::Form<SourceForm>) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let input = match form.input() {
        Ok(input) => input,
        Err(why) => return render(&admin, Some(form), Some(why), false).await,
    };
    let keys = admin.state.secrets.clone();
    let slug = admin.session.tenant.clone();
    let outcome = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "directory.source_configured",
            move |c, _| pull::configure(c, &slug, &input, &keys),
        )
        .await;
    match outcome {
        Ok(_) => Ok(admin.see_other("directory-sync?saved=1")),
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            render(&admin, Some(form), Some(why.detail.clone()), false).await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/{tenant}/directory-sync/run`: a dry run now, for the worker.
pub async fn run_now(admin: Admin, form: web::Form<CsrfForm>) -> Result<HttpResponse, AdminError> {
    let slug = admin.session.tenant.clone();
    let run = admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "directory.run_requested",
            move |c, _| {
                let run = pull::queue_run(c, &slug)?;
                let after = json!({"run": run.id});
                Ok(Done::new(run, None, Some(after)))
            },
        )
        .await?;
    admin.state.directory_pull.notify_one();
    Ok(admin.see_other(&format!("directory-sync/runs/{}", run.id)))
}

#[derive(Template)]
#[template(path = "admin/pull_run.html")]
struct RunPage {
    chrome: Chrome,
    run: RunView,
    changes: ChangePage,
}

/// `GET /admin/{tenant}/directory-sync/runs/{id}`: the diff screen.
pub async fn show_run(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (run, changes) = admin
        .read(move |c, _| {
            let run = pull::run(c, &slug, &id)?;
            let changes = pull::changes(c, &slug, &id, 0, SHOWN_CHANGES)?;
            Ok((run, changes))
        })
        .await?;
    let page = RunPage {
        chrome: admin.chrome("directory-sync"),
        run,
        changes,
    };
    html(actix_web::http::StatusCode::OK, page.render()?)
}

/// `POST /admin/{tenant}/directory-sync/runs/{id}/apply` (and `/discard`).
pub async fn decide(
    admin: Admin,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id, what) = path.into_inner();
    let apply = what == "apply";
    let by = admin.session.subject.clone();
    let run_id = id.clone();
    let action = if apply {
        "directory.run_approved"
    } else {
        "directory.run_discarded"
    };
    admin
        .act(&form.csrf, AdminRole::Owner, action, move |c, _| {
            pull::decide(c, &slug, &run_id, apply, &by)
        })
        .await?;
    admin.state.directory_pull.notify_one();
    Ok(admin.see_other(&format!("directory-sync/runs/{id}")))
}

#[derive(Template)]
#[template(path = "admin/held.html")]
struct HeldPage {
    chrome: Chrome,
    list: HeldList,
    error: Option<String>,
}

/// `GET /admin/{tenant}/held`: what the guard holds.
pub async fn held(admin: Admin) -> Result<HttpResponse, AdminError> {
    render_held(&admin, None).await
}

async fn render_held(admin: &Admin, error: Option<String>) -> Result<HttpResponse, AdminError> {
    let list = admin.read(|c, scope| guard::list(c, &scope.tenant)).await?;
    let status = if error.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    let page = HeldPage {
        chrome: admin.chrome("held"),
        list,
        error,
    };
    html(status, page.render()?)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    up_to: i64,
}

/// `POST /admin/{tenant}/held/release` (and `/discard`): the owner's decision on the
/// held changes they saw (up to `up_to`).
pub async fn decide_held(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AdminError> {
    admin.check_form(&form.csrf, AdminRole::Owner)?;
    let release = path.1 == "release";
    let scope = admin.session.scope(&admin.state, &admin.req);
    let decision = Decision {
        release,
        up_to: form.up_to,
        by: scope.actor.clone(),
    };
    guard::decide_all(
        &admin.state.service,
        &admin.session.tenant,
        &scope.tenant,
        &scope.base_url,
        decision,
    )
    .await?;
    Ok(admin.see_other("held"))
}

#[derive(Deserialize)]
pub struct GuardForm {
    #[serde(default)]
    csrf: String,
    enabled: Option<String>,
    percent: i64,
    max_users: i64,
    min_users: i64,
    window_minutes: i64,
}

/// `POST /admin/{tenant}/held/settings`: the guard's threshold.
pub async fn guard_settings(
    admin: Admin,
    form: web::Form<GuardForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let input = GuardSettings {
        enabled: form.enabled.is_some(),
        percent: form.percent,
        max_users: form.max_users,
        min_users: form.min_users,
        window_minutes: form.window_minutes,
    };
    let outcome = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "directory.guard_changed",
            move |c, scope| guard::set_settings(c, &scope.tenant, &input),
        )
        .await;
    match outcome {
        Ok(_) => Ok(admin.see_other("held")),
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            render_held(&admin, Some(why.detail.clone())).await
        }
        Err(other) => Err(other),
    }
}
