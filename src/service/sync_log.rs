//! The sync log as admins read it (S10): filters, pages and the JSON and CSV exports,
//! shared by the application API and the admin UI.

use serde_json::{json, Value};

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

/// The newest entries first.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &Query,
) -> Result<Vec<LogRow>, ServiceError> {
    Ok(sync_log::page(conn, tenant, q)?)
}

/// A stored body as JSON (or the text it was, when it was not JSON).
pub fn body_json(b: Option<&str>) -> Option<Value> {
    b.map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
}

pub fn entry_json(r: &LogRow) -> Value {
    json!({
        "id": r.id,
        "at": r.at,
        "method": r.method,
        "path": r.path,
        "status": r.status,
        "latency_ms": r.latency_us as f64 / 1000.0,
        "result": r.result,
        "detail": r.detail,
        "resource_type": r.resource_type,
        "resource_id": r.resource_id,
        "request_body": body_json(r.request_body.as_deref()),
        "response_body": body_json(r.response_body.as_deref()),
    })
}

/// A page as the JSON export and API give it: the entries and the cursor of the next.
pub fn page_json(rows: &[LogRow]) -> Value {
    let next = rows
        .last()
        .map(|r| json!({"before_at": r.at, "before_id": r.id}));
    json!({
        "data": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "next": next,
    })
}

pub fn to_csv(rows: &[LogRow]) -> String {
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
