//! Directory pull over the application API (`admin` scope): the tenant's JumpCloud
//! source, its sync runs with their diffs, the decision to apply or discard one, and
//! the mass-deprovisioning guard with the changes it holds.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{paths, query, read, respond, Access, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::service::audit::audit;
use crate::service::guard::{self, GuardSettings, HeldList};
use crate::service::pull::{self, ChangePage, RunView, SourceInput, SourceView};
use crate::service::ServiceError;

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/directory-source",
    summary = "The tenant's directory source (never its API key)",
    params(paths::Tenant),
    responses((status = 200, description = "The source", body = SourceView), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn source(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    read(&state, caller, "admin", move |c, _| {
        pull::source(c, &slug)?.ok_or(ServiceError::NotFound {
            kind: "directory source",
        })
    })
    .await
}

/// The API key is required the first time; left out later, the stored one is kept.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/directory-source",
    summary = "Connect JumpCloud, or change the source's settings (audited)",
    params(paths::Tenant),
    request_body = SourceInput,
    responses((status = 200, description = "The source now", body = SourceView), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn set_source(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: SourceInput = super::parse(body.0)?;
    let slug = tenant.into_inner();
    let keys = state.secrets.clone();
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| {
            let done = pull::configure(c, &slug, &input, &keys)?;
            audit(
                c,
                &scope.tenant,
                &scope.actor.id,
                "directory.source_configured",
                done.before,
                done.after,
                &Default::default(),
            )?;
            Ok(done.value)
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/directory-source",
    summary = "Disconnect the source; its runs go, the users and groups it wrote stay (audited)",
    params(paths::Tenant),
    responses((status = 204, description = "Removed"), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn delete_source(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    super::run(&state, caller, "admin", true, move |c, scope| {
        let done = pull::remove(c, &slug)?;
        audit(
            c,
            &scope.tenant,
            &scope.actor.id,
            "directory.source_removed",
            done.before,
            None,
            &Default::default(),
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// At most this many, newest first, 1 to 200 (default 20)
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/directory-runs",
    summary = "Sync runs, newest first",
    params(paths::Tenant, RunsQuery),
    responses((status = 200, description = "The runs", body = Vec<RunView>), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn runs(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: RunsQuery = query(&req)?;
    let slug = tenant.into_inner();
    read(&state, caller, "admin", move |c, _| {
        pull::runs(c, &slug, q.limit.unwrap_or(20))
    })
    .await
}

/// The run reads JumpCloud and records its diff in the background: poll the run until
/// it is `planned`, `no_changes` or `failed`. Nothing is applied by this call.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/directory-runs",
    summary = "Start a sync run now (a dry run: it only computes the diff)",
    params(paths::Tenant),
    responses(
        (status = 202, description = "The run, queued (or the one already queued or running)", body = RunView),
        Refusals,
    ),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn start_run(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    let response = respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::ACCEPTED,
        move |c, _| pull::queue_run(c, &slug),
    )
    .await?;
    state.directory_pull.notify_one();
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/directory-runs/{id}",
    summary = "One sync run: its state, summary, role impact and timings",
    params(paths::TenantItem),
    responses((status = 200, description = "The run", body = RunView), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn run(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, id) = path.into_inner();
    read(&state, caller, "admin", move |c, _| {
        pull::run(c, &slug, &id)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Changes after this sequence number (the previous page's `next`)
    after: Option<i64>,
    /// At most this many, 1 to 1000 (default 100)
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/directory-runs/{id}/changes",
    summary = "A run's diff, change by change, in the order it applies them",
    params(paths::TenantItem, ChangesQuery),
    responses((status = 200, description = "A page of changes", body = ChangePage), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn changes(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: ChangesQuery = query(&req)?;
    let (slug, id) = path.into_inner();
    read(&state, caller, "admin", move |c, _| {
        pull::changes(c, &slug, &id, q.after.unwrap_or(0), q.limit.unwrap_or(100))
    })
    .await
}

/// Only the newest planned run can be applied; with SCIM push too, only when the
/// tenant repairs drift. The worker applies it in batches: poll until `applied`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/directory-runs/{id}/apply",
    summary = "Apply a planned run (audited)",
    params(paths::TenantItem),
    responses(
        (status = 202, description = "The run, applying", body = RunView),
        (status = 409, description = "The run is not the newest planned one, or drift is only reported"),
        Refusals,
    ),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn apply(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    decide(state, caller, path, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/directory-runs/{id}/discard",
    summary = "Discard a planned run: nothing of it is applied (audited)",
    params(paths::TenantItem),
    responses((status = 200, description = "The run, discarded", body = RunView), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn discard(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    decide(state, caller, path, false).await
}

async fn decide(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    apply: bool,
) -> Result<HttpResponse, ApiError> {
    let (slug, id) = path.into_inner();
    let status = if apply {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let response = respond(
        &state,
        caller,
        "admin",
        Access::Write,
        status,
        move |c, scope| {
            let done = pull::decide(c, &slug, &id, apply, &scope.actor.id)?;
            let action = if apply {
                "directory.run_approved"
            } else {
                "directory.run_discarded"
            };
            audit(
                c,
                &scope.tenant,
                &scope.actor.id,
                action,
                done.before,
                done.after,
                &Default::default(),
            )?;
            Ok(done.value)
        },
    )
    .await?;
    state.directory_pull.notify_one();
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/deprovisioning-guard",
    summary = "The mass-deprovisioning guard: its threshold, what it holds, recent decisions",
    params(paths::Tenant),
    responses((status = 200, description = "The guard", body = HeldList), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn guard(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "admin", move |c, scope| {
        guard::list(c, &scope.tenant)
    })
    .await
}

#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/deprovisioning-guard",
    summary = "Set the guard's threshold, or turn it on or off (audited)",
    params(paths::Tenant),
    request_body = GuardSettings,
    responses((status = 200, description = "The settings now", body = GuardSettings), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn set_guard(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: GuardSettings = super::parse(body.0)?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| {
            let done = guard::set_settings(c, &scope.tenant, &input)?;
            audit(
                c,
                &scope.tenant,
                &scope.actor.id,
                "directory.guard_changed",
                done.before,
                done.after,
                &Default::default(),
            )?;
            Ok(done.value)
        },
    )
    .await
}

/// What an owner saw: decide the held changes up to this one (later ones wait).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// The last held change's `seq` in the list the owner reviewed.
    pub up_to: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/deprovisioning-guard/release",
    summary = "Apply the held changes up to `up_to`, in order (audited)",
    params(paths::Tenant),
    request_body = DecisionInput,
    responses((status = 200, description = "The guard after the decision", body = HeldList), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn release(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    decide_held(state, caller, body, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/deprovisioning-guard/discard",
    summary = "Drop the held changes up to `up_to`: they are never applied (audited)",
    params(paths::Tenant),
    request_body = DecisionInput,
    responses((status = 200, description = "The guard after the decision", body = HeldList), Refusals),
    tag = "directory",
    security(("api_key" = ["admin"]))
)]
pub async fn discard_held(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    decide_held(state, caller, body, false).await
}

async fn decide_held(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
    release: bool,
) -> Result<HttpResponse, ApiError> {
    let input: DecisionInput = super::parse(body.0)?;
    let slug = caller.slug().to_owned();
    // Authorizes the key and names the tenant.
    let scope = super::run(&state, caller, "admin", false, |_, scope| Ok(scope.clone())).await?;
    let decision = guard::Decision {
        release,
        up_to: input.up_to,
        by: scope.actor.clone(),
    };
    guard::decide_all(
        &state.service,
        &slug,
        &scope.tenant,
        &scope.base_url,
        decision,
    )
    .await?;
    let tenant = scope.tenant.clone();
    let list = state.service.run(move |c| guard::list(c, &tenant)).await?;
    Ok(super::view_json(StatusCode::OK, &list))
}
