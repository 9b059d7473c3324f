//! The deployment's operator: whoever holds `operator_token` (a setting, never stored in
//! the database) signs in at `/admin/operator`, sees every tenant's health, and opens
//! any tenant's admin screens read-only. The session is a sealed cookie, not a row.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sealed::{self, unix_now, Sealed};

pub const COOKIE: &str = "roster_operator";
/// An operator's session lasts this long; signing in again starts a new one.
pub const TTL_SECS: u64 = 8 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct OperatorSession {
    expires: u64,
}

impl Sealed for OperatorSession {
    const PURPOSE: &'static str = "operator session";
    fn expires(&self) -> u64 {
        self.expires
    }
}

/// The configured operator token, kept as its digest.
#[derive(Debug, Clone, Default)]
pub struct Operator {
    token: Option<[u8; 32]>,
}

impl Operator {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    /// Whether this deployment has an operator at all.
    pub fn configured(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the operator token (digests compared, so the time taken says
    /// nothing about how much of a guess was right).
    pub fn accepts(&self, given: &str) -> bool {
        self.token
            .is_some_and(|t| <[u8; 32]>::from(Sha256::digest(given.as_bytes())) == t)
    }

    /// A new session's cookie value.
    pub fn session(&self, secret: &[u8]) -> String {
        sealed::seal(
            secret,
            &OperatorSession {
                expires: unix_now() + TTL_SECS,
            },
        )
    }

    /// Whether a cookie value is a live operator session of this deployment.
    pub fn signed_in(&self, secret: &[u8], cookie: &str) -> bool {
        self.configured() && sealed::open::<OperatorSession>(secret, cookie).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_signs_in_and_the_session_is_sealed_for_this_purpose() {
        let operator = Operator::new(Some("op-secret"));
        assert!(operator.accepts("op-secret"));
        assert!(!operator.accepts("op-secre"));
        assert!(!Operator::new(None).accepts(""));
        assert!(!Operator::new(Some("")).configured());
        let cookie = operator.session(b"k1");
        assert!(operator.signed_in(b"k1", &cookie));
        assert!(!operator.signed_in(b"k2", &cookie));
        assert!(!Operator::new(None).signed_in(b"k1", &cookie));
        // A login-state cookie, sealed under the same secret, is not a session.
        let login = crate::auth::login_state::LoginState::new(
            "acme".into(),
            crate::auth::oidc::PendingLogin {
                state: "s".into(),
                nonce: "n".into(),
                verifier: "v".into(),
            },
            "/".into(),
        );
        let sealed = crate::auth::login_state::seal(b"k1", &login);
        assert!(!operator.signed_in(b"k1", &sealed));
        let expired = sealed::seal(b"k1", &OperatorSession { expires: 1 });
        assert!(!operator.signed_in(b"k1", &expired));
    }
}
