use serde_json::{json, Value};

use crate::helpers::{patch_op, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn create_user_returns_201_with_location_etag_and_meta() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "bjensen", "name": {"givenName": "Barbara"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let location = format!("{}/Users/{id}", app.base);
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));
    assert_eq!(r.body["schemas"], json!([USER]));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert!(r.body["meta"]["created"].is_string());
    assert_eq!(r.body["meta"]["created"], r.body["meta"]["lastModified"]);
    assert_eq!(r.body["name"]["givenName"], "Barbara");
    assert_eq!(
        r.body["active"],
        json!(null),
        "active is not invented when not sent"
    );
}

#[test]
fn get_user_by_id_returns_what_was_created() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "bjensen", "externalId": "ext-1", "active": true}),
    );
    let id = created.body["id"].as_str().unwrap();
    let r = app.get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, created.body);
}

#[test]
fn unknown_user_id_is_404_with_a_scim_error() {
    let app = TestApp::spawn();
    app.get("/Users/does-not-exist")
        .assert_scim_error(404, None);
    app.put("/Users/does-not-exist", &json!({"userName": "x"}))
        .assert_scim_error(404, None);
    app.patch(
        "/Users/does-not-exist",
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .assert_scim_error(404, None);
    app.delete("/Users/does-not-exist")
        .assert_scim_error(404, None);
}

#[test]
fn duplicate_user_name_differing_only_in_case_is_409_uniqueness() {
    let app = TestApp::spawn();
    app.create_user("JSmith@example.com");
    app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "jsmith@EXAMPLE.com"}),
    )
    .assert_scim_error(409, Some("uniqueness"));
}

#[test]
fn missing_or_empty_user_name_is_400_invalid_value() {
    let app = TestApp::spawn();
    app.post("/Users", &json!({"schemas": [USER], "displayName": "x"}))
        .assert_scim_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"schemas": [USER], "userName": "  "}))
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn wrongly_typed_known_attributes_are_400_invalid_value() {
    let app = TestApp::spawn();
    app.post("/Users", &json!({"userName": "a", "active": "maybe"}))
        .assert_scim_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": "a", "name": "Barbara"}))
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn put_replaces_attributes_and_bumps_the_version() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.put(
        &format!("/Users/{id}"),
        &json!({"schemas": [USER], "userName": "bjensen", "title": "Captain"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "Captain");
    assert_eq!(
        r.body["displayName"],
        json!(null),
        "PUT clears what it does not carry"
    );
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
}

#[test]
fn put_of_the_same_body_is_a_no_op_that_keeps_the_version() {
    let app = TestApp::spawn();
    let body = json!({"schemas": [USER], "userName": "bjensen", "title": "Captain"});
    let id = app.post("/Users", &body).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.put(&format!("/Users/{id}"), &body);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
}

#[test]
fn put_may_rename_a_user_but_not_onto_another_users_name() {
    let app = TestApp::spawn();
    let id = app.create_user("alice");
    app.create_user("bob");
    let r = app.put(&format!("/Users/{id}"), &json!({"userName": "alice2"}));
    assert_eq!(r.body["userName"], "alice2");
    app.put(&format!("/Users/{id}"), &json!({"userName": "BOB"}))
        .assert_scim_error(409, Some("uniqueness"));
}

#[test]
fn patch_replace_active_false_deactivates_in_path_and_value_object_forms() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    // Okta: no path, a value object.
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "value": {"active": true}}])),
    );
    assert_eq!(r.body["active"], true);
}

#[test]
fn patch_accepts_entra_string_booleans_and_any_op_case() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
}

#[test]
fn patch_sets_sub_attributes_and_enterprise_attributes_by_urn_path() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([
            {"op": "add", "path": "name.familyName", "value": "Jensen"},
            {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Tour Operations"},
            {"op": "replace", "path": format!("{ENTERPRISE}:manager.value"), "value": "m-1"},
        ])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"]["familyName"], "Jensen");
    assert_eq!(r.body[ENTERPRISE]["department"], "Tour Operations");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "m-1");
    assert!(r.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE)));
}

#[test]
fn a_no_op_patch_keeps_version_and_last_modified() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let before = app.get(&format!("/Users/{id}"));
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "userName", "value": "bjensen"}])),
    );
    assert_eq!(r.body["meta"], before.body["meta"]);
}

#[test]
fn patch_on_a_read_only_attribute_is_400_mutability() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "id", "value": "x"}])),
    )
    .assert_scim_error(400, Some("mutability"));
    app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}])),
    )
    .assert_scim_error(400, Some("mutability"));
}

#[test]
fn a_failed_patch_applies_none_of_its_operations() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([
            {"op": "replace", "path": "title", "value": "Captain"},
            {"op": "replace", "path": "id", "value": "x"},
        ])),
    )
    .assert_scim_error(400, Some("mutability"));
    assert_eq!(app.get(&format!("/Users/{id}")).body["title"], json!(null));
}

