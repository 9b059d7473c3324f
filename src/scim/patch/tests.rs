//! The RFC 7644 §3.5.2 examples, and the identity-provider dialects roster accepts.

use serde_json::{json, Map, Value};

use super::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(operations: Value) -> Vec<Operation> {
    parse_request(json!({"schemas": [PATCH_OP], "Operations": operations})).unwrap()
}

fn user(value: Value) -> Map<String, Value> {
    crate::scim::resource::normalize(ResourceKind::User, value)
        .unwrap()
        .attributes
}

fn patched(
    kind: ResourceKind,
    start: Value,
    operations: Value,
) -> Result<(Value, Vec<MemberChange>), Invalid> {
    let mut attributes = match start {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let changes = apply(kind, &mut attributes, &ops(operations))?;
    Ok((Value::Object(attributes), changes))
}

fn patched_user(start: Value, operations: Value) -> Value {
    let start = Value::Object(user(start));
    patched(ResourceKind::User, start, operations).unwrap().0
}

fn member(id: &str) -> MemberRef {
    MemberRef {
        id: id.into(),
        display: None,
    }
}

// RFC 7644 §3.5.2.1, "add".

#[test]
fn rfc_add_members_to_a_group() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "Tour Guides"}),
        json!([{"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"}]}]),
    )
    .unwrap();
    assert_eq!(
        changes,
        vec![MemberChange::Add(vec![MemberRef {
            id: "2819c223".into(),
            display: Some("Babs Jensen".into())
        }])]
    );
}

#[test]
fn rfc_add_without_path_merges_the_value_object() {
    let out = patched_user(
        json!({"userName": "bjensen", "emails": [{"value": "bjensen@example.com", "type": "work"}]}),
        json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}}]),
    );
    assert_eq!(
        out["emails"].as_array().unwrap().len(),
        2,
        "add appends to multi-valued attributes"
    );
    assert_eq!(out["nickName"], "Babs");
}

#[test]
fn add_of_an_existing_value_does_not_duplicate_it() {
    let out = patched_user(
        json!({"userName": "b", "emails": [{"value": "a@example.com"}]}),
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@example.com"}]}]),
    );
    assert_eq!(out["emails"].as_array().unwrap().len(), 1);
}

// RFC 7644 §3.5.2.2, "remove".

#[test]
fn rfc_remove_one_member_by_filter() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "G"}),
        json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
    )
    .unwrap();
    assert_eq!(
        changes,
        vec![MemberChange::Remove(vec![
            "2819c223-7f76-453a-919d-413861904646".into()
        ])]
    );
}

#[test]
fn rfc_remove_all_members() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "G"}),
        json!([{"op": "remove", "path": "members"}]),
    )
    .unwrap();
    assert_eq!(changes, vec![MemberChange::RemoveAll]);
}

#[test]
fn rfc_remove_all_then_add_replaces_members() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "G"}),
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        ]),
    )
    .unwrap();
    assert_eq!(
        changes,
        vec![
            MemberChange::RemoveAll,
            MemberChange::Add(vec![member("a"), member("b")])
        ]
    );
}

#[test]
fn rfc_remove_values_matching_a_filter_and_a_single_attribute() {
    let out = patched_user(
        json!({"userName": "b", "title": "Tour Guide", "emails": [
            {"value": "b@example.com", "type": "work"},
            {"value": "b@home.org", "type": "home"},
        ]}),
        json!([
            {"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"},
            {"op": "remove", "path": "title"},
        ]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "b@home.org", "type": "home"}])
    );
    assert_eq!(out.get("title"), None);
}

#[test]
fn remove_without_a_path_is_no_target() {
    let err = parse_request(json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]}))
        .unwrap_err();
    assert_eq!(err.scim_type, ScimType::NoTarget);
}

