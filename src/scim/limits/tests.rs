use serde_json::{json, Map, Value};

use super::*;
use crate::scim::bulk;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, PATCH_OP};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

fn emails(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect()
}

fn members(n: usize) -> Value {
    (0..n).map(|i| json!({"value": format!("m{i}")})).collect()
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// `{"a": {"a": … {"a": 1}}}`, `levels` objects deep.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({"a": 1}), |inner, _| json!({ "a": inner }))
}

fn assert_too_many(result: Result<(), Invalid>, limit: usize) {
    let err = result.unwrap_err();
    assert_eq!(err.scim_type, ScimType::TooMany, "{err}");
    assert!(err.detail.contains(&limit.to_string()), "{err}");
}

#[test]
fn values_per_attribute_stop_at_the_limit() {
    let at = json!({"userName": "a", "emails": emails(MAX_VALUES)});
    assert_eq!(check_resource(USER, &at), Ok(()));
    let over = json!({"userName": "a", "emails": emails(MAX_VALUES + 1)});
    assert_too_many(check_resource(USER, &over), MAX_VALUES);
    // Inside an extension, and in an unknown attribute, the same.
    let ext = json!({ENTERPRISE_USER_SCHEMA: {"x": emails(MAX_VALUES + 1)}});
    assert_too_many(check_resource(USER, &ext), MAX_VALUES);
}

#[test]
fn members_have_their_own_limit_on_groups_only() {
    let at = json!({"displayName": "g", "members": members(MAX_MEMBERS)});
    assert_eq!(check_resource(GROUP, &at), Ok(()));
    let over = json!({"displayName": "g", "MEMBERS": members(MAX_MEMBERS + 1)});
    assert_too_many(check_resource(GROUP, &over), MAX_MEMBERS);
    // A user has no members: the general limit applies.
    let user = json!({"userName": "a", "members": members(MAX_VALUES + 1)});
    assert_too_many(check_resource(USER, &user), MAX_VALUES);
}

#[test]
fn attributes_count_those_of_extensions() {
    let mut body = Map::new();
    for i in 0..MAX_ATTRIBUTES - 2 {
        body.insert(format!("x{i}"), json!(i));
    }
    body.insert(
        ENTERPRISE_USER_SCHEMA.into(),
        json!({"department": "d", "division": "v"}),
    );
    // 198 + 2 in the extension: at the limit.
    assert_eq!(check_resource(USER, &Value::Object(body.clone())), Ok(()));
    body.insert("one_more".into(), json!(1));
    assert_too_many(check_resource(USER, &Value::Object(body)), MAX_ATTRIBUTES);
}

#[test]
fn an_object_of_many_members_is_refused_wherever_it_is() {
    let big: Map<String, Value> = (0..=MAX_ATTRIBUTES)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect();
    let body = json!({"userName": "a", "name": Value::Object(big.clone())});
    assert_too_many(check_resource(USER, &body), MAX_ATTRIBUTES);
    let body = json!({"userName": "a", "emails": [Value::Object(big)]});
    assert_too_many(check_resource(USER, &body), MAX_ATTRIBUTES);
}

#[test]
fn nesting_stops_at_the_limit() {
    // The body is level 1, so an attribute may hold MAX_DEPTH - 1 levels.
    let at = json!({"userName": "a", "x": nested(MAX_DEPTH - 1)});
    assert_eq!(check_resource(USER, &at), Ok(()));
    let over = json!({"userName": "a", "x": nested(MAX_DEPTH)});
    assert_too_many(check_resource(USER, &over), MAX_DEPTH);
    let arrays = (1..MAX_DEPTH).fold(json!([1]), |inner, _| json!([inner]));
    assert_too_many(check_resource(USER, &json!({"x": arrays})), MAX_DEPTH);
}

#[test]
fn patch_operations_count_the_attributes_of_value_objects() {
    let one = json!({"op": "add", "path": "title", "value": "x"});
    let ops: Vec<Value> = vec![one.clone(); MAX_OPERATIONS];
    assert_eq!(check_patch(USER, &patch(Value::Array(ops.clone()))), Ok(()));
    let mut over = ops.clone();
    over.push(one);
    assert_too_many(
        check_patch(USER, &patch(Value::Array(over))),
        MAX_OPERATIONS,
    );
    // Ten path-less operations of 100 attributes each are 1,000 changes...
    let object: Map<String, Value> = (0..100).map(|i| (format!("a{i}"), json!(i))).collect();
    let wide = json!({"op": "replace", "value": Value::Object(object)});
    let ten = Value::Array(vec![wide.clone(); 10]);
    assert_eq!(check_patch(USER, &patch(ten)), Ok(()));
    // ... and one more is too many.
    let eleven = Value::Array(vec![wide; 11]);
    assert_too_many(check_patch(USER, &patch(eleven)), MAX_OPERATIONS);
}

