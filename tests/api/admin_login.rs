//! Admin login (spec §6.7): the authorization-code flow against a real local OpenID
//! Provider (npm `oidc-provider`, tests/oidc/provider.mjs) issuing JumpCloud-shaped
//! claims, ID-token rejections through the provider script's forge issuer, sessions,
//! CSRF, SCIM revocation and break-glass links.
//!
//! The provider needs `npm ci --prefix tests/oidc`. Without it these tests skip with a
//! message, unless `ROSTER_NO_SKIPS` is set (CI sets it), when they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use diesel::prelude::*;
use roster::service::admin::{self, AdminRole, OidcSettings};
use roster::service::stamp;
use roster::store::admin::{admin_login_links, admin_sessions};

use crate::browser::{csrf_of, host_of, Browser, Page};
use serde_json::{json, Value};

use crate::helpers::TestApp;

const CLIENT_ID: &str = "roster-acme";
const CLIENT_SECRET: &str = "s3cret-of-acme";

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The local provider: a node child process, killed on drop.
pub struct Provider {
    child: Child,
    config: Value,
    pub issuer: String,
    forge: String,
    _log: tempfile::NamedTempFile,
}

impl Provider {
    /// Starts the provider for roster at `app`, or `None` (skip) when its packages are
    /// not installed and the tests are not required.
    pub fn start(app: &TestApp, accounts: Value) -> Option<Self> {
        if !provider_dir().join("node_modules/oidc-provider").exists() {
            crate::helpers::skipped(
                "the local OIDC provider is not installed (npm ci --prefix tests/oidc)",
                crate::helpers::Skip::Missing,
            );
            return None;
        }
        let config = json!({
            "port": 0,
            "forgePort": 0,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                // The admin login's, and the sign-ins of applications' users (roster
                // as the tenant's OpenID Provider).
                "redirect_uris": [
                    format!("{}/admin/acme/callback", app.address),
                    format!("{}/oauth/acme/callback", app.address),
                ],
            }],
            "accounts": accounts,
        });
        Some(Self::spawn(config))
    }

    fn spawn(config: Value) -> Self {
        let log = tempfile::NamedTempFile::new().expect("log file");
        // A provider that stalls at start (seen once in CI: node alive, nothing
        // printed) is started again, once, instead of hanging the suite.
        let (child, line) = (0..2)
            .find_map(|_| {
                let mut child = Command::new("node")
                    .arg(provider_dir().join("provider.mjs"))
                    .env("OIDC_TEST_CONFIG", config.to_string())
                    .stdout(Stdio::piped())
                    .stderr(log.reopen().expect("log"))
                    .spawn()
                    .expect("node runs");
                match crate::helpers::ready_line(&mut child, Duration::from_secs(20)) {
                    Some(line) => Some((child, line)),
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        None
                    }
                }
            })
            .unwrap_or_else(|| {
                panic!(
                    "the provider did not start in 20 s, twice: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                )
            });
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "the provider did not start: {}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            )
        });
        Self {
            child,
            config,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            forge: ready["forge"].as_str().unwrap().to_owned(),
            _log: log,
        }
    }

    fn port(url: &str) -> u16 {
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Restarts on the same ports: the provider comes back with a new signing key.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut config = self.config.clone();
        config["port"] = Self::port(&self.issuer).into();
        config["forgePort"] = Self::port(&self.forge).into();
        let (issuer, forge) = (self.issuer.clone(), self.forge.clone());
        *self = Self::spawn(config);
        assert_eq!((issuer, forge), (self.issuer.clone(), self.forge.clone()));
    }

    /// What the forge signs next: claims merged over valid ones (null removes one), an
    /// optional `kid`, an optional userinfo body.
    fn forge_next(&self, template: Value) {
        let r = ureq::post(&format!("{}/__forge", self.forge))
            .send_string(&template.to_string())
            .expect("forge");
        assert_eq!(r.status(), 200);
    }

    fn jwks_fetches(&self) -> u64 {
        let stats: Value = ureq::get(&format!("{}/__stats", self.forge))
            .call()
            .expect("stats")
            .into_json()
            .unwrap();
        stats["jwks_fetches"].as_u64().unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn configure(app: &TestApp, issuer: &str, groups_claim: &str, jc_org: Option<&str>) {
    let settings = OidcSettings {
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        groups_claim: groups_claim.to_owned(),
        expected_jc_org: jc_org.map(str::to_owned),
        group_roles: BTreeMap::from([
            ("Roster Owners".to_owned(), AdminRole::Owner),
            ("Roster Admins".to_owned(), AdminRole::Admin),
            ("Roster Viewers".to_owned(), AdminRole::Viewer),
        ]),
        scopes: admin::default_scopes(),
    };
    let mut conn = app.store.connection().unwrap();
    admin::set_oidc(&mut conn, "acme", &settings, "tests", &app.keys).unwrap();
}

trait SignIn {
    fn sign_in(&mut self, app: &TestApp, account: &str) -> Page;
    fn home(&mut self, app: &TestApp) -> Page;
}

impl SignIn for Browser {
    /// Starts roster's login and follows it through the provider as `account`.
    fn sign_in(&mut self, app: &TestApp, account: &str) -> Page {
        let start = self.get(&format!("{}/admin/acme/login", app.address));
        assert_eq!(start.status, 303, "{}", start.text);
        let authorize = start.location.expect("authorization URL");
        // The provider logs in whoever the login hint names.
        self.follow(&format!("{authorize}&login_hint={account}"))
    }

    fn home(&mut self, app: &TestApp) -> Page {
        self.get(&format!("{}/admin/acme/", app.address))
    }
}

fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let mut conn = app.store.connection().unwrap();
    admin::audit_log(&mut conn, "acme")
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.actor))
        .collect()
}

