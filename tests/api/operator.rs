//! The deployment's operator: signs in with `operator_token`, sees every tenant's
//! health, and opens any tenant read-only.

use crate::browser::{csrf_of, Browser};
use crate::helpers::TestApp;

const TOKEN: &str = "op-7c1f0e";

fn operator_app() -> TestApp {
    TestApp::spawn_with(|s| s.operator_token = Some(TOKEN.into()))
}

fn signed_in(app: &TestApp) -> Browser {
    let mut browser = Browser::new();
    let page = browser.request(
        "POST",
        &format!("{}/admin/operator", app.address),
        Some(&[("token", TOKEN)]),
        &[],
    );
    assert_eq!(page.status, 303, "{}", page.text);
    assert!(
        page.location
            .as_deref()
            .is_some_and(|l| l.ends_with("/admin/operator/tenants")),
        "{:?}",
        page.location
    );
    browser
}

#[test]
fn the_operator_signs_in_with_the_deployment_token_and_sees_every_tenants_health() {
    let app = operator_app();
    app.add_tenant("globex");
    {
        let mut conn = app.store.connection().unwrap();
        roster::service::tenants::create_tenant(&mut conn, "initech", Some("Initech Corp"))
            .unwrap();
    }
    app.create_user("alice@example.com");
    let mut browser = Browser::new();
    let form = browser.get(&format!("{}/admin/operator", app.address));
    assert_eq!(form.status, 200);
    assert!(form.text.contains("Operator token"), "{}", form.text);
    let tenants_url = format!("{}/admin/operator/tenants", app.address);
    let away = browser.get(&tenants_url);
    assert_eq!(away.status, 303, "not signed in yet");
    let wrong = browser.request(
        "POST",
        &format!("{}/admin/operator", app.address),
        Some(&[("token", "op-7c1f0")]),
        &[],
    );
    assert_eq!(wrong.status, 401);
    assert!(browser.cookie(&app.address, "roster_operator").is_none());

    let mut browser = signed_in(&app);
    let page = browser.get(&tenants_url);
    assert_eq!(page.status, 200, "{}", page.text);
    for slug in ["acme", "globex", "initech"] {
        assert!(
            page.text.contains(&format!("href=\"/admin/{slug}/\"")),
            "{slug}: {}",
            page.text
        );
    }
    assert!(page.text.contains("Initech Corp"));
    assert!(page.text.contains("no live SCIM token"), "initech has none");
    assert!(page.text.contains("3 tenants"), "{}", page.text);
}

#[test]
fn the_operator_opens_any_tenant_read_only() {
    let app = operator_app();
    app.create_user("alice@example.com");
    let mut browser = signed_in(&app);
    let overview = browser.screen(&app, "acme", "");
    browser.screen(&app, "acme", "users");
    browser.screen(&app, "acme", "sync-log");
    // A form of the page, sent back with its own token, is still refused: a viewer.
    let roles = browser.screen(&app, "acme", "roles");
    let refused = browser.post_form(
        &format!("{}/admin/acme/roles", app.address),
        &csrf_of(&roles),
        &[("slug", "intruder"), ("name", "Intruder")],
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(!overview.text.is_empty());
    let n = app.count("SELECT count(*) AS n FROM roles WHERE slug = 'intruder'");
    assert_eq!(n, 0);
    // A tenant that does not exist is not opened.
    let missing = browser.get(&format!("{}/admin/nobody/", app.address));
    assert_eq!(missing.status, 303, "{}", missing.text);
    // Signing out ends it.
    let out = browser.request(
        "POST",
        &format!("{}/admin/operator/logout", app.address),
        Some(&[]),
        &[],
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        browser.get(&format!("{}/admin/acme/", app.address)).status,
        303
    );
}

#[test]
fn without_an_operator_token_there_is_no_operator_and_no_cookie_opens_a_tenant() {
    let app = TestApp::spawn();
    let mut browser = Browser::new();
    assert_eq!(
        browser
            .get(&format!("{}/admin/operator", app.address))
            .status,
        404
    );
    let posted = browser.request(
        "POST",
        &format!("{}/admin/operator", app.address),
        Some(&[("token", "")]),
        &[],
    );
    assert_eq!(posted.status, 404);
    // A session sealed by another deployment's operator opens nothing here.
    let other = roster::auth::operator::Operator::new(Some(TOKEN)).session(b"elsewhere");
    browser
        .jar
        .entry(crate::browser::host_of(&app.address))
        .or_default()
        .insert("roster_operator".into(), other);
    assert_eq!(
        browser.get(&format!("{}/admin/acme/", app.address)).status,
        303
    );
}

#[test]
fn guessing_the_operator_token_is_slowed_to_a_stop() {
    let app = TestApp::spawn_with(|s| {
        s.operator_token = Some(TOKEN.into());
        s.auth_failures_per_ip = 3;
    });
    let mut browser = Browser::new();
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            browser
                .request(
                    "POST",
                    &format!("{}/admin/operator", app.address),
                    Some(&[("token", &format!("guess-{i}"))]),
                    &[],
                )
                .status
        })
        .collect();
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(statuses[4], 429, "{statuses:?}");
}

#[test]
fn no_tenant_may_be_called_operator() {
    let app = TestApp::spawn();
    let mut conn = app.store.connection().unwrap();
    let refused = roster::service::tenants::create_tenant(&mut conn, "operator", None);
    assert!(
        matches!(refused, Err(roster::service::ServiceError::InvalidSlug)),
        "{refused:?}"
    );
}
