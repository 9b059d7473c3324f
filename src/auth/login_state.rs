//! The transient state of one login (state, nonce, PKCE verifier, return path), kept
//! by the browser in a cookie that roster seals with HMAC-SHA-256 and the session
//! secret, so no server-side row exists for a login that is never finished.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::oidc::PendingLogin;

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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

/// `payload.tag`, both base64url.
pub fn seal(secret: &[u8], state: &LoginState) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// The state, if `sealed` carries a valid tag under `secret` and has not expired.
pub fn open(secret: &[u8], sealed: &str) -> Option<LoginState> {
    let (payload, tag) = sealed.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(secret, payload).verify_slice(&tag).ok()?;
    let state: LoginState = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (state.expires > unix_now()).then_some(state)
}

#[cfg(test)]
mod tests {
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
