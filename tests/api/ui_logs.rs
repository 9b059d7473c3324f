//! The admin UI's log screens (S10 sync log, S12 audit log) and webhooks (S11), driven
//! over HTTP by a signed-in browser.

use serde_json::{json, Value};

use crate::browser::{csrf_of, Browser};
use crate::helpers::TestApp;
use crate::webhooks::{dev_settings, Receiver, Reply};

/// A GET with the browser's session cookie that also returns the headers a download
/// is judged by: (status, content type, content disposition, body).
fn download(app: &TestApp, browser: &Browser, path: &str) -> (u16, String, String, String) {
    let url = format!("{}/admin/acme/{path}", app.address);
    let mut request = ureq::AgentBuilder::new().redirects(0).build().get(&url);
    if let Some(session) = browser.cookie(&url, "roster_session") {
        request = request.set("Cookie", &format!("roster_session={session}"));
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let header = |name: &str| response.header(name).unwrap_or_default().to_owned();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    (
        response.status(),
        content_type,
        disposition,
        response.into_string().unwrap(),
    )
}

/// An admin URL of the test tenant.
fn at(app: &TestApp, path: &str) -> String {
    format!("{}/admin/acme/{path}", app.address)
}

/// An app whose webhooks may reach this machine; a failed delivery waits an hour, so
/// only a redelivery sends it again.
fn hooks_app() -> TestApp {
    TestApp::spawn_with(|s| dev_settings(s, "1h"))
}

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {page}"))
        + start.len();
    &page[from..from + page[from..].find(end).unwrap()]
}

/// Creates an endpoint through the screen's form; returns the page that answered.
fn create_endpoint(app: &TestApp, browser: &mut Browser, url: &str, types: &str) -> String {
    let page = browser.screen(app, "acme", "webhooks");
    let created = browser.post_form(
        &at(app, "webhooks"),
        &csrf_of(&page),
        &[
            ("url", url),
            ("description", "billing"),
            ("event_types", types),
        ],
    );
    assert_eq!(created.status, 200, "{}", created.text);
    created.text
}

/// The id of the tenant's only webhook endpoint.
fn only_endpoint(app: &TestApp) -> String {
    let r = app.api("GET", "/webhooks", None);
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
    r.body[0]["id"].as_str().unwrap().to_owned()
}

