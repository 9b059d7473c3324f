//! `/Users` and `/Groups`: one set of handlers, dispatched on the endpoint in the path.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::Value;

use super::media::{query_pairs, resource_response, scim_json, ScimBody};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scim::bulk::{self, BulkError};
use crate::scim::etag::{Outcome, Preconditions};
use crate::scim::limits;
use crate::scim::list::{self, ListParams, Projection};
use crate::scim::schema::{ResourceKind, BULK_RESPONSE};
use crate::scim::{Invalid, ScimType};
use crate::service::run::Tx;
use crate::service::{self, groups, guard, now, users, ListPage, Rendered, Scope, ServiceError};

/// The resource type an endpoint segment names (the route only admits these two).
/// Clients send `users` and `GROUPS` too: endpoint names match in any case.
fn kind(endpoint: &str) -> Result<ResourceKind, ApiError> {
    if endpoint.eq_ignore_ascii_case("Users") {
        Ok(ResourceKind::User)
    } else if endpoint.eq_ignore_ascii_case("Groups") {
        Ok(ResourceKind::Group)
    } else {
        Err(ApiError::UnknownEndpoint)
    }
}

/// The attribute computed from membership rows, loaded only when it will be shown.
fn linked_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    }
}

fn projection(req: &HttpRequest) -> Result<Projection, ApiError> {
    let pairs = query_pairs(req);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Ok(list::parse_projection(
        get("attributes"),
        get("excludedAttributes"),
    )?)
}

/// `If-Match` / `If-None-Match` of a request.
fn preconditions(req: &HttpRequest) -> Preconditions {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    Preconditions::parse(header(header::IF_MATCH), header(header::IF_NONE_MATCH))
}

fn respond(
    status: StatusCode,
    kind: ResourceKind,
    rendered: &Rendered,
    projection: &Projection,
) -> HttpResponse {
    let body = projection.apply(kind, rendered.body.clone());
    resource_response(status, rendered, &body)
}

/// Whether a use case writes (writes join a group commit; see `store::pipeline`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Authenticates the caller and runs one read, in a single database hop.
pub async fn scoped<T, F>(state: &AppState, caller: Caller, use_case: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    let key = caller.slug().to_owned();
    let ip = caller.ip().map(str::to_owned);
    let _share = state
        .limiters
        .reads
        .acquire(&key, crate::http::limits::READ_SHARE_WAIT)
        .await?;
    let done = state
        .service
        .run(move |c| {
            let scope = caller.authorize(c, false)?;
            use_case(c, &scope)
        })
        .await;
    if let Err(ServiceError::Unauthenticated) = done {
        state.limiters.authentication_failed(ip.as_deref(), &key);
    }
    Ok(done?)
}

/// How a SCIM write may run: `Again` if it loses a lock race to another batch of its
/// tenant (see `store::pipeline`: it is rolled back and runs again, so its use case
/// clones what it hands on), or `Once`, with the tenant to itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runs {
    Again,
    Once,
}

/// Authenticates the caller and runs one SCIM write.
async fn scoped_write<T, F>(
    state: &AppState,
    caller: Caller,
    runs: Runs,
    mut use_case: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnMut(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    let key = caller.slug().to_owned();
    let ip = caller.ip().map(str::to_owned);
    let mut work = move |c: &mut Tx<'_>| {
        let scope = caller.authorize(c, true)?;
        use_case(c, &scope)
    };
    let done = match runs {
        Runs::Again => state.service.write_retryable(&key, work).await,
        Runs::Once => state.service.write(&key, move |c| work(c)).await,
    };
    if let Err(ServiceError::Unauthenticated) = done {
        state.limiters.authentication_failed(ip.as_deref(), &key);
    }
    Ok(done?)
}

/// `GET /{endpoint}`: list with filter, paging and projection.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&path.1)?;
    let params = list::parse_params(&query_pairs(&req), state.limits.max_page_size)?;
    run_list(&state, caller, kind, params).await
}

/// `POST /{endpoint}/.search` (RFC 7644 §3.4.3): the same query in a JSON body.
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&path.1)?;
    list::check_search_request(&body.0)?;
    let params = list::parse_params(&search_pairs(body.0)?, state.limits.max_page_size)?;
    run_list(&state, caller, kind, params).await
}

/// `POST /.search` at the tenant root: Users and Groups in one list.
pub async fn search_all(
    state: web::Data<AppState>,
    caller: Caller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    list::check_search_request(&body.0)?;
    let params = list::parse_params(&search_pairs(body.0)?, state.limits.max_page_size)?;
    let with_groups = params
        .projection
        .wants(linked_attribute(ResourceKind::User));
    let with_members = params
        .projection
        .wants(linked_attribute(ResourceKind::Group));
    let query = params.clone();
    let (total, resources) = scoped(&state, caller, move |c, scope| {
        service::search_all(c, scope, &query, with_groups, with_members)
    })
    .await?;
    let resources = resources
        .into_iter()
        .map(|(kind, r)| params.projection.apply(kind, r))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list::list_response(total, params.start_index, resources),
    ))
}