/// The `after` JSON of the newest audit row with this action.
fn audited(app: &TestApp, action: &str) -> Value {
    let mut conn = app.store.connection().unwrap();
    let row = admin::audit_log(&mut conn, "acme")
        .unwrap()
        .into_iter()
        .find(|r| r.action == action)
        .unwrap_or_else(|| panic!("no {action} in the audit log"));
    serde_json::from_str(row.after_json.as_deref().unwrap_or("null")).unwrap()
}

#[test]
fn an_admin_signs_in_through_the_oidc_provider_and_signs_out() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({"alice": {
            "email": "alice@acme.example", "email_verified": "true",
            "groups": ["Everyone", "Roster Owners"], "jc_org": "org-1",
            "preferred_username": "alice",
        }}),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", Some("org-1"));
    let mut browser = Browser::new();

    // Unauthenticated, a page sends the browser to the login, remembering the page.
    let home = browser.home(&app);
    assert_eq!(home.status, 303);
    assert!(
        home.location
            .as_deref()
            .unwrap()
            .ends_with("/admin/acme/login?return_to=/admin/acme"),
        "{home:?}"
    );

    let page = browser.sign_in(&app, "alice");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.url.ends_with("/admin/acme/"), "{}", page.url);
    assert!(page.text.contains("alice@acme.example"), "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">owner</span>"#),
        "{}",
        page.text
    );
    assert!(
        browser.cookie(&app.address, "roster_oidc").is_none(),
        "state cookie cleared"
    );
    let session = browser.cookie(&app.address, "roster_session").unwrap();
    assert_eq!(session.len(), 64);
    {
        let mut conn = app.store.connection().unwrap();
        let stored: Vec<String> = admin_sessions::table
            .select(admin_sessions::id_hash)
            .load(&mut conn)
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], session, "only a digest is stored");
    }

    // A form without the session's token, or from another origin, is refused.
    let logout = format!("{}/admin/acme/logout", app.address);
    let csrf = csrf_of(&page);
    let r = browser.request("POST", &logout, Some(&[("csrf", "forged")]), &[]);
    assert_eq!(r.status, 403, "{}", r.text);
    let r = browser.request(
        "POST",
        &logout,
        Some(&[("csrf", &csrf)]),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(browser.home(&app).status, 200, "still signed in");

    let r = browser.request(
        "POST",
        &logout,
        Some(&[("csrf", &csrf)]),
        &[("Origin", &app.address)],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("signed out"), "{}", r.text);
    assert!(browser.cookie(&app.address, "roster_session").is_none());
    // The old cookie no longer opens anything.
    browser
        .jar
        .entry(host_of(&app.address))
        .or_default()
        .insert("roster_session".into(), session);
    assert_eq!(browser.home(&app).status, 303);

    let actions = audit_actions(&app);
    assert!(
        actions.contains(&("login".into(), "alice <alice@acme.example>".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("logout".into(), "alice <alice@acme.example>".into())),
        "{actions:?}"
    );
    assert_eq!(audited(&app, "login")["email_verified"], true);
}

#[test]
fn email_verified_as_1_and_a_single_group_as_a_bare_string_in_a_named_claim_sign_in() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({
            "bob": {"email": "bob@acme.example", "email_verified": "1", "memberOf": "Roster Admins"},
            "dan": {"email": "dan@acme.example", "email_verified": "true", "member_of": ["Roster Viewers"]},
        }),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "memberOf", None);
    let page = Browser::new().sign_in(&app, "bob");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">admin</span>"#),
        "{}",
        page.text
    );
    let login = audited(&app, "login");
    assert_eq!(login["email_verified"], true, "{login}");
    assert_eq!(login["groups"], json!(["Roster Admins"]), "{login}");

    // Auto-detection finds member_of when no claim is configured.
    configure(&app, &op.issuer, "", None);
    let page = Browser::new().sign_in(&app, "dan");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">viewer</span>"#),
        "{}",
        page.text
    );
    assert_eq!(audited(&app, "login")["email_verified"], true);
}

