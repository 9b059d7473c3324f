//! The SCIM protocol core: schema, resources, filters, PATCH, lists.
//!
//! Pure code over `serde_json` values: nothing here may use actix, diesel or tokio
//! (`tests/api/layering.rs` checks it), so every rule can be unit-tested in isolation.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{Invalid, ScimType};
