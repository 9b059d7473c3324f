//! The sync log as admins read it (S10): filters, pages and the JSON and CSV exports,
//! shared by the application API and the admin UI.

use serde_json::Value;

use super::csv::{field, push_line};
use super::ServiceError;
use crate::scim::{Invalid, ScimType};
use crate::store::sync_log::{self, LogRow};
use crate::store::{DbConnection, TenantId};

pub use crate::store::sync_log::Query;

/// Most rows one export carries; further back, page with `before_at`/`before_id`.
pub const EXPORT_LIMIT: i64 = 1000;

/// The filters of a query string: `method`, `result`, `status`, `path` (contains), `q`
/// (free text), the cursor `before_at` + `before_id`, and `limit` (clamped to
/// `1..=max`, `default` when absent). Empty values mean no filter, as a blank form sends.
pub fn query(pairs: &[(String, String)], default: i64, max: i64) -> Result<Query, ServiceError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let number = |name: &str| -> Result<Option<i64>, ServiceError> {
        get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    Invalid::new(
                        ScimType::InvalidValue,
                        format!("'{name}' must be an integer"),
                    )
                    .into()
                })
            })
            .transpose()
    };
    Ok(Query {
        before: get("before_at").zip(get("before_id")),
        limit: number("limit")?.unwrap_or(default).clamp(1, max),
        method: get("method"),
        result: get("result"),
        status: number("status")?.map(|s| s as i32),
        path_contains: get("path"),
        text: get("q"),
    })
}

/// Whether a logged request succeeded (a status below 400); stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncResult {
    Success,
    Failure,
}

impl SyncResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResult::Success => "success",
            SyncResult::Failure => "failure",
        }
    }

    /// The stored text; only `success` and `failure` are ever written.
    fn stored(text: &str) -> Self {
        if text == "success" {
            SyncResult::Success
        } else {
            SyncResult::Failure
        }
    }
}

/// One SCIM request of the sync log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncLogEntry {
    /// The request id (also the `X-Request-Id` the response carried).
    pub id: String,
    /// When the request arrived (RFC 3339, UTC).
    pub at: String,
    pub method: String,
    pub path: String,
    /// The HTTP status answered.
    pub status: i32,
    pub latency_ms: f64,
    pub result: SyncResult,
    /// Why it failed, when it did.
    #[schema(required = true)]
    pub detail: Option<String>,
    /// `User` or `Group`, when the request was about one.
    #[schema(required = true)]
    pub resource_type: Option<String>,
    #[schema(required = true)]
    pub resource_id: Option<String>,
    /// The body as JSON with secrets redacted (or the text it was, when not JSON).
    #[schema(required = true)]
    pub request_body: Option<Value>,
    #[schema(required = true)]
    pub response_body: Option<Value>,
}

impl From<&LogRow> for SyncLogEntry {
    fn from(r: &LogRow) -> Self {
        Self {
            id: r.id.clone(),
            at: r.at.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            latency_ms: r.latency_us as f64 / 1000.0,
            result: SyncResult::stored(&r.result),
            detail: r.detail.clone(),
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            request_body: body_json(r.request_body.as_deref()),
            response_body: body_json(r.response_body.as_deref()),
        }
    }
}

/// Where the next (older) page starts.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Cursor {
    pub before_at: String,
    pub before_id: String,
}

/// A page as the JSON export and API give it: the entries and the cursor of the next.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncLogPage {
    /// Newest first.
    pub data: Vec<SyncLogEntry>,
    /// `null` on an empty page.
    #[schema(required = true)]
    pub next: Option<Cursor>,
}

/// The newest entries first.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &Query,
) -> Result<SyncLogPage, ServiceError> {
    let rows = sync_log::page(conn, tenant, q)?;
    Ok(SyncLogPage {
        next: rows.last().map(|r| Cursor {
            before_at: r.at.clone(),
            before_id: r.id.clone(),
        }),
        data: rows.iter().map(SyncLogEntry::from).collect(),
    })
}

/// The names of the users and groups `entries` are about, for a screen to show in
/// place of their ids (deleted ones have none).
pub fn resource_names(
    conn: &mut DbConnection,
    tenant: &TenantId,
    entries: &[SyncLogEntry],
) -> Result<super::directory::Names, ServiceError> {
    let ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.resource_id.clone())
        .collect();
    super::directory::Names::load(conn, tenant, &ids, &ids)
}

/// The same entries as CSV, with the bodies as stored.
pub fn csv(conn: &mut DbConnection, tenant: &TenantId, q: &Query) -> Result<String, ServiceError> {
    Ok(to_csv(&sync_log::page(conn, tenant, q)?))
}

/// A stored body as JSON (or the text it was, when it was not JSON).
fn body_json(b: Option<&str>) -> Option<Value> {
    b.map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
}

fn to_csv(rows: &[LogRow]) -> String {
    let mut out = String::from(
        "id,at,method,path,status,latency_ms,result,detail,resource_type,resource_id,request_body,response_body\r\n",
    );
    for r in rows {
        push_line(
            &mut out,
            &[
                field(&r.id),
                field(&r.at),
                field(&r.method),
                field(&r.path),
                r.status.to_string(),
                format!("{:.3}", r.latency_us as f64 / 1000.0),
                field(&r.result),
                field(r.detail.as_deref().unwrap_or("")),
                field(r.resource_type.as_deref().unwrap_or("")),
                field(r.resource_id.as_deref().unwrap_or("")),
                field(r.request_body.as_deref().unwrap_or("")),
                field(r.response_body.as_deref().unwrap_or("")),
            ],
        );
    }
    out
}
