//! The admin UI's screens, driven over HTTP by a signed-in owner.

use crate::browser::{csrf_of, Browser, Page};
use crate::helpers::TestApp;

#[test]
fn the_overview_counts_the_directory_and_shows_the_last_scim_request() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    app.create_user("bob@example.com");
    app.create_group("Engineering", &[&alice]);
    let mut browser = Browser::owner(&app, "acme");

    // The sync log is written in batches, a moment after the response.
    let page = browser.eventually(&app, "acme", "", |text| text.contains("/Groups</code>"));

    assert!(
        page.text
            .contains(r#"<div class="n" id="active-users">2</div>"#),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains(r#"<div class="n" id="group-count">1</div>"#));
    assert!(
        page.text.contains("<code>POST /scim/v2/acme/Groups</code>"),
        "{}",
        page.text
    );
}

#[test]
fn a_tenant_that_never_connected_is_told_to_run_the_setup_wizard() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "");

    assert!(page.text.contains("never"), "{}", page.text);
    // The test app's token exists but was never used.
    assert!(
        page.text.contains("1 SCIM token(s) never used"),
        "{}",
        page.text
    );
}

#[test]
fn logging_out_from_a_screen_ends_the_session() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "");
    let csrf = csrf_of(&page);

    let out = browser.post_form(&format!("{}/admin/acme/logout", app.address), &csrf, &[]);

    assert_eq!(out.status, 200, "{}", out.text);
    let after = browser.get(&format!("{}/admin/acme/", app.address));
    assert_eq!(after.status, 303);
}

fn new_token(browser: &mut Browser, app: &TestApp, path: &str) -> (Page, String) {
    let page = browser.screen(app, "acme", "setup");
    let csrf = csrf_of(&page);
    let page = browser.post_form(
        &format!("{}/admin/acme/{path}", app.address),
        &csrf,
        &[("name", "JumpCloud")],
    );
    assert_eq!(page.status, 200, "{}", page.text);
    let token = Browser::text_of(&page, "scim-token").expect("the token is shown");
    (page, token)
}

fn list_users_with(app: &TestApp, token: &str) -> u16 {
    app.raw(
        "GET",
        &format!("{}/Users", app.base),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
        None,
    )
    .status
}

#[test]
fn the_setup_wizard_shows_a_token_once_and_the_test_connection_arriving() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let waiting = browser.screen(&app, "acme", "setup");
    assert!(
        waiting.text.contains("Waiting for the first request"),
        "{}",
        waiting.text
    );
    assert!(waiting
        .text
        .contains(&format!("{}/scim/v2/acme", app.address)));

    let (_, token) = new_token(&mut browser, &app, "setup/token?idp=jumpcloud");
    assert!(token.starts_with("rst_") || token.len() > 20, "{token}");
    // JumpCloud's Test Connection: one unfiltered page of users.
    let test_connection = app.raw(
        "GET",
        &format!("{}/Users?startIndex=1&count=1", app.base),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
        None,
    );
    assert_eq!(test_connection.status, 200);

    let poll = browser.eventually(&app, "acme", "setup/status", |t| t.contains("data-done"));
    assert!(
        poll.text.contains("listed users (Test Connection)"),
        "{}",
        poll.text
    );
    let again = browser.screen(&app, "acme", "setup");
    assert!(!again.text.contains(&token), "the token is shown once");
}

#[test]
fn the_activate_test_user_shows_as_a_test_artifact_and_kept_users_link_to_their_page() {
    let app = TestApp::spawn();
    let test_user = app.create_user("jc-test@example.com");
    app.delete(&format!("/Users/{test_user}"));
    let kept = app.create_user("alice@example.com");
    let mut browser = Browser::owner(&app, "acme");

    // The sync log is written in batches: wait for the last request to be in.
    let poll = browser.eventually(&app, "acme", "setup/status", |t| {
        t.contains("deleted a user") && t.contains("data-arrived>alice@example.com")
    });

    assert!(
        poll.text.contains("test artifact, since deleted"),
        "{}",
        poll.text
    );
    assert!(
        poll.text.contains(&format!(
            "/admin/acme/users/{kept}\" data-arrived>alice@example.com"
        )),
        "{}",
        poll.text
    );
}