#[test]
fn a_patch_request_names_its_schema_and_carries_operations() {
    let op = json!({"op": "add", "path": "title", "value": "x"});
    for (body, scim_type) in [
        (json!({"Operations": [op]}), ScimType::InvalidSyntax),
        (
            json!({"schemas": [], "Operations": [op]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": PATCH_OP, "Operations": [op]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "Operations": [op]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"schemas": [PATCH_OP]}), ScimType::InvalidSyntax),
        (
            json!({"schemas": [PATCH_OP], "Operations": []}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP], "Operations": {}}),
            ScimType::InvalidSyntax,
        ),
    ] {
        let err = parse_request(body.clone()).unwrap_err();
        assert_eq!(err.scim_type, scim_type, "{body}");
    }
    let urn = PATCH_OP.to_uppercase();
    assert!(parse_request(json!({"SCHEMAS": [urn], "operations": [op]})).is_ok());
}

// RFC 7644 §3.5.2.3, "replace".

#[test]
fn rfc_replace_members() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "G"}),
        json!([{"op": "replace", "path": "members", "value": [{"value": "x"}]}]),
    )
    .unwrap();
    assert_eq!(
        changes,
        vec![
            MemberChange::RemoveAll,
            MemberChange::Add(vec![member("x")])
        ]
    );
}

#[test]
fn rfc_replace_a_filtered_complex_value_and_one_of_its_sub_attributes() {
    let start = json!({"userName": "b", "addresses": [
        {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood"},
        {"type": "home", "streetAddress": "456 Hollywood Blvd"},
    ]});
    let out = patched_user(
        start.clone(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true}}]),
    );
    assert_eq!(
        out["addresses"][0]["streetAddress"],
        "100 Universal City Plaza"
    );
    assert_eq!(out["addresses"][0]["primary"], true);
    assert_eq!(out["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
    let out = patched_user(
        start,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    assert_eq!(out["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(out["addresses"][0]["locality"], "Hollywood");
}

#[test]
fn rfc_replace_without_path_replaces_each_attribute() {
    let out = patched_user(
        json!({"userName": "b", "emails": [{"value": "old@example.com"}], "nickName": "B"}),
        json!([{"op": "replace", "value": {"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "nickName": "Babs"}}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(out["nickName"], "Babs");
}

#[test]
fn replace_of_a_sub_attribute_merges_into_the_complex_value() {
    let out = patched_user(
        json!({"userName": "b", "name": {"givenName": "Barbara", "familyName": "Jensen"}}),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );
}

#[test]
fn read_only_paths_are_mutability_errors_and_unknown_sub_attributes_invalid_path() {
    let mut attributes = user(json!({"userName": "b"}));
    let err = apply(
        ResourceKind::User,
        &mut attributes,
        &ops(json!([{"op": "replace", "path": "meta.created", "value": "x"}])),
    );
    assert_eq!(err.unwrap_err().scim_type, ScimType::Mutability);
    let err = apply(
        ResourceKind::User,
        &mut attributes,
        &ops(json!([{"op": "add", "path": "name.nope", "value": "x"}])),
    );
    assert_eq!(err.unwrap_err().scim_type, ScimType::InvalidPath);
    let err = apply(
        ResourceKind::User,
        &mut attributes,
        &ops(json!([{"op": "add", "path": "active", "value": "perhaps"}])),
    );
    assert_eq!(err.unwrap_err().scim_type, ScimType::InvalidValue);
    let err = parse_request(
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}]}),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, ScimType::InvalidPath);
}

#[test]
fn a_filter_that_matches_nothing_and_cannot_make_an_element_is_no_target() {
    let mut attributes = user(json!({"userName": "b"}));
    let err = apply(
        ResourceKind::User,
        &mut attributes,
        &ops(json!([{"op": "replace", "path": "emails[value co \"x\"].type", "value": "work"}])),
    );
    assert_eq!(err.unwrap_err().scim_type, ScimType::NoTarget);
}

// Identity-provider dialects.

#[test]
fn entra_capitalised_ops_and_string_booleans() {
    let out = patched_user(
        json!({"userName": "b", "active": true}),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(out["active"], false);
}

#[test]
fn entra_path_less_replace_with_dotted_and_filtered_keys() {
    let out = patched_user(
        json!({"userName": "b"}),
        json!([{"op": "Replace", "value": {
            "name.givenName": "Barbara",
            "name.familyName": "Jensen",
            "emails[type eq \"work\"].value": "bjensen@example.com",
            "active": "True",
        }}]),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen"})
    );
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "value": "bjensen@example.com"}])
    );
    assert_eq!(out["active"], true);
}

#[test]
fn entra_adds_a_typed_value_that_does_not_exist_yet() {
    let out = patched_user(
        json!({"userName": "b"}),
        json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]),
    );
    assert_eq!(
        out["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
}

#[test]
fn entra_manager_as_a_bare_id_and_enterprise_urn_paths() {
    let out = patched_user(
        json!({"userName": "b"}),
        json!([
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "m-42"},
            {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Ops"},
        ]),
    );
    assert_eq!(
        out[ENTERPRISE],
        json!({"manager": {"value": "m-42"}, "department": "Ops"})
    );
}

#[test]
fn entra_add_on_an_existing_single_valued_attribute_replaces_it() {
    let out = patched_user(
        json!({"userName": "b", "title": "Old"}),
        json!([{"op": "Add", "path": "title", "value": "New"}]),
    );
    assert_eq!(out["title"], "New");
}

#[test]
fn entra_and_jumpcloud_remove_members_with_a_value_list_removes_only_those() {
    let (_, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "G"}),
        json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
    )
    .unwrap();
    assert_eq!(
        changes,
        vec![MemberChange::Remove(vec!["a".into(), "b".into()])]
    );
}

