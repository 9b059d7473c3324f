//! `returned` (RFC 7643 §7) under `attributes` and `excludedAttributes`.

use serde_json::json;

use crate::helpers::TestApp;

#[test]
fn password_is_never_returned_even_when_asked_for_by_name() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users?attributes=password,userName",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bjensen",
            "password": "t1meMa$heen",
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("t1meMa"), "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/Users/{id}"),
        format!("/Users/{id}?attributes=password"),
        "/Users?attributes=password".to_owned(),
        "/Users?filter=userName%20eq%20%22bjensen%22&attributes=password,id".to_owned(),
    ] {
        let r = app.get(&path);
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            !r.text.to_lowercase().contains("password"),
            "{path}: {}",
            r.text
        );
    }
}

#[test]
fn id_and_schemas_are_returned_even_when_excluded_or_not_asked_for() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.get(&format!(
        "/Users/{id}?excludedAttributes=id,schemas,userName,meta"
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    assert!(r.body["schemas"].is_array());
    assert!(r.body.get("userName").is_none() && r.body.get("meta").is_none());
    let r = app.get("/Users?attributes=displayName");
    let user = &r.body["Resources"][0];
    assert_eq!(user["id"], id.as_str());
    assert!(user["schemas"].is_array());
    assert_eq!(user["displayName"], "bjensen");
    assert!(
        user.get("userName").is_none(),
        "userName is returned by default only"
    );
    let r = app.post(
        "/Users/.search",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "excludedAttributes": ["id", "displayName"]}),
    );
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    assert!(r.body["Resources"][0].get("displayName").is_none());
}