/// How many sync log entries a screen shows.
fn entries(page: &str) -> usize {
    page.matches(r#"<tr class="entry""#).count()
}

/// An href of the page by its element id, with HTML-escaped ampersands undone.
fn href_of(page: &str, id: &str) -> String {
    let at = page
        .find(&format!(r#"id="{id}" href=""#))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at + id.len() + 12..];
    rest[..rest.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

fn create_user_with_password(app: &TestApp, user_name: &str) {
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name, "password": "hunter2"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn a_scim_request_shows_up_in_the_sync_log_screen_with_its_redacted_body() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "ada@example.com");
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.eventually(&app, "acme", "sync-log", |text| text.contains("POST</td>"));

    let text = &page.text;
    assert!(text.contains(r#"<table id="sync-log">"#), "{text}");
    assert!(text.contains("<code>/scim/v2/acme/Users</code>"), "{text}");
    assert!(
        text.contains(r#"<span class="badge good">201</span>"#),
        "{text}"
    );
    assert!(
        text.contains("ada@example.com"),
        "the request body is shown"
    );
    assert!(text.contains("[redacted]"), "{text}");
    assert!(
        !text.contains("hunter2"),
        "the password never reaches the screen"
    );
    assert!(
        text.contains(r#"<details class="bodies">"#),
        "bodies are expandable"
    );
    assert!(text.contains("kept 30 days"), "{text}");
}

#[test]
fn sync_log_filters_narrow_the_screen_to_matching_requests() {
    let app = TestApp::spawn();
    app.create_user("ada@example.com");
    let conflict = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}),
    );
    assert_eq!(conflict.status, 409);
    assert_eq!(app.get("/Groups").status, 200);
    let mut browser = Browser::owner(&app, "acme");
    browser.eventually(&app, "acme", "sync-log", |text| entries(text) == 3);

    // The overview's link to failures.
    let failures = browser.screen(&app, "acme", "sync-log?result=failure");
    assert_eq!(entries(&failures.text), 1, "{}", failures.text);
    assert!(failures
        .text
        .contains(r#"<span class="badge bad">409</span>"#));
    assert!(failures.text.contains("userName"), "the detail is shown");
    assert!(failures
        .text
        .contains(r#"<option value="failure" selected>"#));

    let gets = browser.screen(&app, "acme", "sync-log?method=get");
    assert_eq!(entries(&gets.text), 1, "{}", gets.text);
    assert!(gets.text.contains("<code>/scim/v2/acme/Groups</code>"));

    let by_status = browser.screen(&app, "acme", "sync-log?status=201&result=");
    assert_eq!(entries(&by_status.text), 1, "{}", by_status.text);
    let by_path = browser.screen(&app, "acme", "sync-log?path=Groups");
    assert_eq!(entries(&by_path.text), 1);
    let by_text = browser.screen(&app, "acme", "sync-log?q=already");
    assert_eq!(
        entries(&by_text.text),
        1,
        "free text finds the 409's detail"
    );
    let any_case = browser.screen(&app, "acme", "sync-log?q=ADA%40Example.COM");
    assert_eq!(
        entries(&any_case.text),
        2,
        "free text ignores case and searches bodies: {}",
        any_case.text
    );
    let none = browser.screen(&app, "acme", "sync-log?path=nothing_here");
    assert_eq!(entries(&none.text), 0);
    assert!(none.text.contains("No SCIM requests match."));

    let bad = browser.get(&format!("{}/admin/acme/sync-log?status=abc", app.address));
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[test]
fn the_sync_log_pages_backwards_with_an_older_link() {
    let app = TestApp::spawn();
    for _ in 0..53 {
        assert_eq!(app.get("/Groups").status, 200);
    }
    // The log is written in batches: wait for all 53 before paging through them.
    for _ in 0..100 {
        let logged = app.api("GET", "/sync-log?limit=100", None);
        if logged.body["data"].as_array().unwrap().len() == 53 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut browser = Browser::owner(&app, "acme");
    let first = browser.screen(&app, "acme", "sync-log?method=GET");
    assert_eq!(entries(&first.text), 50);

    let older = href_of(&first.text, "older");
    assert!(older.contains("method=GET&before_at="), "{older}");
    let second = browser.get(&format!("{}{older}", app.address));
    assert_eq!(second.status, 200);
    assert_eq!(entries(&second.text), 3, "{}", second.text);
    assert!(second.text.contains("No older entries."));
}

#[test]
fn sync_log_exports_carry_the_filtered_rows_and_need_a_session() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "ada@example.com");
    assert_eq!(app.get("/Groups").status, 200);
    let mut browser = Browser::owner(&app, "acme");
    browser.eventually(&app, "acme", "sync-log", |text| entries(text) == 2);
    let page = browser.screen(&app, "acme", "sync-log?method=POST");
    let csv_link = href_of(&page.text, "export-csv");
    assert!(csv_link.ends_with("format=csv&method=POST"), "{csv_link}");

    let (status, content_type, disposition, csv) =
        download(&app, &browser, "sync-log/export?format=csv&method=POST");
    assert_eq!(status, 200, "{csv} {disposition} {content_type}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(disposition, r#"attachment; filename="sync-log.csv""#);
    assert_eq!(csv.lines().count(), 2, "the header and the POST: {csv}");
    assert!(csv.contains("ada@example.com") && !csv.contains("hunter2"));

    let (status, content_type, disposition, body) =
        download(&app, &browser, "sync-log/export?format=json&method=GET");
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("application/json"));
    assert_eq!(disposition, r#"attachment; filename="sync-log.json""#);
    let json: Value = serde_json::from_str(&body).unwrap();
    let data = json["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{json}");
    assert!(data[0]["path"].as_str().unwrap().ends_with("/Groups"));

    let (status, ..) = download(&app, &browser, "sync-log/export?format=xml");
    assert_eq!(status, 400);

    let (status, ..) = download(&app, &Browser::new(), "sync-log/export?format=csv");
    assert_eq!(status, 303, "no session: off to the login");
    let anonymous = Browser::new().get(&format!(
        "{}/admin/acme/sync-log/export?format=json",
        app.address
    ));
    assert!(anonymous
        .location
        .unwrap()
        .contains("/admin/acme/login?return_to="));
}

#[test]
fn the_audit_log_screen_lists_actions_with_the_actor_and_filters_by_action() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "audit");
    assert!(
        page.text.contains(r#"<table id="audit-log">"#),
        "{}",
        page.text
    );
    assert!(page.text.contains("<code>login.break_glass</code>"));
    assert!(page.text.contains("<code>login_link.created</code>"));
    assert!(page.text.contains(r#"<td class="actor">break-glass</td>"#));
    assert!(page.text.contains("kept one year"));
    assert!(!page
        .text
        .contains("method=\"post\" action=\"/admin/acme/audit"));

    // The overview's link to break-glass logins.
    let filtered = browser.screen(&app, "acme", "audit?action=login.break_glass");
    assert!(filtered.text.contains("<code>login.break_glass</code>"));
    assert!(!filtered.text.contains("<code>login_link.created</code>"));
    assert!(filtered
        .text
        .contains("<option selected>login.break_glass</option>"));
    assert!(
        filtered.text.contains("&#34;role&#34;: &#34;owner&#34;"),
        "after JSON, pretty: {}",
        filtered.text
    );
}

#[test]
fn the_audit_log_pages_backwards_with_an_older_link_that_keeps_the_filter() {
    let app = TestApp::spawn();
    {
        let mut conn = app.store.connection().unwrap();
        for _ in 0..52 {
            roster::service::admin::create_login_link(&mut conn, "acme").unwrap();
        }
    }
    let mut browser = Browser::owner(&app, "acme");

    let first = browser.screen(&app, "acme", "audit?action=login_link.created");

    let rows = |text: &str| text.matches("<code>login_link.created</code>").count();
    assert_eq!(rows(&first.text), 50);
    let older = href_of(&first.text, "older");
    assert!(
        older.contains("action=login_link.created&before_at="),
        "{older}"
    );
    let second = browser.get(&format!("{}{older}", app.address));
    assert_eq!(second.status, 200);
    assert_eq!(rows(&second.text), 3, "52 and the owner's own link");
    assert!(!second.text.contains("<code>login.break_glass</code>"));
}

#[test]
fn audit_exports_carry_the_filtered_rows_and_need_a_session() {
    let app = TestApp::spawn();
    let browser = Browser::owner(&app, "acme");

    let (status, content_type, disposition, csv) = download(
        &app,
        &browser,
        "audit/export?format=csv&action=login.break_glass",
    );
    assert_eq!(status, 200, "{csv} {disposition} {content_type}");
    assert!(content_type.starts_with("text/csv"));
    assert_eq!(disposition, r#"attachment; filename="audit-log.csv""#);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.starts_with("id,at,actor,action,ip,user_agent,before,after"));

    let (status, _, disposition, body) = download(&app, &browser, "audit/export?format=json");
    assert_eq!(status, 200);
    assert_eq!(disposition, r#"attachment; filename="audit-log.json""#);
    let rows: Value = serde_json::from_str(&body).unwrap();
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["login.break_glass", "login_link.created"]);
    assert_eq!(rows[0]["after"]["role"], "owner");

    let (status, ..) = download(&app, &Browser::new(), "audit/export?format=csv");
    assert_eq!(status, 303);
}

#[test]
fn a_viewer_reads_the_logs() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    crate::browser::demote_all(&app, "viewer");

    let audit = browser.screen(&app, "acme", "audit");
    assert!(audit.text.contains(r#"<span id="role">viewer</span>"#));
    let sync = browser.screen(&app, "acme", "sync-log");
    assert!(sync.text.contains("Sync log"));
    let (status, ..) = download(&app, &browser, "audit/export?format=json");
    assert_eq!(status, 200);
}

#[test]
fn a_webhook_created_from_the_ui_shows_its_secret_once_and_not_on_the_list_page() {
    let app = hooks_app();
    let mut browser = Browser::owner(&app, "acme");
    let empty = browser.screen(&app, "acme", "webhooks");
    assert!(empty.text.contains(r#"<form id="new-webhook""#));
    assert!(empty.text.contains("No webhook endpoints yet."));

    let created = create_endpoint(
        &app,
        &mut browser,
        "http://127.0.0.1:9/hook",
        "user.created, group.deleted",
    );

    let secret = between(&created, r#"id="new-secret">"#, "<").to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert!(created.contains(r##"<button type="button" data-copy="#new-secret">"##));
    assert!(created.contains("group.deleted, user.created"), "{created}");
    let id = only_endpoint(&app);
    let list = browser.screen(&app, "acme", "webhooks");
    assert!(list.text.contains("http://127.0.0.1:9/hook"));
    assert!(list.text.contains("billing"));
    assert!(!list.text.contains(&secret), "the secret is shown once");
    assert!(!list.text.contains("new-secret"));
    let endpoint = browser.screen(&app, "acme", &format!("webhooks/{id}"));
    assert!(!endpoint.text.contains(&secret));
    assert!(endpoint.text.contains("Nothing delivered yet."));

    let audit = browser.screen(&app, "acme", "audit?action=webhook.created");
    assert!(audit.text.contains(r#"<td class="actor">break-glass</td>"#));
    assert!(
        audit.text.contains(&id),
        "the after JSON names the endpoint"
    );
    assert!(!audit.text.contains("whsec_"), "no secret in the audit log");

    let bad = browser.post_form(
        &at(&app, "webhooks"),
        &csrf_of(&list),
        &[("url", "ftp://example.com/hook")],
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(
        bad.text.contains(r#"<p class="notice" id="refused">"#),
        "{}",
        bad.text
    );
    assert!(
        bad.text.contains(r#"value="ftp://example.com/hook""#),
        "the form is filled in again"
    );
    let bad_type = browser.post_form(
        &at(&app, "webhooks"),
        &csrf_of(&list),
        &[
            ("url", "http://127.0.0.1:9/hook"),
            ("event_types", "User Created"),
        ],
    );
    assert_eq!(bad_type.status, 400);
    assert!(
        bad_type.text.contains("is not an event type"),
        "{}",
        bad_type.text
    );
    assert_eq!(
        app.api("GET", "/webhooks", None)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_test_event_creates_a_delivery_on_the_endpoint_page_and_redeliver_sends_it_again() {
    let app = hooks_app();
    let receiver = Receiver::start(&[Reply::Status(500)], Reply::Status(200));
    let mut browser = Browser::owner(&app, "acme");
    create_endpoint(&app, &mut browser, &receiver.url, "");
    let id = only_endpoint(&app);
    let page = browser.screen(&app, "acme", &format!("webhooks/{id}"));
    assert!(page.text.contains("all events"));

    let sent = browser.post_form(
        &at(&app, &format!("webhooks/{id}/test")),
        &csrf_of(&page),
        &[],
    );

    assert_eq!(sent.status, 303, "{}", sent.text);
    assert_eq!(sent.location.unwrap(), at(&app, &format!("webhooks/{id}")));
    let failed = browser.eventually(&app, "acme", &format!("webhooks/{id}"), |text| {
        // Attempts count up when a worker claims the delivery, before it is sent.
        text.contains(r#"<td class="num attempts">1</td>"#) && text.contains("<td>500")
    });
    assert!(
        failed.text.contains("<code>webhook.test</code>"),
        "{}",
        failed.text
    );
    assert!(failed
        .text
        .contains(r#"<span class="badge warn state">pending</span>"#));
    let delivery = between(&failed.text, r#"<tr id="delivery-"#, "\"").to_owned();

    let again = browser.post_form(
        &at(&app, &format!("webhooks/deliveries/{delivery}/redeliver")),
        &csrf_of(&failed),
        &[],
    );

    assert_eq!(again.status, 303, "{}", again.text);
    assert_eq!(again.location.unwrap(), at(&app, &format!("webhooks/{id}")));
    let done = browser.eventually(&app, "acme", &format!("webhooks/{id}"), |text| {
        text.contains(r#"<span class="badge good state">succeeded</span>"#)
    });
    assert!(done.text.contains("<td>200"), "{}", done.text);
    assert!(
        !done.text.contains(">Redeliver<"),
        "succeeded: nothing to redeliver"
    );
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(
        done.text.matches("<li>#").count(),
        2,
        "the attempt log keeps the failed try: {}",
        done.text
    );

    let audit = browser.screen(&app, "acme", "audit");
    assert!(audit.text.contains("<code>webhook.test_sent</code>"));
    assert!(audit.text.contains("<code>webhook.redelivered</code>"));
}

#[test]
fn webhook_endpoints_are_disabled_enabled_rotated_and_deleted_from_the_ui_and_audited() {
    let app = hooks_app();
    let mut browser = Browser::owner(&app, "acme");
    let created = create_endpoint(&app, &mut browser, "http://127.0.0.1:9/hook", "");
    let first_secret = between(&created, r#"id="new-secret">"#, "<").to_owned();
    let id = only_endpoint(&app);
    let path = format!("webhooks/{id}");
    let csrf = csrf_of(&browser.screen(&app, "acme", &path));

    let off = browser.post_form(&at(&app, &format!("{path}/disable")), &csrf, &[]);
    assert_eq!(off.status, 303, "{}", off.text);
    let page = browser.screen(&app, "acme", &path);
    assert!(
        page.text
            .contains(r#"<span class="badge bad">disabled</span> disabled by an administrator"#),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Send test event"));
    let refused = browser.post_form(&at(&app, &format!("{path}/test")), &csrf, &[]);
    assert_eq!(
        refused.status, 409,
        "a disabled endpoint gets no test event"
    );
    let on = browser.post_form(&at(&app, &format!("{path}/enable")), &csrf, &[]);
    assert_eq!(on.status, 303);
    assert!(browser
        .screen(&app, "acme", &path)
        .text
        .contains(r#"<span class="badge good">enabled</span>"#));

    let edited = browser.post_form(
        &at(&app, &format!("{path}/edit")),
        &csrf,
        &[
            ("url", "http://127.0.0.1:9/v2"),
            ("description", "billing v2"),
            ("event_types", "user.deactivated user.deleted"),
        ],
    );
    assert_eq!(edited.status, 303, "{}", edited.text);
    let page = browser.screen(&app, "acme", &path);
    assert!(page.text.contains("<code>http://127.0.0.1:9/v2</code>"));
    assert!(page.text.contains("user.deactivated, user.deleted"));
    assert!(page
        .text
        .contains(r#"value="user.deactivated user.deleted""#));
    let refused = browser.post_form(
        &at(&app, &format!("{path}/edit")),
        &csrf,
        &[("url", "gopher://x"), ("description", "kept")],
    );
    assert_eq!(refused.status, 400);
    assert!(refused.text.contains(r#"id="refused""#));
    assert!(refused.text.contains(r#"value="gopher://x""#));
    assert_eq!(
        app.api("GET", &format!("/webhooks/{id}"), None).body["url"],
        "http://127.0.0.1:9/v2",
        "a refused edit changes nothing"
    );

    let rotated = browser.post_form(&at(&app, &format!("{path}/rotate-secret")), &csrf, &[]);
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let second_secret = between(&rotated.text, r#"id="new-secret">"#, "<").to_owned();
    assert!(second_secret.starts_with("whsec_") && second_secret != first_secret);
    let after = browser.screen(&app, "acme", &path);
    assert!(!after.text.contains(&second_secret), "shown once");
    assert!(after.text.contains("also signs until"));

    // Deleting is a step of its own: the button leads to a confirmation page, and a
    // POST without the confirmation is sent there too.
    assert!(
        page.text.contains(&format!(
            r#"method="get" action="/admin/acme/{path}/delete""#
        )),
        "{}",
        page.text
    );
    let unconfirmed = browser.post_form(&at(&app, &format!("{path}/delete")), &csrf, &[]);
    assert_eq!(unconfirmed.status, 303);
    assert_eq!(
        unconfirmed.location.as_deref(),
        Some(at(&app, &format!("{path}/delete")).as_str())
    );
    assert_eq!(app.api("GET", &format!("/webhooks/{id}"), None).status, 200);
    let confirm = browser.get(&at(&app, &format!("{path}/delete")));
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    assert!(confirm.text.contains("Delete this webhook endpoint?"));
    assert!(
        confirm.text.contains("http://127.0.0.1:9/v2"),
        "{}",
        confirm.text
    );
    assert!(confirm.text.contains(r#"name="confirm" value="yes""#));
    let deleted = browser.post_form(
        &at(&app, &format!("{path}/delete")),
        &csrf,
        &[("confirm", "yes")],
    );
    assert_eq!(deleted.status, 303);
    assert_eq!(deleted.location.unwrap(), at(&app, "webhooks"));
    assert!(browser
        .screen(&app, "acme", "webhooks")
        .text
        .contains("No webhook endpoints yet."));
    assert_eq!(browser.get(&at(&app, &path)).status, 404);

    let audit = browser.screen(&app, "acme", "audit");
    for action in [
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
    ] {
        assert!(
            audit.text.contains(&format!("<code>{action}</code>")),
            "{action}"
        );
    }
    let (_, _, _, export) = download(&app, &browser, "audit/export?format=json");
    assert!(!export.contains("whsec_"), "no secret is audited");
    let updates: Value = serde_json::from_str(&export).unwrap();
    let disabled = updates
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "webhook.updated" && r["after"]["enabled"] == false)
        .expect("the disable is audited");
    assert_eq!(disabled["before"]["enabled"], true);
    assert_eq!(disabled["actor"], "break-glass");
}

#[test]
fn a_viewer_sees_no_webhook_forms_and_a_viewers_post_is_refused() {
    let app = hooks_app();
    let r = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "http://127.0.0.1:9/hook"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::owner(&app, "acme");
    crate::browser::demote_all(&app, "viewer");

    let list = browser.screen(&app, "acme", "webhooks");
    let endpoint = browser.screen(&app, "acme", &format!("webhooks/{id}"));

    for page in [&list, &endpoint] {
        assert!(page.text.contains(r#"<span id="role">viewer</span>"#));
        // The logout form is the only one.
        assert_eq!(
            page.text.matches(r#"method="post""#).count(),
            1,
            "{}",
            page.text
        );
        assert!(!page.text.contains("new-webhook"));
    }
    assert!(
        list.text.contains("http://127.0.0.1:9/hook"),
        "viewers see everything"
    );
    let csrf = csrf_of(&list);
    let create = browser.post_form(
        &at(&app, "webhooks"),
        &csrf,
        &[("url", "http://127.0.0.1:9/other")],
    );
    assert_eq!(create.status, 403, "{}", create.text);
    let delete = browser.post_form(&at(&app, &format!("webhooks/{id}/delete")), &csrf, &[]);
    assert_eq!(delete.status, 403);
    let test = browser.post_form(&at(&app, &format!("webhooks/{id}/test")), &csrf, &[]);
    assert_eq!(test.status, 403);
    assert_eq!(
        app.api("GET", "/webhooks", None)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_webhook_form_without_the_csrf_token_or_from_another_site_is_refused() {
    let app = hooks_app();
    let mut browser = Browser::owner(&app, "acme");
    create_endpoint(&app, &mut browser, "http://127.0.0.1:9/hook", "");
    let id = only_endpoint(&app);
    let csrf = csrf_of(&browser.screen(&app, "acme", "webhooks"));

    let missing = browser.request(
        "POST",
        &at(&app, &format!("webhooks/{id}/delete")),
        Some(&[]),
        &[],
    );
    assert_eq!(missing.status, 403, "{}", missing.text);
    let wrong = browser.post_form(&at(&app, &format!("webhooks/{id}/delete")), "forged", &[]);
    assert_eq!(wrong.status, 403);
    let no_token_create = browser.request(
        "POST",
        &at(&app, "webhooks"),
        Some(&[("url", "http://127.0.0.1:9/other")]),
        &[],
    );
    assert_eq!(no_token_create.status, 403);
    let cross_site = browser.request(
        "POST",
        &at(&app, &format!("webhooks/{id}/delete")),
        Some(&[("csrf", csrf.as_str())]),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(cross_site.status, 403);
    assert_eq!(
        app.api("GET", "/webhooks", None)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
