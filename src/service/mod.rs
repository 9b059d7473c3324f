//! Use cases. Each write is one transaction on one connection; nothing here knows HTTP.

pub mod groups;
pub mod tenants;
pub mod users;

use crate::scim::Invalid;
use crate::store::{StoreError, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
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

/// The current time as stored: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