#[test]
fn patch_values_follow_the_resource_limits() {
    let add =
        |path: &str, value: Value| patch(json!([{"op": "add", "path": path, "value": value}]));
    assert_eq!(
        check_patch(USER, &add("emails", emails(MAX_VALUES))),
        Ok(())
    );
    assert_too_many(
        check_patch(USER, &add("emails", emails(MAX_VALUES + 1))),
        MAX_VALUES,
    );
    for path in [
        "members",
        "MEMBERS",
        "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    ] {
        assert_eq!(
            check_patch(GROUP, &add(path, members(MAX_MEMBERS))),
            Ok(()),
            "{path}"
        );
        assert_too_many(
            check_patch(GROUP, &add(path, members(MAX_MEMBERS + 1))),
            MAX_MEMBERS,
        );
    }
    // A path-less value object's `members`.
    let pathless = patch(json!([{"op": "add", "value": {"members": members(MAX_MEMBERS + 1)}}]));
    assert_too_many(check_patch(GROUP, &pathless), MAX_MEMBERS);
    // Nesting counts from the PATCH body: the value of an operation is at level 4.
    let deep = patch(json!([{"op": "add", "path": "x", "value": nested(MAX_DEPTH - 3)}]));
    assert_eq!(check_patch(USER, &deep), Ok(()));
    let deeper = patch(json!([{"op": "add", "path": "x", "value": nested(MAX_DEPTH - 2)}]));
    assert_too_many(check_patch(USER, &deeper), MAX_DEPTH);
}

#[test]
fn bulk_operations_are_checked_as_the_requests_they_stand_for() {
    let request = |data: Value, method: &str, path: &str| {
        bulk::parse_request(json!({"Operations": [
            {"method": method, "bulkId": "b", "path": path, "data": data}
        ]}))
        .unwrap()
    };
    let ok = request(
        json!({"userName": "a", "emails": emails(3)}),
        "POST",
        "/Users",
    );
    assert_eq!(check_bulk(&ok), Ok(()));
    let post = request(
        json!({"userName": "a", "emails": emails(MAX_VALUES + 1)}),
        "POST",
        "/Users",
    );
    assert_too_many(check_bulk(&post), MAX_VALUES);
    let put = request(
        json!({"displayName": "g", "members": members(MAX_MEMBERS + 1)}),
        "PUT",
        "/Groups/1",
    );
    assert_too_many(check_bulk(&put), MAX_MEMBERS);
    let many = vec![json!({"op": "add", "path": "title", "value": "x"}); MAX_OPERATIONS + 1];
    let patched = request(patch(Value::Array(many)), "PATCH", "/Users/1");
    assert_too_many(check_bulk(&patched), MAX_OPERATIONS);
}

#[test]
fn growth_past_a_limit_is_refused_but_what_is_stored_may_stay() {
    let with = |n: usize| -> Map<String, Value> {
        json!({"userName": "a", "emails": emails(n)})
            .as_object()
            .unwrap()
            .clone()
    };
    assert_eq!(check_growth(&with(500), &with(MAX_VALUES)), Ok(()));
    assert_too_many(check_growth(&with(500), &with(MAX_VALUES + 1)), MAX_VALUES);
    // A user stored with more (before the limit) may change, not grow.
    assert_eq!(check_growth(&with(1500), &with(1500)), Ok(()));
    assert_eq!(check_growth(&with(1500), &with(1200)), Ok(()));
    assert_too_many(check_growth(&with(1500), &with(1501)), MAX_VALUES);
    // Arrays in extensions too.
    let ext = |n: usize| -> Map<String, Value> {
        json!({ENTERPRISE_USER_SCHEMA: {"x": emails(n)}})
            .as_object()
            .unwrap()
            .clone()
    };
    assert_too_many(check_growth(&ext(0), &ext(MAX_VALUES + 1)), MAX_VALUES);
    let attrs =
        |n: usize| -> Map<String, Value> { (0..n).map(|i| (format!("a{i}"), json!(i))).collect() };
    assert_eq!(check_growth(&attrs(10), &attrs(MAX_ATTRIBUTES)), Ok(()));
    assert_too_many(
        check_growth(&attrs(10), &attrs(MAX_ATTRIBUTES + 1)),
        MAX_ATTRIBUTES,
    );
    assert_eq!(check_growth(&attrs(300), &attrs(250)), Ok(()));
}

#[test]
fn details_do_not_echo_the_input() {
    let secret = "s3cr3t-attribute-name";
    let big: Map<String, Value> = (0..=MAX_ATTRIBUTES)
        .map(|i| (format!("{secret}{i}"), json!(i)))
        .collect();
    let err = check_resource(USER, &Value::Object(big)).unwrap_err();
    assert!(!err.detail.contains(secret), "{err}");
    let body = json!({ secret: emails(MAX_VALUES + 1) });
    let err = check_resource(USER, &body).unwrap_err();
    assert!(!err.detail.contains(secret), "{err}");
}

#[test]
fn names_members_reads_paths_as_the_engine_does() {
    for yes in [
        "members",
        "Members",
        "members[value eq \"x\"]",
        "members.value",
        "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    ] {
        assert!(names_members(yes), "{yes}");
    }
    for no in ["membersX", "displayName", "urn:x:members", ""] {
        assert!(!names_members(no), "{no}");
    }
}
