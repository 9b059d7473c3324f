//! The SCIM protocol core: schema, resources, filters, PATCH, lists.
//!
//! Pure code over `serde_json` values: no web framework, database or async runtime
//! here (`tests/api/storage.rs` checks it), so every rule can be unit-tested alone.

pub mod bulk;
pub mod discovery;
pub mod error;
pub mod etag;
pub mod filter;
pub mod filter_schema;
pub mod limits;
pub mod list;
pub mod paging;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{Invalid, ScimType};
