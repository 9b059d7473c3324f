//! Small values the browser keeps for roster (the login state, the operator's session),
//! sealed with HMAC-SHA-256 under the session secret: roster keeps no row for them, and
//! a value sealed for one purpose never opens as another.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

/// A value that can be sealed: what it is for, and when it stops opening.
pub trait Sealed: Serialize + DeserializeOwned {
    /// Mixed into the tag, so one kind of value is never accepted as another.
    const PURPOSE: &'static str;
    /// Unix seconds after which it no longer opens.
    fn expires(&self) -> u64;
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], purpose: &str, payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(payload.as_bytes());
    mac
}

/// `payload.tag`, both base64url.
pub fn seal<T: Sealed>(secret: &[u8], value: &T) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default());
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, T::PURPOSE, &payload).finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// The value, if `sealed` carries a valid tag for `T` under `secret` and has not expired.
pub fn open<T: Sealed>(secret: &[u8], sealed: &str) -> Option<T> {
    let (payload, tag) = sealed.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(secret, T::PURPOSE, payload).verify_slice(&tag).ok()?;
    let value: T = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (value.expires() > unix_now()).then_some(value)
}
