//! Liveness, readiness and metrics.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::state::AppState;
use crate::service::{fleet, ServiceError};

/// The process is alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// How long readiness waits for the database: a hung one must read as not ready.
const READY_DEADLINE: Duration = Duration::from_secs(1);

/// Ready to take traffic: the database is prepared and answers within a second, and
/// no drain is under way. Else 503 with `Retry-After`.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.lifecycle.draining() {
        return Ok(HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "5"))
            .json(json!({ "status": "draining" })));
    }
    if !state.lifecycle.prepared() {
        return Err(ServiceError::unavailable("the database is not prepared yet").into());
    }
    state.service.ping(READY_DEADLINE).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "status": "ready", "database": state.service.backend_name() })))
}

pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !state.metrics_access.allows(authorization) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish();
    }
    // A database that does not answer leaves the per-tenant gauges out; the scrape
    // still says so (`roster_metrics_database_ok 0`) and carries the process's own.
    let fleet = state.service.run(|c| fleet::fleet(c, false)).await.ok();
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        ))
        .body(state.metrics.render(
            state.service.pool_state(),
            state.service.pipeline_stats(),
            &metric_counters(&state),
            fleet.as_deref(),
        ))
}

fn metric_counters(state: &AppState) -> Vec<(&'static str, &'static str, u64)> {
    let mut counters = state.limiters.counters().to_vec();
    counters.push((
        "roster_log_lines_dropped",
        "Log lines lost to a failing, full or stalled log destination.",
        crate::telemetry::dropped_lines(),
    ));
    counters
}
