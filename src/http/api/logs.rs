//! `GET /sync-log`: the tenant's SCIM requests, newest first, as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{paths, read, run, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::sync_log::{self, SyncLogPage};

const MAX_PAGE: i64 = 1000;

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/sync-log",
    params(
        paths::Tenant,
        ("method" = Option<String>, Query, description = "Only this HTTP method"),
        ("result" = Option<sync_log::SyncResult>, Query, description = "Only successes or failures"),
        ("status" = Option<i32>, Query, description = "Only this HTTP status"),
        ("path" = Option<String>, Query, description = "Only paths containing this"),
        ("q" = Option<String>, Query, description = "Free text: an e-mail, an id, a detail"),
        ("before_at" = Option<String>, Query, description = "Cursor: the `next.before_at` of the previous page"),
        ("before_id" = Option<String>, Query, description = "Cursor: the `next.before_id` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Entries per page, 1 to 1000 (default 100)"),
        ("format" = Option<String>, Query, description = "`csv` for CSV (`text/csv`) instead of JSON"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = SyncLogPage),
        (status = 400, description = "A filter that is not a number where one is needed"),
        Refusals,
    ),
    tag = "sync log",
    security(("api_key" = ["admin"]))
)]
pub async fn sync_log(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let query = sync_log::query(&pairs, 100, MAX_PAGE)?;
    if pairs.iter().any(|(k, v)| k == "format" && v == "csv") {
        let csv = run(&state, caller, "admin", false, move |c, scope| {
            sync_log::csv(c, &scope.tenant, &query)
        })
        .await?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"sync-log.csv\"",
            ))
            .body(csv));
    }
    read(&state, caller, "admin", move |c, scope| {
        sync_log::page(c, &scope.tenant, &query)
    })
    .await
}