#[test]
fn a_user_without_an_admin_group_is_refused_with_the_groups_seen() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({"eve": {"email": "eve@acme.example", "groups": ["Engineering", "Sales"]}}),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    let mut browser = Browser::new();
    let page = browser.sign_in(&app, "eve");
    assert_eq!(page.status, 403, "{}", page.text);
    assert!(
        page.text.contains("<code>Engineering</code>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("<code>Sales</code>"), "{}", page.text);
    assert!(browser.cookie(&app.address, "roster_session").is_none());
    assert!(audit_actions(&app)
        .iter()
        .any(|(a, _)| a == "login.refused.no_admin_group"));
}

#[test]
fn groups_missing_from_the_id_token_are_read_from_userinfo() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({"fay": {"email": "fay@acme.example", "groups": ["Roster Admins"], "_userinfo_only": ["groups"]}}),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    let page = Browser::new().sign_in(&app, "fay");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">admin</span>"#),
        "{}",
        page.text
    );
}

#[test]
fn an_inactive_scim_user_cannot_sign_in() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({"5f0c1a2b3c4d5e6f7a8b9c0d": {"email": "gus@acme.example", "groups": "Roster Owners"}}),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    // JumpCloud's SCIM externalId is its user id, which is also the OIDC sub.
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "gus", "externalId": "5f0c1a2b3c4d5e6f7a8b9c0d", "active": false}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let page = Browser::new().sign_in(&app, "5f0c1a2b3c4d5e6f7a8b9c0d");
    assert_eq!(page.status, 403, "{}", page.text);
    assert!(page.text.contains("deactivated"), "{}", page.text);
    assert!(audit_actions(&app)
        .iter()
        .any(|(a, _)| a == "login.refused.inactive_user"));
}

