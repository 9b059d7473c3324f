//! Use cases. Each write is one transaction on one connection; nothing here knows HTTP.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod bulk;
pub mod change_sets;
pub mod csv;
pub mod delivery;
pub mod directory;
pub mod events;
pub mod fleet;
pub mod groups;
pub mod guard;
pub mod outbox;
pub mod overview;
pub mod provider;
pub mod pull;
pub mod roles;
pub mod run;
pub mod saml;
pub mod secrets;
pub mod snapshot;
pub mod sync_log;
pub mod tenants;
pub mod users;
pub mod webhooks;

use serde_json::Value;

use crate::scim::etag::{Outcome, Preconditions};
use crate::scim::list::{Cursors, ListParams};
use crate::scim::paging::{self, Position, SortOrder};
use crate::scim::schema::ResourceKind;
use crate::scim::{Invalid, ScimType};
use crate::store::filter_sql::SortKey;
use crate::store::paging::{Order, Page, Window};
use crate::store::{DbConnection, StoreError};

/// A tenant's internal id: the edges carry it from a session to the use cases.
pub use crate::store::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a valid bearer token for this tenant is required")]
    Unauthenticated,
    #[error("this API key lacks the '{0}' scope")]
    Forbidden(&'static str),
    /// What was asked for is no longer kept (410): events past their retention.
    #[error("{0}")]
    Gone(String),
    /// A write with a credential that may only read (403, no `scimType`).
    #[error("{0}")]
    ReadOnly(&'static str),
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
    #[error("tenant '{0}' is suspended: its requests are refused until an operator resumes it")]
    Suspended(String),
    #[error("tenant '{0}' already exists")]
    TenantExists(String),
    #[error("invalid tenant slug: use 1-63 lower-case letters, digits and '-', not starting with '-'; 'operator' is reserved")]
    InvalidSlug,
    /// A stored secret that the configured keys do not open (500: a deployment fault).
    #[error("a stored secret cannot be used")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Store(e.into())
    }
}

/// What kind of storage failure an error is, for the edges to answer without knowing
/// the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotFound,
    /// A unique index refused the row.
    Duplicate,
    /// The database refused a value the client sent.
    InvalidInput,
    /// Unreachable, overloaded or too slow: worth retrying.
    Unavailable,
    Internal,
}

impl ServiceError {
    /// The database (or the way to it) could not serve the use case now.
    pub fn unavailable(why: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ServiceError::Store(StoreError::Unavailable(why.into()))
    }

    /// The kind of storage failure this is, if it came from the database.
    pub fn failure(&self) -> Option<Failure> {
        let ServiceError::Store(e) = self else {
            return None;
        };
        Some(match e {
            StoreError::NotFound => Failure::NotFound,
            StoreError::UniqueViolation(_) => Failure::Duplicate,
            StoreError::InvalidInput(_) => Failure::InvalidInput,
            StoreError::Unavailable(_) => Failure::Unavailable,
            _ => Failure::Internal,
        })
    }
}

/// A request value the use case refuses (400, `invalidValue`).
pub fn invalid(detail: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(Invalid::new(ScimType::InvalidValue, detail))
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
) -> Result<Option<crate::store::query::RawQuery>, Invalid> {
    params
        .filter
        .as_ref()
        .map(|f| {
            let f = crate::scim::filter_schema::check(kind, f)?;
            let base = Some(scope.base_url.as_str());
            crate::store::filter_sql::compile_at(kind, &f, conn.dialect(), base)
        })
        .transpose()
}

/// One page of a list, as the HTTP layer returns it. `cursors` is set when the
/// client pages by cursor (RFC 9865).
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub total: i64,
    pub resources: Vec<Value>,
    pub cursors: Option<Cursors>,
}

/// How a list is sorted and which rows it returns, resolved for one resource type.
struct Plan {
    key: Option<SortKey>,
    descending: bool,
    /// `Some` when paging by cursor: the fingerprint and the position (None: first page).
    cursor: Option<(String, Option<Position>)>,
    start_index: i64,
    count: i64,
}

impl Plan {
    fn new(kind: ResourceKind, params: &ListParams, conn: &DbConnection) -> Result<Self, Invalid> {
        let key = params
            .sort
            .as_ref()
            .map(|s| crate::store::filter_sql::sort_key(kind, &s.by, conn.dialect()))
            .transpose()?;
        let cursor = match &params.cursor {
            None => None,
            Some(c) => {
                let q = paging::fingerprint(
                    kind.endpoint(),
                    params.filter.as_ref(),
                    params.sort.as_ref(),
                );
                let position = c.position(&q)?;
                Some((q, position))
            }
        };
        Ok(Self {
            key,
            descending: params
                .sort
                .as_ref()
                .is_some_and(|s| s.order == SortOrder::Descending),
            cursor,
            start_index: params.start_index,
            count: params.count,
        })
    }

