//! roster as each tenant's OpenID Provider, the parts with no database and no HTTP:
//! signing keys (ES256, P-256), the tokens it signs and checks, PKCE, and the discovery
//! document. The use cases that tie them to clients, codes and users are in
//! `service::provider`; the endpoints in `http::oauth`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// ID tokens and access tokens live this long.
pub const TOKEN_TTL_SECS: u64 = 3600;
/// A code must be exchanged within this.
pub const CODE_TTL_SECS: u64 = 60;
/// A key signs for this long, then a new one takes over.
pub const KEY_SIGNS_FOR_SECS: u64 = 90 * 24 * 3600;
/// The type of roster's access tokens (RFC 9068), so an ID token is never taken for one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A new P-256 signing key: its PKCS#8 (base64, to be sealed) and its public JWK.
pub fn generate_key(kid: &str) -> (String, Value) {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("P-256 key generation");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .expect("a key just generated parses");
    // Uncompressed point: 0x04 | x (32) | y (32).
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    });
    (STANDARD.encode(pkcs8.as_ref()), jwk)
}

/// A key that signs: its kid and PKCS#8 (opened).
pub struct SigningKey {
    pub kid: String,
    pub pkcs8_base64: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the signing key cannot be used")]
    Key,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// Signs `claims` as a JWT of type `typ` (`JWT` for ID tokens, `at+jwt` for access
/// tokens).
pub fn sign(
    key: &SigningKey,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<String, TokenError> {
    let der = STANDARD
        .decode(&key.pkcs8_base64)
        .map_err(|_| TokenError::Key)?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&der))
        .map_err(|_| TokenError::Key)
}

/// The claims of one of roster's access tokens, checked: signed by a key of `jwks`,
/// of type `at+jwt`, from `issuer`, not expired. Only ES256 is accepted, whatever the
/// token's header says (no `none`, no HS256 keyed with a public key).
pub fn verify_access_token(
    token: &str,
    jwks: &[Value],
    issuer: &str,
) -> Result<Map<String, Value>, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::ES256 {
        return Err(TokenError::Invalid("only ES256 is accepted".into()));
    }
    if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
        return Err(TokenError::Invalid("not an access token".into()));
    }
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| TokenError::Invalid("signed by no key of this issuer".into()))?;
    let key = DecodingKey::from_ec_components(
        jwk["x"].as_str().unwrap_or_default(),
        jwk["y"].as_str().unwrap_or_default(),
    )
    .map_err(|_| TokenError::Key)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}

/// Whether `verifier` answers the S256 `challenge` (RFC 7636 §4.6).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// Whether `challenge` can be an S256 challenge (43 base64url characters).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `/.well-known/openid-configuration` of the issuer `issuer` (`{public}/oauth/{tenant}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: String,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Discovery {
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            jwks_uri: format!("{issuer}/jwks"),
            end_session_endpoint: format!("{issuer}/logout"),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&["authorization_code"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&["ES256"]),
            token_endpoint_auth_methods_supported: strings(&[
                "client_secret_basic",
                "client_secret_post",
            ]),
            code_challenge_methods_supported: strings(&["S256"]),
            scopes_supported: strings(&["openid", "email", "profile", "roles", "groups"]),
            claims_supported: strings(&[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "email",
                "email_verified",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "tenant",
                "roles",
                "groups",
            ]),
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            authorization_response_iss_parameter_supported: true,
        }
    }
}

/// What an ID token, an access token and `userinfo` say about a user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserClaims {
    /// roster's user id: stable, never reused.
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub preferred_username: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The user's effective role slugs, from the group → role mappings.
    pub roles: Vec<String>,
    /// Display names of the user's groups, when the tenant puts them in tokens.
    pub groups: Option<Vec<String>>,
    /// The directory vouches for `email`: the identity provider pushed it (SCIM).
    /// Not for a user created at sign-in, whose address only the sign-in asserted.
    pub email_verified: bool,
}