#[test]
fn removing_user_name_by_patch_is_400() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "remove", "path": "userName"}])),
    )
    .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn delete_returns_204_and_then_404() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.delete(&format!("/Users/{id}"));
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    app.get(&format!("/Users/{id}"))
        .assert_scim_error(404, None);
    app.delete(&format!("/Users/{id}"))
        .assert_scim_error(404, None);
}

#[test]
fn password_is_accepted_but_never_stored_or_returned() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"userName": "bjensen", "password": "t1meMa$heen"}),
    );
    assert_eq!(r.status, 201);
    assert!(!r.text.contains("t1meMa$heen"));
    let id = r.body["id"].as_str().unwrap();
    assert!(!app
        .get(&format!("/Users/{id}"))
        .text
        .contains("t1meMa$heen"));
}

#[test]
fn unknown_attributes_and_extension_urns_are_kept() {
    let app = TestApp::spawn();
    let custom = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    let r = app.post(
        "/Users",
        &json!({
            "schemas": [USER, ENTERPRISE, custom],
            "userName": "bjensen",
            "favouriteColour": "teal",
            custom: {"badge": "A-7"},
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let got = app.get(&format!("/Users/{}", r.body["id"].as_str().unwrap()));
    assert_eq!(got.body["favouriteColour"], "teal");
    assert_eq!(got.body[custom]["badge"], "A-7");
}

#[test]
fn server_owned_attributes_in_a_post_are_ignored() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"userName": "bjensen", "id": "mine", "meta": {"version": "W/\"99\""}, "groups": [{"value": "g"}]}),
    );
    assert_eq!(r.status, 201);
    assert_ne!(r.body["id"], "mine");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert_eq!(r.body["groups"], json!(null));
}

#[test]
fn attribute_names_are_case_insensitive_on_input() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"USERNAME": "bjensen", "Name": {"GivenName": "Barbara"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["userName"], "bjensen");
    assert_eq!(r.body["name"]["givenName"], "Barbara");
}

#[test]
fn list_users_pages_with_start_index_and_count() {
    let app = TestApp::spawn();
    for i in 0..5 {
        app.create_user(&format!("user{i}"));
    }
    let r = app.get("/Users?startIndex=2&count=2");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["startIndex"], 2);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 2);
    let r = app.get("/Users?count=0");
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["Resources"], json!([]));
    let all: Vec<String> = (1..=5)
        .flat_map(|i| {
            app.get(&format!("/Users?startIndex={i}&count=1")).body["Resources"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "paging neither skips nor repeats");
}

#[test]
fn out_of_range_paging_parameters_are_clamped_or_rejected() {
    let app = TestApp::spawn_with(|s| s.max_page_size = 3);
    for i in 0..4 {
        app.create_user(&format!("user{i}"));
    }
    let r = app.get("/Users?count=1000");
    assert_eq!(r.body["itemsPerPage"], 3);
    let r = app.get("/Users?startIndex=-5&count=-1");
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], 0);
    let r = app.get("/Users?startIndex=9223372036854775807");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["Resources"], json!([]));
    app.get("/Users?count=ten")
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn user_name_filter_is_case_insensitive_and_external_id_is_case_exact() {
    let app = TestApp::spawn();
    let id = app
        .post(
            "/Users",
            &json!({"userName": "BJensen@Example.com", "externalId": "AbC"}),
        )
        .body["id"]
        .clone();
    app.create_user("other");
    let r = app.get("/Users?filter=userName%20eq%20%22bjensen%40example.com%22");
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], id);
    let r = app.get("/Users?filter=externalId%20eq%20%22AbC%22");
    assert_eq!(r.body["totalResults"], 1);
    let r = app.get("/Users?filter=externalId%20eq%20%22abc%22");
    assert_eq!(r.body["totalResults"], 0);
    let r = app.get("/Users?filter=userName%20eq%20%22nobody%22");
    assert_eq!(r.status, 200, "a look-up miss is an empty list, never 404");
    assert_eq!(r.body["totalResults"], 0);
}

#[test]
fn filters_combine_with_and_or_not_and_like_operators_escape_wildcards() {
    let app = TestApp::spawn();
    app.post("/Users", &json!({"userName": "a%b", "active": true}));
    app.post("/Users", &json!({"userName": "axb", "active": false}));
    app.post("/Users", &json!({"userName": "a_b", "active": true}));
    let count = |filter: &str| {
        let r = app.get(&format!("/Users?filter={}", urlencode(filter)));
        assert_eq!(r.status, 200, "{filter}: {}", r.text);
        r.body["totalResults"].as_i64().unwrap()
    };
    assert_eq!(count("userName co \"%\""), 1);
    assert_eq!(count("userName sw \"a_\""), 1);
    assert_eq!(count("userName ew \"b\""), 3);
    assert_eq!(count("userName sw \"a\" and active eq true"), 2);
    assert_eq!(count("userName eq \"axb\" or userName eq \"a_b\""), 2);
    assert_eq!(count("not (active eq true)"), 1);
    assert_eq!(count("externalId pr"), 0);
    assert_eq!(count("externalId ne \"x\""), 3);
}

