//! What a new IT admin tripped over on the admin screens (issue 18, part 9): labels
//! that said the wrong thing, ids where names belong, and steps without a confirmation.

use serde_json::json;

use crate::browser::{csrf_of, Browser};
use crate::helpers::TestApp;

fn scim_get(app: &TestApp, path: &str) -> u16 {
    app.raw(
        "GET",
        &format!("{}{path}", app.base),
        &[("Authorization", &format!("Bearer {}", app.token))],
        None,
        None,
    )
    .status
}

#[test]
fn the_wizard_names_an_existence_check_and_a_test_connection_for_what_they_are() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let waiting = browser.screen(&app, "acme", "setup");
    assert!(waiting
        .text
        .contains(r#"<h2 id="arrivals-heading">Waiting for the first request</h2>"#));

    assert_eq!(
        scim_get(
            &app,
            "/Users?filter=userName%20eq%20%22jdoe%40acme.example%22"
        ),
        200
    );
    assert_eq!(scim_get(&app, "/Users?startIndex=1&count=1"), 200);

    let poll = browser.eventually(&app, "acme", "setup/status", |t| {
        t.contains("Test Connection") && t.contains("looked up")
    });
    assert!(
        poll.text.contains(
            "looked up a user by userName (does it exist before a create?): jdoe@acme.example"
        ),
        "{}",
        poll.text
    );
    assert_eq!(
        poll.text.matches("(Test Connection)").count(),
        1,
        "only the unfiltered, counted list is the Test Connection: {}",
        poll.text
    );
    let page = browser.screen(&app, "acme", "setup");
    assert!(
        !page.text.contains("Waiting for the first request"),
        "the heading changes once requests arrived: {}",
        page.text
    );
    assert!(page
        .text
        .contains(r#"<h2 id="arrivals-heading">Requests from your identity provider</h2>"#));
}

#[test]
fn the_wizard_is_not_waiting_when_requests_arrived_before_it_was_opened() {
    let app = TestApp::spawn();
    app.create_user("alice@example.com");
    let mut browser = Browser::owner(&app, "acme");
    browser.eventually(&app, "acme", "setup/status", |t| t.contains("data-done"));
    // Older than the wizard looks back: the request log keeps the time it arrived.
    {
        use diesel::RunQueryDsl;
        let mut conn = app.store.connection().unwrap();
        diesel::sql_query("UPDATE scim_request_log SET at = '2026-01-01T00:00:00.000Z'")
            .execute(&mut *conn)
            .unwrap();
    }

    let page = browser.screen(&app, "acme", "setup");

    assert!(
        !page.text.contains("Waiting for the first request"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("its last request arrived 2026-01-01 00:00:00 UTC"),
        "{}",
        page.text
    );
}

#[test]
fn member_changes_name_the_member_and_the_group_shows_them_in_its_timeline() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let group = app.create_group("Engineering", &[]);
    let add = app.patch(
        &format!("/Groups/{group}"),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": alice}]}],
        }),
    );
    assert!(add.status < 300, "{}", add.text);
    let remove = app.patch(
        &format!("/Groups/{group}"),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}],
        }),
    );
    assert!(remove.status < 300, "{}", remove.text);
    let mut browser = Browser::owner(&app, "acme");

    let poll = browser.eventually(&app, "acme", "setup/status", |t| t.contains("removed"));
    let link = format!(r#"<a href="/admin/acme/groups/{group}" data-arrived>Engineering</a>"#);
    assert!(
        poll.text
            .contains(&format!("added alice@example.com to {link}")),
        "{}",
        poll.text
    );
    assert!(
        poll.text
            .contains(&format!("removed alice@example.com from {link}")),
        "{}",
        poll.text
    );

    let page = browser.screen(&app, "acme", &format!("groups/{group}"));
    let timeline = &page.text[page.text.find(r#"id="timeline""#).expect("timeline")..];
    assert!(
        timeline.contains("<code>group.member_added</code>")
            && timeline.contains("added alice@example.com to Engineering"),
        "{timeline}"
    );
    assert!(
        timeline.contains("<code>group.member_removed</code>")
            && timeline.contains("removed alice@example.com from Engineering"),
        "{timeline}"
    );
    assert!(timeline.contains("<code>group.created</code>"));
    let user = browser.screen(&app, "acme", &format!("users/{alice}"));
    assert!(
        user.text.contains("added alice@example.com to Engineering"),
        "{}",
        user.text
    );
}

#[test]
fn the_user_page_shows_e_mail_title_and_department_as_fields() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "userName": "jdoe@acme.example",
            "title": "Site Reliability Engineer",
            "emails": [
                {"value": "jdoe@acme.example", "type": "work", "primary": true},
                {"value": "jane@home.example", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Platform"
            },
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", &format!("users/{id}"));

    let facts = &page.text[..page.text.find("Effective roles").unwrap()];
    assert!(
        facts.contains(r#"<a href="mailto:jdoe@acme.example">jdoe@acme.example</a> <span class="muted">work</span> <span class="badge">primary</span>"#),
        "{facts}"
    );
    assert!(facts.contains(r#"<a href="mailto:jane@home.example">jane@home.example</a>"#));
    assert_eq!(
        Browser::text_of(&page, "user-title").as_deref(),
        Some("Site Reliability Engineer")
    );
    assert_eq!(
        Browser::text_of(&page, "user-department").as_deref(),
        Some("Platform")
    );
}

#[test]
fn the_sync_log_shows_each_request_once_and_names_its_resource() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let gone = app.create_user("gone@example.com");
    app.delete(&format!("/Users/{gone}"));
    let group = app.create_group("Engineering", &[&alice]);
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.eventually(&app, "acme", "sync-log", |t| t.contains("/Groups</code>"));

    let body = &page.text[page.text.find("<tbody>").unwrap()..page.text.find("</tbody>").unwrap()];
    assert_eq!(body.matches("<tr").count(), 4, "one row a request: {body}");
    assert_eq!(body.matches(r#"<tr class="entry""#).count(), 4);
    assert!(
        body.contains(&format!(
            r#"User <a href="/admin/acme/users/{alice}">alice@example.com</a>"#
        )),
        "{body}"
    );
    assert!(body.contains(&format!(
        r#"Group <a href="/admin/acme/groups/{group}">Engineering</a>"#
    )));
    assert!(
        body.contains(&format!(
            r#"User <code class="small" title="no longer exists">{gone}</code>"#
        )),
        "a deleted user keeps its id: {body}"
    );
}

#[test]
fn the_audit_logs_user_agent_is_clipped_with_the_whole_of_it_in_a_tooltip() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "audit");

    let agent = "ureq/";
    let at = page.text.find(r#"<span class="clip user-agent" title=""#);
    let cell = &page.text[at.expect("a clipped user agent")..];
    assert!(cell.contains(agent), "{cell}");
    assert!(page.text.contains(r#"<th class="narrow">User agent</th>"#));
    assert!(page
        .text
        .contains(".clip { display: block; max-width: 12rem;"));
}

#[test]
fn overview_warnings_are_boxes_without_bullets_outside_them() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "");

    assert!(
        page.text.contains(r#"<ul id="warnings" class="alerts">"#),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains("ul.alerts { list-style: none; padding: 0; margin: 0; }"));
}

#[test]
fn roster_serves_its_own_icon_and_every_page_links_it_and_draws_the_logo() {
    let app = TestApp::spawn();
    for path in ["/assets/favicon.svg", "/favicon.ico"] {
        let icon = app.raw("GET", &format!("{}{path}", app.address), &[], None, None);
        assert_eq!(icon.status, 200, "{path}");
        assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
        assert!(icon.text.starts_with("<svg"), "{}", icon.text);
        assert_eq!(
            icon.header("content-security-policy"),
            Some("default-src 'none'")
        );
    }
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.get(&format!("{}/admin/acme/", app.address));
    assert!(page
        .text
        .contains(r#"<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">"#));
    assert!(page.text.contains(r#"<strong class="brand"><svg"#));
    let sign_in = app.raw("GET", &format!("{}/admin/", app.address), &[], None, None);
    assert!(sign_in.text.contains(r#"rel="icon""#));
    // Same-origin images are what the pages' policy allows: no other source is needed.
    let csp = sign_in.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self';"), "{csp}");
}

fn token_ids(page: &str) -> Vec<String> {
    page.split(r#"<tr data-token-id=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn revoking_a_token_is_confirmed_on_a_page_of_its_own_first() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "credentials");
    let csrf = csrf_of(&page);
    let id = token_ids(&page.text).remove(0);
    let revoke = format!("{}/admin/acme/credentials/tokens/{id}/revoke", app.address);
    assert!(
        page.text.contains(&format!(
            r#"<form class="inline" method="get" action="/admin/acme/credentials/tokens/{id}/revoke"><button class="danger">Revoke…</button></form>"#
        )),
        "{}",
        page.text
    );

    let unconfirmed = browser.post_form(&revoke, &csrf, &[]);
    assert_eq!(unconfirmed.status, 303);
    assert_eq!(unconfirmed.location.as_deref(), Some(revoke.as_str()));
    assert_eq!(scim_get(&app, "/Users"), 200, "nothing revoked yet");

    let confirm = browser.get(&revoke);
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    assert!(
        confirm.text.contains("the tenant&#39;s only live token")
            || confirm.text.contains("the tenant's only live token"),
        "{}",
        confirm.text
    );
    assert!(confirm
        .text
        .contains(r#"<input type="hidden" name="confirm" value="yes">"#));

    let forged = browser.post_form(&revoke, "forged", &[("confirm", "yes")]);
    assert_eq!(forged.status, 403);
    let done = browser.post_form(&revoke, &csrf, &[("confirm", "yes")]);
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(scim_get(&app, "/Users"), 401);
    assert_eq!(
        browser.get(&revoke).status,
        404,
        "a revoked token has nothing left to confirm"
    );
}

#[test]
fn a_viewer_gets_no_confirmation_page_for_a_revoke() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let id = token_ids(&browser.screen(&app, "acme", "credentials").text).remove(0);
    crate::browser::demote_all(&app, "viewer");

    let page = browser.get(&format!(
        "{}/admin/acme/credentials/tokens/{id}/revoke",
        app.address
    ));

    assert_eq!(page.status, 403, "{}", page.text);
}
