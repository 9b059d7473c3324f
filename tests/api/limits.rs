//! Bounded work per request (`scim::limits`): oversized requests are refused with a SCIM
//! error before they reach the writer, and requests at the limits succeed.

use serde_json::{json, Map, Value};

use crate::helpers::{patch_op, Resp, TestApp};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const MAX_VALUES: usize = 1_000;
const MAX_MEMBERS: usize = 10_000;
const MAX_OPERATIONS: usize = 1_000;
const MAX_ATTRIBUTES: usize = 200;
const MAX_DEPTH: usize = 16;

fn emails(from: usize, n: usize) -> Value {
    (from..from + n)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect()
}

fn add_emails(from: usize, n: usize) -> Value {
    patch_op(json!([{"op": "add", "path": "emails", "value": emails(from, n)}]))
}

/// 400 `tooMany`, naming the limit.
fn assert_too_many(r: &Resp, limit: usize) {
    r.assert_scim_error(400, Some("tooMany"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&limit.to_string()), "{detail}");
}

fn email_count(app: &TestApp, id: &str) -> usize {
    let r = app.get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["emails"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_user_holds_up_to_the_limit_of_values_and_no_more() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"userName": "a", "emails": emails(0, MAX_VALUES + 1)}),
    );
    assert_too_many(&r, MAX_VALUES);
    let r = app.post(
        "/Users",
        &json!({"userName": "a", "emails": emails(0, 500)}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    // 500 + 500 new: exactly at the limit.
    let r = app.patch(&path, &add_emails(500, 500));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(email_count(&app, &id), MAX_VALUES);
    // Adding values it already holds does not grow it, so it is allowed.
    let r = app.patch(&path, &add_emails(0, 10));
    assert_eq!(r.status, 200, "{}", r.text);
    // One more is refused, and nothing changes.
    let r = app.patch(&path, &add_emails(MAX_VALUES, 1));
    assert_too_many(&r, MAX_VALUES);
    assert_eq!(email_count(&app, &id), MAX_VALUES);
    // A PUT replaces: the same limit applies to its body.
    let r = app.put(
        &path,
        &json!({"userName": "a", "emails": emails(0, MAX_VALUES + 1)}),
    );
    assert_too_many(&r, MAX_VALUES);
}

#[test]
fn a_patch_adding_the_most_values_one_operation_may_carry_succeeds() {
    let app = TestApp::spawn();
    let id = app.create_user("a");
    let r = app.patch(&format!("/Users/{id}"), &add_emails(0, MAX_VALUES));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["emails"].as_array().unwrap().len(), MAX_VALUES);
    let r = app.patch(&format!("/Users/{id}"), &add_emails(0, MAX_VALUES + 1));
    assert_too_many(&r, MAX_VALUES);
}

#[test]
fn too_many_attributes_or_too_deep_a_body_is_refused() {
    let app = TestApp::spawn();
    let mut body: Map<String, Value> = (0..MAX_ATTRIBUTES)
        .map(|i| (format!("x{i}"), json!(i)))
        .collect();
    body.insert("userName".into(), json!("a"));
    assert_too_many(
        &app.post("/Users", &Value::Object(body.clone())),
        MAX_ATTRIBUTES,
    );
    body.remove("x0");
    let r = app.post("/Users", &Value::Object(body));
    assert_eq!(r.status, 201, "{}", r.text);
    // The body is level 1: an attribute may nest MAX_DEPTH - 1 levels.
    let nested = |levels: usize| (1..levels).fold(json!({"a": 1}), |v, _| json!({ "a": v }));
    let r = app.post(
        "/Users",
        &json!({"userName": "b", "x": nested(MAX_DEPTH - 1)}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post("/Users", &json!({"userName": "c", "x": nested(MAX_DEPTH)}));
    assert_too_many(&r, MAX_DEPTH);
    // The 40,000 unknown attributes that took seconds before the limit.
    let wide: Map<String, Value> = (0..40_000).map(|i| (format!("k{i}"), json!(1))).collect();
    let r = app.post("/Users", &json!({"userName": "d", "x": wide}));
    assert_too_many(&r, MAX_ATTRIBUTES);
}

#[test]
fn a_patch_of_too_many_operations_is_refused() {
    let app = TestApp::spawn();
    let id = app.create_user("a");
    let path = format!("/Users/{id}");
    let op = json!({"op": "replace", "path": "title", "value": "x"});
    let r = app.patch(
        &path,
        &patch_op(Value::Array(vec![op.clone(); MAX_OPERATIONS])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.patch(&path, &patch_op(Value::Array(vec![op; MAX_OPERATIONS + 1])));
    assert_too_many(&r, MAX_OPERATIONS);
}

#[test]
fn group_members_are_bounded_per_request_not_per_group() {
    let app = TestApp::spawn();
    let members =
        |n: usize| -> Value { (0..n).map(|i| json!({"value": format!("m{i}")})).collect() };
    let r = app.post(
        "/Groups",
        &json!({"displayName": "g", "members": members(MAX_MEMBERS + 1)}),
    );
    assert_too_many(&r, MAX_MEMBERS);
    let id = app.create_group("g", &[]);
    let path = format!("/Groups/{id}");
    let add = |n: usize| patch_op(json!([{"op": "add", "path": "members", "value": members(n)}]));
    assert_too_many(&app.patch(&path, &add(MAX_MEMBERS + 1)), MAX_MEMBERS);
    // At the limit the request reaches the use case, which refuses the unknown ids.
    app.patch(&path, &add(MAX_MEMBERS))
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn a_bulk_operation_over_a_limit_refuses_the_request() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Bulk",
        &json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "ok"}},
            {"method": "POST", "path": "/Users", "bulkId": "big",
             "data": {"userName": "big", "emails": emails(0, MAX_VALUES + 1)}},
        ]}),
    );
    assert_too_many(&r, MAX_VALUES);
    let r = app.get("/Users?filter=userName%20eq%20%22ok%22");
    assert_eq!(r.body["totalResults"], 0, "nothing ran: {}", r.text);
}