#[test]
fn okta_deactivates_with_a_path_less_value_object() {
    let out = patched_user(
        json!({"userName": "b", "active": true}),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(out["active"], false);
}

#[test]
fn okta_renames_a_group_with_its_id_in_the_value_object() {
    let (out, changes) = patched(
        ResourceKind::Group,
        json!({"displayName": "Old"}),
        json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}]),
    )
    .unwrap();
    assert_eq!(out["displayName"], "Test SCIMv2");
    assert!(changes.is_empty());
}

#[test]
fn the_enterprise_extension_as_a_nested_object() {
    let out = patched_user(
        json!({"userName": "b"}),
        json!([{"op": "add", "value": {ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "m-1"}}}}]),
    );
    assert_eq!(out[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(out[ENTERPRISE]["manager"]["value"], "m-1");
}

#[test]
fn operations_apply_in_order() {
    let out = patched_user(
        json!({"userName": "b"}),
        json!([
            {"op": "add", "path": "title", "value": "One"},
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "nickName", "value": "Two"},
        ]),
    );
    assert_eq!(out.get("title"), None);
    assert_eq!(out["nickName"], "Two");
}

#[test]
fn rfc_replace_through_a_filter_that_matches_nothing_is_no_target_but_add_creates() {
    let mut attributes = user(json!({"userName": "b"}));
    let err = apply(
        ResourceKind::User,
        &mut attributes,
        &ops(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "b@home.org"}]),
        ),
    );
    assert_eq!(err.unwrap_err().scim_type, ScimType::NoTarget);
    let out = patched_user(
        json!({"userName": "b"}),
        json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "b@home.org"}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"type": "home", "value": "b@home.org"}])
    );
}

