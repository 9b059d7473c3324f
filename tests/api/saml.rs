//! SAML 2.0 with roster as the service provider, against a real local IdP (pysaml2 and
//! xmlsec1, tests/saml/idp.py) shaped like JumpCloud's: applications' users signing in
//! through roster's OpenID Provider, admins signing in, the test sign-in, and every
//! refusal: signatures, audience, recipient, time, issuer, replay, unsolicited
//! responses, and the signature-wrapping and comment-injection shapes.
//!
//! The IdP needs `python3 -m venv tests/saml/.venv && tests/saml/.venv/bin/pip install
//! -r tests/saml/requirements.txt` and Debian's xmlsec1; without them these tests skip
//! with a message, unless `ROSTER_NO_SKIPS` is set (CI sets it), when they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::admin_login::configure;
use crate::browser::{Browser, Page};
use crate::cli::{roster, stdout};
use crate::helpers::TestApp;
use crate::roles::{map, role};

/// Switches of the test IdP (see tests/saml/idp.py).
type Switches<'a> = &'a [(&'a str, &'a str)];

const APP_CALLBACK: &str = "https://app.example/callback";

fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml")
}

/// The local IdP: a python child process, killed on drop.
struct Idp {
    child: Child,
    url: String,
    _log: tempfile::NamedTempFile,
}

