//! `If-Match` / `If-None-Match` (RFC 7644 §3.14). Identity providers do not send them,
//! so everything else works without them too.

use serde_json::json;

use crate::helpers::{patch_op, TestApp};

fn with_header(
    app: &TestApp,
    method: &str,
    path: &str,
    header: (&str, &str),
    body: Option<serde_json::Value>,
) -> crate::helpers::Resp {
    app.raw(
        method,
        &format!("{}{path}", app.base),
        &[("Authorization", &format!("Bearer {}", app.token)), header],
        body.map(|b| b.to_string()).as_deref(),
        Some("application/scim+json"),
    )
}

#[test]
fn get_with_the_current_etag_in_if_none_match_is_304() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let path = format!("/Users/{id}");
    let etag = app.get(&path).header("etag").unwrap().to_owned();
    let r = with_header(&app, "GET", &path, ("If-None-Match", &etag), None);
    assert_eq!(r.status, 304);
    assert!(r.text.is_empty());
    let r = with_header(&app, "GET", &path, ("If-None-Match", "W/\"99\""), None);
    assert_eq!(r.status, 200);
}

#[test]
fn writes_with_a_stale_if_match_are_412_and_change_nothing() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let path = format!("/Users/{id}");
    let stale = "W/\"1\"";
    app.patch(
        &path,
        &patch_op(json!([{"op": "replace", "path": "title", "value": "v2"}])),
    );
    let patch = patch_op(json!([{"op": "replace", "path": "title", "value": "v3"}]));
    with_header(
        &app,
        "PATCH",
        &path,
        ("If-Match", stale),
        Some(patch.clone()),
    )
    .assert_scim_error(412, None);
    with_header(
        &app,
        "PUT",
        &path,
        ("If-Match", stale),
        Some(json!({"userName": "x"})),
    )
    .assert_scim_error(412, None);
    with_header(&app, "DELETE", &path, ("If-Match", stale), None).assert_scim_error(412, None);
    assert_eq!(app.get(&path).body["title"], "v2");

    let r = with_header(&app, "PATCH", &path, ("If-Match", "W/\"2\""), Some(patch));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "v3");
    assert_eq!(
        with_header(&app, "DELETE", &path, ("If-Match", "*"), None).status,
        204
    );
}

#[test]
fn service_provider_config_advertises_etags() {
    let app = TestApp::spawn();
    assert_eq!(
        app.get("/ServiceProviderConfig").body["etag"]["supported"],
        true
    );
}