#[test]
fn a_rotation_keeps_both_tokens_valid_until_it_is_completed() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "credentials");
    let csrf = csrf_of(&page);
    let old_id = first_token_id(&page);

    let rotated = browser.post_form(
        &format!(
            "{}/admin/acme/credentials/tokens/{old_id}/rotate",
            app.address
        ),
        &csrf,
        &[],
    );
    let successor = Browser::text_of(&rotated, "scim-token").expect("the successor is shown");
    assert!(
        rotated.text.contains("rotating: replaces"),
        "{}",
        rotated.text
    );
    assert_eq!(list_users_with(&app, &app.token), 200);
    assert_eq!(list_users_with(&app, &successor), 200);

    let successor_id = first_token_id(&rotated);
    let done = browser.post_form(
        &format!(
            "{}/admin/acme/credentials/tokens/{successor_id}/complete",
            app.address
        ),
        &csrf,
        &[],
    );
    assert_eq!(done.status, 303);
    assert_eq!(list_users_with(&app, &app.token), 401);
    assert_eq!(list_users_with(&app, &successor), 200);
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"scim_token.rotated".to_owned()),
        "{actions:?}"
    );
    assert!(actions.contains(&"scim_token.rotation_completed".to_owned()));
}

#[test]
fn cancelling_a_rotation_revokes_the_successor() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "credentials");
    let csrf = csrf_of(&page);
    let old_id = first_token_id(&page);
    let rotated = browser.post_form(
        &format!(
            "{}/admin/acme/credentials/tokens/{old_id}/rotate",
            app.address
        ),
        &csrf,
        &[],
    );
    let successor = Browser::text_of(&rotated, "scim-token").unwrap();

    browser.post_form(
        &format!(
            "{}/admin/acme/credentials/tokens/{}/cancel",
            app.address,
            first_token_id(&rotated)
        ),
        &csrf,
        &[],
    );

    assert_eq!(list_users_with(&app, &successor), 401);
    assert_eq!(list_users_with(&app, &app.token), 200);
}

#[test]
fn the_credentials_screen_shows_when_and_from_where_a_token_was_last_used() {
    let app = TestApp::spawn();
    app.get("/Users");
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "credentials");

    assert!(page.text.contains("<td>127.0.0.1</td>"), "{}", page.text);
    assert!(!page.text.contains("<td>never</td>"), "{}", page.text);
}

#[test]
fn only_owners_change_tokens_and_viewers_see_no_forms() {
    let app = TestApp::spawn();
    let mut admin = Browser::with_role(&app, "acme", "admin");
    let page = admin.screen(&app, "acme", "credentials");
    assert!(!page.text.contains("Create token"), "{}", page.text);
    let refused = admin.post_form(
        &format!("{}/admin/acme/credentials/tokens", app.address),
        &csrf_of(&page),
        &[("name", "x")],
    );
    assert_eq!(refused.status, 403);

    let mut owner = Browser::owner(&app, "acme");
    let page = owner.screen(&app, "acme", "credentials");
    let forged = owner.post_form(
        &format!("{}/admin/acme/credentials/tokens", app.address),
        "not-the-token",
        &[("name", "x")],
    );
    assert_eq!(forged.status, 403, "a wrong CSRF token is refused");
    assert!(page.text.contains("Create token"));
}

fn first_token_id(page: &Page) -> String {
    let at = page.text.find("data-token-id=\"").expect("a token row") + 15;
    page.text[at..].split('"').next().unwrap().to_owned()
}

fn role_and_mapping(app: &TestApp, slug: &str, group: &str) {
    crate::roles::role(app, slug, 10, false);
    crate::roles::map(app, group, slug);
}

#[test]
fn the_users_browser_searches_by_prefix_filters_and_pages() {
    let app = TestApp::spawn();
    for i in 0..55 {
        app.create_user(&format!("user{i:02}@example.com"));
    }
    let carol = app.create_user("carol@example.com");
    app.patch(
        &format!("/Users/{carol}"),
        &crate::helpers::patch_op(
            serde_json::json!([{"op": "replace", "path": "active", "value": false}]),
        ),
    );
    let mut browser = Browser::owner(&app, "acme");

    let first = browser.screen(&app, "acme", "users");
    assert!(first.text.contains("56 user(s)"), "{}", first.text);
    assert_eq!(first.text.matches("data-user-id=").count(), 50);
    let next = first
        .text
        .split("href=\"")
        .find(|s| s.contains("rel=\"next\""))
        .unwrap();
    let next = next.split('"').next().unwrap().replace("&#38;", "&");
    let second = browser.get(&format!("{}{next}", app.address));
    assert_eq!(
        second.text.matches("data-user-id=").count(),
        6,
        "{}",
        second.text
    );

    let found = browser.screen(&app, "acme", "users?q=CAROL");
    assert!(found.text.contains("1 user(s)"), "{}", found.text);
    assert!(found.text.contains(&format!("data-user-id=\"{carol}\"")));
    let inactive = browser.screen(&app, "acme", "users?active=false");
    assert!(inactive.text.contains("1 user(s)"), "{}", inactive.text);
    let without_role = browser.screen(&app, "acme", "users?role=none&active=true");
    assert!(
        without_role.text.contains("55 user(s)"),
        "{}",
        without_role.text
    );
}