#[test]
fn add_and_remove_of_values_compare_values_as_json() {
    let start = json!({"userName": "a", "emails": [
        {"value": "a@x", "type": "work"},
        {"type": "home", "x": {"n": 1, "m": [1, 2]}},
    ]});
    // The same `value`, or the same whole element when there is no `value`, is not
    // added again; duplicates within one request are added once.
    let got = patched_user(
        start.clone(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "a@x", "type": "home"},
            {"x": {"m": [1, 2], "n": 1}, "type": "home"},
            {"type": "home", "x": {"n": 1.0, "m": [1, 2]}},
            {"value": "b@x"},
            {"value": "b@x", "primary": true},
        ]}]),
    );
    assert_eq!(
        got["emails"],
        json!([
            {"value": "a@x", "type": "work"},
            {"type": "home", "x": {"n": 1, "m": [1, 2]}},
            // 1.0 and 1 are different JSON numbers.
            {"type": "home", "x": {"n": 1.0, "m": [1, 2]}},
            {"value": "b@x"},
        ])
    );
    // Removal compares exactly (case included) and ignores other sub-attributes.
    let got = patched_user(
        start,
        json!([{"op": "remove", "path": "emails", "value": [
            {"value": "A@X"},
            {"type": "home", "x": {"m": [1, 2], "n": 1}},
        ]}]),
    );
    assert_eq!(got["emails"], json!([{"value": "a@x", "type": "work"}]));
}

/// Not a timing test: with the old pairwise comparison this took minutes in debug
/// (n × m comparisons of JSON values); hashed, it is a fraction of a second. It guards
/// the structure: adding n values to m costs O(n + m).
#[test]
fn adding_many_values_to_many_is_linear() {
    let n = 50_000;
    let list = |from: usize| -> Value {
        (from..from + n)
            .map(|i| json!({"value": format!("u{i}@example.com")}))
            .collect()
    };
    let mut attributes = Map::new();
    attributes.insert("emails".into(), list(0));
    let add = ops(json!([{"op": "add", "path": "emails", "value": list(n / 2)}]));
    apply(ResourceKind::User, &mut attributes, &add).unwrap();
    assert_eq!(attributes["emails"].as_array().unwrap().len(), n + n / 2);
    let remove = ops(json!([{"op": "remove", "path": "emails", "value": list(0)}]));
    apply(ResourceKind::User, &mut attributes, &remove).unwrap();
    assert_eq!(attributes["emails"].as_array().unwrap().len(), n / 2);
}

// Found by `tests/api/body_fuzz.rs`: a PATCH stores only what a PUT of the result would.

#[test]
fn server_owned_names_a_post_ignores_are_ignored_by_patch() {
    for path in ["schemas", "password", "groups", "Schemas"] {
        let (got, _) = patched(
            ResourceKind::Group,
            json!({"displayName": "g"}),
            json!([{"op": "add", "path": path, "value": ["x"]}]),
        )
        .unwrap();
        assert_eq!(got, json!({"displayName": "g"}), "{path}");
    }
    let got = patched_user(
        json!({"userName": "u"}),
        json!([{"op": "replace", "path": "schemas", "value": ["urn:x"]}]),
    );
    assert_eq!(got, json!({"userName": "u"}));
}

#[test]
fn an_unknown_attribute_set_to_an_empty_list_is_unassigned() {
    let got = patched_user(
        json!({"userName": "u", "badge": "b"}),
        json!([
            {"op": "replace", "path": "badge", "value": []},
            {"op": "add", "path": "other", "value": []},
            {"op": "add", "path": "thing.sub", "value": []},
        ]),
    );
    assert_eq!(got, json!({"userName": "u"}));
}

#[test]
fn removing_the_last_sub_attribute_of_a_filtered_value_removes_the_value() {
    let got = patched_user(
        json!({"userName": "u", "emails": [{"value": "a@x"}, {"value": "b@x", "type": "work"}]}),
        json!([{"op": "remove", "path": "emails[not (type pr)].value"}]),
    );
    assert_eq!(got["emails"], json!([{"value": "b@x", "type": "work"}]));
    let got = patched_user(
        json!({"userName": "u", "emails": [{"value": "a@x"}]}),
        json!([{"op": "remove", "path": "emails[value eq \"a@x\"].value"}]),
    );
    assert_eq!(got, json!({"userName": "u"}));
}
