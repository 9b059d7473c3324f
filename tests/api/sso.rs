//! roster as the tenant's OpenID Provider: an application signs users in through
//! roster, which signs them in with the tenant's identity provider (the local
//! oidc-provider), matches or provisions them, and issues tokens with their roles.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::admin_login::{configure, Provider};
use crate::browser::Browser;
use crate::cli::{roster, stdout};
use crate::helpers::TestApp;
use crate::roles::{map, role};

const APP_CALLBACK: &str = "https://app.example/callback";

/// The application: its registration, and one sign-in's PKCE verifier and nonce.
struct Application {
    client_id: String,
    secret: String,
    verifier: String,
    nonce: String,
}

impl Application {
    fn register(app: &TestApp) -> Self {
        let out = stdout(&roster(
            &app.db,
            &[
                "oauth-client",
                "create",
                "acme",
                "--name",
                "Acme portal",
                "--redirect-uri",
                APP_CALLBACK,
                "--post-logout-redirect-uri",
                "https://app.example/bye",
            ],
        ));
        let secret = out.lines().last().unwrap().to_owned();
        assert!(secret.starts_with("rcs_"), "{out}");
        let list = stdout(&roster(&app.db, &["oauth-client", "list", "acme"]));
        let client_id = list
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned();
        assert!(client_id.starts_with("rcl_"), "{list}");
        Self {
            client_id,
            secret,
            verifier: URL_SAFE_NO_PAD.encode([7u8; 40]),
            nonce: "n-0S6_WzA2Mj".into(),
        }
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    fn authorize_url(&self, app: &TestApp, extra: &str) -> String {
        format!(
            "{}/oauth/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20profile&state=st-1&nonce={}&code_challenge={}&code_challenge_method=S256{extra}",
            app.address,
            self.client_id,
            urlencode(APP_CALLBACK),
            self.nonce,
            self.challenge()
        )
    }

    /// Follows the sign-in through roster and the provider as `account`, to the
    /// application's callback; its query.
    fn sign_in(&self, app: &TestApp, browser: &mut Browser, account: &str) -> Map<String, Value> {
        let url = self.authorize_url(app, &format!("&login_hint={account}"));
        back_at_app(browser, &url)
    }

    fn token(&self, app: &TestApp, code: &str) -> (u16, Value) {
        token_request(
            app,
            &self.client_id,
            &self.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", APP_CALLBACK),
                ("code_verifier", &self.verifier),
            ],
        )
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// GETs `url` and follows redirects until one leads to the application; that
/// redirect's query parameters.
fn back_at_app(browser: &mut Browser, url: &str) -> Map<String, Value> {
    let mut page = browser.get(url);
    for _ in 0..20 {
        let Some(next) = page
            .location
            .clone()
            .filter(|_| (300..400).contains(&page.status))
        else {
            panic!("stopped at {} {}: {}", page.status, page.url, page.text);
        };
        if next.starts_with("https://app.example/") {
            let parsed = url::Url::parse(&next).unwrap();
            return parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect();
        }
        page = browser.get(&next);
    }
    panic!("too many redirects from {url}")
}

fn token_request(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let r = ureq::post(&format!("{}/oauth/acme/token", app.address))
        .set("Authorization", &format!("Basic {basic}"))
        .send_form(form);
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    (r.status(), r.into_json().unwrap_or(Value::Null))
}

fn userinfo(app: &TestApp, access_token: &str) -> (u16, Value) {
    let r = ureq::get(&format!("{}/oauth/acme/userinfo", app.address))
        .set("Authorization", &format!("Bearer {access_token}"))
        .call();
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    (r.status(), r.into_json().unwrap_or(Value::Null))
}

/// The ID token's claims, verified as a relying party would: the issuer's JWKS from
/// discovery, ES256, issuer and audience.
fn verified_id_token(app: &TestApp, client: &Application, id_token: &str) -> Map<String, Value> {
    let issuer = format!("{}/oauth/acme", app.address);
    let discovery: Value = ureq::get(&format!("{issuer}/.well-known/openid-configuration"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    let jwks: JwkSet = ureq::get(discovery["jwks_uri"].as_str().unwrap())
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[&client.client_id]);
    jsonwebtoken::decode::<Map<String, Value>>(
        id_token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("a valid ID token")
    .claims
}

/// An app whose tenant signs in with the local provider, which knows `accounts`.
fn sso_app(accounts: Value) -> Option<(TestApp, Provider, Application)> {
    let app = TestApp::spawn();
    let op = Provider::start(&app, accounts)?;
    configure(&app, &op.issuer, "", None);
    let client = Application::register(&app);
    Some((app, op, client))
}

fn alice() -> Value {
    json!({"alice": {
        "email": "alice@acme.example", "email_verified": "true",
        "given_name": "Alice", "family_name": "Liddell", "name": "Alice Liddell",
        "groups": ["Engineering"],
    }})
}

#[test]
fn an_application_signs_a_directory_user_in_through_roster_and_gets_their_roles() {
    let Some((app, _op, client)) = sso_app(alice()) else {
        return;
    };
    // The directory, as SCIM pushed it: Alice in Engineering, which maps to "editor".
    let alice = app.create_user("alice@acme.example");
    let group = app.create_group("Engineering", &[&alice]);
    role(&app, "editor", 10, false);
    map(&app, &group, "editor");

    let mut browser = Browser::new();
    let back = client.sign_in(&app, &mut browser, "alice");
    assert_eq!(back["state"], "st-1");
    assert_eq!(back["iss"], format!("{}/oauth/acme", app.address).as_str());
    let code = back["code"].as_str().expect("a code").to_owned();
    let (status, tokens) = client.token(&app, &code);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap());
    assert_eq!(
        claims["sub"],
        alice.as_str(),
        "roster's user id, not the provider's"
    );
    assert_eq!(claims["nonce"], client.nonce.as_str());
    assert_eq!(claims["email"], "alice@acme.example");
    assert_eq!(claims["email_verified"], true, "the directory pushed it");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["roles"], json!(["editor"]));
    assert_eq!(claims["groups"], json!(["Engineering"]));

    let (status, info) = userinfo(&app, tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "{info}");
    // The scheme's name is case-insensitive (RFC 9110 §11.1).
    let lower = ureq::get(&format!("{}/oauth/acme/userinfo", app.address))
        .set(
            "Authorization",
            &format!("bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .call();
    assert_eq!(lower.map(|r| r.status()).ok(), Some(200));
    assert_eq!(info["sub"], alice.as_str());
    assert_eq!(info["roles"], json!(["editor"]));
    assert_eq!(info["preferred_username"], "alice@acme.example");
    assert!(app.audit_actions().contains(&"sso.sign_in".to_owned()));

    // The code works once: a replay is refused and audited.
    let (status, again) = client.token(&app, &code);
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
    assert!(app
        .audit_actions()
        .contains(&"sso.code_replayed".to_owned()));

    // Deactivated by SCIM: userinfo stops at once, and the next sign-in is refused.
    let r = app.patch(
        &format!("/Users/{alice}"),
        &crate::helpers::patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 401);
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    assert_eq!(back["error"], "access_denied");
    assert!(
        back["error_description"]
            .as_str()
            .unwrap()
            .contains("deactivated"),
        "{back:?}"
    );
    assert_eq!(back["state"], "st-1");
    assert!(app
        .audit_actions()
        .contains(&"sso.sign_in_refused".to_owned()));
}

#[test]
fn a_first_sign_in_provisions_the_user_just_in_time_only_when_the_tenant_allows_it() {
    let accounts = json!({
        "alice": {"email": "alice@acme.example", "name": "Alice Liddell", "groups": []},
        "mallory": {"email": "mallory@evil.example", "groups": []},
    });
    let Some((app, _op, client)) = sso_app(accounts) else {
        return;
    };
    // Off by default: an unknown user is refused.
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    assert_eq!(back["error"], "access_denied", "{back:?}");
    assert!(back["error_description"]
        .as_str()
        .unwrap()
        .contains("just-in-time"));

    stdout(&roster(
        &app.db,
        &[
            "sso",
            "settings",
            "acme",
            "--jit",
            "on",
            "--jit-domain",
            "acme.example",
        ],
    ));
    let before = app.last_sequence();
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let code = back["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{back:?}"))
        .to_owned();
    let (status, tokens) = client.token(&app, &code);
    assert_eq!(status, 200, "{tokens}");
    let claims = verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap());
    let id = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(
        claims["email_verified"], false,
        "only the sign-in asserted a JIT user's address"
    );
    // A real directory user: SCIM shows it, and the feed says who made it.
    let user = app.get(&format!("/Users/{id}"));
    assert_eq!(user.status, 200);
    assert_eq!(user.body["userName"], "alice@acme.example");
    assert_eq!(user.body["displayName"], "Alice Liddell");
    let created: Vec<Value> = app
        .events_after(before)
        .into_iter()
        .filter(|e| e["type"] == "user.created")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"]["type"], "jit");

    // A second sign-in matches the same user: no duplicate.
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let (_, tokens) = client.token(&app, back["code"].as_str().unwrap());
    let again = verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap());
    assert_eq!(again["sub"], id.as_str());
    assert_eq!(app.get("/Users").body["totalResults"], 1);

    // Another domain is not provisioned.
    let back = client.sign_in(&app, &mut Browser::new(), "mallory");
    assert_eq!(back["error"], "access_denied");
    assert!(
        back["error_description"]
            .as_str()
            .unwrap()
            .contains("evil.example"),
        "{back:?}"
    );
    assert_eq!(app.get("/Users").body["totalResults"], 1);
}

#[test]
fn authorization_requests_that_could_redirect_anywhere_are_refused_on_a_page() {
    let Some((app, op, client)) = sso_app(alice()) else {
        return;
    };
    let mut browser = Browser::new();
    // A redirect URI that is not registered byte for byte: a page, never a redirect.
    for (uri, why) in [
        (
            "https://evil.example/callback",
            "not a redirect URI registered",
        ),
        (
            "https://app.example/callback/",
            "not a redirect URI registered",
        ),
        (
            "https://app.example/callback?x=1",
            "not a redirect URI registered",
        ),
    ] {
        let url = client
            .authorize_url(&app, "")
            .replace(&urlencode(APP_CALLBACK), &urlencode(uri));
        let page = browser.get(&url);
        assert_eq!(page.status, 400, "{uri}: {}", page.text);
        assert!(page.location.is_none());
        assert!(page.text.contains(why), "{}", page.text);
    }
    let unknown = client
        .authorize_url(&app, "")
        .replace(&client.client_id, "rcl_nobody");
    let page = browser.get(&unknown);
    assert_eq!(page.status, 400);
    assert!(
        page.text.contains("no application with client_id"),
        "{}",
        page.text
    );

    // The request may come as a form too (OIDC Core §3.1.2.1): off to the provider.
    let query = client.authorize_url(&app, "");
    let (endpoint, params) = query.split_once('?').unwrap();
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(params.as_bytes())
        .into_owned()
        .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let posted = browser.request("POST", endpoint, Some(&fields), &[]);
    assert_eq!(posted.status, 303, "{}", posted.text);
    assert!(posted.location.unwrap().starts_with(&op.issuer));

    // Errors the application can handle go back to it, with its state.
    let no_pkce = client.authorize_url(&app, "").replace(
        "&code_challenge_method=S256",
        "&code_challenge_method=plain",
    );
    let back = back_at_app(&mut browser, &no_pkce);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "st-1");
    let no_openid = client
        .authorize_url(&app, "")
        .replace("scope=openid%20", "scope=");
    assert_eq!(
        back_at_app(&mut browser, &no_openid)["error"],
        "invalid_scope"
    );
    let implicit = client
        .authorize_url(&app, "")
        .replace("response_type=code", "response_type=token");
    assert_eq!(
        back_at_app(&mut browser, &implicit)["error"],
        "unsupported_response_type"
    );
}

