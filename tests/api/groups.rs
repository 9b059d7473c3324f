use serde_json::json;

use crate::helpers::{patch_op, TestApp};
use crate::users::urlencode;

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

#[test]
fn create_group_with_members_returns_them_with_display_and_type() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice");
    let r = app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Eng", "members": [{"value": alice}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["members"][0]["value"], alice.as_str());
    assert_eq!(r.body["members"][0]["display"], "alice");
    assert_eq!(r.body["members"][0]["type"], "User");
    assert_eq!(
        r.body["members"][0]["$ref"],
        format!("{}/Users/{alice}", app.base)
    );
    assert_eq!(r.body["meta"]["resourceType"], "Group");
}

#[test]
fn users_carry_their_groups() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice");
    let eng = app.create_group("Eng", &[&alice]);
    let r = app.get(&format!("/Users/{alice}"));
    assert_eq!(
        r.body["groups"],
        json!([{
            "value": eng, "display": "Eng", "type": "direct", "$ref": format!("{}/Groups/{eng}", app.base)
        }])
    );
}

#[test]
fn patch_add_members_with_a_value_list_and_a_repeated_add_is_a_no_op() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a"), app.create_user("b"));
    let g = app.create_group("Eng", &[]);
    let add =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]));
    let r = app.patch(&format!("/Groups/{g}"), &add);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let r = app.patch(&format!("/Groups/{g}"), &add);
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("etag"),
        Some("W/\"2\""),
        "a repeated add changes nothing"
    );
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(app.member_ids(&g), want);
}

#[test]
fn patch_remove_with_a_value_list_removes_only_those_members() {
    let app = TestApp::spawn();
    let (a, b, c) = (
        app.create_user("a"),
        app.create_user("b"),
        app.create_user("c"),
    );
    let g = app.create_group("Eng", &[&a, &b, &c]);
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": b}]}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let mut want = vec![a, c];
    want.sort();
    assert_eq!(app.member_ids(&g), want);
}

#[test]
fn patch_remove_with_a_member_filter_path_removes_that_member() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a"), app.create_user("b"));
    let g = app.create_group("Eng", &[&a, &b]);
    let path = format!("members[value eq \"{a}\"]");
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "remove", "path": path}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.member_ids(&g), vec![b]);
}

#[test]
fn patch_remove_of_members_without_value_removes_all() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[&a]);
    app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "remove", "path": "members"}])),
    );
    assert!(app.member_ids(&g).is_empty());
}

#[test]
fn patch_remove_unknown_member_is_a_no_op() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[&a]);
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": "nobody"}]}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert_eq!(app.member_ids(&g), vec![a]);
}

#[test]
fn patch_replace_members_sets_the_full_list() {
    let app = TestApp::spawn();
    let (a, b, c) = (
        app.create_user("a"),
        app.create_user("b"),
        app.create_user("c"),
    );
    let g = app.create_group("Eng", &[&a, &b]);
    app.patch(
        &format!("/Groups/{g}"),
        &patch_op(
            json!([{"op": "replace", "path": "members", "value": [{"value": b}, {"value": c}]}]),
        ),
    );
    let mut want = vec![b, c];
    want.sort();
    assert_eq!(app.member_ids(&g), want);
}

#[test]
fn rename_by_patch_works_with_a_path_and_with_a_value_object() {
    let app = TestApp::spawn();
    let g = app.create_group("Eng", &[]);
    let r = app.patch(
        &format!("/Groups/{g}?excludedAttributes=members"),
        &patch_op(json!([{"op": "REPLACE", "path": "displayName", "value": "Engineering"}])),
    );
    assert_eq!(r.body["displayName"], "Engineering", "{}", r.text);
    let r = app.patch(
        &format!("/Groups/{g}?excludedAttributes=members"),
        &patch_op(json!([{"op": "replace", "value": {"displayName": "R&D"}}])),
    );
    assert_eq!(r.body["displayName"], "R&D");
}

#[test]
fn adding_a_member_that_does_not_exist_is_400_and_changes_nothing() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[]);
    app.patch(
        &format!("/Groups/{g}"),
        &patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": "ghost"}]}]),
        ),
    )
    .assert_scim_error(400, Some("invalidValue"));
    assert!(app.member_ids(&g).is_empty());
}

#[test]
fn groups_can_contain_groups() {
    let app = TestApp::spawn();
    let inner = app.create_group("Inner", &[]);
    let outer = app.create_group("Outer", &[&inner]);
    let r = app.get(&format!("/Groups/{outer}"));
    assert_eq!(r.body["members"][0]["type"], "Group");
    assert_eq!(r.body["members"][0]["display"], "Inner");
    app.patch(
        &format!("/Groups/{outer}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": outer}]}])),
    )
    .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn put_without_members_keeps_them_and_put_with_members_replaces_them() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a"), app.create_user("b"));
    let g = app.create_group("Eng", &[&a]);
    let r = app.put(
        &format!("/Groups/{g}"),
        &json!({"schemas": [GROUP], "displayName": "Engineering"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.member_ids(&g), vec![a.clone()]);
    app.put(
        &format!("/Groups/{g}"),
        &json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": b}]}),
    );
    assert_eq!(app.member_ids(&g), vec![b]);
}

#[test]
fn deleting_a_user_removes_it_from_its_groups() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a"), app.create_user("b"));
    let g = app.create_group("Eng", &[&a, &b]);
    assert_eq!(app.delete(&format!("/Users/{a}")).status, 204);
    assert_eq!(app.member_ids(&g), vec![b]);
}

