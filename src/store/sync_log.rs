//! The sync log: SCIM requests as the admin sees them.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::schema::{scim_request_log, tenants};
use super::TenantId;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_request_log)]
pub struct LogRow {
    pub tenant_id: String,
    pub id: String,
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub latency_us: i64,
    pub result: String,
    pub detail: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

/// Tenant ids by slug, for the slugs that exist.
pub fn tenant_ids(
    conn: &mut DbConnection,
    slugs: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(tenants::table
        .filter(tenants::slug.eq_any(slugs))
        .select((tenants::slug, tenants::id))
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, rows: &[LogRow]) -> Result<(), StoreError> {
    // A request id seen twice keeps its first row. diesel has multi-row
    // `ON CONFLICT DO NOTHING` only on PostgreSQL; SQLite rows go one by one, which
    // inside one transaction costs about the same there.
    match conn {
        DbConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(scim_request_log::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
        }
        DbConnection::Postgres(c) => {
            for chunk in rows.chunks(500) {
                diesel::insert_into(scim_request_log::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// What the admin filters on.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Entries strictly older than this `(at, id)`, for paging backwards in time.
    pub before: Option<(String, String)>,
    pub limit: i64,
    pub method: Option<String>,
    /// `success`, `failure` or `skipped`.
    pub result: Option<String>,
    pub status: Option<i32>,
    /// A substring of the path (a user id, `Groups`, …).
    pub path_contains: Option<String>,
    /// A substring of the path, detail, request id or either body (an e-mail address).
    pub text: Option<String>,
}

diesel::define_sql_function! {
    /// SQL's `lower()`, which SQLite and PostgreSQL both have.
    fn lower(text: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// `%part%` for `LIKE … ESCAPE '\'`: the part's own wildcards match literally.
fn contains_pattern(part: &str) -> String {
    let escaped = part
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The newest entries first.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &Query,
) -> Result<Vec<LogRow>, StoreError> {
    let mut query = scim_request_log::table
        .filter(scim_request_log::tenant_id.eq(&tenant.0))
        .order((scim_request_log::at.desc(), scim_request_log::id.desc()))
        .limit(q.limit)
        .select(LogRow::as_select())
        .into_boxed();
    if let Some((at, id)) = &q.before {
        query = query.filter(
            scim_request_log::at.lt(at.clone()).or(scim_request_log::at
                .eq(at.clone())
                .and(scim_request_log::id.lt(id.clone()))),
        );
    }
    if let Some(method) = &q.method {
        query = query.filter(scim_request_log::method.eq(method.to_ascii_uppercase()));
    }
    if let Some(result) = &q.result {
        query = query.filter(scim_request_log::result.eq(result.clone()));
    }
    if let Some(status) = q.status {
        query = query.filter(scim_request_log::status.eq(status));
    }
    if let Some(part) = &q.path_contains {
        query = query.filter(
            scim_request_log::path
                .like(contains_pattern(part))
                .escape('\\'),
        );
    }
    if let Some(text) = &q.text {
        // Lower case on both sides, so the search ignores case alike on SQLite (whose
        // LIKE already does, for ASCII) and PostgreSQL. A scan of the tenant's rows;
        // 30 days of one tenant's log is small enough.
        let pattern = contains_pattern(&text.to_lowercase());
        let p = || pattern.clone();
        query = query.filter(
            lower(scim_request_log::path.nullable())
                .like(p())
                .escape('\\')
                .or(lower(scim_request_log::id.nullable())
                    .like(p())
                    .escape('\\'))
                .or(lower(scim_request_log::detail).like(p()).escape('\\'))
                .or(lower(scim_request_log::request_body).like(p()).escape('\\'))
                .or(lower(scim_request_log::response_body)
                    .like(p())
                    .escape('\\')),
        );
    }
    Ok(query.load(conn)?)
}

/// Deletes up to `batch` entries older than `cutoff`; returns how many.
pub fn prune(conn: &mut DbConnection, cutoff: &str, batch: i64) -> Result<usize, StoreError> {
    let old: Vec<(String, String)> = scim_request_log::table
        .filter(scim_request_log::at.lt(cutoff))
        .select((scim_request_log::tenant_id, scim_request_log::id))
        .limit(batch)
        .load(conn)?;
    let mut deleted = 0;
    for (tenant, id) in old {
        deleted += diesel::delete(scim_request_log::table.find((tenant, id))).execute(conn)?;
    }
    Ok(deleted)
}