#[test]
fn deactivating_or_deleting_the_scim_user_ends_the_admin_session() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({
            "hal": {"email": "hal@acme.example", "groups": ["Roster Owners"]},
            "ivy": {"email": "ivy@acme.example", "groups": ["Roster Owners"]},
        }),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    // hal matches by userName, ivy by e-mail.
    let hal = app.create_user("hal@acme.example");
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ivy",
                "emails": [{"value": "IVY@acme.example", "primary": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let ivy = r.body["id"].as_str().unwrap().to_owned();

    let mut hal_browser = Browser::new();
    assert_eq!(hal_browser.sign_in(&app, "hal").status, 200);
    let mut ivy_browser = Browser::new();
    assert_eq!(ivy_browser.sign_in(&app, "ivy").status, 200);

    let r = app.patch(
        &format!("/Users/{hal}"),
        &crate::helpers::patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        hal_browser.home(&app).status,
        303,
        "deactivation ends the session"
    );
    assert_eq!(ivy_browser.home(&app).status, 200, "others keep theirs");

    assert_eq!(app.delete(&format!("/Users/{ivy}")).status, 204);
    assert_eq!(
        ivy_browser.home(&app).status,
        303,
        "deletion ends the session"
    );
    let ended = audit_actions(&app)
        .into_iter()
        .filter(|(a, _)| a == "session.ended_by_scim")
        .count();
    assert_eq!(ended, 2);
}

#[test]
fn a_rotated_signing_key_is_fetched_when_an_unknown_kid_arrives() {
    let app = TestApp::spawn();
    let Some(mut op) = Provider::start(
        &app,
        json!({"jo": {"email": "jo@acme.example", "groups": ["Roster Viewers"]}}),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    assert_eq!(Browser::new().sign_in(&app, "jo").status, 200);
    // The provider comes back with a new key: roster's cached JWKS lacks its kid.
    op.restart();
    let page = Browser::new().sign_in(&app, "jo");
    assert_eq!(page.status, 200, "{}", page.text);
}

/// Signs in through the forge, which signs the claims `template` asks for.
fn forged_sign_in(app: &TestApp, op: &Provider, template: Value) -> Page {
    op.forge_next(template);
    let mut browser = Browser::new();
    let page = browser.sign_in(app, "anyone");
    if page.status == 200 {
        assert!(browser.cookie(&app.address, "roster_session").is_some());
    } else {
        assert!(browser.cookie(&app.address, "roster_session").is_none());
    }
    page
}

#[test]
fn id_tokens_with_a_wrong_audience_a_bad_nonce_or_an_expiry_are_refused() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(&app, json!({})) else {
        return;
    };
    configure(&app, &op.forge, "", Some("org-1"));
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = json!({"groups": "Roster Admins", "jc_org": "org-1", "email_verified": "1"});
    let with = |extra: Value| {
        let mut claims = good.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"claims": claims})
    };
    // The forge's token, unaltered, is accepted: client_secret_post, as its discovery says.
    let page = forged_sign_in(&app, &op, with(json!({})));
    assert_eq!(page.status, 200, "{}", page.text);

    let cases = [
        (
            "wrong audience",
            with(json!({"aud": "another-client"})),
            "audience",
        ),
        (
            "an untrusted extra audience",
            with(json!({"aud": [CLIENT_ID, "another-client"]})),
            "another client",
        ),
        (
            "azp of another client",
            with(json!({"azp": "another-client"})),
            "azp",
        ),
        ("bad nonce", with(json!({"nonce": "replayed"})), "nonce"),
        ("no nonce", with(json!({"nonce": null})), "nonce"),
        (
            "expired",
            with(json!({"exp": now - 120, "iat": now - 600})),
            "expired",
        ),
        (
            "issued in the future",
            with(json!({"iat": now + 600})),
            "iat",
        ),
        (
            "another issuer",
            with(json!({"iss": "https://oauth.id.jumpcloud.com/"})),
            "issuer",
        ),
        (
            "another JumpCloud organization",
            with(json!({"jc_org": "org-2"})),
            "jc_org",
        ),
    ];
    for (case, template, reason) in cases {
        let page = forged_sign_in(&app, &op, template);
        assert_eq!(page.status, 401, "{case}: {}", page.text);
        assert!(page.text.contains(reason), "{case}: {}", page.text);
    }
    // The attacks on the signature itself: none, and HS256 keyed with the public key.
    for alg in ["none", "HS256"] {
        let mut template = with(json!({}));
        template["alg"] = alg.into();
        let page = forged_sign_in(&app, &op, template);
        assert_eq!(page.status, 401, "alg {alg}: {}", page.text);
        // `none` does not even parse as a JWS header; HS256 parses and is refused.
        let why = if alg == "none" {
            "malformed"
        } else {
            "is not RS256"
        };
        assert!(page.text.contains(why), "alg {alg}: {}", page.text);
    }
    // Within leeway (60 s) an expiry is still accepted.
    let page = forged_sign_in(&app, &op, with(json!({"exp": now - 20})));
    assert_eq!(page.status, 200, "{}", page.text);
}

#[test]
fn an_unknown_kid_refetches_the_jwks_at_most_once_a_minute() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(&app, json!({})) else {
        return;
    };
    configure(&app, &op.forge, "", None);
    let template = json!({"claims": {"groups": ["Roster Owners"]}});
    assert_eq!(forged_sign_in(&app, &op, template.clone()).status, 200);
    assert_eq!(op.jwks_fetches(), 1);

    let unknown = json!({"claims": {"groups": ["Roster Owners"]}, "kid": "not-a-known-key"});
    let page = forged_sign_in(&app, &op, unknown.clone());
    assert_eq!(page.status, 401, "{}", page.text);
    assert!(page.text.contains("kid"), "{}", page.text);
    assert_eq!(op.jwks_fetches(), 2, "one refetch for the unknown kid");
    assert_eq!(forged_sign_in(&app, &op, unknown).status, 401);
    assert_eq!(op.jwks_fetches(), 2, "no second refetch within a minute");
    assert_eq!(forged_sign_in(&app, &op, template).status, 200);
}

