//! Signing people in: the OIDC relying party (`oidc`), the sealed state a login
//! carries between roster and the identity provider (`login_state`), and the
//! deployment's operator (`operator`), roster as an OpenID Provider (`provider`) and
//! as a SAML service provider (`saml`). Deciding who may enter, and with which role, is
//! a use case: `service::admin`.

pub mod login_state;
pub mod oidc;
pub mod operator;
pub mod provider;
pub mod saml;
pub mod sealed;
