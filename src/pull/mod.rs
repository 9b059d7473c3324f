//! Directory pull: a tenant's directory read from the JumpCloud API, for customers
//! whose IdP cannot push SCIM, and as a drift detector for those whose can.
//!
//! `jumpcloud` (JumpCloud's objects and their SCIM form) and `diff` (what a run would
//! change) are pure; `client` is the blocking HTTP edge. The use cases (recording runs,
//! applying them through the same user and group writes as a SCIM push) are in
//! `service::pull`.

pub mod client;
pub mod diff;
pub mod jumpcloud;
