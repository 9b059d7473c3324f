//! Use cases. Each write is one transaction on one connection; nothing here knows HTTP.

pub mod admin;
pub mod api_keys;
pub mod bulk;
pub mod change_sets;
pub mod events;
pub mod groups;
pub mod roles;
pub mod tenants;
pub mod users;

use serde_json::Value;

use crate::scim::etag::{Outcome, Preconditions};
use crate::scim::list::ListParams;
use crate::scim::schema::ResourceKind;
use crate::scim::{Invalid, ScimType};
use crate::store::{DbConnection, StoreError, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a valid bearer token for this tenant is required")]
    Unauthenticated,
    #[error("this API key lacks the '{0}' scope")]
    Forbidden(&'static str),
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    #[error("bulkId '{0}' does not resolve: no successful POST defines it, or the references form a cycle")]
    UnresolvedReference(String),
    #[error("the resource changed: its version no longer matches the precondition")]
    PreconditionFailed,
    /// A request that contradicts the current state (a role still in use, a taken slug).
    #[error("{0}")]
    Conflict(String),
    #[error("{attribute} is already in use in this tenant")]
    Uniqueness { attribute: &'static str },
    #[error("tenant '{0}' does not exist")]
    UnknownTenant(String),
    #[error("tenant '{0}' already exists")]
    TenantExists(String),
    #[error("invalid tenant slug: use 1-63 lower-case letters, digits and '-'")]
    InvalidSlug,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Store(e.into())
    }
}

/// Maps a unique-index violation on `attribute` to a SCIM uniqueness conflict.
fn unique(attribute: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::UniqueViolation(_) => ServiceError::Uniqueness { attribute },
        other => ServiceError::Store(other),
    }
}

/// Where a tenant's SCIM resources live, for `meta.location` and `$ref`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant: TenantId,
    /// `{public_url}/scim/v2/{slug}`, without a trailing slash.
    pub base_url: String,
    /// Who acts, and the request id that events link back to.
    pub actor: events::Actor,
    pub correlation_id: String,
}

impl Scope {
    pub fn location(&self, endpoint: &str, id: &str) -> String {
        format!("{}/{endpoint}/{id}", self.base_url)
    }
}

/// A resource as the HTTP layer returns it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: serde_json::Value,
    pub etag: String,
    pub location: String,
}

/// Fails with 412 unless `pre` allows changing a resource at `version`.
fn check_write(pre: &Preconditions, version: i64) -> Result<(), ServiceError> {
    match pre.for_write(&crate::scim::resource::etag(version)) {
        Outcome::Failed => Err(ServiceError::PreconditionFailed),
        Outcome::Proceed | Outcome::NotModified => Ok(()),
    }
}

/// The SQL form of a list's filter, if it has one.
fn sql_filter(
    kind: ResourceKind,
    params: &ListParams,
    conn: &DbConnection,
    scope: &Scope,
) -> Result<Option<crate::store::raw::RawQuery>, Invalid> {
    params
        .filter
        .as_ref()
        .map(|f| {
            let base = Some(scope.base_url.as_str());
            crate::store::filter_sql::compile_at(kind, f, conn.dialect(), base)
        })
        .transpose()
}

/// The current time as stored: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A root-level search (RFC 7644 §3.4.3, `POST /.search`): Users then Groups, as one
/// paged list. A filter on an attribute only one type has matches none of the other;
/// a filter neither type can run is an error.
pub fn search_all(
    conn: &mut DbConnection,
    scope: &Scope,
    params: &ListParams,
    with_groups: bool,
    with_members: bool,
) -> Result<(i64, Vec<(ResourceKind, Value)>), ServiceError> {
    let users = not_applicable_as_none(users::list(conn, scope, params, with_groups))?;
    let users_applicable = users.is_some();
    let (user_total, user_page) = users.unwrap_or_default();
    let mut rest = params.clone();
    rest.start_index = (params.start_index - user_total).max(1);
    rest.count = params.count - user_page.len() as i64;
    let groups = match groups::list(conn, scope, &rest, with_members) {
        Err(e) if !users_applicable => return Err(e),
        other => not_applicable_as_none(other)?,
    };
    let (group_total, group_page) = groups.unwrap_or_default();
    let mut page: Vec<(ResourceKind, Value)> = user_page
        .into_iter()
        .map(|u| (ResourceKind::User, u))
        .collect();
    page.extend(group_page.into_iter().map(|g| (ResourceKind::Group, g)));
    Ok((user_total + group_total, page))
}

/// An `invalidFilter` from one resource type means "this type cannot match".
fn not_applicable_as_none<T>(result: Result<T, ServiceError>) -> Result<Option<T>, ServiceError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ServiceError::Invalid(e)) if e.scim_type == ScimType::InvalidFilter => Ok(None),
        Err(e) => Err(e),
    }
}
