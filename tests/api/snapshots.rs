//! Snapshots of the public shapes a client codes against: the discovery documents, the
//! error bodies and the application API's OpenAPI document. A change to any of them shows
//! up as a diff to review (`cargo insta review`, or `INSTA_UPDATE=always cargo test`), not
//! as a silent break for the IdPs and applications that read them.

use serde_json::json;

use crate::helpers::TestApp;

/// The body as pretty JSON, with this run's address made stable.
fn stable(app: &TestApp, body: &serde_json::Value) -> String {
    serde_json::to_string_pretty(body)
        .unwrap()
        .replace(&app.address, "http://roster.test")
}

#[test]
fn the_discovery_documents_keep_their_shape() {
    let app = TestApp::spawn();
    for (name, path) in [
        ("service_provider_config", "/ServiceProviderConfig"),
        ("resource_types", "/ResourceTypes"),
        ("schemas", "/Schemas"),
    ] {
        let r = app.get(path);
        assert_eq!(r.status, 200, "{}", r.text);
        insta::assert_snapshot!(name, stable(&app, &r.body));
    }
}

#[test]
fn the_error_bodies_keep_their_shape() {
    let app = TestApp::spawn();
    let id = app.create_user("alice@example.com");
    let mut errors = Vec::new();
    let mut record = |what: &str, r: crate::helpers::Resp| {
        errors.push(json!({"case": what, "status": r.status, "body": r.body}));
    };
    record(
        "wrong token",
        app.raw(
            "GET",
            &format!("{}/Users", app.base),
            &[("Authorization", "Bearer rst_wrong")],
            None,
            None,
        ),
    );
    record("unknown user", app.get("/Users/no-such-id"));
    record(
        "invalid filter",
        app.get("/Users?filter=userName%20zz%20%22x%22"),
    );
    record(
        "duplicate userName",
        app.post("/Users", &json!({"userName": "alice@example.com"})),
    );
    record(
        "stale If-Match",
        app.raw(
            "PUT",
            &format!("{}/Users/{id}", app.base),
            &[
                ("Authorization", &format!("Bearer {}", app.token)),
                ("If-Match", "W/\"stale\""),
            ],
            Some(r#"{"userName": "alice@example.com"}"#),
            Some("application/scim+json"),
        ),
    );
    record(
        "PATCH without its schema",
        app.patch(&format!("/Users/{id}"), &json!({"Operations": []})),
    );
    record("unknown endpoint", app.get("/Widgets"));
    insta::assert_snapshot!("error_bodies", stable(&app, &json!(errors)));
}

#[test]
fn the_openapi_document_keeps_its_shape() {
    let app = TestApp::spawn();
    let r = app.raw(
        "GET",
        &format!("{}/api/v1/openapi.json", app.address),
        &[],
        None,
        None,
    );
    assert_eq!(r.status, 200);
    let mut doc = r.body;
    // The version moves with every release; the shape is what clients code against.
    doc["info"]["version"] = json!("[version]");
    insta::assert_snapshot!("openapi", stable(&app, &doc));
}
