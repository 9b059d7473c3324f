//! The OIDC relying party for admin login: discovery, the authorization request, the
//! code exchange, ID-token validation and JumpCloud's claim quirks
//! (research/roles-admin-sso.md §3 and §6.7).
//!
//! The `oauth2` crate builds the authorization URL (PKCE S256, state) and performs the
//! code exchange with `client_secret_basic` or `_post`, never both: that is the part
//! most easily got subtly wrong, and its `ureq` backend keeps us off reqwest and a
//! second async HTTP stack. ID-token checks are ours, on `jsonwebtoken`, because
//! JumpCloud's claims (string booleans, bare-string groups, admin-named claims) break
//! strict OIDC libraries. Every function here blocks: call it from `web::block`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Discovery documents are re-read daily (A9).
const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Signing keys are re-read hourly (A9).
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the JWKS at most this often, so a spray of forged tokens
/// cannot make us hammer the provider.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Clock skew allowed on `exp` and `iat`.
pub const LEEWAY_SECS: u64 = 60;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Claims that may carry groups when the tenant names none (JumpCloud lets the admin
/// name it; these are the names seen in the field).
pub const GROUP_CLAIM_CANDIDATES: &[&str] = &["groups", "memberOf", "member_of"];

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or answered badly: {0}")]
    Provider(String),
    #[error("the identity provider's discovery document does not match the configured issuer")]
    IssuerMismatch,
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    #[error("the ID token was rejected: {0}")]
    InvalidToken(String),
}

fn invalid(reason: impl Into<String>) -> OidcError {
    OidcError::InvalidToken(reason.into())
}

/// What roster reads from `/.well-known/openid-configuration`.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Discovery {
    /// `client_secret_basic` unless the provider only offers `_post` (Q6).
    fn auth_type(&self) -> AuthType {
        let methods = &self.token_endpoint_auth_methods_supported;
        if !methods.is_empty()
            && !methods.iter().any(|m| m == "client_secret_basic")
            && methods.iter().any(|m| m == "client_secret_post")
        {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        }
    }
}

/// A tenant's relying-party settings, as the flow needs them.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    /// What to ask for; `openid` among them.
    pub scopes: Vec<String>,
}

/// The transient values of one login, kept in the signed state cookie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenResponseWithId = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient = Client<
    BasicErrorResponse,
    TokenResponseWithId,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the token endpoint returned.
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
}

/// What the checks need to know about this login.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub jc_org: Option<&'a str>,
}

struct JwksEntry {
    set: Arc<JwkSet>,
    fetched: Instant,
    last_forced: Option<Instant>,
}

/// Discovery and JWKS caches, shared by all workers, and the HTTP agent.
pub struct Oidc {
    http: ureq::Agent,
    discovery: Mutex<HashMap<String, (Instant, Arc<Discovery>)>>,
    jwks: Mutex<HashMap<String, JwksEntry>>,
}

impl Default for Oidc {
    fn default() -> Self {
        Self {
            // No redirects: a token request must not be bounced elsewhere (SSRF).
            http: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(HTTP_TIMEOUT)
                .build(),
            discovery: Mutex::default(),
            jwks: Mutex::default(),
        }
    }
}

fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| OidcError::Provider(e.to_string()))?;
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Oidc {
    /// The provider's discovery document, cached for a day. Its `issuer` must be the
    /// configured one exactly (OIDC Discovery §4.3).
    pub fn discover(&self, issuer: &str) -> Result<Arc<Discovery>, OidcError> {
        if let Some((at, doc)) = self.discovery.lock().expect("cache").get(issuer) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(doc.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: Discovery = self.get_json(&url, None)?;
        if doc.issuer != issuer {
            return Err(OidcError::IssuerMismatch);
        }
        let doc = Arc::new(doc);
        self.discovery
            .lock()
            .expect("cache")
            .insert(issuer.to_owned(), (Instant::now(), doc.clone()));
        Ok(doc)
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<T, OidcError> {
        let mut request = self.http.get(url).set("Accept", "application/json");
        if let Some(token) = bearer {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = request
            .call()
            .map_err(|e| OidcError::Provider(format!("GET {url}: {e}")))?;
        response
            .into_json()
            .map_err(|e| OidcError::Provider(format!("GET {url}: {e}")))
    }

    fn client(&self, rp: &RelyingParty, doc: &Discovery) -> Result<OAuthClient, OidcError> {
        let bad = |e: oauth2::url::ParseError| OidcError::Provider(e.to_string());
        let mut client = Client::new(ClientId::new(rp.client_id.clone()))
            .set_auth_uri(AuthUrl::new(doc.authorization_endpoint.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(doc.token_endpoint.clone()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).map_err(bad)?)
            .set_auth_type(doc.auth_type());
        if let Some(secret) = &rp.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    /// The URL to send the browser to, and what the callback must check.
    pub fn authorization_request(
        &self,
        rp: &RelyingParty,
    ) -> Result<(String, PendingLogin), OidcError> {
        self.authorization_request_with(rp, &[])
    }

    /// [`Oidc::authorization_request`] with extra parameters passed on to the provider
    /// (an application's `login_hint`, `prompt`).
    pub fn authorization_request_with(
        &self,
        rp: &RelyingParty,
        extra: &[(&str, &str)],
    ) -> Result<(String, PendingLogin), OidcError> {
        let doc = self.discover(&rp.issuer)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_token()?;
        let client = self.client(rp, &doc)?;
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(rp.scopes.iter().map(|s| oauth2::Scope::new(s.clone())))
            .add_extra_param("nonce", nonce.clone());
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            PendingLogin {
                state: state.secret().clone(),
                nonce,
                verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Exchanges the authorization code (with the PKCE verifier) for tokens.
    pub fn exchange(
        &self,
        rp: &RelyingParty,
        code: &str,
        verifier: &str,
    ) -> Result<Tokens, OidcError> {
        let doc = self.discover(&rp.issuer)?;
        let response = self
            .client(rp, &doc)?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request(&self.http)
            .map_err(|e| OidcError::Exchange(crate::error_chain(&e)))?;
        let id_token = response
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| OidcError::Exchange("the token response has no id_token".into()))?;
        Ok(Tokens {
            id_token,
            access_token: response.access_token().secret().clone(),
        })
    }

    /// The userinfo claims, for a groups claim the ID token lacks (A4). Its `sub` must
    /// be the ID token's (OIDC Core §5.3.2).
    pub fn userinfo(
        &self,
        issuer: &str,
        access_token: &str,
        subject: &str,
    ) -> Result<Option<Map<String, Value>>, OidcError> {
        let doc = self.discover(issuer)?;
        let Some(url) = &doc.userinfo_endpoint else {
            return Ok(None);
        };
        let claims: Map<String, Value> = self.get_json(url, Some(access_token))?;
        if claims.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err(invalid("userinfo is about another subject"));
        }
        Ok(Some(claims))
    }

    /// Verifies the ID token's signature and claims (A3); returns its claims.
    pub fn validate(
        &self,
        id_token: &str,
        expected: &Expected<'_>,
    ) -> Result<Map<String, Value>, OidcError> {
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| invalid(format!("malformed ({e})")))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid(format!("algorithm {:?} is not RS256", header.alg)));
        }
        let doc = self.discover(expected.issuer)?;
        let key = self.decoding_key(&doc.jwks_uri, header.kid.as_deref())?;
        check_claims(id_token, &key, expected, unix_now())
    }

    /// The key for `kid`: from the cache, or after one refetch if the kid is unknown and
    /// the last forced refetch is over a minute old (A9).
    fn decoding_key(&self, jwks_uri: &str, kid: Option<&str>) -> Result<DecodingKey, OidcError> {
        let cached = {
            let cache = self.jwks.lock().expect("cache");
            cache
                .get(jwks_uri)
                .filter(|e| e.fetched.elapsed() < JWKS_TTL)
                .map(|e| e.set.clone())
        };
        let set = match cached {
            Some(set) => set,
            None => self.fetch_jwks(jwks_uri, false)?,
        };
        if let Some(key) = find_key(&set, kid)? {
            return Ok(key);
        }
        let may_refetch = {
            let cache = self.jwks.lock().expect("cache");
            cache
                .get(jwks_uri)
                .and_then(|e| e.last_forced)
                .is_none_or(|at| at.elapsed() >= JWKS_REFETCH_INTERVAL)
        };
        if may_refetch {
            let set = self.fetch_jwks(jwks_uri, true)?;
            if let Some(key) = find_key(&set, kid)? {
                return Ok(key);
            }
        }
        Err(invalid(format!(
            "no signing key with kid {:?} in the provider's JWKS",
            kid.unwrap_or("")
        )))
    }

    fn fetch_jwks(&self, jwks_uri: &str, forced: bool) -> Result<Arc<JwkSet>, OidcError> {
        let set: JwkSet = self.get_json(jwks_uri, None)?;
        let set = Arc::new(set);
        let mut cache = self.jwks.lock().expect("cache");
        let last_forced = cache.get(jwks_uri).and_then(|e| e.last_forced);
        cache.insert(
            jwks_uri.to_owned(),
            JwksEntry {
                set: set.clone(),
                fetched: Instant::now(),
                last_forced: if forced {
                    Some(Instant::now())
                } else {
                    last_forced
                },
            },
        );
        Ok(set)
    }
}

/// The RSA key with this `kid`; without a `kid`, the only RSA key of the set.
fn find_key(set: &JwkSet, kid: Option<&str>) -> Result<Option<DecodingKey>, OidcError> {
    let mut rsa = set
        .keys
        .iter()
        .filter(|k| matches!(k.algorithm, AlgorithmParameters::RSA(_)));
    let jwk = match kid {
        Some(kid) => rsa.find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let first = rsa.next();
            first.filter(|_| rsa.next().is_none())
        }
    };
    jwk.map(|k| DecodingKey::from_jwk(k).map_err(|e| invalid(format!("unusable key ({e})"))))
        .transpose()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce` and `jc_org` (A3).
fn check_claims(
    id_token: &str,
    key: &DecodingKey,
    expected: &Expected<'_>,
    now: u64,
) -> Result<Map<String, Value>, OidcError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, key, &validation)
        .map_err(|e| invalid(describe(&e)))?
        .claims;
    // Every audience must be us: another audience means the token was minted for a
    // client we do not trust as well (OIDC Core §3.1.3.7 step 4).
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if audiences.iter().any(|a| *a != expected.client_id) {
        return Err(invalid("the audience includes another client"));
    }
    if let Some(azp) = claims.get("azp") {
        if azp.as_str() != Some(expected.client_id) {
            return Err(invalid("azp is another client"));
        }
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat <= now + LEEWAY_SECS => {}
        _ => return Err(invalid("iat is missing or in the future")),
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(expected.nonce) {
        return Err(invalid("the nonce does not match this login"));
    }
    if let Some(org) = expected.jc_org {
        if claims.get("jc_org").and_then(Value::as_str) != Some(org) {
            return Err(invalid("jc_org is not the configured organization"));
        }
    }
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid("sub is missing"));
    }
    Ok(claims)
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => "the signature does not verify".into(),
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet".into(),
        ErrorKind::InvalidIssuer => "the issuer is not the configured one".into(),
        ErrorKind::InvalidAudience => "the audience is not this client".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("claim {c} is missing"),
        ErrorKind::InvalidAlgorithm => "the algorithm is not RS256".into(),
        other => format!("{other:?}"),
    }
}

/// `email_verified` as JumpCloud sends it: a boolean, or a string such as `"true"` or
/// `"1"` (Q1). Display only: it proves nothing about verification.
pub fn lenient_bool(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "y" | "on" | "t"
        ),
        _ => false,
    }
}

/// The groups in a claim: one group may come as a bare string (Q3).
pub fn groups_of(value: &Value) -> Vec<String> {
    let mut groups: Vec<String> = match value {
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    };
    groups.sort();
    groups.dedup();
    groups
}

/// The groups claim: the configured name, or the first of the usual names present.
/// `None` when the claims carry no such claim at all (then ask userinfo).
pub fn find_groups(claims: &Map<String, Value>, configured: &str) -> Option<Vec<String>> {
    if !configured.is_empty() {
        return claims.get(configured).map(groups_of);
    }
    GROUP_CLAIM_CANDIDATES
        .iter()
        .find_map(|name| claims.get(*name))
        .map(groups_of)
}

/// Who logged in, from validated claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    /// Display only: JumpCloud sends an admin-set constant, not a verification (Q1).
    pub email_verified: bool,
    pub groups: Vec<String>,
}

impl Identity {
    pub fn from_claims(claims: &Map<String, Value>, groups: Vec<String>) -> Self {
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self {
            subject: text("sub").unwrap_or_default(),
            email: text("email"),
            email_verified: claims.get("email_verified").is_some_and(lenient_bool),
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_verified_is_read_leniently() {
        for yes in [
            json!(true),
            json!("true"),
            json!("1"),
            json!("TRUE"),
            json!(1),
        ] {
            assert!(lenient_bool(&yes), "{yes}");
        }
        for no in [
            json!(false),
            json!("false"),
            json!("0"),
            json!(null),
            json!(""),
        ] {
            assert!(!lenient_bool(&no), "{no}");
        }
    }

    #[test]
    fn groups_come_as_a_bare_string_or_a_list() {
        assert_eq!(groups_of(&json!("Admins")), vec!["Admins"]);
        assert_eq!(groups_of(&json!(["b", "a", "b", 3])), vec!["a", "b"]);
        assert!(groups_of(&json!(null)).is_empty());
    }

    #[test]
    fn the_groups_claim_is_detected_when_not_configured() {
        let claims = json!({"member_of": "x", "memberOf": ["y"]});
        let claims = claims.as_object().unwrap();
        assert_eq!(find_groups(claims, ""), Some(vec!["y".to_owned()]));
        assert_eq!(find_groups(claims, "member_of"), Some(vec!["x".to_owned()]));
        assert_eq!(find_groups(claims, "groups_x"), None);
    }

    #[test]
    fn client_authentication_prefers_basic_and_never_both() {
        let mut doc = Discovery {
            issuer: "i".into(),
            authorization_endpoint: "a".into(),
            token_endpoint: "t".into(),
            jwks_uri: "j".into(),
            userinfo_endpoint: None,
            token_endpoint_auth_methods_supported: vec![],
        };
        assert!(matches!(doc.auth_type(), AuthType::BasicAuth));
        doc.token_endpoint_auth_methods_supported = vec!["client_secret_post".into()];
        assert!(matches!(doc.auth_type(), AuthType::RequestBody));
        doc.token_endpoint_auth_methods_supported
            .push("client_secret_basic".into());
        assert!(matches!(doc.auth_type(), AuthType::BasicAuth));
    }
}