#[test]
fn the_callback_refuses_a_missing_or_mismatched_login_state() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(&app, json!({})) else {
        return;
    };
    configure(&app, &op.forge, "", None);
    let mut browser = Browser::new();
    let page = browser.get(&format!(
        "{}/admin/acme/callback?code=x&state=y",
        app.address
    ));
    assert_eq!(page.status, 400, "{}", page.text);
    let start = browser.get(&format!("{}/admin/acme/login", app.address));
    assert_eq!(start.status, 303);
    let page = browser.get(&format!(
        "{}/admin/acme/callback?code=x&state=forged",
        app.address
    ));
    assert_eq!(page.status, 400, "{}", page.text);
    assert!(page.text.contains("state"), "{}", page.text);
    // A return path outside the tenant's admin pages is replaced by its home.
    op.forge_next(json!({"claims": {"groups": "Roster Owners"}}));
    let start = browser.get(&format!(
        "{}/admin/acme/login?return_to=https://evil.example/",
        app.address
    ));
    let landed = browser.follow(&start.location.unwrap());
    assert_eq!(landed.status, 200, "{}", landed.text);
    assert!(landed.url.ends_with("/admin/acme/"), "{}", landed.url);
}

#[test]
fn a_tenant_without_oidc_settings_says_so() {
    let app = TestApp::spawn();
    let page = Browser::new().get(&format!("{}/admin/acme/login", app.address));
    assert_eq!(page.status, 404, "{}", page.text);
    assert!(
        page.text.contains("roster admin login-link"),
        "{}",
        page.text
    );
    let page = Browser::new().get(&format!("{}/admin/nope/login", app.address));
    assert_eq!(page.status, 404, "{}", page.text);
}

#[test]
fn sessions_end_after_30_idle_minutes_or_12_hours() {
    let app = TestApp::spawn();
    let url = {
        let mut conn = app.store.connection().unwrap();
        admin::create_login_link(&mut conn, "acme").unwrap()
    };
    let mut browser = Browser::new();
    let page = browser.follow(&format!("{}/admin/acme/login-link/{url}", app.address));
    assert_eq!(page.status, 200, "{}", page.text);
    let mut conn = app.store.connection().unwrap();
    let now = SystemTime::now();
    diesel::update(admin_sessions::table)
        .set(admin_sessions::last_seen_at.eq(stamp(now - Duration::from_secs(29 * 60))))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(browser.home(&app).status, 200, "29 idle minutes are fine");
    diesel::update(admin_sessions::table)
        .set(admin_sessions::last_seen_at.eq(stamp(now - Duration::from_secs(31 * 60))))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(browser.home(&app).status, 303, "31 are not");
    diesel::update(admin_sessions::table)
        .set((
            admin_sessions::last_seen_at.eq(stamp(now)),
            admin_sessions::expires_at.eq(stamp(now - Duration::from_secs(1))),
        ))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(browser.home(&app).status, 303, "past the absolute end");
}

#[test]
fn a_break_glass_link_works_once_is_audited_and_expires() {
    let app = TestApp::spawn();
    let token = {
        let mut conn = app.store.connection().unwrap();
        admin::create_login_link(&mut conn, "acme").unwrap()
    };
    let link = format!("{}/admin/acme/login-link/{token}", app.address);
    let mut browser = Browser::new();
    let page = browser.follow(&link);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">owner</span>"#),
        "{}",
        page.text
    );
    assert!(page.text.contains("break-glass"), "{}", page.text);

    let again = Browser::new().follow(&link);
    assert_eq!(again.status, 403, "{}", again.text);
    // Another tenant's path does not take the link either.
    app.add_tenant("other");
    let token = {
        let mut conn = app.store.connection().unwrap();
        admin::create_login_link(&mut conn, "acme").unwrap()
    };
    let elsewhere =
        Browser::new().follow(&format!("{}/admin/other/login-link/{token}", app.address));
    assert_eq!(elsewhere.status, 403);
    {
        let mut conn = app.store.connection().unwrap();
        diesel::update(admin_login_links::table)
            .set(
                admin_login_links::expires_at.eq(stamp(SystemTime::now() - Duration::from_secs(1))),
            )
            .execute(&mut conn)
            .unwrap();
    }
    let expired = Browser::new().follow(&format!("{}/admin/acme/login-link/{token}", app.address));
    assert_eq!(expired.status, 403, "{}", expired.text);

    let actions = audit_actions(&app);
    let count = |action: &str| actions.iter().filter(|(a, _)| a == action).count();
    assert_eq!(count("login_link.created"), 2, "{actions:?}");
    assert_eq!(count("login.break_glass"), 1, "{actions:?}");
    assert_eq!(count("login.refused.login_link"), 2, "{actions:?}");
    assert!(
        actions.iter().all(|(_, who)| who == "break-glass"),
        "{actions:?}"
    );
}

