//! S10 Sync log and S12 Audit log: read-only screens with filters, keyset paging and
//! CSV/JSON exports (the same filters, the same writers as the application API).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::Value;

use super::ui::{self, Chrome};
use super::{html, AdminSession};
use crate::http::error::AdminError;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::admin::{audit_actions, audit_csv, audit_json, audit_page, AuditQuery};
use crate::service::sync_log::{self, body_json, page_json, to_csv, EXPORT_LIMIT};
use crate::store::admin::AuditRow;
use crate::store::sync_log::LogRow;

/// Rows per screen page.
const PAGE: i64 = 50;
/// The audit log is small per row and kept a year: an export may carry more of it.
const AUDIT_EXPORT_LIMIT: i64 = 10_000;

fn pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

fn param(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// `a=1&b=2` of the non-empty values, for links that keep the filters.
fn query_string(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", ui::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `format=csv|json`, or a 400.
fn export_format(pairs: &[(String, String)]) -> Result<&'static str, AdminError> {
    match param(pairs, "format").as_str() {
        "csv" => Ok("csv"),
        "json" => Ok("json"),
        _ => Err(AdminError::Service(
            Invalid::new(ScimType::InvalidValue, "'format' must be csv or json").into(),
        )),
    }
}

/// A download: never cached, saved rather than shown.
fn attachment(format: &str, name: &str, body: String) -> HttpResponse {
    let content_type = if format == "csv" {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{format}\""),
        ))
        .body(body)
}

/// The filters as the form shows them back.
#[derive(Default)]
struct SyncFilters {
    method: String,
    result: String,
    status: String,
    path: String,
    q: String,
}

impl SyncFilters {
    fn of(pairs: &[(String, String)]) -> Self {
        Self {
            method: param(pairs, "method").to_ascii_uppercase(),
            result: param(pairs, "result"),
            status: param(pairs, "status"),
            path: param(pairs, "path"),
            q: param(pairs, "q"),
        }
    }

    fn query(&self) -> String {
        query_string(&[
            ("method", &self.method),
            ("result", &self.result),
            ("status", &self.status),
            ("path", &self.path),
            ("q", &self.q),
        ])
    }
}

struct SyncRow {
    id: String,
    at: String,
    method: String,
    path: String,
    status: i32,
    latency_ms: String,
    resource: String,
    result: String,
    detail: String,
    request: Option<String>,
    response: Option<String>,
}

impl SyncRow {
    fn badge(&self) -> &'static str {
        match self.result.as_str() {
            "success" => "good",
            "failure" => "bad",
            _ => "warn",
        }
    }
}

fn pretty_body(stored: Option<&str>) -> Option<String> {
    body_json(stored).map(|v| match v {
        Value::String(text) => text,
        json => ui::pretty(&json),
    })
}

