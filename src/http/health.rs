//! Liveness, readiness and metrics.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use super::error::ApiError;
use super::state::AppState;
use crate::store::StoreError;

/// The process is alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers: 200, or 503 with `Retry-After`.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .run(|c| c.batch_execute("SELECT 1").map_err(StoreError::from))
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "status": "ready", "database": state.store.backend_name() })))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        ))
        .body(
            state
                .metrics
                .render(state.store.pool_state(), state.store.pipeline_stats()),
        )
}
