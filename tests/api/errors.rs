//! Bad input gets a SCIM error: never a 5xx, a panic or a hang.

use serde_json::json;

use crate::helpers::{patch_op, TestApp};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

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
    app.patch(&path, &patch_op(json!("nope")))
        .assert_scim_error(400, Some("invalidSyntax"));
    app.patch(&path, &patch_op(json!([{"op": "explode"}])))
        .assert_scim_error(400, Some("invalidSyntax"));
    app.patch(&path, &patch_op(json!([{"op": "remove"}])))
        .assert_scim_error(400, Some("noTarget"));
    app.patch(&path, &patch_op(json!([{"op": "add", "path": "name["}])))
        .assert_scim_error(400, None);
    let many: Vec<_> = (0..1001)
        .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
        .collect();
    app.patch(&path, &patch_op(json!(many)))
        .assert_scim_error(400, Some("tooMany"));
}

#[test]
fn a_patch_without_the_patch_op_schema_or_without_operations_is_invalid_syntax() {
    let app = TestApp::spawn();
    let id = app.create_user("a");
    let group = app.create_group("g", &[]);
    let op = json!({"op": "replace", "path": "title", "value": "x"});
    for path in [format!("/Users/{id}"), format!("/Groups/{group}")] {
        for body in [
            json!({"Operations": [op]}),
            json!({"schemas": [], "Operations": [op]}),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [op]}),
            json!({"schemas": [PATCH_OP]}),
            json!({"schemas": [PATCH_OP], "Operations": []}),
        ] {
            app.patch(&path, &body)
                .assert_scim_error(400, Some("invalidSyntax"));
        }
    }
    // Nothing changed.
    assert!(app.get(&format!("/Users/{id}")).body.get("title").is_none());
}

#[test]
fn a_search_without_the_search_request_schema_is_invalid_syntax() {
    let app = TestApp::spawn();
    app.create_user("a");
    for path in ["/.search", "/Users/.search", "/Groups/.search"] {
        for body in [
            json!({"filter": "userName pr"}),
            json!({"schemas": [PATCH_OP], "filter": "userName pr"}),
            json!({"schemas": "urn:ietf:params:scim:api:messages:2.0:SearchRequest"}),
        ] {
            app.post(path, &body)
                .assert_scim_error(400, Some("invalidSyntax"));
        }
        let r = app.post(path, &json!({"schemas": [SEARCH_REQUEST]}));
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
}

#[test]
fn endpoint_names_match_in_any_case_and_locations_keep_theirs() {
    let app = TestApp::spawn();
    let r = app.post("/users", &json!({"userName": "a"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Users/{id}", app.base)
    );
    assert_eq!(
        r.header("location"),
        Some(format!("{}/Users/{id}", app.base).as_str())
    );
    assert_eq!(app.get(&format!("/USERS/{id}")).status, 200);
    assert_eq!(
        app.get("/uSeRs?filter=userName%20eq%20%22a%22").body["totalResults"],
        1
    );
    let r = app.post("/GROUPS", &json!({"displayName": "g"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let group = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Groups/{group}", app.base)
    );
    let r = app.patch(
        &format!("/groups/{group}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app.post("/groups/.search", &json!({"schemas": [SEARCH_REQUEST]}));
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(app.delete(&format!("/Groups/{group}")).status, 204);
    // A Bulk path too.
    let r = app.post(
        "/Bulk",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "DELETE", "path": format!("/USERS/{id}")}]}),
    );
    assert_eq!(r.body["Operations"][0]["status"], "204", "{}", r.text);
    app.get("/Widgets").assert_scim_error(404, None);
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

/// A long URL that actix-http reads gets a SCIM error from roster. Two limits answer
/// before any application code runs, without a body, and actix offers no hook for
/// either: a request target over 65,534 bytes (the `http` crate's `Uri` limit, read
/// in actix-http's `h1/decoder.rs`) gets 400, and a request head over actix-http's fixed
/// 128 KiB read buffer (`MAX_BUFFER_SIZE`, same file) gets 431 from its dispatcher.
#[test]
fn a_long_url_gets_a_scim_error_up_to_the_limits_actix_answers_itself() {
    let app = TestApp::spawn();
    let filter = format!("userName eq \"{}\"", "a".repeat(60_000));
    let r = app.get(&format!(
        "/Users?filter={}",
        crate::users::urlencode(&filter)
    ));
    r.assert_scim_error(400, Some("invalidFilter"));
    let r = app.get(&format!("/Users?x={}", "a".repeat(70_000)));
    assert_eq!((r.status, r.text.as_str()), (400, ""));
    let auth = format!("Bearer {}", app.token);
    let big = "a".repeat(8_000);
    let headers: Vec<(String, &str)> = (0..20)
        .map(|i| (format!("x-pad-{i}"), big.as_str()))
        .collect();
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    all.push(("Authorization", &auth));
    let r = app.raw("GET", &format!("{}/Users", app.base), &all, None, None);
    assert_eq!((r.status, r.text.as_str()), (431, ""));
}
