//! S10 Sync log and S12 Audit log: read-only screens with filters, keyset paging and
//! CSV/JSON exports (the same filters, the same writers as the application API).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::Value;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome};
use crate::scim::{Invalid, ScimType};
use crate::service::admin::{audit_actions, audit_csv, audit_page, AuditEntry, AuditQuery};
use crate::service::directory::Names;
use crate::service::run::Tx;
use crate::service::sync_log::{self, Cursor, SyncLogEntry, SyncResult, EXPORT_LIMIT};
use crate::service::{Scope, ServiceError};

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

/// A view as an export's JSON text.
fn to_json<T: serde::Serialize>(view: &T) -> String {
    serde_json::to_string(view).unwrap_or_else(|_| "null".into())
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

/// An entry as the screen shows it: the view, and what it formats for people.
struct SyncRow {
    entry: SyncLogEntry,
    at: String,
    latency_ms: String,
    /// `User` or `Group`, when the request was about one.
    resource_kind: String,
    /// Its `userName` or `displayName` and its page, while it exists.
    resource_name: Option<(String, String)>,
    /// Its id, when it no longer exists (or none was named).
    resource_id: Option<String>,
    request: Option<String>,
    response: Option<String>,
}

impl SyncRow {
    fn badge(&self) -> &'static str {
        match self.entry.result {
            SyncResult::Success => "good",
            SyncResult::Failure => "bad",
        }
    }
}

/// A body or before/after state for a `<pre>`: text as it is, JSON pretty-printed.
fn pretty_body(body: Option<&Value>) -> Option<String> {
    body.map(|v| match v {
        Value::String(text) => text.clone(),
        json => ui::pretty(json),
    })
}

impl SyncRow {
    fn new(entry: SyncLogEntry, names: &Names) -> Self {
        let kind = entry.resource_type.clone().unwrap_or_default();
        let name = entry.resource_id.as_ref().and_then(|id| {
            let (name, screen) = match kind.as_str() {
                "User" => (names.users.get(id), "users"),
                "Group" => (names.groups.get(id), "groups"),
                _ => (None, ""),
            };
            name.map(|n| (n.clone(), format!("{screen}/{id}")))
        });
        Self {
            at: ui::when(&entry.at),
            latency_ms: format!("{:.1}", entry.latency_ms),
            resource_id: entry.resource_id.clone().filter(|_| name.is_none()),
            resource_name: name,
            resource_kind: kind,
            request: pretty_body(entry.request_body.as_ref()),
            response: pretty_body(entry.response_body.as_ref()),
            entry,
        }
    }
}

/// The link to the page after a full one, keeping the filters; `None` after a short one.
fn older(
    chrome: &Chrome,
    screen: &str,
    filters: &str,
    full: bool,
    next: Option<&Cursor>,
) -> Option<String> {
    let next = next.filter(|_| full)?;
    let cursor = query_string(&[
        ("before_at", &next.before_at),
        ("before_id", &next.before_id),
    ]);
    let sep = if filters.is_empty() { "" } else { "&" };
    Some(chrome.href(&format!("{screen}?{filters}{sep}{cursor}")))
}

#[derive(Template)]
#[template(path = "admin/sync_log.html")]
struct SyncLogScreen {
    chrome: Chrome,
    f: SyncFilters,
    rows: Vec<SyncRow>,
    /// The filters as a query string, for the export links.
    filters: String,
    older: Option<String>,
    retention_days: u64,
}

/// `GET /admin/{tenant}/sync-log`.
pub async fn sync_log(admin: Admin) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&admin.req);
    let query = sync_log::query(&pairs, PAGE, PAGE)?;
    let (page, names) = admin
        .read(move |c, scope| {
            let page = sync_log::page(c, &scope.tenant, &query)?;
            let names = sync_log::resource_names(c, &scope.tenant, &page.data)?;
            Ok((page, names))
        })
        .await?;
    let f = SyncFilters::of(&pairs);
    let filters = f.query();
    let chrome = admin.chrome("sync-log");
    // A full page may have more behind it.
    let full = page.data.len() as i64 == PAGE;
    let older = older(&chrome, "sync-log", &filters, full, page.next.as_ref());
    let page = SyncLogScreen {
        chrome,
        rows: page
            .data
            .into_iter()
            .map(|e| SyncRow::new(e, &names))
            .collect(),
        f,
        filters,
        older,
        retention_days: crate::jobs::sync_log::RETENTION.as_secs() / 86_400,
    };
    html(StatusCode::OK, page.render()?)
}

/// An export download in the query's `format`; `write` makes its body from the query.
async fn export<F>(admin: &Admin, name: &'static str, write: F) -> Result<HttpResponse, AdminError>
where
    F: FnOnce(&mut Tx<'_>, &Scope, &[(String, String)], bool) -> Result<String, ServiceError>
        + Send
        + 'static,
{
    let pairs = pairs(&admin.req);
    let format = export_format(&pairs)?;
    let body = admin
        .read(move |c, scope| write(c, scope, &pairs, format == "csv"))
        .await?;
    Ok(attachment(format, name, body))
}

/// `GET /admin/{tenant}/sync-log/export?format=csv|json&…`: the newest entries the
/// filters select, up to `limit` (at most and by default [`EXPORT_LIMIT`]).
pub async fn sync_log_export(admin: Admin) -> Result<HttpResponse, AdminError> {
    export(&admin, "sync-log", |c, scope, pairs, csv| {
        let query = sync_log::query(pairs, EXPORT_LIMIT, EXPORT_LIMIT)?;
        if csv {
            sync_log::csv(c, &scope.tenant, &query)
        } else {
            Ok(to_json(&sync_log::page(c, &scope.tenant, &query)?))
        }
    })
    .await
}

/// An audit entry as the screen shows it.
struct AuditLine {
    entry: AuditEntry,
    at: String,
    before: Option<String>,
    after: Option<String>,
}

impl From<AuditEntry> for AuditLine {
    fn from(entry: AuditEntry) -> Self {
        Self {
            at: ui::when(&entry.at),
            before: pretty_body(entry.before.as_ref()),
            after: pretty_body(entry.after.as_ref()),
            entry,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actions: Vec<String>,
    rows: Vec<AuditLine>,
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
pub async fn audit(admin: Admin) -> Result<HttpResponse, AdminError> {
    let pairs = pairs(&admin.req);
    let query = audit_query(&pairs, PAGE);
    let (rows, actions) = admin
        .read(move |c, scope| {
            Ok((
                audit_page(c, &scope.tenant, &query)?,
                audit_actions(c, &scope.tenant)?,
            ))
        })
        .await?;
    let action = param(&pairs, "action");
    let filters = query_string(&[("action", &action)]);
    let chrome = admin.chrome("audit");
    let next = rows.last().map(|last| Cursor {
        before_at: last.at.clone(),
        before_id: last.id.clone(),
    });
    let full = rows.len() as i64 == PAGE;
    let older = older(&chrome, "audit", &filters, full, next.as_ref());
    let page = AuditPage {
        chrome,
        action,
        actions,
        rows: rows.into_iter().map(AuditLine::from).collect(),
        filters,
        older,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/audit/export?format=csv|json&action=…`.
pub async fn audit_export(admin: Admin) -> Result<HttpResponse, AdminError> {
    export(&admin, "audit-log", |c, scope, pairs, csv| {
        let query = audit_query(pairs, AUDIT_EXPORT_LIMIT);
        if csv {
            audit_csv(c, &scope.tenant, &query)
        } else {
            Ok(to_json(&audit_page(c, &scope.tenant, &query)?))
        }
    })
    .await
}
