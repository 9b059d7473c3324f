//! The sync log: every SCIM request, with redacted bodies, per tenant.

use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Waits for the background writer, then returns the newest entries.
fn entries(app: &TestApp, query: &str, at_least: usize) -> Vec<Value> {
    for _ in 0..100 {
        let r = app.api("GET", &format!("/sync-log?{query}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let data = r.body["data"].as_array().unwrap().clone();
        if data.len() >= at_least {
            return data;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("fewer than {at_least} sync log entries for {query}");
}

#[test]
fn scim_requests_are_logged_with_redacted_bodies_and_outcomes() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com", "password": "hunter2"}),
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let conflict = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}),
    );
    assert_eq!(conflict.status, 409);
    let listed = app.get("/Users?filter=userName%20eq%20%22ada%40example.com%22");
    assert_eq!(listed.status, 200);

    let log = entries(&app, "", 3);
    let (get, failed, post) = (&log[0], &log[1], &log[2]);
    assert_eq!(post["method"], "POST");
    assert_eq!(post["status"], 201);
    assert_eq!(post["result"], "success");
    assert_eq!(post["resource_type"], "User");
    assert_eq!(post["resource_id"], id);
    assert_eq!(post["request_body"]["password"], "[redacted]");
    assert!(!post.to_string().contains("hunter2"));
    assert_eq!(post["response_body"]["id"], id);
    assert_eq!(failed["result"], "failure");
    assert_eq!(failed["status"], 409);
    assert!(failed["detail"].as_str().unwrap().contains("userName"));
    assert!(get["path"].as_str().unwrap().contains("filter="));
    assert_eq!(
        get["id"].as_str().unwrap(),
        listed.header("x-request-id").unwrap(),
        "the entry id is the request id"
    );

    let failures = entries(&app, "result=failure", 1);
    assert_eq!(failures.len(), 1);
    let csv = app.api("GET", "/sync-log?format=csv", None);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(csv.text.lines().count(), 4, "{}", csv.text);
}

#[test]
fn a_tenant_sees_only_its_own_requests_and_unauthenticated_ones_are_not_logged() {
    let app = TestApp::spawn();
    let (other_base, other_token) = app.add_tenant("other");
    let r = app.raw(
        "GET",
        &format!("{other_base}/Users"),
        &[("Authorization", &format!("Bearer {other_token}"))],
        None,
        None,
    );
    assert_eq!(r.status, 200);
    let r = app.raw(
        "GET",
        &format!("{}/Users", app.base),
        &[("Authorization", "Bearer rst_wrong")],
        None,
        None,
    );
    assert_eq!(r.status, 401);
    app.get("/Groups");
    // The writer keeps request order: with the later request's entry in, an entry for
    // the refused one would be in too.
    let log = entries(&app, "", 1);
    assert_eq!(log.len(), 1);
    assert!(log[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("/scim/v2/acme/Groups"));
}