#[test]
fn attributes_and_excluded_attributes_shape_the_response() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users?attributes=userName",
        &json!({"userName": "bjensen", "title": "Captain", "name": {"givenName": "B", "familyName": "J"}}),
    );
    assert_eq!(r.status, 201);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let id = r.body["id"].as_str().unwrap();
    let r = app.get(&format!("/Users/{id}?attributes=name.givenName"));
    assert_eq!(r.body["name"], json!({"givenName": "B"}));
    let r = app.get(&format!("/Users/{id}?excludedAttributes=title,name,id"));
    assert_eq!(r.body["title"], json!(null));
    assert_eq!(r.body["name"], json!(null));
    assert_eq!(r.body["id"], id, "id is always returned");
    let r = app.get("/Users?attributes=userName");
    assert_eq!(r.body["Resources"][0].as_object().unwrap().len(), 3);
}

#[test]
fn search_by_post_takes_the_query_in_the_body() {
    let app = TestApp::spawn();
    app.create_user("bjensen");
    app.create_user("other");
    let r = app.post(
        "/Users/.search",
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName eq \"bjensen\"",
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "bjensen");
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_password_set_by_patch_is_never_stored_or_returned() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "add", "path": "password", "value": "s3cret!"}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("s3cret!"));
    assert_eq!(r.body["meta"]["version"], "W/\"1\"", "nothing was stored");
}

#[test]
fn patch_on_a_whole_extension_path_adds_merges_and_removes_it() {
    let app = TestApp::spawn();
    let id = app.create_user("bjensen");
    let path = format!("/Users/{id}");
    let r = app.patch(
        &path,
        &patch_op(
            json!([{"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "701984"}}]),
        ),
    );
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701984", "{}", r.text);
    let r = app.patch(
        &path,
        &patch_op(json!([{"op": "replace", "path": ENTERPRISE, "value": {"department": "Ops"}}])),
    );
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"employeeNumber": "701984", "department": "Ops"})
    );
    let r = app.patch(
        &path,
        &patch_op(json!([{"op": "remove", "path": ENTERPRISE}])),
    );
    assert_eq!(r.body[ENTERPRISE], json!(null));
    assert_eq!(r.body["schemas"], json!([USER]));
}

#[test]
fn only_one_value_stays_primary_and_the_newest_wins() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"userName": "bjensen", "emails": [{"value": "a@example.com", "primary": true}]}),
    );
    let id = r.body["id"].as_str().unwrap();
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "add", "path": "emails", "value": [{"value": "b@example.com", "primary": true}]}])),
    );
    assert_eq!(r.body["emails"][0]["primary"], false, "{}", r.text);
    assert_eq!(r.body["emails"][1]["primary"], true);
}

#[test]
fn root_search_returns_users_and_groups_in_one_list() {
    let app = TestApp::spawn();
    app.create_user("alice");
    app.create_group("Eng", &[]);
    let r = app.post(
        "/.search",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2);
    let search = |body: Value| {
        let mut body = body;
        body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]);
        app.post("/.search", &body)
    };
    let r = search(json!({"filter": "displayName eq \"eng\"", "count": 10}));
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["meta"]["resourceType"], "Group");
    let r = search(json!({"startIndex": 2, "count": 1}));
    assert_eq!(r.body["Resources"][0]["meta"]["resourceType"], "Group");
    let r = search(json!({"filter": "title pr"}));
    assert_eq!(r.body["totalResults"], 0, "{}", r.text);
    search(json!({"filter": "password pr"})).assert_scim_error(400, Some("invalidFilter"));
}

#[test]
fn strings_with_nul_are_400_on_every_backend() {
    // PostgreSQL text cannot hold U+0000; refusing it everywhere keeps the backends alike.
    let app = TestApp::spawn();
    app.post("/Users", &json!({"userName": "a\u{0}b"}))
        .assert_scim_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": "nul", "x": {"k\u{0}": 1}}))
        .assert_scim_error(400, Some("invalidValue"));
    let id = app.create_user("nul");
    app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "add", "path": "title", "value": "a\u{0}"}])),
    )
    .assert_scim_error(400, Some("invalidValue"));
    app.post(
        "/Groups",
        &json!({"displayName": "g", "description": ["\u{0}"]}),
    )
    .assert_scim_error(400, Some("invalidValue"));
}