#[test]
fn the_user_page_explains_roles_and_shows_groups_raw_json_and_a_timeline() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let eng = app.create_group("Engineering", &[&alice]);
    role_and_mapping(&app, "editor", &eng);
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", &format!("users/{alice}"));

    assert!(
        page.text.contains("<li data-role=\"editor\">"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("editor ← group Engineering"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&format!(
        "href=\"/admin/acme/groups/{eng}\">Engineering</a>"
    )));
    assert!(
        page.text
            .contains("&#34;userName&#34;: &#34;alice@example.com&#34;"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<code>user.created</code>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("added alice@example.com to Engineering"),
        "{}",
        page.text
    );
    assert!(page.text.contains("<code>user.roles_changed</code>"));

    let by_role = browser.screen(&app, "acme", "users?role=editor");
    assert!(by_role.text.contains("1 user(s)"), "{}", by_role.text);
    let missing = browser.get(&format!("{}/admin/acme/users/nope", app.address));
    assert_eq!(missing.status, 404);
}

#[test]
fn the_groups_browser_shows_members_mappings_and_filters_mapped_groups() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let bob = app.create_user("bob@example.com");
    let eng = app.create_group("Engineering", &[&alice, &bob]);
    app.create_group("Sales", &[&bob]);
    role_and_mapping(&app, "editor", &eng);
    let mut browser = Browser::owner(&app, "acme");

    let all = browser.screen(&app, "acme", "groups");
    assert!(all.text.contains("2 group(s)"), "{}", all.text);
    assert!(all
        .text
        .contains("<span class=\"badge good\">editor</span>"));
    assert!(all.text.contains("<span class=\"badge\">unmapped</span>"));
    let unmapped = browser.screen(&app, "acme", "groups?mapped=false");
    assert!(unmapped.text.contains("1 group(s)") && unmapped.text.contains("Sales"));
    let searched = browser.screen(&app, "acme", "groups?q=eng");
    assert!(searched.text.contains("1 group(s)") && searched.text.contains("Engineering"));

    let detail = browser.screen(&app, "acme", &format!("groups/{eng}"));
    assert!(detail.text.contains("Members (2)"), "{}", detail.text);
    assert!(detail
        .text
        .contains(&format!("href=\"/admin/acme/users/{alice}\">")));
    assert!(
        detail.text.contains("<code>group.created</code>"),
        "{}",
        detail.text
    );
    let members = browser.screen(&app, "acme", &format!("users?group={eng}"));
    assert!(members.text.contains("2 user(s)"), "{}", members.text);
}

#[test]
fn a_group_recreated_after_its_mapped_namesake_was_deleted_is_flagged_orphaned() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let eng = app.create_group("Engineering", &[&alice]);
    role_and_mapping(&app, "editor", &eng);
    app.delete(&format!("/Groups/{eng}"));
    let again = app.create_group("engineering", &[&alice]);
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "groups");

    assert!(
        page.text.contains(&format!("data-group-id=\"{again}\"")),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("orphaned mapping</span>"),
        "{}",
        page.text
    );
    let overview = browser.screen(&app, "acme", "");
    assert!(
        overview.text.contains("1 mapping(s) orphaned"),
        "{}",
        overview.text
    );
}

#[test]
fn the_overview_shows_the_rate_limit_and_the_tenants_429s() {
    let app = TestApp::spawn_with(|s| {
        s.tenant_rate_limit = 5;
        s.tenant_rate_burst = 5;
    });
    let limited = (0..20)
        .filter(|_| app.get("/Users?count=1").status == 429)
        .count();
    assert!(limited >= 10, "{limited}");
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "");
    assert!(
        page.text
            .contains("5 SCIM requests/s per tenant, bursts of 5"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(&format!(
            "{limited} request(s) answered 429 since roster started"
        )),
        "{}",
        page.text
    );
}

#[test]
fn the_admin_root_asks_for_the_organization_and_sends_every_well_formed_name_on_to_its_sign_in() {
    let app = TestApp::spawn();
    for path in ["/admin", "/admin/"] {
        let page = app.raw("GET", &format!("{}{path}", app.address), &[], None, None);
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert!(page.text.contains("Sign in to roster"), "{}", page.text);
    }
    // Known or not, a well-formed name goes on: the page says nothing of which exist.
    let no_redirects = ureq::AgentBuilder::new().redirects(0).build();
    for (tenant, to) in [
        ("acme", "/admin/acme/login"),
        ("nosuch", "/admin/nosuch/login"),
    ] {
        let r = no_redirects
            .get(&format!("{}/admin/?tenant={tenant}", app.address))
            .call()
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.header("location"), Some(to));
    }
    let bad = app.raw(
        "GET",
        &format!("{}/admin/?tenant=Not%20A%20Name", app.address),
        &[],
        None,
        None,
    );
    assert_eq!(bad.status, 200);
    assert!(bad.text.contains("role=\"alert\""), "{}", bad.text);
}