/// A `SearchRequest` body as the query pairs a GET would carry.
fn search_pairs(body: Value) -> Result<Vec<(String, String)>, ApiError> {
    let Value::Object(fields) = body else {
        return Err(Invalid::new(
            ScimType::InvalidSyntax,
            "a SearchRequest must be a JSON object",
        )
        .into());
    };
    let mut pairs = Vec::new();
    for (key, value) in fields {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        pairs.push((key, text));
    }
    Ok(pairs)
}

async fn run_list(
    state: &AppState,
    caller: Caller,
    kind: ResourceKind,
    params: ListParams,
) -> Result<HttpResponse, ApiError> {
    let linked = params.projection.wants(linked_attribute(kind));
    let query = params.clone();
    let page = scoped(state, caller, move |c, scope| match kind {
        ResourceKind::User => users::list(c, scope, &query, linked),
        ResourceKind::Group => groups::list(c, scope, &query, linked),
    })
    .await?;
    Ok(list_page(&params, page, |r| {
        params.projection.apply(kind, r)
    }))
}

/// The `ListResponse` of a page: RFC 9865's form when it was paged by cursor.
fn list_page(
    params: &ListParams,
    page: ListPage,
    project: impl Fn(Value) -> Value,
) -> HttpResponse {
    let resources = page.resources.into_iter().map(project).collect();
    let body = match &page.cursors {
        Some(cursors) => list::cursor_list_response(page.total, resources, cursors),
        None => list::list_response(page.total, params.start_index, resources),
    };
    scim_json(StatusCode::OK, &body)
}

/// `POST /{endpoint}`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: ScimBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&path.1)?;
    let projection = projection(&req)?;
    limits::check_resource(kind, &body.0)?;
    let rendered = scoped_write(&state, caller, Runs::Again, move |c, scope| match kind {
        ResourceKind::User => users::create(c, scope, body.0.clone(), &now()),
        ResourceKind::Group => groups::create(c, scope, body.0.clone(), &now()),
    })
    .await?;
    Ok(respond(StatusCode::CREATED, kind, &rendered, &projection))
}

/// `GET /{endpoint}/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint, id) = path.into_inner();
    let kind = kind(&endpoint)?;
    let projection = projection(&req)?;
    if kind == ResourceKind::Group && projection.is_empty() {
        return stream_group(&state, caller, id, preconditions(&req)).await;
    }
    let linked = projection.wants(linked_attribute(kind));
    let rendered = scoped(&state, caller, move |c, scope| match kind {
        ResourceKind::User => users::get(c, scope, &id, linked),
        ResourceKind::Group => groups::get(c, scope, &id, linked),
    })
    .await?;
    match preconditions(&req).for_read(&rendered.etag) {
        Outcome::Proceed => Ok(respond(StatusCode::OK, kind, &rendered, &projection)),
        Outcome::NotModified => Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, rendered.etag))
            .finish()),
        Outcome::Failed => Err(ServiceError::PreconditionFailed.into()),
    }
}

/// A whole group, streamed while it is read (see `groups::get_streaming`).
async fn stream_group(
    state: &AppState,
    caller: Caller,
    id: String,
    pre: Preconditions,
) -> Result<HttpResponse, ApiError> {
    let (head_tx, head_rx) = tokio::sync::oneshot::channel::<Result<Rendered, ServiceError>>();
    let (chunk_tx, mut chunk_rx) =
        tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    let decide = pre.clone();
    state.service.stream(move |conn| {
        let mut head_tx = Some(head_tx);
        let result = conn.and_then(|c| {
            let scope = caller.authorize(c, false)?;
            groups::get_streaming(
                c,
                &scope,
                &id,
                |head| {
                    let proceed = decide.for_read(&head.etag) == Outcome::Proceed;
                    if let Some(tx) = head_tx.take() {
                        let _ = tx.send(Ok(head.clone()));
                    }
                    proceed
                },
                |chunk| chunk_tx.blocking_send(Ok(web::Bytes::from(chunk))).is_ok(),
            )
        });
        if let Err(e) = result {
            match head_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                // Too late for a status: cut the body so the client sees a broken response.
                None => {
                    let _ = chunk_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                }
            }
        }
    });
    let head = head_rx
        .await
        .map_err(|_| ApiError::from(ServiceError::unavailable("stream ended early")))??;
    match pre.for_read(&head.etag) {
        Outcome::NotModified => {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, head.etag))
                .finish())
        }
        Outcome::Failed => return Err(ServiceError::PreconditionFailed.into()),
        Outcome::Proceed => {}
    }
    let body = futures_util::stream::poll_fn(move |cx| chunk_rx.poll_recv(cx));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, crate::http::error::SCIM_CONTENT_TYPE))
        .insert_header((header::ETAG, head.etag))
        .streaming(body))
}

