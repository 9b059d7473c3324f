//! `GET /sync-log`: the tenant's SCIM requests, newest first, as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{ok, run, KeyCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::sync_log::{self, page_json, to_csv};

const MAX_PAGE: i64 = 1000;

pub async fn sync_log(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let query = sync_log::query(&pairs, 100, MAX_PAGE)?;
    let csv = pairs.iter().any(|(k, v)| k == "format" && v == "csv");
    let rows = run(&state, caller, "admin", false, move |c, scope| {
        sync_log::page(c, &scope.tenant, &query)
    })
    .await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"sync-log.csv\"",
            ))
            .body(to_csv(&rows)));
    }
    Ok(ok(page_json(&rows)))
}
