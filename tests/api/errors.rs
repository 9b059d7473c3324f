//! Bad input gets a SCIM error: never a 5xx, a panic or a hang.

use serde_json::json;

use crate::helpers::TestApp;

#[test]
fn malformed_json_is_400_invalid_syntax() {
    let app = TestApp::spawn();
    let auth = format!("Bearer {}", app.token);
    for body in ["{\"userName\": ", "not json", "", "[1,2]", "\"str\""] {
        let r = app.raw(
            "POST",
            &format!("{}/Users", app.base),
            &[("Authorization", &auth)],
            Some(body),
            Some("application/scim+json"),
        );
        r.assert_scim_error(400, Some("invalidSyntax"));
    }
}

#[test]
fn a_wrong_content_type_is_415() {
    let app = TestApp::spawn();
    let auth = format!("Bearer {}", app.token);
    let r = app.raw(
        "POST",
        &format!("{}/Users", app.base),
        &[("Authorization", &auth)],
        Some("{\"userName\":\"a\"}"),
        Some("text/plain"),
    );
    r.assert_scim_error(415, None);
    let r = app.raw(
        "POST",
        &format!("{}/Users", app.base),
        &[("Authorization", &auth)],
        Some("{\"userName\":\"a\"}"),
        Some("application/json; charset=utf-8"),
    );
    assert_eq!(r.status, 201, "plain JSON is accepted: {}", r.text);
}

#[test]
fn an_oversized_body_is_413() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 10_000);
    let big = json!({"userName": "a", "title": "x".repeat(20_000)});
    app.post("/Users", &big).assert_scim_error(413, None);
    assert_eq!(app.post("/Users", &json!({"userName": "a"})).status, 201);
}

#[test]
fn a_ten_thousand_character_filter_is_400_invalid_filter() {
    let app = TestApp::spawn();
    let filter = format!("userName eq \"{}\"", "a".repeat(10_000));
    app.get(&format!("/Users?filter={filter}"))
        .assert_scim_error(400, Some("invalidFilter"));
    let deep = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
    app.get(&format!("/Users?filter={deep}"))
        .assert_scim_error(400, Some("invalidFilter"));
}

#[test]
fn malformed_filters_are_400_invalid_filter() {
    let app = TestApp::spawn();
    for filter in [
        "userName",
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a",
        "password pr",
        "active gt true",
    ] {
        let r = app.get(&format!(
            "/Users?filter={}",
            crate::users::urlencode(filter)
        ));
        r.assert_scim_error(400, Some("invalidFilter"));
    }
}

#[test]
fn malformed_patch_requests_are_400() {
    let app = TestApp::spawn();
    let id = app.create_user("a");
    let path = format!("/Users/{id}");
    app.patch(&path, &json!({"Operations": "nope"}))
        .assert_scim_error(400, Some("invalidSyntax"));
    app.patch(&path, &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "explode"}]}))
        .assert_scim_error(400, Some("invalidSyntax"));
    app.patch(&path, &json!({"Operations": [{"op": "remove"}]}))
        .assert_scim_error(400, Some("noTarget"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "add", "path": "name["}]}),
    )
    .assert_scim_error(400, None);
    let many: Vec<_> = (0..1001)
        .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
        .collect();
    app.patch(&path, &json!({"Operations": many}))
        .assert_scim_error(400, Some("tooMany"));
}

#[test]
fn unknown_endpoints_are_404_and_wrong_methods_405() {
    let app = TestApp::spawn();
    app.get("/Widgets").assert_scim_error(404, None);
    let r = app.raw(
        "GET",
        &format!("{}/nothing/here", app.address),
        &[],
        None,
        None,
    );
    r.assert_scim_error(404, None);
    app.call("DELETE", "/Users", None)
        .assert_scim_error(405, None);
    app.call("POST", "/ServiceProviderConfig", Some(&json!({})))
        .assert_scim_error(405, None);
}

#[test]
fn nul_characters_in_filters_and_paths_are_client_errors_on_every_backend() {
    let app = TestApp::spawn();
    let r = app.get("/Users?filter=userName%20eq%20%22a%5Cu0000b%22");
    assert!(
        r.status == 400 || (r.status == 200 && r.body["totalResults"] == 0),
        "{}: {}",
        r.status,
        r.text
    );
    let r = app.raw(
        "GET",
        &format!("{}/scim/v2/a%00b/Users", app.address),
        &[("Authorization", &format!("Bearer {}", app.token))],
        None,
        None,
    );
    assert!(r.status < 500, "{}: {}", r.status, r.text);
    let r = app.get("/Users/a%00b");
    assert!(r.status < 500, "{}: {}", r.status, r.text);
}
