//! `GET /sync-log`: the tenant's SCIM requests, newest first, as JSON or CSV.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{ok, run, KeyCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::ServiceError;
use crate::store::sync_log::{self, LogRow, Query};

const MAX_PAGE: i64 = 1000;

pub async fn sync_log(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::from(Invalid::new(
                        ScimType::InvalidValue,
                        format!("'{name}' must be an integer"),
                    ))
                })
            })
            .transpose()
    };
    let query = Query {
        before: get("before_at").zip(get("before_id")),
        limit: number("limit")?.unwrap_or(100).clamp(1, MAX_PAGE),
        method: get("method"),
        result: get("result"),
        status: number("status")?.map(|s| s as i32),
        path_contains: get("path"),
    };
    let csv = get("format").as_deref() == Some("csv");
    let rows = run(&state, caller, "admin", false, move |c, scope| {
        Ok::<_, ServiceError>(sync_log::page(c, &scope.tenant, &query)?)
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
    let next = rows
        .last()
        .map(|r| json!({"before_at": r.at, "before_id": r.id}));
    Ok(ok(json!({
        "data": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

fn entry_json(r: &LogRow) -> Value {
    let body = |b: &Option<String>| {
        b.as_deref()
            .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
    };
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
        "request_body": body(&r.request_body),
        "response_body": body(&r.response_body),
    })
}

/// RFC 4180 CSV; fields that start like a formula are prefixed with `'` so a
/// spreadsheet opening the export does not run them.
fn to_csv(rows: &[LogRow]) -> String {
    let field = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    let mut out = String::from(
        "id,at,method,path,status,latency_ms,result,detail,resource_type,resource_id,request_body,response_body\r\n",
    );
    for r in rows {
        let cells = [
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
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}
