//! Standard Webhooks signatures (spec §6.5 E3): `v1,` + base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded secret after
//! `whsec_`. Pure: no I/O, no clock, no randomness of its own.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// The signature scheme's version tag.
const VERSION: &str = "v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("a webhook secret is `whsec_` followed by base64")]
    MalformedSecret,
}

/// A secret from random bytes (24 or more, per Standard Webhooks).
pub fn secret_from_bytes(bytes: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key a secret stands for. Like the reference libraries, the prefix is
/// optional.
fn key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::MalformedSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One signature, `v1,<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let tag = mac(&key(secret)?, id, timestamp, body)
        .finalize()
        .into_bytes();
    Ok(format!("{VERSION},{}", STANDARD.encode(tag)))
}

/// The `webhook-signature` header: one signature per secret, space-separated (during a
/// rotation the new secret and the old one both sign, so receivers can switch keys at
/// any moment within the overlap).
pub fn header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let signatures = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

/// Whether any `v1` signature in `header` was made with `secret`. The comparison is
/// constant-time (`Mac::verify_slice`). Checking the timestamp's age is the caller's.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = key(secret) else {
        return false;
    };
    header
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .any(|tag| mac(&key, id, timestamp, body).verify_slice(&tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors published with Standard Webhooks (the specification's and the Rust
    // library's); a receiver's stock library must accept what roster sends.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const LIB_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const LIB_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const LIB_TS: i64 = 1649367553;
    const LIB_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const LIB_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    #[test]
    fn webhook_signatures_reproduce_the_standard_webhooks_test_vectors() {
        assert_eq!(
            sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap(),
            SPEC_SIG
        );
        assert_eq!(sign(LIB_SECRET, LIB_ID, LIB_TS, LIB_BODY).unwrap(), LIB_SIG);
        // The prefix is optional, as in the reference libraries.
        let bare = SPEC_SECRET.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(sign(bare, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap(), SPEC_SIG);
    }

    #[test]
    fn webhook_verification_accepts_the_vectors_and_rejects_any_change() {
        assert!(verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIG));
        assert!(!verify(
            SPEC_SECRET,
            SPEC_ID,
            SPEC_TS + 1,
            SPEC_BODY,
            SPEC_SIG
        ));
        assert!(!verify(
            SPEC_SECRET,
            "msg_other",
            SPEC_TS,
            SPEC_BODY,
            SPEC_SIG
        ));
        assert!(!verify(
            SPEC_SECRET,
            SPEC_ID,
            SPEC_TS,
            br#"{"test": 1}"#,
            SPEC_SIG
        ));
        assert!(!verify(LIB_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIG));
        // The library's "wrong signature" vector.
        let wrong = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
        assert!(!verify(LIB_SECRET, LIB_ID, LIB_TS, LIB_BODY, wrong));
        // Another version tag with the right bytes is not a v1 signature.
        let v2 = SPEC_SIG.replacen("v1,", "v2,", 1);
        assert!(!verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, &v2));
    }

    #[test]
    fn webhook_signature_during_rotation_carries_both_secrets_and_each_verifies() {
        let header = header(&[LIB_SECRET, SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[1], SPEC_SIG,
            "the old secret's signature is the vector"
        );
        assert_eq!(
            parts[0],
            sign(LIB_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap()
        );
        // A receiver holding either secret accepts the message.
        assert!(verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, &header));
        assert!(verify(LIB_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, &header));
        // The library's multi-signature vectors: decoys around the right one.
        let decoys = "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ= \
                      v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=";
        let with = format!("{decoys} {LIB_SIG} v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=");
        assert!(verify(LIB_SECRET, LIB_ID, LIB_TS, LIB_BODY, &with));
        assert!(!verify(LIB_SECRET, LIB_ID, LIB_TS, LIB_BODY, decoys));
    }

    #[test]
    fn webhook_secrets_are_prefixed_base64_and_malformed_ones_are_refused() {
        let secret = secret_from_bytes(&[7u8; 32]);
        assert!(secret.starts_with("whsec_"));
        assert_eq!(key(&secret).unwrap(), vec![7u8; 32]);
        assert_eq!(
            sign("whsec_not base64!", "id", 1, b"{}"),
            Err(SignatureError::MalformedSecret)
        );
        assert!(!verify("whsec_***", "id", 1, b"{}", "v1,AAAA"));
    }
}
