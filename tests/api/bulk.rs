//! `/Bulk` (RFC 7644 §3.7).

use serde_json::{json, Value};

use crate::helpers::TestApp;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn bulk(app: &TestApp, body: Value) -> Value {
    let r = app.post("/Bulk", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    r.body["Operations"].clone()
}

#[test]
fn a_group_can_reference_users_created_later_in_the_same_request() {
    let app = TestApp::spawn();
    let ops = bulk(
        &app,
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "eng", "data": {"displayName": "Eng", "members": [{"value": "bulkId:alice"}, {"value": "bulkId:bob"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "alice", "data": {"userName": "alice"}},
            {"method": "POST", "path": "/Users", "bulkId": "bob", "data": {"userName": "bob"}},
        ]}),
    );
    assert_eq!(ops.as_array().unwrap().len(), 3);
    for op in ops.as_array().unwrap() {
        assert_eq!(op["status"], "201", "{op}");
        assert!(op["version"].is_string());
    }
    assert_eq!(ops[0]["bulkId"], "eng", "results come in request order");
    let group = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let alice = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let bob = ops[2]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mut want = vec![alice, bob];
    want.sort();
    assert_eq!(app.member_ids(&group), want);
}

#[test]
fn put_patch_and_delete_operations_apply_and_errors_are_reported_per_operation() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let b = app.create_user("b");
    let ops = bulk(
        &app,
        json!({"schemas": [BULK], "Operations": [
            {"method": "PUT", "path": format!("/Users/{a}"), "data": {"userName": "a", "title": "Captain"}},
            {"method": "PATCH", "path": format!("/Users/{b}"), "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "A"}},
            {"method": "DELETE", "path": format!("/Users/{b}"), "version": "W/\"1\""},
            {"method": "DELETE", "path": "/Users/nope"},
        ]}),
    );
    assert_eq!(ops[0]["status"], "200");
    assert_eq!(ops[1]["status"], "200");
    assert_eq!(ops[2]["status"], "409");
    assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
    assert_eq!(
        ops[3]["status"], "412",
        "b is at version 2 after the PATCH: {}",
        ops[3]
    );
    assert_eq!(ops[4]["status"], "404");
    assert_eq!(app.get(&format!("/Users/{a}")).body["title"], "Captain");
    assert_eq!(app.get(&format!("/Users/{b}")).body["active"], false);
}

#[test]
fn fail_on_errors_stops_after_that_many_errors() {
    let app = TestApp::spawn();
    let ops = bulk(
        &app,
        json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
            {"method": "DELETE", "path": "/Users/nope"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x"}},
        ]}),
    );
    assert_eq!(ops.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/Users").body["totalResults"], 0);
}

#[test]
fn circular_and_unknown_references_fail_with_409() {
    let app = TestApp::spawn();
    let ops = bulk(
        &app,
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:missing", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}},
        ]}),
    );
    for op in ops.as_array().unwrap() {
        assert_eq!(op["status"], "409", "{op}");
    }
    assert_eq!(app.get("/Groups").body["totalResults"], 0);
}

#[test]
fn limits_are_enforced_as_advertised() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 50_000);
    let config = app.get("/ServiceProviderConfig").body;
    assert_eq!(config["bulk"]["supported"], true);
    let max_ops = config["bulk"]["maxOperations"].as_u64().unwrap() as usize;
    let max_bytes = config["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    assert_eq!(max_bytes, 50_000);
    let ops: Vec<Value> = (0..=max_ops)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let r = app.post("/Bulk", &json!({"schemas": [BULK], "Operations": ops}));
    assert!(r.text.len() < 1000);
    if r.status != 413 {
        panic!("{} operations: {}", max_ops + 1, r.text);
    }
    let big = json!({"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x", "title": "t".repeat(max_bytes)}}
    ]});
    app.post("/Bulk", &big).assert_scim_error(413, None);
    app.post(
        "/Bulk",
        &json!({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}),
    )
    .assert_scim_error(400, Some("invalidSyntax"));
}