fn roster_cli(db: &crate::helpers::TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("ROSTER_DATABASE_URL", &db.url)
        .envs(db.secrets_env())
        .env("ROSTER_PUBLIC_URL", "https://roster.example")
        .env("ROSTER_LOG_LEVEL", "warn")
        .output()
        .expect("roster runs")
}

fn ok_stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn admin_cli_sets_and_shows_oidc_settings_and_prints_a_one_time_login_link() {
    let db = crate::helpers::TestDb::new();
    ok_stdout(&roster_cli(&db, &["tenant", "create", "acme"]));
    let set = ok_stdout(&roster_cli(
        &db,
        &[
            "admin",
            "oidc",
            "set",
            "acme",
            "--issuer",
            "https://oauth.id.jumpcloud.com/",
            "--client-id",
            "abc123",
            "--client-secret",
            "very-secret",
            "--groups-claim",
            "memberOf",
            "--expected-jc-org",
            "5f0c",
            "--map-group",
            "Roster Owners=owner",
            "--map-group",
            "IT=viewer",
            "--scope",
            "openid",
            "--scope",
            "profile",
        ],
    ));
    assert!(
        set.contains("https://roster.example/admin/acme/callback"),
        "{set}"
    );
    let show = ok_stdout(&roster_cli(&db, &["admin", "oidc", "show", "acme"]));
    for expected in [
        "https://oauth.id.jumpcloud.com/",
        "abc123",
        "(set)",
        "memberOf",
        "5f0c",
        "Roster Owners = owner",
        "IT = viewer",
        "scopes:          openid profile",
    ] {
        assert!(show.contains(expected), "{expected}: {show}");
    }
    assert!(!show.contains("very-secret"), "{show}");
    let bad = roster_cli(
        &db,
        &[
            "admin",
            "oidc",
            "set",
            "acme",
            "--issuer",
            "i",
            "--client-id",
            "c",
            "--map-group",
            "IT=root",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("owner, admin, viewer"));

    let out = ok_stdout(&roster_cli(&db, &["admin", "login-link", "acme"]));
    let link = out.lines().last().unwrap();
    let token = link
        .strip_prefix("https://roster.example/admin/acme/login-link/")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{link}"
    );

    // The link opens an owner session on a roster serving that database, once.
    let started = crate::helpers::start(roster::config::Settings {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".into(),
        workers: 1,
        shutdown_timeout_secs: 1,
        ..Default::default()
    });
    let address = started.address.clone();
    let mut browser = Browser::new();
    let page = browser.follow(&format!("{address}/admin/acme/login-link/{token}"));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="role">owner</span>"#),
        "{}",
        page.text
    );
    assert_eq!(
        Browser::new()
            .follow(&format!("{address}/admin/acme/login-link/{token}"))
            .status,
        403
    );

    let audit = ok_stdout(&roster_cli(&db, &["admin", "audit", "acme"]));
    for action in [
        "oidc.configured",
        "login_link.created",
        "login.break_glass",
        "login.refused.login_link",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    assert!(
        !audit.contains("very-secret") && !audit.contains(token),
        "{audit}"
    );
}

/// The stored settings, secret included, as the sign-in uses them.
fn stored(app: &TestApp) -> OidcSettings {
    let mut conn = app.store.connection().unwrap();
    admin::oidc_settings(&mut conn, "acme", &app.keys)
        .unwrap()
        .1
        .unwrap()
}

fn sso_form<'a>(issuer: &'a str, client_id: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("issuer", issuer),
        ("client_id", client_id),
        ("client_secret", secret),
        ("groups_claim", ""),
        ("expected_jc_org", ""),
        (
            "group_roles",
            "Roster Owners=owner\r\nIT Helpdesk = viewer\r\n",
        ),
    ]
}