impl From<&LogRow> for SyncRow {
    fn from(r: &LogRow) -> Self {
        let resource = match (&r.resource_type, &r.resource_id) {
            (Some(t), Some(id)) => format!("{t} {id}"),
            (Some(t), None) => t.clone(),
            _ => String::new(),
        };
        Self {
            id: r.id.clone(),
            at: ui::when(&r.at),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            latency_ms: format!("{:.1}", r.latency_us as f64 / 1000.0),
            resource,
            result: r.result.clone(),
            detail: r.detail.clone().unwrap_or_default(),
            request: pretty_body(r.request_body.as_deref()),
            response: pretty_body(r.response_body.as_deref()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/sync_log.html")]
struct SyncLogPage {
    chrome: Chrome,
    f: SyncFilters,
    rows: Vec<SyncRow>,
    /// The filters as a query string, for the export links.
    filters: String,
    older: Option<String>,
    retention_days: u64,
}

/// `GET /admin/{tenant}/sync-log`.
pub async fn sync_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&req);
    let query = sync_log::query(&pairs, PAGE, PAGE)?;
    let rows = ui::read(&state, &session, &req, move |c, scope| {
        sync_log::page(c, &scope.tenant, &query)
    })
    .await?;
    let f = SyncFilters::of(&pairs);
    let filters = f.query();
    let chrome = session.chrome("sync-log");
    // A full page may have more behind it; the cursor is the last row shown.
    let older = (rows.len() as i64 == PAGE).then(|| {
        let last = rows.last().expect("a full page");
        let cursor = query_string(&[("before_at", &last.at), ("before_id", &last.id)]);
        let sep = if filters.is_empty() { "" } else { "&" };
        chrome.href(&format!("sync-log?{filters}{sep}{cursor}"))
    });
    let page = SyncLogPage {
        chrome,
        rows: rows.iter().map(SyncRow::from).collect(),
        f,
        filters,
        older,
        retention_days: crate::http::sync_log::RETENTION.as_secs() / 86_400,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/sync-log/export?format=csv|json&…`: the newest entries the
/// filters select, up to `limit` (at most and by default [`EXPORT_LIMIT`]).
pub async fn sync_log_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&req);
    let format = export_format(&pairs)?;
    let query = sync_log::query(&pairs, EXPORT_LIMIT, EXPORT_LIMIT)?;
    let rows = ui::read(&state, &session, &req, move |c, scope| {
        sync_log::page(c, &scope.tenant, &query)
    })
    .await?;
    let body = if format == "csv" {
        to_csv(&rows)
    } else {
        page_json(&rows).to_string()
    };
    Ok(attachment(format, "sync-log", body))
}

struct AuditEntry {
    at: String,
    actor: String,
    action: String,
    ip: String,
    user_agent: String,
    before: Option<String>,
    after: Option<String>,
}

fn pretty_stored(text: Option<&str>) -> Option<String> {
    text.map(|t| serde_json::from_str::<Value>(t).map_or_else(|_| t.to_owned(), |v| ui::pretty(&v)))
}

impl From<&AuditRow> for AuditEntry {
    fn from(r: &AuditRow) -> Self {
        Self {
            at: ui::when(&r.at),
            actor: r.actor.clone(),
            action: r.action.clone(),
            ip: r.ip.clone().unwrap_or_default(),
            user_agent: r.user_agent.clone().unwrap_or_default(),
            before: pretty_stored(r.before_json.as_deref()),
            after: pretty_stored(r.after_json.as_deref()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actions: Vec<String>,
    rows: Vec<AuditEntry>,
    filters: String,
    older: Option<String>,
}

fn audit_query(pairs: &[(String, String)], limit: i64) -> AuditQuery {
    let before_at = param(pairs, "before_at");
    let before_id = param(pairs, "before_id");
    let action = param(pairs, "action");
    AuditQuery {
        before: (!before_at.is_empty() && !before_id.is_empty()).then_some((before_at, before_id)),
        limit,
        action: (!action.is_empty()).then_some(action),
    }
}

/// `GET /admin/{tenant}/audit`.
pub async fn audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&req);
    let query = audit_query(&pairs, PAGE);
    let (rows, actions) = ui::read(&state, &session, &req, move |c, scope| {
        Ok((
            audit_page(c, &scope.tenant, &query)?,
            audit_actions(c, &scope.tenant)?,
        ))
    })
    .await?;
    let action = param(&pairs, "action");
    let filters = query_string(&[("action", &action)]);
    let chrome = session.chrome("audit");
    let older = (rows.len() as i64 == PAGE).then(|| {
        let last = rows.last().expect("a full page");
        let cursor = query_string(&[("before_at", &last.at), ("before_id", &last.id)]);
        let sep = if filters.is_empty() { "" } else { "&" };
        chrome.href(&format!("audit?{filters}{sep}{cursor}"))
    });
    let page = AuditPage {
        chrome,
        action,
        actions,
        rows: rows.iter().map(AuditEntry::from).collect(),
        filters,
        older,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/audit/export?format=csv|json&action=…`.
pub async fn audit_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&req);
    let format = export_format(&pairs)?;
    let query = audit_query(&pairs, AUDIT_EXPORT_LIMIT);
    let rows = ui::read(&state, &session, &req, move |c, scope| {
        audit_page(c, &scope.tenant, &query)
    })
    .await?;
    let body = if format == "csv" {
        audit_csv(&rows)
    } else {
        Value::Array(rows.iter().map(audit_json).collect()).to_string()
    };
    Ok(attachment(format, "audit-log", body))
}