#[test]
fn the_token_endpoint_refuses_wrong_secrets_verifiers_and_redirect_uris() {
    let Some((app, _op, client)) = sso_app(alice()) else {
        return;
    };
    app.create_user("alice@acme.example");
    let code = |b: &mut Browser| {
        client.sign_in(&app, b, "alice")["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut browser = Browser::new();
    let c = code(&mut browser);
    let form = |code: &str, verifier: &str, uri: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", uri.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let send = |id: &str, secret: &str, f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_request(&app, id, secret, &pairs)
    };
    let (status, body) = send(
        &client.client_id,
        "rcs_wrong",
        form(&c, &client.verifier, APP_CALLBACK),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let wrong_verifier = URL_SAFE_NO_PAD.encode([8u8; 40]);
    let (status, body) = send(
        &client.client_id,
        &client.secret,
        form(&c, &wrong_verifier, APP_CALLBACK),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // A failed exchange spent the code: it never works afterwards.
    let (status, _) = send(
        &client.client_id,
        &client.secret,
        form(&c, &client.verifier, APP_CALLBACK),
    );
    assert_eq!(status, 400);
    let c = code(&mut browser);
    let (status, body) = send(
        &client.client_id,
        &client.secret,
        form(&c, &client.verifier, "https://app.example/other"),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = send(
        &client.client_id,
        &client.secret,
        form("made-up", &client.verifier, APP_CALLBACK),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // client_secret_post works as well as _basic.
    let c = code(&mut browser);
    let r = ureq::post(&format!("{}/oauth/acme/token", app.address)).send_form(&[
        ("grant_type", "authorization_code"),
        ("code", &c),
        ("redirect_uri", APP_CALLBACK),
        ("code_verifier", &client.verifier),
        ("client_id", &client.client_id),
        ("client_secret", &client.secret),
    ]);
    let tokens: Value = r.expect("client_secret_post").into_json().unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // A revoked application can no longer exchange codes.
    let c = code(&mut browser);
    stdout(&roster(
        &app.db,
        &["oauth-client", "revoke", "acme", &client.client_id],
    ));
    let (status, body) = send(
        &client.client_id,
        &client.secret,
        form(&c, &client.verifier, APP_CALLBACK),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // And its access tokens stop at userinfo at once.
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap()).0,
        401
    );
}

#[test]
fn a_rotated_signing_key_stays_published_until_its_tokens_expire() {
    let Some((app, _op, client)) = sso_app(alice()) else {
        return;
    };
    app.create_user("alice@acme.example");
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let (_, tokens) = client.token(&app, back["code"].as_str().unwrap());
    let old_kid = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    // userinfo now holds a key set with the old key alone.
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap()).0,
        200
    );
    let out = stdout(&roster(&app.db, &["sso", "rotate-key", "acme"]));
    assert!(out.contains("now signs with key"), "{out}");
    assert!(app
        .audit_actions()
        .contains(&"sso.signing_key_rotated".to_owned()));
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let (_, fresh) = client.token(&app, back["code"].as_str().unwrap());
    let new_kid = jsonwebtoken::decode_header(fresh["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(old_kid, new_kid);
    // Both verify: the old token until it expires, the new one from now on.
    verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap());
    verified_id_token(&app, &client, fresh["id_token"].as_str().unwrap());
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "the old key's access token still works");
    // The new key's token too, though userinfo's cached key set predates it.
    let (status, _) = userinfo(&app, fresh["access_token"].as_str().unwrap());
    assert_eq!(status, 200, "a token of the new key reloads the key set");
    // The private keys are sealed at rest like every other secret.
    let sealed: Vec<String> = roster::store::secrets::all(&mut app.store.connection().unwrap())
        .unwrap()
        .into_iter()
        .filter(|(p, _)| matches!(p, roster::store::secrets::Place::SigningKey { .. }))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(sealed.len(), 2);
    assert!(sealed.iter().all(|v| v.starts_with("enc:v1:")));
}

#[test]
fn discovery_describes_the_tenants_issuer_and_unknown_tenants_have_none() {
    let app = TestApp::spawn();
    let issuer = format!("{}/oauth/acme", app.address);
    let doc: Value = ureq::get(&format!("{issuer}/.well-known/openid-configuration"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{issuer}/authorize").as_str()
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let missing = ureq::get(&format!(
        "{}/oauth/nobody/.well-known/openid-configuration",
        app.address
    ))
    .call();
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))));
    // userinfo without a token, or with one roster did not sign.
    let (status, _) = userinfo(&app, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
    assert_eq!(status, 401);
    // A header the caller wrote (a newline in alg) is never echoed: still a clean 401.
    let header = URL_SAFE_NO_PAD.encode("{\"alg\":\"x\\ny\",\"typ\":\"at+jwt\"}");
    let (status, _) = userinfo(&app, &format!("{header}.e30.x"));
    assert_eq!(status, 401);
}

#[test]
fn the_application_api_registers_clients_and_changes_sign_in_settings() {
    let app = TestApp::spawn();
    let r = app.api(
        "POST",
        "/oauth-clients",
        Some(&json!({"name": "Portal", "redirect_uris": [APP_CALLBACK]})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.body["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("rcs_"));
    let listed = app.api("GET", "/oauth-clients", None);
    assert_eq!(listed.body[0]["id"], id.as_str());
    assert!(
        !listed.text.contains("rcs_"),
        "a listed client shows no secret"
    );
    for bad in [
        json!({"name": "x", "redirect_uris": ["http://app.example/cb"]}),
        json!({"name": "x", "redirect_uris": []}),
        json!({"name": " ", "redirect_uris": [APP_CALLBACK]}),
    ] {
        let r = app.api("POST", "/oauth-clients", Some(&bad));
        r.assert_scim_error(400, Some("invalidValue"));
    }
    assert_eq!(
        app.api("DELETE", &format!("/oauth-clients/{id}"), None)
            .status,
        204
    );
    assert_eq!(
        app.api("DELETE", &format!("/oauth-clients/{id}"), None)
            .status,
        404
    );
    assert!(app.api("GET", "/oauth-clients", None).body[0]["revoked_at"].is_string());
    let audited = app.audit_actions();
    assert!(
        audited.contains(&"oauth_client.created".to_owned()),
        "{audited:?}"
    );
    assert!(
        audited.contains(&"oauth_client.revoked".to_owned()),
        "{audited:?}"
    );

    let r = app.api("GET", "/sign-in-settings", None);
    assert_eq!(
        r.body,
        json!({"jit_enabled": false, "jit_domains": [], "groups_in_tokens": true, "connection": "oidc", "sync_groups": false})
    );
    let r = app.api(
        "PUT",
        "/sign-in-settings",
        Some(&json!({"jit_enabled": true, "jit_domains": ["@Acme.Example"], "groups_in_tokens": false})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["jit_domains"], json!(["acme.example"]));
    assert!(app
        .audit_actions()
        .contains(&"sso.settings_changed".to_owned()));
    let r = app.api(
        "PUT",
        "/sign-in-settings",
        Some(&json!({"jit_enabled": true, "jit_domains": ["not a domain"], "groups_in_tokens": true})),
    );
    r.assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn the_applications_screen_registers_an_app_sets_jit_and_logs_sign_ins() {
    let Some((app, _op, _)) = sso_app(alice()) else {
        return;
    };
    let mut owner = Browser::owner(&app, "acme");
    let screen = format!("{}/admin/acme/applications", app.address);
    let page = owner.get(&screen);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page
        .text
        .contains(&format!("{}/oauth/acme/callback", app.address)));
    let csrf = crate::browser::csrf_of(&page);

    // A bad redirect URI is refused on the screen, with the reason.
    let refused = owner.post_form(
        &screen,
        &csrf,
        &[
            ("name", "Portal"),
            ("redirect_uris", "http://portal.example/cb"),
        ],
    );
    assert_eq!(refused.status, 400);
    assert!(
        refused.text.contains("https (http only on localhost)"),
        "{}",
        refused.text
    );

    let made = owner.post_form(
        &screen,
        &csrf,
        &[
            ("name", "Portal"),
            ("redirect_uris", &format!("{APP_CALLBACK}\n")),
        ],
    );
    assert_eq!(made.status, 200, "{}", made.text);
    let secret =
        crate::browser::Browser::text_of(&made, "client-secret").expect("the secret, once");
    let client_id = crate::browser::Browser::text_of(&made, "client-id").unwrap();
    assert!(secret.starts_with("rcs_") && client_id.starts_with("rcl_"));
    assert!(
        !owner.get(&screen).text.contains(&secret),
        "shown once only"
    );

    let saved = owner.post_form(
        &format!("{screen}/settings"),
        &csrf,
        &[
            ("jit_enabled", "on"),
            ("jit_domains", "acme.example\n"),
            ("groups_in_tokens", "on"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text);

    // The registered app signs alice in; she is provisioned, logged and marked.
    let client = Application {
        client_id,
        secret,
        verifier: URL_SAFE_NO_PAD.encode([9u8; 40]),
        nonce: "n".into(),
    };
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let (status, tokens) = client.token(&app, back["code"].as_str().unwrap());
    assert_eq!(status, 200, "{tokens}");
    let sub = verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = owner.get(&screen);
    assert!(page.text.contains("created (JIT)"), "{}", page.text);
    let user = owner.get(&format!("{}/admin/acme/users/{sub}", app.address));
    assert!(user.text.contains("id=\"jit\""), "{}", user.text);

    // Viewers read the screen; its forms are refused.
    crate::browser::demote_all(&app, "viewer");
    let page = owner.get(&screen);
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("id=\"new-client\""));
    let denied = owner.post_form(
        &screen,
        &csrf,
        &[("name", "X"), ("redirect_uris", APP_CALLBACK)],
    );
    assert_eq!(denied.status, 403, "{}", denied.text);
}

#[test]
fn a_sign_in_matches_one_user_by_primary_email_and_never_takes_over_a_linked_one() {
    let accounts = json!({
        "ann": {"email": "ann@acme.example", "groups": []},
        "bob": {"email": "shared@acme.example", "groups": []},
        "eve": {"email": "ann.home@example.net", "groups": []},
        "ann2": {"email": "ann@acme.example", "groups": []},
    });
    let Some((app, _op, client)) = sso_app(accounts) else {
        return;
    };
    let user = |name: &str, emails: Value| {
        let r = app.post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "emails": emails}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    };
    // Ann's primary address is the one the provider asserts; her home address is a
    // secondary one, which must never sign anyone in as her.
    let ann = user(
        "ann",
        json!([{"value": "ann@acme.example", "primary": true},
               {"value": "ann.home@example.net"}]),
    );
    user(
        "shared-1",
        json!([{"value": "shared@acme.example", "primary": true}]),
    );
    user(
        "shared-2",
        json!([{"value": "shared@acme.example", "primary": true}]),
    );

    let sub_of = |back: &Map<String, Value>| {
        let (_, tokens) = client.token(
            &app,
            back["code"].as_str().unwrap_or_else(|| panic!("{back:?}")),
        );
        verified_id_token(&app, &client, tokens["id_token"].as_str().unwrap())["sub"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        sub_of(&client.sign_in(&app, &mut Browser::new(), "ann")),
        ann
    );
    let back = client.sign_in(&app, &mut Browser::new(), "eve");
    assert_eq!(
        back["error"], "access_denied",
        "a secondary address matched: {back:?}"
    );
    let back = client.sign_in(&app, &mut Browser::new(), "bob");
    assert!(
        back["error_description"]
            .as_str()
            .unwrap()
            .contains("more than one user"),
        "{back:?}"
    );
    // Another account of the provider asserting Ann's address does not become Ann.
    let back = client.sign_in(&app, &mut Browser::new(), "ann2");
    assert!(
        back["error_description"]
            .as_str()
            .unwrap()
            .contains("another account"),
        "{back:?}"
    );
    // Every refusal carries the issuer (RFC 9207), so the application can trust it.
    assert_eq!(back["iss"], format!("{}/oauth/acme", app.address).as_str());
}

#[test]
fn two_sign_ins_in_one_browser_both_finish_and_a_suspended_organization_signs_nobody_in() {
    let Some((app, _op, client)) = sso_app(alice()) else {
        return;
    };
    app.create_user("alice@acme.example");
    // Two tabs: both sign-ins start before either comes back.
    let mut browser = Browser::new();
    let first = browser.get(&client.authorize_url(&app, "&login_hint=alice"));
    let second = browser.get(&client.authorize_url(&app, "&login_hint=alice"));
    for started in [first, second] {
        let upstream = started.location.expect("off to the provider");
        let mut page = browser.get(&upstream);
        let mut back = None;
        for _ in 0..10 {
            let next = page.location.clone().expect("a redirect");
            if next.starts_with("https://app.example/") {
                back = Some(next);
                break;
            }
            page = browser.get(&next);
        }
        let back = back.expect("back at the application");
        assert!(back.contains("code="), "{back}");
    }

    // Token endpoint errors are OAuth JSON, never a page.
    let r = ureq::post(&format!("{}/oauth/nobody/token", app.address)).send_form(&[
        ("grant_type", "authorization_code"),
        ("client_id", "x"),
        ("client_secret", "y"),
    ]);
    let Err(ureq::Error::Status(404, r)) = r else {
        panic!("an unknown tenant's token endpoint answered {r:?}");
    };
    let body: Value = r.into_json().expect("JSON");
    assert_eq!(body["error"], "invalid_request");
    let r = ureq::post(&format!("{}/oauth/acme/token", app.address))
        .set("content-type", "application/x-www-form-urlencoded")
        .send_string("grant_type=a&grant_type=b");
    let Err(ureq::Error::Status(400, r)) = r else {
        panic!("a malformed form answered {r:?}");
    };
    assert_eq!(
        r.into_json::<Value>().expect("JSON")["error"],
        "invalid_request"
    );

    // Suspended: sign-ins are refused at once, and a code from before does not redeem.
    let back = client.sign_in(&app, &mut Browser::new(), "alice");
    let code = back["code"].as_str().unwrap().to_owned();
    stdout(&roster(&app.db, &["tenant", "suspend", "acme"]));
    let refused = back_at_app(
        &mut Browser::new(),
        &client.authorize_url(&app, "&login_hint=alice"),
    );
    assert_eq!(refused["error"], "access_denied");
    assert!(refused["error_description"]
        .as_str()
        .unwrap()
        .contains("suspended"));
    let (status, body) = client.token(&app, &code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}