impl Idp {
    fn start(accounts: Value) -> Option<Self> {
        let python = idp_dir().join(".venv/bin/python");
        if !python.exists() || !Path::new("/usr/bin/xmlsec1").exists() {
            crate::helpers::skipped(
                "the local SAML IdP is not installed (tests/saml/.venv with pysaml2, and xmlsec1)",
                crate::helpers::Skip::Missing,
            );
            return None;
        }
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut child = Command::new(python)
            .arg(idp_dir().join("idp.py"))
            .env(
                "SAML_TEST_CONFIG",
                json!({"entity_id": "JumpCloud", "accounts": accounts}).to_string(),
            )
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("python runs");
        let line =
            crate::helpers::ready_line(&mut child, Duration::from_secs(30)).unwrap_or_default();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "the IdP did not start: {}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            )
        });
        Some(Self {
            child,
            url: ready["url"].as_str().unwrap().to_owned(),
            _log: log,
        })
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A roster whose tenant `acme` is connected to a fresh IdP through its metadata URL.
fn connected(accounts: Value) -> Option<(TestApp, Idp)> {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let idp = Idp::start(accounts)?;
    let r = app.api(
        "PUT",
        "/saml-connection",
        Some(&json!({"metadata_url": format!("{}/metadata", idp.url)})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    Some((app, idp))
}

/// The value of a hidden input of an HTML form.
fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    let value = &rest[..rest.find('"')?];
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Where the IdP's auto-posting form goes.
fn action(html: &str) -> String {
    let at = html.find("action=\"").expect("a form");
    let rest = &html[at + 8..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// The IdP's signed response for the sign-in roster started at `start` (followed in
/// `browser`), as `email`, with the IdP's test switches: (ACS, SAMLResponse).
fn idp_response(
    browser: &mut Browser,
    start: &str,
    email: &str,
    switches: &[(&str, &str)],
) -> (String, String) {
    let started = browser.get(start);
    assert_eq!(started.status, 303, "{}", started.text);
    let to_idp = started.location.expect("a redirect to the IdP");
    let login = browser.get(&to_idp);
    assert_eq!(login.status, 200, "{}", login.text);
    let request = hidden(&login.text, "SAMLRequest").expect("the AuthnRequest");
    let idp = &to_idp[..to_idp.find("/sso").unwrap()];
    let mut fields = vec![("SAMLRequest", request.as_str()), ("email", email)];
    fields.extend_from_slice(switches);
    let answered = browser.request("POST", &format!("{idp}/sso/login"), Some(&fields), &[]);
    assert_eq!(answered.status, 200, "{}", answered.text);
    (
        action(&answered.text),
        hidden(&answered.text, "SAMLResponse").expect("a SAMLResponse"),
    )
}

fn post_response(browser: &mut Browser, acs: &str, response: &str) -> Page {
    browser.request(
        "POST",
        acs,
        Some(&[
            ("SAMLResponse", response),
            ("RelayState", "https://evil.example/"),
        ]),
        &[],
    )
}

/// The application, registered with roster's OpenID Provider.
struct Application {
    client_id: String,
    secret: String,
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
                "Portal",
                "--redirect-uri",
                APP_CALLBACK,
            ],
        ));
        let secret = out.lines().last().unwrap().to_owned();
        let list = stdout(&roster(&app.db, &["oauth-client", "list", "acme"]));
        let client_id = list
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        Self { client_id, secret }
    }

    fn authorize_url(&self, app: &TestApp) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
            b"verifier-verifier-verifier-verifier-verifier-48",
        ));
        format!(
            "{}/oauth/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email&state=st-9&code_challenge={challenge}&code_challenge_method=S256",
            app.address,
            self.client_id,
            url::form_urlencoded::byte_serialize(APP_CALLBACK.as_bytes()).collect::<String>(),
        )
    }

    /// Signs `email` in through roster and the IdP; the query roster sent the browser
    /// back to the application with.
    fn sign_in(&self, app: &TestApp, email: &str) -> url::Url {
        self.sign_in_with(app, email, &[])
    }

    fn sign_in_with(&self, app: &TestApp, email: &str, switches: Switches) -> url::Url {
        let mut browser = Browser::new();
        let (acs, response) = idp_response(&mut browser, &self.authorize_url(app), email, switches);
        let back = post_response(&mut browser, &acs, &response);
        assert_eq!(back.status, 303, "{}", back.text);
        let location = back.location.unwrap();
        assert!(location.starts_with(APP_CALLBACK), "{location}");
        url::Url::parse(&location).unwrap()
    }

    fn tokens(&self, app: &TestApp, code: &str) -> Value {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.client_id, self.secret));
        ureq::post(&format!("{}/oauth/acme/token", app.address))
            .set("Authorization", &format!("Basic {basic}"))
            .send_form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", APP_CALLBACK),
                (
                    "code_verifier",
                    "verifier-verifier-verifier-verifier-verifier-48",
                ),
            ])
            .expect("tokens")
            .into_json()
            .unwrap()
    }
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn claims(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The reasons of the sign-in refusals in the audit log, oldest first.
fn refusals(app: &TestApp) -> Vec<String> {
    let mut conn = app.store.connection().expect("connection");
    let mut reasons: Vec<String> = roster::service::admin::audit_log(&mut conn, "acme")
        .expect("audit log")
        .into_iter()
        .filter(|r| r.action == "sso.sign_in_refused")
        .map(|r| {
            let after: Value =
                serde_json::from_str(r.after_json.as_deref().unwrap_or("null")).unwrap();
            after["reason"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    reasons.reverse();
    reasons
}

#[test]
fn an_application_signs_users_in_through_a_saml_idp_with_their_roles_and_jit() {
    let Some((app, _idp)) = connected(json!({
        "alice@acme.test": {"firstName": "Alice", "lastName": "Liddell", "memberOf": ["Engineering"]},
    })) else {
        return;
    };
    let alice = app.create_user("alice@acme.test");
    let group = app.create_group("Engineering", &[&alice]);
    role(&app, "editor", 10, false);
    map(&app, &group, "editor");
    let r = app.api(
        "PUT",
        "/sign-in-settings",
        Some(&json!({"jit_enabled": true, "jit_domains": ["acme.test"], "groups_in_tokens": true, "connection": "saml"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let client = Application::register(&app);

    // A directory user: matched by the asserted address, with the roles of her groups.
    let back = client.sign_in(&app, "alice@acme.test");
    assert_eq!(query(&back, "state").as_deref(), Some("st-9"));
    let tokens = client.tokens(&app, &query(&back, "code").expect("a code"));
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], alice.as_str());
    assert_eq!(id["roles"], json!(["editor"]));
    assert_eq!(id["email"], "alice@acme.test");

    // Someone the directory does not have yet: created just in time, once.
    let back = client.sign_in(&app, "bob@acme.test");
    let bob = claims(
        client.tokens(&app, &query(&back, "code").unwrap())["id_token"]
            .as_str()
            .unwrap(),
    );
    let again = client.sign_in(&app, "bob@acme.test");
    let bob_again = claims(
        client.tokens(&app, &query(&again, "code").unwrap())["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        bob["sub"], bob_again["sub"],
        "no duplicate on the next sign-in"
    );
    let users = app.get("/Users?filter=userName%20eq%20%22bob%40acme.test%22");
    assert_eq!(users.body["totalResults"], 1, "{}", users.text);
    assert_eq!(users.body["Resources"][0]["name"]["givenName"], "Bob");

    // Outside the allowed domain, JIT refuses; the application hears why.
    let back = client.sign_in(&app, "carol@elsewhere.test");
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));

    // SCIM deactivates Alice: her next sign-in is refused.
    let r = app.patch(
        &format!("/Users/{alice}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let back = client.sign_in(&app, "alice@acme.test");
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert!(query(&back, "error_description")
        .unwrap()
        .contains("deactivated"));
}

#[test]
fn the_idps_groups_set_the_memberships_of_jit_users_only_when_asked() {
    let Some((app, _idp)) = connected(json!({})) else {
        return;
    };
    let alice = app.create_user("alice@acme.test");
    let engineering = app.create_group("Engineering", &[]);
    let sales = app.create_group("Sales", &[&alice]);
    role(&app, "editor", 10, false);
    map(&app, &engineering, "editor");
    let settings = |sync: bool| {
        let r = app.api(
            "PUT",
            "/sign-in-settings",
            Some(
                &json!({"jit_enabled": true, "jit_domains": [], "groups_in_tokens": true,
                         "connection": "saml", "sync_groups": sync}),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    let client = Application::register(&app);
    let signed_in = |email: &str, groups: &str| {
        let back = client.sign_in_with(&app, email, &[("groups", groups)]);
        claims(
            client.tokens(&app, &query(&back, "code").expect("a code"))["id_token"]
                .as_str()
                .unwrap(),
        )
    };
    let members = |group: &str| -> Vec<String> {
        let mut ids: Vec<String> = app.get(&format!("/Groups/{group}")).body["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["value"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };

    // Off (the default): the assertion's groups change nothing.
    settings(false);
    let bob = signed_in("bob@acme.test", "Engineering");
    assert!(members(&engineering).is_empty());
    assert_eq!(bob["roles"], json!([]));

    // On: the JIT user joins the groups named, by exact name, with the roles they map
    // to; an unknown name is ignored; the next sign-in moves him.
    settings(true);
    let bob = signed_in("bob@acme.test", "Engineering,engineering,Nobody");
    let bob_id = bob["sub"].as_str().unwrap().to_owned();
    assert_eq!(members(&engineering), vec![bob_id.clone()]);
    assert_eq!(bob["roles"], json!(["editor"]));
    let bob = signed_in("bob@acme.test", "Sales");
    assert!(members(&engineering).is_empty());
    assert!(members(&sales).contains(&bob_id));
    assert_eq!(bob["roles"], json!([]));
    // An empty attribute changes nothing (more likely a misconfiguration).
    signed_in("bob@acme.test", "");
    assert!(members(&sales).contains(&bob_id));
    // A user the directory pushed keeps SCIM's memberships.
    signed_in("alice@acme.test", "Engineering");
    let mut both = vec![alice.clone(), bob_id.clone()];
    both.sort();
    assert_eq!(members(&sales), both);
    assert!(members(&engineering).is_empty());
    // The changes are SCIM changes made by the sign-in: events with the `jit` actor.
    let events = app.events_after(0);
    assert!(
        events.iter().any(|e| e["actor"]["type"] == "jit"
            && e["type"].as_str().unwrap_or("").starts_with("group.")),
        "{events:?}"
    );
}

#[test]
fn saml_responses_that_fail_a_check_are_refused_with_a_page_and_an_audit_row() {
    let Some((app, _idp)) = connected(json!({})) else {
        return;
    };
    let start = format!("{}/admin/acme/sso/saml-test", app.address);
    // The IdP's switches, the refusal's reason code, and words of its page.
    let cases: &[(Switches, &str, &str)] = &[
        (&[("sign", "none")], "saml_signature", "signature"),
        (&[("key", "other")], "saml_signature", "signature"),
        (&[("alg", "sha1")], "saml_signature", "SHA-1"),
        (&[("tamper", "1")], "saml_signature", "signature"),
        (
            &[("audience", "https://other.example/sp")],
            "saml_audience",
            "not for roster",
        ),
        (
            &[("destination", "https://evil.example/acs")],
            "saml_recipient",
            "another address",
        ),
        (&[("expired", "1")], "saml_time", "validity window"),
        (
            &[("issuer", "NotJumpCloud")],
            "saml_issuer",
            "another issuer",
        ),
    ];
    for (switches, code, words) in cases {
        let mut browser = Browser::owner(&app, "acme");
        let (acs, response) = idp_response(&mut browser, &start, "alice@acme.test", switches);
        let page = post_response(&mut browser, &acs, &response);
        assert_eq!(page.status, 400, "{switches:?}: {}", page.text);
        assert!(page.text.contains(words), "{switches:?}: {}", page.text);
        assert_eq!(
            refusals(&app).last().map(String::as_str),
            Some(*code),
            "{switches:?}"
        );
    }
    // The same IdP, untouched, passes: the refusals were the switches'.
    let mut browser = Browser::owner(&app, "acme");
    let (acs, response) = idp_response(&mut browser, &start, "alice@acme.test", &[]);
    let page = post_response(&mut browser, &acs, &response);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("alice@acme.test"), "{}", page.text);
    assert!(
        page.text.contains("memberOf") || page.text.contains("email"),
        "{}",
        page.text
    );
}

#[test]
fn signature_wrapping_and_comment_injection_are_refused() {
    let Some((app, _idp)) = connected(json!({})) else {
        return;
    };
    let start = format!("{}/admin/acme/sso/saml-test", app.address);
    for attack in ["evil_first", "evil_last", "wrap", "extensions", "object"] {
        let mut browser = Browser::owner(&app, "acme");
        let (acs, response) = idp_response(
            &mut browser,
            &start,
            "alice@acme.test",
            &[("attack", attack), ("evil", "mallory@acme.test")],
        );
        let page = post_response(&mut browser, &acs, &response);
        assert_eq!(page.status, 400, "{attack}: {}", page.text);
        assert!(!page.text.contains("mallory@acme.test"), "{attack}");
        let code = refusals(&app).last().cloned().unwrap();
        assert!(
            code == "saml_shape" || code == "saml_signature",
            "{attack}: {code}"
        );
    }
    // The IdP signed `victim@acme.test.evil.test`; a comment after `victim@acme.test`
    // keeps the signature valid and fools a parser that reads the first text node.
    let mut browser = Browser::owner(&app, "acme");
    let (acs, response) = idp_response(
        &mut browser,
        &start,
        "victim@acme.test.evil.test",
        &[("comment", "victim@acme.test.evil.test")],
    );
    let page = post_response(&mut browser, &acs, &response);
    assert_eq!(page.status, 400, "{}", page.text);
    assert!(page.text.contains("XML comment"), "{}", page.text);
    assert_eq!(
        refusals(&app).last().map(String::as_str),
        Some("saml_shape")
    );
}

#[test]
fn a_response_is_used_once_and_an_unsolicited_one_only_when_allowed() {
    let Some((app, idp)) = connected(json!({})) else {
        return;
    };
    let start = format!("{}/admin/acme/sso/saml-test", app.address);
    let mut browser = Browser::owner(&app, "acme");
    let (acs, response) = idp_response(&mut browser, &start, "alice@acme.test", &[]);
    assert_eq!(post_response(&mut browser, &acs, &response).status, 200);
    // The same response again: its request is spent.
    let again = post_response(&mut browser, &acs, &response);
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(
        refusals(&app).last().map(String::as_str),
        Some("saml_in_response_to")
    );

    // IdP-initiated (a portal tile): refused while off.
    let sp = format!("{}/saml/acme", app.address);
    let unsolicited = |browser: &mut Browser| {
        let page = browser.request(
            "POST",
            &format!("{}/idp-initiated", idp.url),
            Some(&[("sp", sp.as_str()), ("email", "alice@acme.test")]),
            &[],
        );
        assert_eq!(page.status, 200, "{}", page.text);
        hidden(&page.text, "SAMLResponse").unwrap()
    };
    let response = unsolicited(&mut browser);
    let page = post_response(&mut browser, &acs, &response);
    assert_eq!(page.status, 400);
    assert_eq!(
        refusals(&app).last().map(String::as_str),
        Some("saml_unsolicited")
    );

    // Allowed: the browser goes to the application's login URL, never to RelayState;
    // the same response twice is a replay.
    let r = app.api(
        "PUT",
        "/saml-connection",
        Some(
            &json!({"metadata_url": format!("{}/metadata", idp.url), "allow_idp_initiated": true,
                     "idp_initiated_url": "https://app.example/login"}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let response = unsolicited(&mut browser);
    let page = post_response(&mut browser, &acs, &response);
    assert_eq!(page.status, 303, "{}", page.text);
    let to = page.location.unwrap();
    assert!(to.starts_with("https://app.example/login?iss="), "{to}");
    let page = post_response(&mut browser, &acs, &response);
    assert_eq!(page.status, 400);
    assert_eq!(
        refusals(&app).last().map(String::as_str),
        Some("saml_replayed")
    );
}

#[test]
fn admins_sign_in_through_saml_under_the_group_rules() {
    let Some((app, idp)) = connected(json!({
        "root@acme.test": {"memberOf": ["Roster Owners"]},
        "guest@acme.test": {"memberOf": ["Everyone"]},
    })) else {
        return;
    };
    let start = format!("{}/admin/acme/login/saml", app.address);
    let sign_in = |email: &str| {
        let mut browser = Browser::new();
        let (acs, response) = idp_response(&mut browser, &start, email, &[]);
        (post_response(&mut browser, &acs, &response), browser)
    };
    // A tenant with SAML only: the SAML connection's own rules.
    let r = app.api(
        "PUT",
        "/saml-connection",
        Some(&json!({"metadata_url": format!("{}/metadata", idp.url),
                     "admin_group_roles": "Everyone=viewer\nRoster Owners=owner"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["admin_group_roles"],
        json!({"Everyone": "viewer", "Roster Owners": "owner"})
    );
    let (page, mut browser) = sign_in("guest@acme.test");
    assert_eq!(page.status, 303, "{}", page.text);
    assert_eq!(
        browser.get(&format!("{}/admin/acme/", app.address)).status,
        200
    );

    // With an OIDC connection, its rules apply to both protocols.
    configure(&app, "https://idp.example", "", None);
    let (page, mut browser) = sign_in("root@acme.test");
    assert_eq!(page.status, 303, "{}", page.text);
    assert_eq!(
        page.location.as_deref(),
        Some(format!("{}/admin/acme/", app.address).as_str())
    );
    let home = browser.get(&format!("{}/admin/acme/", app.address));
    assert_eq!(home.status, 200, "{}", home.text);
    let (page, _) = sign_in("guest@acme.test");
    assert_eq!(page.status, 403, "{}", page.text);
    assert!(app
        .audit_actions()
        .iter()
        .any(|a| a == "login.refused.no_admin_group"));
}

#[test]
fn the_sp_metadata_and_the_connection_api_refuse_what_would_weaken_the_checks() {
    let Some((app, idp)) = connected(json!({})) else {
        return;
    };
    let metadata = ureq::get(&format!("{}/saml/acme", app.address))
        .call()
        .unwrap();
    let xml = metadata.into_string().unwrap();
    assert!(
        xml.contains(&format!("entityID=\"{}/saml/acme\"", app.address)),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("{}/saml/acme/acs", app.address)),
        "{xml}"
    );
    assert!(xml.contains("WantAssertionsSigned=\"true\""), "{xml}");

    let r = app.api("GET", "/saml-connection", None);
    assert_eq!(r.body["idp_entity_id"], "JumpCloud", "{}", r.text);
    assert_eq!(r.body["groups_attribute"], "memberOf");
    let cert = r.body["certificates"][0]["certificate"]
        .as_str()
        .unwrap()
        .to_owned();
    let other: String = ureq::get(&format!("{}/cert?key=other", idp.url))
        .call()
        .unwrap()
        .into_string()
        .unwrap();

    for (body, why) in [
        (
            json!({"metadata_url": format!("{}/metadata", idp.url), "idp_entity_id": "X"}),
            "not both",
        ),
        (
            json!({"idp_entity_id": "JumpCloud", "sso_url": format!("{}/sso", idp.url)}),
            "certificate is missing",
        ),
        (
            json!({"idp_entity_id": "JumpCloud", "sso_url": "javascript:alert(1)", "certificates": [cert]}),
            "https URL",
        ),
        (
            json!({"idp_entity_id": "JumpCloud", "sso_url": format!("{}/sso", idp.url), "certificates": [cert, other, cert]}),
            "at most two",
        ),
        (
            json!({"idp_entity_id": "JumpCloud", "sso_url": format!("{}/sso", idp.url), "certificates": ["nope"]}),
            "certificate is not",
        ),
        (
            json!({"metadata_url": format!("{}/metadata", idp.url), "allow_idp_initiated": true}),
            "login URL",
        ),
        (
            json!({"metadata_url": format!("{}/metadata", idp.url), "allow_idp_initiated": true,
                   "idp_initiated_url": "http://app.example/login"}),
            "https URL",
        ),
    ] {
        let r = app.api("PUT", "/saml-connection", Some(&body));
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.text.contains(why), "{body}: {}", r.text);
    }

    // A rollover: the next certificate first, the current one second; responses
    // signed with either verify.
    let r = app.api(
        "PUT",
        "/saml-connection",
        Some(&json!({"idp_entity_id": "JumpCloud", "sso_url": format!("{}/sso", idp.url), "certificates": [other, cert]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let start = format!("{}/admin/acme/sso/saml-test", app.address);
    for key in ["idp", "other"] {
        let mut browser = Browser::owner(&app, "acme");
        let (acs, response) =
            idp_response(&mut browser, &start, "alice@acme.test", &[("key", key)]);
        assert_eq!(
            post_response(&mut browser, &acs, &response).status,
            200,
            "{key}"
        );
    }

    let r = app.api("DELETE", "/saml-connection", None);
    assert_eq!(r.status, 204, "{}", r.text);
    let gone = ureq::get(&format!("{}/saml/acme", app.address)).call();
    assert!(matches!(gone, Err(ureq::Error::Status(404, _))));
    assert!(app
        .audit_actions()
        .iter()
        .any(|a| a == "sso.saml_configured"));
}

#[test]
fn the_sso_screen_connects_saml_from_the_metadata_url_and_shows_what_to_paste() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let Some(idp) = Idp::start(json!({})) else {
        return;
    };
    let mut owner = Browser::owner(&app, "acme");
    let page = owner.screen(&app, "acme", "sso");
    assert!(
        page.text
            .contains("<title>Admin SSO · roster admin</title>"),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains(&format!("{}/saml/acme/acs", app.address)));
    assert!(page.text.contains("No SAML connection."));
    let csrf = crate::browser::csrf_of(&page);
    let url = format!("{}/admin/acme/sso/saml", app.address);
    let refused = owner.post_form(&url, &csrf, &[("metadata_xml", "<not metadata/>")]);
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("id=\"saml-refused\""),
        "{}",
        refused.text
    );
    let saved = owner.post_form(
        &url,
        &csrf,
        &[
            ("metadata_url", &format!("{}/metadata", idp.url)),
            ("groups_attribute", "memberOf"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text);
    let page = owner.screen(&app, "acme", "sso");
    assert!(
        page.text
            .contains("<code id=\"saml-idp-entity\">JumpCloud</code>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Test SAML sign-in"));
    assert!(app
        .audit_actions()
        .iter()
        .any(|a| a == "sso.saml_configured"));
}
