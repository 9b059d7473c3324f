//! Signing people in: the OIDC relying party (`oidc`), the sealed state a login
//! carries between roster and the identity provider (`login_state`), and the
//! deployment's operator (`operator`). Deciding who may enter, and with which role, is
//! a use case: `service::admin`.

pub mod login_state;
pub mod oidc;
pub mod operator;
pub mod provider;
pub mod sealed;