    fn order(&self) -> Order<'_> {
        Order {
            key: self.key.as_ref(),
            descending: self.descending,
        }
    }

    fn window(&self) -> Window<'_> {
        match &self.cursor {
            Some((_, from)) => Window::Keyset {
                from: from.as_ref(),
                limit: self.count,
            },
            None => Window::Offset {
                offset: self.start_index - 1,
                limit: self.count,
            },
        }
    }

    /// The page's rows in list order, and the cursors around them when paging by cursor.
    fn finish<R>(
        &self,
        page: Page<R>,
        id_of: impl Fn(&R) -> &str,
    ) -> (i64, Vec<R>, Option<Cursors>) {
        let Some((q, from)) = &self.cursor else {
            let rows = page.rows.into_iter().map(|k| k.row).collect();
            return (page.total, rows, None);
        };
        let at = |k: &crate::store::paging::Keyed<R>, backward: bool| {
            paging::encode(
                q,
                &Position {
                    key: k.sort_key.clone(),
                    id: id_of(&k.row).to_owned(),
                    backward,
                },
            )
        };
        let backward = from.as_ref().is_some_and(|p| p.backward);
        let (first, last) = (page.rows.first(), page.rows.last());
        let cursors = if backward {
            Cursors {
                next: last.map(|k| at(k, false)),
                previous: first.filter(|_| page.more).map(|k| at(k, true)),
            }
        } else {
            Cursors {
                next: last.filter(|_| page.more).map(|k| at(k, false)),
                previous: first.filter(|_| from.is_some()).map(|k| at(k, true)),
            }
        };
        let rows = page.rows.into_iter().map(|k| k.row).collect();
        (page.total, rows, Some(cursors))
    }
}

/// The current time as stored: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    stamp(std::time::SystemTime::now())
}

/// A time as stored (see `now`); stored stamps compare in time order as strings.
pub fn stamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A root-level search (RFC 7644 §3.4.3, `POST /.search`): Users then Groups, as one
/// paged list. A filter on an attribute only one type has matches none of the other;
/// a filter neither type can run is an error. `sortBy` orders each type by itself, and
/// a type the attribute cannot sort (`userName` on Groups) stays in id order. Cursor
/// paging is offered per resource type, not here.
pub fn search_all(
    conn: &mut DbConnection,
    scope: &Scope,
    params: &ListParams,
    with_groups: bool,
    with_members: bool,
) -> Result<(i64, Vec<(ResourceKind, Value)>), ServiceError> {
    if params.cursor.is_some() {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "cursor paging is offered on /Users and /Groups; the root search pages by startIndex",
        )
        .into());
    }
    let dialect = conn.dialect();
    let sortable = |kind: ResourceKind| {
        params
            .sort
            .as_ref()
            .map(|s| crate::store::filter_sql::sort_key(kind, &s.by, dialect).is_ok())
    };
    if sortable(ResourceKind::User) == Some(false) && sortable(ResourceKind::Group) == Some(false) {
        // Neither type sorts by it: let the user list say why.
        users::list(conn, scope, params, with_groups)?;
    }
    let for_kind = |kind: ResourceKind| {
        let mut p = params.clone();
        if sortable(kind) == Some(false) {
            p.sort = None;
        }
        p
    };
    let user_params = for_kind(ResourceKind::User);
    let users = not_applicable_as_none(users::list(conn, scope, &user_params, with_groups))?;
    let users_applicable = users.is_some();
    let users = users.unwrap_or_default();
    let mut rest = for_kind(ResourceKind::Group);
    rest.start_index = (params.start_index - users.total).max(1);
    rest.count = params.count - users.resources.len() as i64;
    let groups = match groups::list(conn, scope, &rest, with_members) {
        Err(e) if !users_applicable => return Err(e),
        other => not_applicable_as_none(other)?,
    };
    let groups = groups.unwrap_or_default();
    let tagged =
        |kind: ResourceKind, page: ListPage| page.resources.into_iter().map(move |r| (kind, r));
    let total = users.total + groups.total;
    let mut page: Vec<(ResourceKind, Value)> = tagged(ResourceKind::User, users).collect();
    page.extend(tagged(ResourceKind::Group, groups));
    Ok((total, page))
}

/// An `invalidFilter` from one resource type means "this type cannot match".
fn not_applicable_as_none<T>(result: Result<T, ServiceError>) -> Result<Option<T>, ServiceError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ServiceError::Invalid(e)) if e.scim_type == ScimType::InvalidFilter => Ok(None),
        Err(e) => Err(e),
    }
}