#[test]
fn owners_configure_admin_sso_on_a_screen_that_never_shows_the_secret() {
    let app = TestApp::spawn();
    configure(&app, "https://idp.example/", "", None);
    let mut browser = Browser::owner(&app, "acme");
    let sso = format!("{}/admin/acme/sso", app.address);

    let page = browser.get(&sso);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<code>https://idp.example/</code>"));
    assert!(page.text.contains("set (never shown)"), "{}", page.text);
    assert!(
        !page.text.contains(CLIENT_SECRET),
        "the secret is never shown"
    );
    assert!(page.text.contains(&format!(
        "<code id=\"redirect-uri\">{}/admin/acme/callback</code>",
        app.address
    )));
    assert!(page
        .text
        .contains(r#"href="/admin/acme/sso" aria-current="page">Admin SSO</a>"#));
    let csrf = csrf_of(&page);

    // A blank secret keeps the stored one.
    let saved = browser.post_form(
        &sso,
        &csrf,
        &sso_form("https://idp.example/", "new-client", ""),
    );
    assert_eq!(saved.status, 303, "{}", saved.text);
    let now = stored(&app);
    assert_eq!(now.client_id, "new-client");
    assert_eq!(now.client_secret.as_deref(), Some(CLIENT_SECRET));
    assert_eq!(
        now.group_roles,
        BTreeMap::from([
            ("IT Helpdesk".to_owned(), AdminRole::Viewer),
            ("Roster Owners".to_owned(), AdminRole::Owner),
        ])
    );
    let after = audited(&app, "oidc.configured");
    assert_eq!(after["client_id"], "new-client");
    assert_eq!(after["client_secret"], "(set)");

    // A new secret replaces it, and is not shown back.
    let saved = browser.post_form(
        &sso,
        &csrf,
        &sso_form("https://idp.example/", "new-client", "rotated-secret-42"),
    );
    assert_eq!(saved.status, 303);
    assert_eq!(
        stored(&app).client_secret.as_deref(),
        Some("rotated-secret-42")
    );
    let page = browser.follow(&format!("{sso}?saved=1"));
    assert!(page.text.contains(r#"id="saved""#));
    assert!(!page.text.contains("rotated-secret-42"));
    let mut conn = app.store.connection().unwrap();
    let audit_rows = admin::audit_log(&mut conn, "acme").unwrap();
    drop(conn);
    assert!(
        audit_rows.iter().all(|r| {
            !r.after_json
                .as_deref()
                .unwrap_or("")
                .contains("rotated-secret-42")
                && !r
                    .before_json
                    .as_deref()
                    .unwrap_or("")
                    .contains(CLIENT_SECRET)
        }),
        "no secret is audited"
    );

    // Clearing it makes a public client; a bad mapping line is refused, changing nothing.
    let mut clear = sso_form("https://idp.example/", "new-client", "");
    clear.push(("clear_secret", "on"));
    assert_eq!(browser.post_form(&sso, &csrf, &clear).status, 303);
    assert_eq!(stored(&app).client_secret, None);
    let mut bad = sso_form("https://idp.example/", "other-client", "");
    bad[5] = ("group_roles", "Roster Owners=superuser");
    let refused = browser.post_form(&sso, &csrf, &bad);
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("Roster Owners=superuser"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains(r#"value="other-client""#),
        "what was entered stays"
    );
    assert_eq!(stored(&app).client_id, "new-client");
    let forged = browser.post_form(&sso, "forged", &sso_form("https://x.example/", "x", ""));
    assert_eq!(forged.status, 403);
}

#[test]
fn admins_and_viewers_neither_see_nor_change_admin_sso() {
    let app = TestApp::spawn();
    configure(&app, "https://idp.example/", "", None);
    let mut browser = Browser::with_role(&app, "acme", "admin");
    let sso = format!("{}/admin/acme/sso", app.address);

    let home = browser.get(&format!("{}/admin/acme/", app.address));
    assert!(!home.text.contains("Admin SSO"), "no tab");
    assert_eq!(browser.get(&sso).status, 403);
    assert_eq!(browser.get(&format!("{sso}/test")).status, 403);
    let csrf = csrf_of(&home);
    let refused = browser.post_form(&sso, &csrf, &sso_form("https://x.example/", "x", ""));
    assert_eq!(refused.status, 403);
    assert_eq!(stored(&app).issuer, "https://idp.example/");
}

/// Runs the screen's test sign-in as `account` and returns the result page.
fn test_sign_in(app: &TestApp, browser: &mut Browser, account: &str) -> Page {
    let start = browser.get(&format!("{}/admin/acme/sso/test", app.address));
    assert_eq!(start.status, 303, "{}", start.text);
    let authorize = start.location.expect("authorization URL");
    browser.follow(&format!("{authorize}&login_hint={account}"))
}

fn session_count(app: &TestApp) -> i64 {
    let mut conn = app.store.connection().unwrap();
    admin_sessions::table
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

#[test]
fn a_test_sign_in_shows_the_claims_and_the_role_and_signs_nobody_in() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(
        &app,
        json!({
            "alice": {"email": "alice@acme.example", "groups": ["Everyone", "Roster Owners"]},
            "eve": {"email": "eve@acme.example", "groups": ["Engineering", "Sales"]},
        }),
    ) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    let mut browser = Browser::owner(&app, "acme");
    let mine = browser.cookie(&app.address, "roster_session").unwrap();
    assert_eq!(session_count(&app), 1);

    let page = test_sign_in(&app, &mut browser, "alice");

    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.url.ends_with("/admin/acme/callback") || page.url.contains("/callback?"));
    assert!(
        page.text.contains("Test sign-in: accepted"),
        "{}",
        page.text
    );
    assert_eq!(
        Browser::text_of(&page, "test-role").as_deref(),
        Some("owner")
    );
    assert!(
        page.text.contains("<code>Roster Owners</code>"),
        "{}",
        page.text
    );
    let claims = &page.text[page.text.find(r#"id="test-claims""#).expect("claims")..];
    assert!(claims.contains("alice@acme.example"), "{claims}");
    assert!(
        claims.contains("&#34;iss&#34;") || claims.contains("\"iss\""),
        "{claims}"
    );
    // Nobody was signed in: the owner's own session is the only one, unchanged.
    assert_eq!(session_count(&app), 1);
    assert_eq!(
        browser.cookie(&app.address, "roster_session").unwrap(),
        mine
    );
    assert!(
        browser.cookie(&app.address, "roster_oidc").is_none(),
        "state cleared"
    );
    let home = browser.get(&format!("{}/admin/acme/", app.address));
    assert!(
        home.text.contains(r#"<span id="who">break-glass</span>"#)
            || home.text.contains("break-glass"),
        "{}",
        home.text
    );

    // Signed out of the provider (its session cookies dropped), to test another account.
    browser.jar.remove(&host_of(&op.issuer));
    let page = test_sign_in(&app, &mut browser, "eve");
    assert!(page.text.contains("Test sign-in: refused"), "{}", page.text);
    assert!(
        page.text
            .contains("none of the groups the provider sent maps to an admin role"),
        "{}",
        page.text
    );
    assert!(page.text.contains("<code>Engineering</code>"));
    assert_eq!(session_count(&app), 1);
    let tested = audited(&app, "oidc.test_sign_in");
    assert_eq!(tested["accepted"], false);
    assert_eq!(tested["groups"], json!(["Engineering", "Sales"]));
    assert!(
        audit_actions(&app)
            .iter()
            .all(|(a, _)| !a.starts_with("login.refused")),
        "a test is not a sign-in"
    );
}

#[test]
fn a_test_sign_in_says_exactly_why_an_id_token_was_refused() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(&app, json!({})) else {
        return;
    };
    configure(&app, &op.forge, "", Some("org-1"));
    let mut browser = Browser::owner(&app, "acme");
    op.forge_next(json!({"claims": {"groups": "Roster Admins", "jc_org": "org-2"}}));

    let page = test_sign_in(&app, &mut browser, "anyone");

    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Test sign-in: refused"), "{}", page.text);
    let reason = Browser::text_of(&page, "test-reason").unwrap();
    assert!(reason.contains("jc_org"), "{reason}");
    assert_eq!(session_count(&app), 1);

    op.forge_next(json!({"claims": {"groups": "Roster Admins", "jc_org": "org-1"}}));
    let page = test_sign_in(&app, &mut browser, "anyone");
    assert!(
        page.text.contains("Test sign-in: accepted"),
        "{}",
        page.text
    );
    assert_eq!(
        Browser::text_of(&page, "test-role").as_deref(),
        Some("admin")
    );
}

#[test]
fn the_scopes_asked_for_are_the_tenants_and_always_include_openid() {
    let app = TestApp::spawn();
    let Some(op) = Provider::start(&app, json!({})) else {
        return;
    };
    configure(&app, &op.issuer, "", None);
    let mut settings = stored(&app);
    settings.scopes = admin::parse_scopes("openid, profile").unwrap();
    let mut conn = app.store.connection().unwrap();
    admin::set_oidc(&mut conn, "acme", &settings, "tests", &app.keys).unwrap();
    let start = Browser::new().get(&format!("{}/admin/acme/login", app.address));
    let to = url::Url::parse(&start.location.expect("to the provider")).unwrap();
    let scope = to
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        scope, "openid profile",
        "no email scope: JumpCloud's string email_verified stays out"
    );
    assert!(
        admin::parse_scopes("email profile").is_err(),
        "openid is required"
    );
    assert!(admin::parse_scopes("openid \"x\"").is_err());
    assert_eq!(admin::parse_scopes("").unwrap(), admin::default_scopes());
}
