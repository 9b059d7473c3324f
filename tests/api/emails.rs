//! Email look-ups through the `user_emails` index stay in step with every user write.

use serde_json::json;

use crate::helpers::{patch_op, TestApp};
use crate::users::urlencode;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The ids the two indexed filter forms find for `email`; they must agree.
fn found(app: &TestApp, email: &str) -> Vec<String> {
    let mut answers = Vec::new();
    for f in [
        format!(r#"emails[value eq "{email}"]"#),
        format!(r#"emails.value eq "{email}""#),
    ] {
        let r = app.get(&format!("/Users?attributes=id&filter={}", urlencode(&f)));
        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<String> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        answers.push(ids);
    }
    assert_eq!(answers[0], answers[1]);
    answers.remove(0)
}

#[test]
fn email_look_ups_follow_create_put_patch_bulk_and_delete() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "bjensen",
                "emails": [{"value": "BJensen@Example.com", "type": "work"},
                           {"value": "babs@jensen.org", "type": "home"}]}),
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&app, "bjensen@example.com"), vec![id.clone()]);
    assert_eq!(found(&app, "BABS@JENSEN.ORG"), vec![id.clone()]);

    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
                          "value": "barbara@example.com"}]),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(found(&app, "bjensen@example.com").is_empty());
    assert_eq!(found(&app, "barbara@example.com"), vec![id.clone()]);

    // A PUT without emails keeps them; one with emails replaces them.
    let r = app.put(
        &format!("/Users/{id}"),
        &json!({"schemas": [USER], "userName": "bjensen"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(found(&app, "barbara@example.com"), vec![id.clone()]);
    let r = app.put(
        &format!("/Users/{id}"),
        &json!({"schemas": [USER], "userName": "bjensen", "emails": [{"value": "b@x.org"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(found(&app, "babs@jensen.org").is_empty());
    assert_eq!(found(&app, "B@X.ORG"), vec![id.clone()]);

    let r = app.post(
        "/Bulk",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                                "data": {"schemas": [USER], "userName": "other",
                                         "emails": [{"value": "b@x.org"}]}}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(found(&app, "b@x.org").len(), 2);

    assert_eq!(app.delete(&format!("/Users/{id}")).status, 204);
    assert_eq!(found(&app, "b@x.org").len(), 1);
    assert_ne!(found(&app, "b@x.org"), [id]);
}

#[test]
fn email_look_ups_stay_within_the_tenant() {
    let app = TestApp::spawn();
    let (base, token) = app.add_tenant("other");
    let body = json!({"schemas": [USER], "userName": "u", "emails": [{"value": "same@x.org"}]});
    let r = app.raw(
        "POST",
        &format!("{base}/Users"),
        &[("Authorization", &format!("Bearer {token}"))],
        Some(&body.to_string()),
        Some("application/scim+json"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(found(&app, "same@x.org").is_empty());
    let r = app.post("/Users", &body);
    assert_eq!(
        found(&app, "same@x.org"),
        [r.body["id"].as_str().unwrap().to_owned()]
    );
}
