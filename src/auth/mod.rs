//! Signing people in: the OIDC relying party (`oidc`) and the sealed state a login
//! carries between roster and the identity provider (`login_state`). Deciding who may
//! enter, and with which role, is a use case: `service::admin`.

pub mod login_state;
pub mod oidc;
