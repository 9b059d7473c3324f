//! The JumpCloud client profile (`shared/research/jumpcloud.md` §0–§5), replayed with its
//! real captured bodies (A–C) and the inferred group shapes (D–F).

use serde_json::{json, Value};

use crate::helpers::{patch_op, TestApp};
use crate::users::urlencode;

pub fn create_body() -> Value {
    json!({
        "active": true,
        "addresses": [{"country": "US", "locality": "locality", "postalCode": "80027",
                       "primary": true, "region": "region",
                       "streetAddress": "street-address", "type": "work"}],
        "displayName": "displayname",
        "emails": [{"primary": true, "type": "work", "value": "testuser@example.io"}],
        "externalId": "66e2d689590450d073d2df3b",
        "locale": "en-US",
        "name": {"familyName": "lastname", "givenName": "firstname"},
        "phoneNumbers": [{"primary": true, "type": "work", "value": "tel:+1-555-555-5555"}],
        "preferredLanguage": "en-US",
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "testuser@example.io"
    })
}

pub fn minimal_put(id: &str) -> Value {
    json!({
        "active": true,
        "emails": null,
        "id": id,
        "name": {"familyName": "lastname", "givenName": "firstname"},
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "testuser@example.io"
    })
}

fn lookup(app: &TestApp, user_name: &str) -> Value {
    let r = app.get(&format!(
        "/Users?filter={}",
        urlencode(&format!("userName eq \"{user_name}\""))
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[test]
fn test_connection_lists_users_even_when_there_are_none() {
    let app = TestApp::spawn();
    let r = app.get("/Users");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], 0);
}

#[test]
fn activate_test_user_lifecycle_repeats_cleanly() {
    let app = TestApp::spawn();
    for round in 0..2 {
        assert_eq!(
            lookup(&app, "testuser@example.io")["totalResults"],
            0,
            "round {round}"
        );
        let created = app.post("/Users", &create_body());
        assert_eq!(created.status, 201, "round {round}: {}", created.text);
        let id = created.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            created.body["phoneNumbers"][0]["value"],
            "tel:+1-555-555-5555"
        );
        assert_eq!(
            lookup(&app, "TestUser@example.io")["Resources"][0]["id"],
            id.as_str()
        );

        // The "test updating" step: echoed id, emails null, no externalId.
        let updated = app.put(&format!("/Users/{id}"), &minimal_put(&id));
        assert_eq!(updated.status, 200, "{}", updated.text);
        assert_eq!(
            updated.body["externalId"], "66e2d689590450d073d2df3b",
            "a PUT without externalId keeps it"
        );
        assert_eq!(
            updated.body["emails"][0]["value"], "testuser@example.io",
            "emails: null keeps the login email"
        );
        assert_eq!(
            updated.body["addresses"],
            json!(null),
            "other attributes follow replace semantics"
        );

        assert_eq!(app.delete(&format!("/Users/{id}")).status, 204);
    }
}

#[test]
fn full_put_with_empty_arrays_and_a_nested_enterprise_extension_is_accepted() {
    let app = TestApp::spawn();
    let id = app.create_user("john.doe@example.com");
    let body = json!({
        "active": true,
        "addresses": [],
        "displayName": "John Doe",
        "emails": [{"primary": true, "type": "work", "value": "john.doe@example.io"}],
        "externalId": "664447f5c0c418f2d05e5318",
        "id": id,
        "locale": "en-US",
        "name": {"familyName": "Doe", "givenName": "John"},
        "phoneNumbers": [],
        "photos": [{"value": "https://img.example.com/2a27d237-db8c-4f82-84fb-5824dfaedc87.png"}],
        "preferredLanguage": "en-US",
        "schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    "urn:ietf:params:scim:schemas:core:2.0:User"],
        "title": "Captain",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "C-Suite"},
        "userName": "john.doe@example.com"
    });
    let r = app.put(&format!("/Users/{id}"), &body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "C-Suite"
    );
    assert_eq!(r.body["emails"][0]["value"], "john.doe@example.io");
    assert_eq!(r.body["title"], "Captain");
    assert_eq!(r.body["addresses"], json!(null));
    let r = app.get(&format!(
        "/Users?filter={}",
        urlencode("externalId eq \"664447f5c0c418f2d05e5318\"")
    ));
    assert_eq!(r.body["totalResults"], 1);
}

#[test]
fn suspension_by_put_and_reactivation_keep_the_user() {
    let app = TestApp::spawn();
    let created = app.post("/Users", &create_body());
    let id = created.body["id"].as_str().unwrap();
    let mut body = create_body();
    body["id"] = json!(id);
    body["active"] = json!(false);
    assert_eq!(
        app.put(&format!("/Users/{id}"), &body).body["active"],
        false
    );
    body["active"] = json!(true);
    assert_eq!(app.put(&format!("/Users/{id}"), &body).body["active"], true);
}

#[test]
fn group_lifecycle_create_add_remove_rename_delete() {
    let app = TestApp::spawn();
    let a = app.post("/Users", &create_body()).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.create_user("second@example.io");

    // Takeover look-up by name, then create.
    let r = app.get(&format!(
        "/Groups?filter={}",
        urlencode("displayName eq \"YourApp Users\"")
    ));
    assert_eq!(r.body["totalResults"], 0);
    let r = app.post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "YourApp Users"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let g = r.body["id"].as_str().unwrap().to_owned();

    // E: add, repeated.
    let add =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]));
    assert_eq!(app.patch(&format!("/Groups/{g}"), &add).status, 204);
    assert_eq!(app.patch(&format!("/Groups/{g}"), &add).status, 204);
    assert_eq!(app.member_ids(&g).len(), 2);

    // F: remove with a value list, then by filter path.
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": a}]}])),
    );
    assert_eq!(r.status, 204);
    assert_eq!(app.member_ids(&g), vec![b.clone()]);
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "Remove", "path": format!("members[value eq \"{b}\"]")}])),
    );
    assert_eq!(r.status, 204);
    assert!(app.member_ids(&g).is_empty());

    // Rename, then delete.
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "YourApp Admins"}])),
    );
    assert_eq!(r.status, 204);
    let r = app.get(&format!("/Groups/{g}"));
    assert_eq!(r.body["displayName"], "YourApp Admins");
    assert_eq!(app.delete(&format!("/Groups/{g}")).status, 204);
    app.get(&format!("/Groups/{g}"))
        .assert_scim_error(404, None);
}

#[test]
fn a_user_may_be_created_again_after_delete() {
    let app = TestApp::spawn();
    let first = app.post("/Users", &create_body());
    let id = first.body["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/Users/{id}")).status, 204);
    let again = app.post("/Users", &create_body());
    assert_eq!(again.status, 201, "{}", again.text);
    assert_ne!(again.body["id"], first.body["id"]);
}

#[test]
fn trailing_slashes_and_doubled_slashes_are_tolerated() {
    let app = TestApp::spawn();
    let auth = format!("Bearer {}", app.token);
    for url in [
        format!("{}/Users/", app.base),
        format!("{}//Users", app.base),
    ] {
        let r = app.raw("GET", &url, &[("Authorization", &auth)], None, None);
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        assert_eq!(r.body["totalResults"], 0);
    }
}
