//! The admin UI's log screens (S10 sync log, S12 audit log) and webhooks (S11), driven
//! over HTTP by a signed-in browser.

use diesel::RunQueryDsl;
use roster::store::DbConnection;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::helpers::TestApp;

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

/// Turns every admin session of the test database into a viewer's.
fn demote_to_viewer(app: &TestApp) {
    let mut conn = app.store.connection().unwrap();
    let sql = diesel::sql_query("UPDATE admin_sessions SET role = 'viewer'");
    match &mut *conn {
        DbConnection::Sqlite(c) => sql.execute(c),
        DbConnection::Postgres(c) => sql.execute(c),
    }
    .unwrap();
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
    assert!(text.contains("<details>"), "bodies are expandable");
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
    let mut browser = Browser::owner(&app, "acme");
    let first = browser.eventually(&app, "acme", "sync-log?method=GET", |text| {
        entries(text) == 50 && text.contains(r#"id="older""#)
    });

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
    let page = browser.eventually(&app, "acme", "sync-log?method=POST", |text| {
        entries(text) == 1
    });
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
    demote_to_viewer(&app);

    let audit = browser.screen(&app, "acme", "audit");
    assert!(audit.text.contains(r#"<span id="role">viewer</span>"#));
    let sync = browser.screen(&app, "acme", "sync-log");
    assert!(sync.text.contains("Sync log"));
    let (status, ..) = download(&app, &browser, "audit/export?format=json");
    assert_eq!(status, 200);
}
