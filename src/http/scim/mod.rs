//! SCIM endpoints under `/scim/v2/{tenant}`.

pub mod discovery;
pub mod media;
pub mod resources;