/// `PUT /{endpoint}/{id}`: 200 with the resource after the change.
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    body: ScimBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint, id) = path.into_inner();
    let kind = kind(&endpoint)?;
    let projection = projection(&req)?;
    let pre = preconditions(&req);
    limits::check_resource(kind, &body.0)?;
    let target = id.clone();
    let reader = caller.clone();
    let rendered = scoped_write(&state, caller, Runs::Again, move |c, scope| {
        guarded(guard::scim(
            c,
            scope,
            "PUT",
            kind,
            &target,
            body.0.clone(),
            &pre,
            &now(),
        ))
    })
    .await?;
    let rendered =
        with_members_after_commit(&state, reader, kind, &id, &projection, rendered).await;
    Ok(respond(StatusCode::OK, kind, &rendered, &projection))
}

/// `PATCH /{endpoint}/{id}`. A user is answered 200 with the resource after the change.
/// A group is answered 204 No Content unless the request names the attributes it wants
/// back: RFC 7644 §3.5.2 allows either, Entra and Okta document 204 for group PATCH,
/// and a group's members can run to 100k values that an IdP changing one member never
/// reads.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    body: ScimBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint, id) = path.into_inner();
    let kind = kind(&endpoint)?;
    let projection = projection(&req)?;
    let pre = preconditions(&req);
    limits::check_patch(kind, &body.0)?;
    let target = id.clone();
    let reader = caller.clone();
    let rendered = scoped_write(&state, caller, Runs::Again, move |c, scope| {
        guarded(guard::scim(
            c,
            scope,
            "PATCH",
            kind,
            &target,
            body.0.clone(),
            &pre,
            &now(),
        ))
    })
    .await?;
    if kind == ResourceKind::Group && projection.is_empty() {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, rendered.etag))
            .finish());
    }
    let rendered =
        with_members_after_commit(&state, reader, kind, &id, &projection, rendered).await;
    Ok(respond(StatusCode::OK, kind, &rendered, &projection))
}

/// A group's members, read after its write committed (from a fresh snapshot), so that
/// loading and rendering thousands of members never holds the writer. If the group
/// changed again meanwhile, the answer shows that later state with its own ETag; if it
/// is gone, the answer is the write's own rendering, without members.
async fn with_members_after_commit(
    state: &AppState,
    caller: Caller,
    kind: ResourceKind,
    id: &str,
    projection: &Projection,
    rendered: Rendered,
) -> Rendered {
    if kind != ResourceKind::Group || !projection.wants(linked_attribute(kind)) {
        return rendered;
    }
    let id = id.to_owned();
    scoped(state, caller, move |c, scope| {
        groups::get(c, scope, &id, true)
    })
    .await
    .unwrap_or(rendered)
}

/// The resource a guarded write answers with, whether it ran or was held (see
/// `service::guard`: a held write is answered as it will be once released).
fn guarded(
    done: Result<guard::Guarded<Option<Rendered>>, ServiceError>,
) -> Result<Rendered, ServiceError> {
    done?
        .value()
        .ok_or(ServiceError::NotFound { kind: "resource" })
}

/// `DELETE /{endpoint}/{id}`: 204; a repeat is 404.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint, id) = path.into_inner();
    let kind = kind(&endpoint)?;
    let pre = preconditions(&req);
    scoped_write(&state, caller, Runs::Again, move |c, scope| {
        guard::scim(c, scope, "DELETE", kind, &id, Value::Null, &pre, &now()).map(drop)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /Bulk` (RFC 7644 §3.7): 200 with one result per operation run.
pub async fn bulk(
    state: web::Data<AppState>,
    caller: Caller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let request = bulk::parse_request(body.0).map_err(|e| match e {
        BulkError::Invalid(invalid) => ApiError::from(invalid),
        BulkError::TooManyOperations { max } => ApiError::TooManyOperations { max },
    })?;
    limits::check_bulk(&request)?;
    // Each operation's failure is its own outcome, so a lost lock race could not be told
    // from the others': a bulk request runs once, with its tenant to itself.
    let mut request = Some(request);
    let outcomes = scoped_write(&state, caller, Runs::Once, move |c, scope| {
        let request = request.take().expect("a bulk request runs once");
        Ok(service::bulk::execute(c, scope, request, &now()))
    })
    .await?;
    let operations: Vec<Value> = outcomes
        .into_iter()
        .map(|outcome| {
            let mut entry = serde_json::json!({ "method": outcome.method.as_str() });
            if let Some(bulk_id) = outcome.bulk_id {
                entry["bulkId"] = bulk_id.into();
            }
            match outcome.result {
                Ok(done) => {
                    entry["status"] = done.status.to_string().into();
                    if let Some(location) = done.location {
                        entry["location"] = location.into();
                    }
                    if let Some(version) = done.version {
                        entry["version"] = version.into();
                    }
                }
                Err(e) => {
                    let error = ApiError::from(e);
                    entry["status"] = error.status_code().as_u16().to_string().into();
                    entry["response"] = error.body();
                }
            }
            entry
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &serde_json::json!({ "schemas": [BULK_RESPONSE], "Operations": operations }),
    ))
}