#[test]
fn deleting_a_group_removes_it_from_users_and_parent_groups() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let inner = app.create_group("Inner", &[&a]);
    let outer = app.create_group("Outer", &[&inner]);
    assert_eq!(app.delete(&format!("/Groups/{inner}")).status, 204);
    assert_eq!(app.get(&format!("/Users/{a}")).body["groups"], json!(null));
    assert!(app.member_ids(&outer).is_empty());
    app.get(&format!("/Groups/{inner}"))
        .assert_scim_error(404, None);
}

#[test]
fn display_name_is_unique_per_tenant_ignoring_case() {
    let app = TestApp::spawn();
    app.create_group("Eng", &[]);
    app.post("/Groups", &json!({"displayName": "ENG"}))
        .assert_scim_error(409, Some("uniqueness"));
    app.post("/Groups", &json!({"members": []}))
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn groups_are_found_by_display_name_external_id_and_member() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let eng = app
        .post(
            "/Groups",
            &json!({"displayName": "Eng Leads", "externalId": "jc-1", "members": [{"value": a}]}),
        )
        .body["id"]
        .clone();
    app.create_group("Sales", &[]);
    let find = |filter: &str| app.get(&format!("/Groups?filter={}", urlencode(filter)));
    let r = find("displayName eq \"eng leads\"");
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], eng);
    assert_eq!(find("externalId eq \"jc-1\"").body["totalResults"], 1);
    assert_eq!(
        find(&format!("members[value eq \"{a}\"]")).body["totalResults"],
        1
    );
    assert_eq!(
        find(&format!("members.value eq \"{a}\"")).body["totalResults"],
        1
    );
    let r = app.get(&format!(
        "/Users?filter={}",
        urlencode(&format!("groups.value eq \"{}\"", eng.as_str().unwrap()))
    ));
    assert_eq!(r.body["totalResults"], 1);
}

#[test]
fn excluded_members_are_not_returned() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[&a]);
    let r = app.get(&format!("/Groups/{g}?excludedAttributes=members"));
    assert_eq!(r.body["members"], json!(null));
    assert_eq!(r.body["displayName"], "Eng");
    let r = app.get("/Groups?excludedAttributes=members");
    assert_eq!(r.body["Resources"][0]["members"], json!(null));
    let r = app.patch(
        &format!("/Groups/{g}?excludedAttributes=members"),
        &patch_op(json!([{"op": "remove", "path": "members"}])),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["members"], json!(null));
}

#[test]
fn a_member_display_sent_by_the_client_is_echoed_back() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[]);
    let r = app.patch(
        &format!("/Groups/{g}?attributes=members"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": a, "display": "Alice A."}]}])),
    );
    assert_eq!(r.body["members"][0]["display"], "Alice A.", "{}", r.text);
}

/// RFC 7644 §3.5.2 allows 200 with the resource or 204; Entra and Okta document 204 for
/// group PATCH, and a big group's members are never read for an answer nobody asked for.
#[test]
fn patch_on_a_group_answers_204_with_its_etag_unless_attributes_are_asked_for() {
    let app = TestApp::spawn();
    let a = app.create_user("a");
    let g = app.create_group("Eng", &[]);
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": a}]}]));
    let r = app.patch(&format!("/Groups/{g}"), &add);
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "R&D"}]));
    let r = app.patch(
        &format!("/Groups/{g}?attributes=displayName,members"),
        &rename,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"3\""));
    assert_eq!(r.body["displayName"], "R&D");
    assert_eq!(r.body["members"][0]["value"], a.as_str());
    // A user's PATCH still answers with the user.
    let r = app.patch(
        &format!("/Users/{a}"),
        &patch_op(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
    );
    assert_eq!((r.status, r.body["title"].as_str()), (200, Some("CTO")));
}

#[test]
fn a_group_larger_than_one_stream_page_comes_back_whole_in_member_order() {
    let app = TestApp::spawn();
    let total = 2_345;
    let mut ids = Vec::with_capacity(total);
    for chunk in (0..total).collect::<Vec<_>>().chunks(1000) {
        let ops: Vec<_> = chunk
            .iter()
            .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"userName": format!("user{i}")}}))
            .collect();
        let r = app.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}));
        for op in r.body["Operations"].as_array().unwrap() {
            ids.push(
                op["location"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    let g = app.create_group("Everyone", &[]);
    for chunk in ids.chunks(1000) {
        let value: Vec<_> = chunk.iter().map(|id| json!({"value": id})).collect();
        let r = app.patch(
            &format!("/Groups/{g}?excludedAttributes=members"),
            &patch_op(json!([{"op": "add", "path": "members", "value": value}])),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app.get(&format!("/Groups/{g}"));
    assert_eq!(r.status, 200);
    assert!(r.header("etag").is_some());
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(members, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.body["displayName"], "Everyone");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
}

#[test]
fn a_group_get_honours_if_none_match_and_an_empty_group_has_no_members_key() {
    let app = TestApp::spawn();
    let g = app.create_group("Empty", &[]);
    let r = app.get(&format!("/Groups/{g}"));
    assert_eq!(r.body["members"], json!(null), "{}", r.text);
    let etag = r.header("etag").unwrap().to_owned();
    let r = app.raw(
        "GET",
        &format!("{}/Groups/{g}", app.base),
        &[
            ("Authorization", &format!("Bearer {}", app.token)),
            ("If-None-Match", &etag),
        ],
        None,
        None,
    );
    assert_eq!(r.status, 304);
    app.get("/Groups/nope").assert_scim_error(404, None);
}
