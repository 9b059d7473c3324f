//! The transient state of one login (state, nonce, PKCE verifier, return path), kept
//! by the browser in a cookie that roster seals with HMAC-SHA-256 and the session
//! secret, so no server-side row exists for a login that is never finished.

use serde::{Deserialize, Serialize};

use super::oidc::PendingLogin;
use super::sealed::{self, unix_now, Sealed};

/// How long a login may take, from the redirect to the IdP to the callback.
pub const TTL_SECS: u64 = 600;

/// The login state as the sealed cookie carries it.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginState {
    pub tenant: String,
    pub pending: PendingLogin,
    pub return_to: String,
    pub expires: u64,
    /// A test sign-in from the admin SSO screen: the callback shows what the provider
    /// sent and what roster would decide, and signs nobody in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

impl LoginState {
    /// A login of `tenant` that expires in [`TTL_SECS`].
    pub fn new(tenant: String, pending: PendingLogin, return_to: String) -> Self {
        Self {
            tenant,
            pending,
            return_to,
            expires: unix_now() + TTL_SECS,
            test: false,
        }
    }
}

impl Sealed for LoginState {
    const PURPOSE: &'static str = "admin login state";
    fn expires(&self) -> u64 {
        self.expires
    }
}

pub fn seal(secret: &[u8], state: &LoginState) -> String {
    sealed::seal(secret, state)
}

/// The state, if `sealed` carries a valid tag under `secret` and has not expired.
pub fn open(secret: &[u8], sealed: &str) -> Option<LoginState> {
    sealed::open(secret, sealed)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    #[test]
    fn the_state_cookie_is_tamper_proof_and_expires() {
        let state = LoginState::new(
            "acme".into(),
            PendingLogin {
                state: "s".into(),
                nonce: "n".into(),
                verifier: "v".into(),
            },
            "/admin/acme/".into(),
        );
        let sealed = seal(b"k1", &state);
        assert_eq!(open(b"k1", &sealed).unwrap().pending, state.pending);
        assert!(open(b"k2", &sealed).is_none());
        let (payload, tag) = sealed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
                .replace("acme", "evil"),
        );
        assert!(open(b"k1", &format!("{forged}.{tag}")).is_none());
        let expired = LoginState {
            expires: unix_now() - 1,
            ..state
        };
        assert!(open(b"k1", &seal(b"k1", &expired)).is_none());
    }
}
