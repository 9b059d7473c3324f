//! `GET /snapshot`: every user with its roles, to bootstrap from before following the
//! feed (see `service::snapshot` for why pages and feed add up to roster's state).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{paths, query, read, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::snapshot::{self, SnapshotPage};

/// The snapshot's query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// Users after this id: the previous page's `next_after` (omit on the first page)
    after: Option<String>,
    /// At most this many users, 1 to 1000 (default 100)
    limit: Option<i64>,
    /// The first page's `sequence`; required with `after`
    at: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/snapshot",
    summary = "Every user with its roles, and the feed sequence to follow from",
    description = "Read every page (pass `next_after` as `after` and the first page's `sequence` as `at`), then follow `/events?after=<sequence>`, applying each event's after-state: the result is roster's state. Later pages may already show changes made after `sequence`; those are in the feed too.",
    params(paths::Tenant, SnapshotQuery),
    responses(
        (status = 200, description = "One page of users, in id order", body = SnapshotPage),
        Refusals,
        (status = 410, description = "Events after `at` are past their retention and deleted: start again without `at`"),
    ),
    tag = "events",
    security(("api_key" = ["events:read"]))
)]
pub async fn snapshot(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: SnapshotQuery = query(&req)?;
    read(&state, caller, "events:read", move |c, scope| {
        snapshot::page(
            c,
            &scope.tenant,
            q.at,
            q.after.as_deref(),
            q.limit.unwrap_or(100),
        )
    })
    .await
}