impl UserClaims {
    /// As JSON claims, for the scopes granted (`email`, `profile`; `roles` and the
    /// tenant always: they are what the application signs people in for).
    pub fn to_claims(&self, scopes: &[&str]) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("sub".into(), self.sub.clone().into());
        out.insert("tenant".into(), self.tenant.clone().into());
        out.insert("roles".into(), self.roles.clone().into());
        if let Some(groups) = &self.groups {
            out.insert("groups".into(), groups.clone().into());
        }
        if scopes.contains(&"email") {
            if let Some(email) = &self.email {
                out.insert("email".into(), email.clone().into());
                out.insert("email_verified".into(), self.email_verified.into());
            }
        }
        if scopes.contains(&"profile") {
            out.insert(
                "preferred_username".into(),
                self.preferred_username.clone().into(),
            );
            for (claim, value) in [
                ("name", &self.name),
                ("given_name", &self.given_name),
                ("family_name", &self.family_name),
            ] {
                if let Some(v) = value {
                    out.insert(claim.into(), v.clone().into());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (SigningKey, Value) {
        let (pkcs8_base64, jwk) = generate_key("k1");
        (
            SigningKey {
                kid: "k1".into(),
                pkcs8_base64,
            },
            jwk,
        )
    }

    fn access_claims(exp: u64) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), "https://r.example/oauth/acme".into());
        c.insert("sub".into(), "u1".into());
        c.insert("exp".into(), exp.into());
        c
    }

    fn now() -> u64 {
        crate::auth::sealed::unix_now()
    }

    #[test]
    fn an_access_token_verifies_with_its_jwks_and_issuer_only() {
        let (key, jwk) = key();
        let token = sign(&key, ACCESS_TOKEN_TYP, &access_claims(now() + 60)).unwrap();
        let claims = verify_access_token(
            &token,
            std::slice::from_ref(&jwk),
            "https://r.example/oauth/acme",
        )
        .unwrap();
        assert_eq!(claims["sub"], "u1");
        assert!(verify_access_token(
            &token,
            std::slice::from_ref(&jwk),
            "https://r.example/oauth/other"
        )
        .is_err());
        let (_, other) = generate_key("k1");
        assert!(verify_access_token(&token, &[other], "https://r.example/oauth/acme").is_err());
        let expired = sign(&key, ACCESS_TOKEN_TYP, &access_claims(now() - 1)).unwrap();
        assert!(verify_access_token(
            &expired,
            std::slice::from_ref(&jwk),
            "https://r.example/oauth/acme"
        )
        .is_err());
        // An ID token is not an access token.
        let id_token = sign(&key, "JWT", &access_claims(now() + 60)).unwrap();
        assert!(verify_access_token(&id_token, &[jwk], "https://r.example/oauth/acme").is_err());
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused_whatever_their_header_says() {
        let (_, jwk) = key();
        let body = URL_SAFE_NO_PAD.encode(Value::Object(access_claims(now() + 60)).to_string());
        let none = format!(
            "{}.{body}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#)
        );
        assert!(verify_access_token(
            &none,
            std::slice::from_ref(&jwk),
            "https://r.example/oauth/acme"
        )
        .is_err());
        // HS256 keyed with the public key's bytes: the classic algorithm confusion.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        let secret = jwk["x"].as_str().unwrap().as_bytes();
        let hs = jsonwebtoken::encode(
            &header,
            &access_claims(now() + 60),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        let err = verify_access_token(&hs, &[jwk], "https://r.example/oauth/acme").unwrap_err();
        assert!(err.to_string().contains("only ES256"), "{err}");
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example_only() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(!is_s256_challenge("plain-challenge"));
    }

    #[test]
    fn claims_follow_the_granted_scopes() {
        let user = UserClaims {
            sub: "u1".into(),
            email: Some("ada@acme.example".into()),
            name: Some("Ada Lovelace".into()),
            preferred_username: "ada".into(),
            tenant: "acme".into(),
            roles: vec!["admin".into()],
            groups: None,
            ..UserClaims::default()
        };
        let minimal = user.to_claims(&["openid"]);
        assert_eq!(minimal.len(), 3, "{minimal:?}");
        assert_eq!(minimal["roles"], serde_json::json!(["admin"]));
        let full = user.to_claims(&["openid", "email", "profile"]);
        assert_eq!(full["email"], "ada@acme.example");
        assert_eq!(full["name"], "Ada Lovelace");
        assert!(!full.contains_key("groups"));
    }
}
