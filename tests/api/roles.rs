//! Group-to-role mapping and events (spec §6.2–§6.5, tests §6.9 T3, T7, T8).

use serde_json::{json, Value};

use crate::helpers::{patch_op, TestApp};

pub fn role(app: &TestApp, slug: &str, priority: i64, privileged: bool) {
    let r = app.api(
        "POST",
        "/roles",
        Some(&json!({"slug": slug, "name": slug.to_uppercase(), "priority": priority, "privileged": privileged})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

pub fn map(app: &TestApp, group: &str, role: &str) -> Value {
    let r = app.api(
        "POST",
        "/mappings",
        Some(&json!({"group": group, "role": role})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn change_set(app: &TestApp, operations: Value) -> Value {
    let r = app.api(
        "POST",
        "/change-sets",
        Some(&json!({"operations": operations})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

/// The slugs of a user's effective roles.
fn roles_of(app: &TestApp, user: &str) -> Vec<String> {
    let r = app.api("GET", &format!("/users/{user}/roles"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn add_members(app: &TestApp, group: &str, users: &[&str]) {
    let value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    let r = app.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": value}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
}

fn remove_member(app: &TestApp, group: &str, user: &str) {
    let r = app.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
}

fn set_active(app: &TestApp, user: &str, active: bool) {
    let r = app.patch(
        &format!("/Users/{user}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": active}])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `(type, roles after)` of the events after `after`; the roles only for role changes.
fn summary(app: &TestApp, after: i64) -> Vec<(String, Option<Vec<String>>)> {
    app.events_after(after)
        .iter()
        .map(|e| {
            let after_roles = (e["type"] == "user.roles_changed").then(|| {
                e["data"]["after"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect()
            });
            (e["type"].as_str().unwrap().to_owned(), after_roles)
        })
        .collect()
}

fn ev(kind: &str) -> (String, Option<Vec<String>>) {
    (kind.to_owned(), None)
}

fn roles_changed(after: &[&str]) -> (String, Option<Vec<String>>) {
    (
        "user.roles_changed".to_owned(),
        Some(after.iter().map(|s| s.to_string()).collect()),
    )
}

#[test]
fn api_keys_are_not_scim_tokens_and_scopes_are_enforced() {
    let app = TestApp::spawn();
    let r = app.api_as(&app.token, "GET", "/roles", None);
    assert_eq!(
        r.status, 401,
        "a SCIM token never opens the application API"
    );
    let r = app.api_as("rak_nope", "GET", "/roles", None);
    assert_eq!(r.status, 401);
    let r = app.api(
        "POST",
        "/api-keys",
        Some(&json!({"name": "feed", "scopes": ["events:read"]})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let reader = r.body["key"].as_str().unwrap().to_owned();
    assert!(reader.starts_with("rak_"));
    assert_eq!(app.api_as(&reader, "GET", "/events", None).status, 200);
    assert_eq!(app.api_as(&reader, "GET", "/roles", None).status, 403);
    let r = app.api_as(&reader, "POST", "/roles", Some(&json!({"slug": "x"})));
    assert_eq!(r.status, 403);
    // The key list never shows secrets.
    let keys = app.api("GET", "/api-keys", None);
    assert!(!keys.text.contains(&reader));
    // Another tenant's key does not open this tenant.
    app.add_tenant("other");
    let other = {
        let mut conn = app.store.connection().unwrap();
        roster::service::api_keys::create(&mut conn, "other", None, &[])
            .unwrap()
            .secret
    };
    assert_eq!(app.api_as(&other, "GET", "/roles", None).status, 401);
}

#[test]
fn scim_writes_emit_one_event_per_change_in_sequence_order() {
    let app = TestApp::spawn();
    app.get("/Users");
    let start = app.last_sequence();
    let u = app.create_user("ada@example.com");
    let g = app.create_group("Eng", &[&u]);
    // A no-op PATCH changes nothing and emits nothing (M11).
    add_members(&app, &g, &[&u]);
    let r = app.patch(
        &format!("/Users/{u}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
    );
    assert_eq!(r.status, 200);
    // A rename is group.updated with the previous name (M2).
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Engineering"}])),
    );
    assert_eq!(r.status, 204);
    set_active(&app, &u, false);
    set_active(&app, &u, true);
    let events = app.events_after(start);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "group.created",
            "group.member_added",
            "group.updated",
            "user.deactivated",
            "user.reactivated"
        ]
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0] + 1),
        "{sequences:?}"
    );
    let renamed = &events[3];
    assert_eq!(renamed["previous_attributes"]["displayName"], "Eng");
    assert_eq!(renamed["data"]["displayName"], "Engineering");
    let deactivated = &events[4];
    assert_eq!(deactivated["data"]["active"], false, "full after-state");
    assert_eq!(deactivated["data"]["userName"], "ada@example.com");
    assert_eq!(deactivated["actor"]["type"], "scim");
    assert!(deactivated["correlation_id"]
        .as_str()
        .unwrap()
        .starts_with("req_"));
    assert!(deactivated["id"].as_str().unwrap().starts_with("evt_"));
}

#[test]
fn a_failed_request_emits_no_event() {
    let app = TestApp::spawn();
    app.create_user("ada@example.com");
    let start = app.last_sequence();
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ADA@example.com"}),
    );
    assert_eq!(r.status, 409);
    let r = app.patch(
        "/Groups/nosuch",
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "x"}]}])),
    );
    assert_eq!(r.status, 404);
    assert!(app.events_after(start).is_empty());
}

/// T3: one test per row of the lifecycle table (§6.4), events in order with the final
/// roles.
#[test]
fn lifecycle_rows_emit_the_specified_events_and_roles() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    role(&app, "viewer", 90, false);
    let a = app.create_user("a@example.com");
    let b = app.create_user("b@example.com");
    let g = app.create_group("Eng Leads", &[]);
    let cs = map(&app, &g, "admin");
    assert_eq!(cs["impact"]["users_affected"], 0);

    // Group bound to the app with members: member_added, roles_changed per member.
    let s = app.last_sequence();
    add_members(&app, &g, &[&a, &b]);
    assert_eq!(
        summary(&app, s),
        [
            ev("group.member_added"),
            ev("group.member_added"),
            roles_changed(&["admin"]),
            roles_changed(&["admin"])
        ]
    );

    // Group renamed: the name changes only.
    let s = app.last_sequence();
    let r = app.patch(
        &format!("/Groups/{g}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Leads"}])),
    );
    assert_eq!(r.status, 204);
    assert_eq!(summary(&app, s), [ev("group.updated")]);
    assert_eq!(roles_of(&app, &a), ["admin"]);

    // User suspended: roles suspended (M6), restored on reactivation.
    let s = app.last_sequence();
    set_active(&app, &a, false);
    assert_eq!(
        summary(&app, s),
        [ev("user.deactivated"), roles_changed(&[])]
    );
    let explained = app.api("GET", &format!("/users/{a}/roles"), None).body;
    assert_eq!(explained["roles"], json!([]));
    assert_eq!(explained["suspended"][0]["slug"], "admin");
    let s = app.last_sequence();
    set_active(&app, &a, true);
    assert_eq!(
        summary(&app, s),
        [ev("user.reactivated"), roles_changed(&["admin"])]
    );

    // Membership removed.
    let s = app.last_sequence();
    remove_member(&app, &g, &b);
    assert_eq!(
        summary(&app, s),
        [ev("group.member_removed"), roles_changed(&[])]
    );

    // Admin sets a default role: everyone without a mapped role gets it.
    let s = app.last_sequence();
    let r = app.api(
        "PUT",
        "/role-settings",
        Some(&json!({"default_role": "viewer"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        summary(&app, s),
        [ev("role_mapping.changed"), roles_changed(&["viewer"])]
    );
    assert_eq!(roles_of(&app, &b), ["viewer"]);

    // Group deleted: memberships go, mappings are orphaned (M8), roles recomputed.
    let s = app.last_sequence();
    assert_eq!(app.delete(&format!("/Groups/{g}")).status, 204);
    assert_eq!(
        summary(&app, s),
        [ev("group.deleted"), roles_changed(&["viewer"])]
    );
    let mappings = app.api("GET", "/mappings", None).body;
    assert_eq!(mappings[0]["state"], "orphaned");
    assert_eq!(mappings[0]["group"]["displayName"], "Leads");

    // User deleted: grants removed.
    let s = app.last_sequence();
    assert_eq!(app.delete(&format!("/Users/{a}")).status, 204);
    assert_eq!(summary(&app, s), [ev("user.deleted"), roles_changed(&[])]);
    assert_eq!(
        app.api("GET", &format!("/users/{a}/roles"), None).status,
        404
    );
}

#[test]
fn effective_roles_come_with_reasons() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    role(&app, "viewer", 90, false);
    let u = app.create_user("ada@example.com");
    let leads = app.create_group("Eng Leads", &[&u]);
    let ops = app.create_group("Ops", &[&u]);
    let m = map(&app, &leads, "admin");
    map(&app, &ops, "admin");
    let body = app.api("GET", &format!("/users/{u}/roles"), None).body;
    let reasons = body["roles"][0]["reasons"].as_array().unwrap();
    assert_eq!(
        reasons.len(),
        2,
        "one role from two groups keeps both reasons"
    );
    let mapping_id = m["operations"][0]["group"].as_str().unwrap();
    assert_eq!(mapping_id, leads);
    assert!(reasons.iter().any(|r| r["text"]
        .as_str()
        .unwrap()
        .starts_with("admin ← group Eng Leads (mapping map_")));
    // With no mapped group left, the default role explains itself.
    change_set(
        &app,
        json!([{"op": "set_default_role", "role": "viewer"},
               {"op": "remove_mapping", "group": leads, "role": "admin"},
               {"op": "remove_mapping", "group": ops, "role": "admin"}]),
    );
    let body = app.api("GET", &format!("/users/{u}/roles"), None).body;
    assert_eq!(
        body["roles"][0]["reasons"][0]["text"],
        "viewer ← default role"
    );
}

#[test]
fn highest_priority_mode_keeps_only_the_best_role_and_manual_grants_compete() {
    let app = TestApp::spawn();
    role(&app, "owner", 1, false);
    role(&app, "admin", 10, false);
    role(&app, "member", 20, false);
    let u = app.create_user("ada@example.com");
    let a = app.create_group("A", &[&u]);
    let b = app.create_group("B", &[&u]);
    map(&app, &a, "admin");
    map(&app, &b, "member");
    assert_eq!(roles_of(&app, &u), ["admin", "member"]);
    change_set(
        &app,
        json!([{"op": "set_mode", "mode": "highest_priority"}]),
    );
    assert_eq!(roles_of(&app, &u), ["admin"]);
    // Manual grants are refused until the tenant allows them (M5).
    let r = app.api("PUT", &format!("/users/{u}/manual-grants/owner"), None);
    assert_eq!(r.status, 409, "{}", r.text);
    change_set(&app, json!([{"op": "set_manual_grants", "allowed": true}]));
    let r = app.api("PUT", &format!("/users/{u}/manual-grants/owner"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(roles_of(&app, &u), ["owner"]);
    // Priorities change through change-sets only, and recompute.
    let r = app.api("PATCH", "/roles/member", Some(&json!({"priority": 0})));
    assert_eq!(r.status, 400);
    change_set(
        &app,
        json!([{"op": "set_priority", "role": "member", "priority": 0}]),
    );
    assert_eq!(roles_of(&app, &u), ["member"]);
    let r = app.api("DELETE", &format!("/users/{u}/manual-grants/owner"), None);
    assert_eq!(r.status, 200);
}

/// T7: the preview is what applying does, on a seeded tenant.
#[test]
fn the_impact_preview_equals_the_applied_result() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, true);
    role(&app, "viewer", 90, false);
    let users: Vec<String> = (0..12)
        .map(|i| app.create_user(&format!("u{i:02}@example.com")))
        .collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let eng = app.create_group("Eng", &refs[..8]);
    let ops = app.create_group("Ops", &refs[6..]);
    map(&app, &ops, "viewer");
    let operations = json!([
        {"op": "add_mapping", "group": eng, "role": "admin"},
        {"op": "remove_mapping", "group": ops, "role": "viewer"},
        {"op": "set_default_role", "role": "viewer"}
    ]);
    let preview = app.api(
        "POST",
        "/change-sets/preview",
        Some(&json!({"operations": operations})),
    );
    assert_eq!(preview.status, 200, "{}", preview.text);
    let before: Vec<Vec<String>> = users.iter().map(|u| roles_of(&app, u)).collect();
    assert!(
        before.iter().all(|r| r.is_empty() || r == &["viewer"]),
        "preview changed nothing"
    );
    let applied = change_set(&app, operations);
    assert_eq!(applied["impact"], preview.body["impact"]);
    assert_eq!(applied["impact"]["roles"]["admin"]["added"], 8);
    assert_eq!(applied["impact"]["roles"]["admin"]["privileged"], true);
    // Users 0-5 gain admin, 6-7 gain admin and keep viewer-by-default? No: a mapped
    // role replaces the default, so 6-7 move from viewer to admin; 8-11 keep viewer.
    for (i, u) in users.iter().enumerate() {
        let expected: Vec<&str> = if i < 8 { vec!["admin"] } else { vec!["viewer"] };
        assert_eq!(roles_of(&app, u), expected, "user {i}");
    }
    assert_eq!(applied["impact"]["roles"]["viewer"]["removed"], 2);
}

/// T8: the lockout guard, and revert as a new change-set with its own preview.
#[test]
fn lockout_guard_refuses_and_revert_restores() {
    let app = TestApp::spawn();
    role(&app, "owner", 1, true);
    let u = app.create_user("ada@example.com");
    let g = app.create_group("Owners", &[&u]);
    let applied = map(&app, &g, "owner");
    assert_eq!(roles_of(&app, &u), ["owner"]);
    let id = applied["id"].as_str().unwrap();

    // Removing the only owner mapping would leave no owner.
    let r = app.api(
        "POST",
        "/change-sets",
        Some(&json!({"operations": [{"op": "remove_mapping", "group": g, "role": "owner"}]})),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("lockout guard"));
    let preview = app.api("POST", &format!("/change-sets/{id}/revert/preview"), None);
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(preview.body["refused"].as_str().unwrap().contains("owner"));
    assert_eq!(roles_of(&app, &u), ["owner"], "nothing was applied");

    // With a second owner group, revert works and is itself a change-set.
    let v = app.create_user("bob@example.com");
    let g2 = app.create_group("Owners 2", &[&v]);
    map(&app, &g2, "owner");
    let preview = app.api("POST", &format!("/change-sets/{id}/revert/preview"), None);
    assert_eq!(preview.body["impact"]["roles"]["owner"]["removed"], 1);
    let r = app.api("POST", &format!("/change-sets/{id}/revert"), None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["revert_of"], id);
    assert_eq!(r.body["impact"], preview.body["impact"]);
    assert!(roles_of(&app, &u).is_empty());
    let original = app.api("GET", &format!("/change-sets/{id}"), None).body;
    assert_eq!(original["reverted_by"], r.body["id"]);
    let again = app.api("POST", &format!("/change-sets/{id}/revert"), None);
    assert_eq!(again.status, 409);
}

#[test]
fn roles_in_use_cannot_be_deleted_and_slugs_are_immutable() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    let g = app.create_group("Eng", &[]);
    map(&app, &g, "admin");
    assert_eq!(app.api("DELETE", "/roles/admin", None).status, 409);
    let r = app.api("PATCH", "/roles/admin", Some(&json!({"slug": "boss"})));
    assert_eq!(r.status, 400);
    let r = app.api(
        "PATCH",
        "/roles/admin",
        Some(&json!({"name": "Administrators"})),
    );
    assert_eq!(r.body["name"], "Administrators");
    let dup = app.api("POST", "/roles", Some(&json!({"slug": "admin"})));
    assert_eq!(dup.status, 409);
    let r = app.api("POST", "/roles", Some(&json!({"slug": "x", "bogus": 1})));
    assert_eq!(r.status, 400, "unknown fields are refused");
}

#[test]
fn a_large_change_set_recomputes_in_the_background_to_the_previewed_result() {
    let app = TestApp::spawn_with(|s| s.change_set_inline_limit = 5);
    role(&app, "admin", 10, false);
    let users: Vec<String> = (0..23)
        .map(|i| app.create_user(&format!("u{i:02}@example.com")))
        .collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let g = app.create_group("Everyone", &refs);
    let operations = json!([{"op": "add_mapping", "group": g, "role": "admin"}]);
    let preview = app.api(
        "POST",
        "/change-sets/preview",
        Some(&json!({"operations": operations})),
    );
    assert_eq!(preview.body["background"], true);
    let applied = change_set(&app, operations);
    let id = applied["id"].as_str().unwrap().to_owned();
    let mut state = applied;
    for _ in 0..200 {
        if state["state"] == "applied" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        state = app.api("GET", &format!("/change-sets/{id}"), None).body;
    }
    assert_eq!(state["state"], "applied", "{state}");
    assert_eq!(state["progress"], json!({"done": 23, "total": 23}));
    assert_eq!(state["impact"], preview.body["impact"]);
    assert!(users.iter().all(|u| roles_of(&app, u) == ["admin"]));
    let changed = app
        .event_types_after(0)
        .iter()
        .filter(|t| *t == "user.roles_changed")
        .count();
    assert_eq!(changed, 23);
}

#[test]
fn bulk_membership_changes_recompute_roles() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    let u = app.create_user("ada@example.com");
    let g = app.create_group("Eng", &[]);
    map(&app, &g, "admin");
    let r = app.post(
        "/Bulk",
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "PATCH", "path": format!("/Groups/{g}"), "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]}}]
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(roles_of(&app, &u), ["admin"]);
}

#[test]
fn token_lifecycle_and_first_use_are_events() {
    let app = TestApp::spawn();
    app.get("/Users");
    let r = app.api("POST", "/scim-tokens", Some(&json!({"name": "JumpCloud"})));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.body["token"].as_str().unwrap().starts_with("rst_"));
    let r = app.api("POST", &format!("/scim-tokens/{id}/rotate"), None);
    assert_eq!(r.status, 201);
    assert_eq!(r.body["name"], "JumpCloud");
    assert_eq!(
        app.api("DELETE", &format!("/scim-tokens/{id}"), None)
            .status,
        204
    );
    let types = app.event_types_after(0);
    let tail: Vec<&str> = types.iter().map(String::as_str).rev().take(4).collect();
    assert_eq!(
        tail,
        [
            "connection.token_revoked",
            "connection.token_rotated",
            "connection.token_created",
            "connection.activated"
        ]
    );
}

/// The JumpCloud lifecycle (`jumpcloud.md` §1.4, §2) replayed against a tenant with a
/// mapping: the exact event sequence and the final roles.
#[test]
fn jumpcloud_lifecycle_replay_emits_the_exact_event_sequence() {
    use crate::jumpcloud::{create_body, minimal_put};
    let app = TestApp::spawn();
    role(&app, "member", 20, false);
    let start = app.last_sequence();

    // Test Connection, then Activate: a test user created, updated and deleted, and a
    // test group created and deleted.
    assert_eq!(app.get("/Users").status, 200);
    let test_user = app.post("/Users", &create_body()).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.put(&format!("/Users/{test_user}"), &minimal_put(&test_user))
            .status,
        200
    );
    assert_eq!(app.delete(&format!("/Users/{test_user}")).status, 204);
    let test_group = app.create_group("JumpCloud Test Group", &[]);
    assert_eq!(app.delete(&format!("/Groups/{test_group}")).status, 204);

    // Users assigned; the group bound: looked up by name, created empty, then filled.
    let a = app.post("/Users", &create_body()).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.create_user("second@example.io");
    let g = app.create_group("YourApp Users", &[]);
    let add =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]));
    assert_eq!(app.patch(&format!("/Groups/{g}"), &add).status, 204);
    assert_eq!(
        app.patch(&format!("/Groups/{g}"), &add).status,
        204,
        "repeated add"
    );

    // The admin maps the group; then JumpCloud suspends, reactivates, renames, removes
    // and deletes.
    map(&app, &g, "member");
    let mut suspend = create_body();
    suspend["id"] = json!(a);
    suspend["active"] = json!(false);
    assert_eq!(app.put(&format!("/Users/{a}"), &suspend).status, 200);
    suspend["active"] = json!(true);
    assert_eq!(app.put(&format!("/Users/{a}"), &suspend).status, 200);
    let rename = patch_op(json!([{"op": "replace", "value": {"displayName": "YourApp Members"}}]));
    assert_eq!(app.patch(&format!("/Groups/{g}"), &rename).status, 204);
    let remove = patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": b}]}]));
    assert_eq!(app.patch(&format!("/Groups/{g}"), &remove).status, 204);
    assert_eq!(app.delete(&format!("/Groups/{g}")).status, 204);

    assert_eq!(
        summary(&app, start),
        [
            ev("connection.activated"),
            ev("user.created"),
            ev("user.updated"),
            ev("user.deleted"),
            ev("group.created"),
            ev("group.deleted"),
            ev("user.created"),
            ev("user.created"),
            ev("group.created"),
            ev("group.member_added"),
            ev("group.member_added"),
            ev("role_mapping.changed"),
            roles_changed(&["member"]),
            roles_changed(&["member"]),
            ev("user.deactivated"),
            roles_changed(&[]),
            ev("user.reactivated"),
            roles_changed(&["member"]),
            ev("group.updated"),
            ev("group.member_removed"),
            roles_changed(&[]),
            ev("group.deleted"),
            roles_changed(&[]),
        ]
    );
    assert!(roles_of(&app, &a).is_empty());
    assert!(roles_of(&app, &b).is_empty());
    let mappings = app.api("GET", "/mappings", None).body;
    assert_eq!(mappings[0]["state"], "orphaned");
}

/// The application API's routes as the route table (`src/http/mod.rs`) declares them:
/// `(method, path)` with the tenant prefix.
fn routed_api_operations() -> Vec<(String, String)> {
    let table = include_str!("../../src/http/mod.rs");
    let scope = table
        .split_once("web::scope(\"/api/v1/tenants/{tenant}\")")
        .expect("the application API scope")
        .1;
    let mut routes = Vec::new();
    let mut path = None;
    for line in scope.lines() {
        if line.contains("web::scope(") {
            break;
        }
        if let Some(rest) = line.split("resource(\"").nth(1) {
            path = rest.split('"').next().map(str::to_owned);
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!("web::{method}()")) {
                let path = path.clone().expect("a route after its resource");
                routes.push((
                    method.to_owned(),
                    format!("/api/v1/tenants/{{tenant}}{path}"),
                ));
            }
        }
    }
    routes
}

#[test]
fn every_api_route_is_in_the_openapi_document_and_every_documented_one_is_routed() {
    let app = TestApp::spawn();
    let doc = app.raw(
        "GET",
        &format!("{}/api/v1/openapi.json", app.address),
        &[],
        None,
        None,
    );
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let routed = routed_api_operations();
    assert!(routed.len() >= 20, "{routed:?}");
    for (method, path) in &routed {
        assert!(
            doc.body["paths"][path][method]["responses"].is_object(),
            "{method} {path} is routed but not in /api/v1/openapi.json"
        );
    }
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, methods) in paths {
        for (method, _) in methods.as_object().unwrap() {
            assert!(
                routed.contains(&(method.clone(), path.clone())),
                "{method} {path} is documented but not routed"
            );
            let relative = path
                .trim_start_matches("/api/v1/tenants/{tenant}")
                .replace("{id}", "x")
                .replace("{slug}", "x")
                .replace("{role}", "x")
                .replace("{delivery_id}", "x");
            let r = app.api(&method.to_uppercase(), &relative, Some(&json!({})));
            assert!(
                r.status != 405 && r.body["detail"] != "no such endpoint",
                "{method} {path}: {} {}",
                r.status,
                r.text
            );
        }
    }
}

/// T2 at the API: a change-set that changes no one's roles emits no role events, and
/// recomputing the same state again changes nothing.
#[test]
fn recomputing_an_unchanged_state_emits_no_role_events() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    let u = app.create_user("ada@example.com");
    let g = app.create_group("Eng", &[&u]);
    map(&app, &g, "admin");
    let s = app.last_sequence();
    let applied = change_set(&app, json!([{"op": "set_mode", "mode": "union"}]));
    assert_eq!(applied["impact"]["users_affected"], 0);
    let again = change_set(
        &app,
        json!([{"op": "set_mode", "mode": "highest_priority"}]),
    );
    assert_eq!(
        again["impact"]["users_affected"], 0,
        "one role: the same either way"
    );
    assert_eq!(
        app.event_types_after(s),
        ["role_mapping.changed", "role_mapping.changed"]
    );
    assert_eq!(roles_of(&app, &u), ["admin"]);
}

/// A change-set racing membership writes: whichever commits first, every member ends
/// with the role and every non-member without it (the settings lock orders them).
#[test]
fn a_change_set_racing_membership_writes_leaves_every_member_right() {
    let app = TestApp::spawn();
    role(&app, "member", 20, false);
    let users: Vec<String> = (0..40)
        .map(|i| app.create_user(&format!("u{i:02}@example.com")))
        .collect();
    let g = app.create_group("Racing", &[]);
    std::thread::scope(|s| {
        for chunk in users.chunks(10) {
            let app = &app;
            let g = &g;
            s.spawn(move || {
                for u in chunk {
                    add_members(app, g, &[u]);
                }
            });
        }
        s.spawn(|| map(&app, &g, "member"));
    });
    for u in &users {
        assert_eq!(roles_of(&app, u), ["member"], "user {u}");
    }
    let changed = app
        .events_after(0)
        .iter()
        .filter(|e| e["type"] == "user.roles_changed")
        .count();
    assert_eq!(changed, users.len(), "one role change per user, no more");
}

#[test]
fn deleting_a_mapping_by_id_is_a_change_set_that_recomputes() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    let u = app.create_user("ada@example.com");
    let g = app.create_group("Eng", &[&u]);
    map(&app, &g, "admin");
    let id = app.api("GET", "/mappings", None).body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.api("DELETE", &format!("/mappings/{id}"), None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["impact"]["roles"]["admin"]["removed"], 1);
    assert!(roles_of(&app, &u).is_empty());
    assert_eq!(
        app.api("DELETE", &format!("/mappings/{id}"), None).status,
        404
    );
}

/// Creates users `name0`…, through `/Bulk`; returns their ids in order.
fn bulk_users(app: &TestApp, name: &str, n: usize) -> Vec<String> {
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                   "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("{name}{i}@example.com")}})
        })
        .collect();
    let r = app.post(
        "/Bulk",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["status"], "201", "{o}");
            o["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn wait_until_applied(app: &TestApp, change_set: &Value) -> Value {
    let id = change_set["id"].as_str().unwrap();
    let mut state = change_set.clone();
    for _ in 0..400 {
        if state["state"] == "applied" {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        state = app.api("GET", &format!("/change-sets/{id}"), None).body;
    }
    panic!("change-set not applied: {state}");
}

/// A group whose members are most of the tenant is read by id range, batch by batch
/// (more than 100 grants and events a batch go by COPY on PostgreSQL); revert removes
/// the grants again. Every user ends exactly where a per-user evaluation puts them.
#[test]
fn a_mapping_on_a_big_group_applies_and_reverts_in_the_background() {
    let app = TestApp::spawn_with(|s| s.change_set_inline_limit = 5);
    role(&app, "viewer", 50, false);
    role(&app, "editor", 40, false);
    let users = bulk_users(&app, "big", 150);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let big = app.create_group("Big", &refs[..140]);
    let small = app.create_group("Small", &refs[130..]);
    wait_until_applied(&app, &map(&app, &small, "editor"));
    for u in &refs[..10] {
        set_active(&app, u, false);
    }
    let expected = |with_viewer: bool| -> Vec<Vec<&str>> {
        (0..150)
            .map(|i| {
                let mut roles = Vec::new();
                if i >= 130 {
                    roles.push("editor");
                }
                if (10..140).contains(&i) && with_viewer {
                    roles.push("viewer");
                }
                roles
            })
            .collect()
    };
    let check = |with_viewer: bool| {
        for (i, (u, want)) in users.iter().zip(expected(with_viewer)).enumerate() {
            assert_eq!(roles_of(&app, u), want, "user {i}");
        }
    };
    check(false);

    let before = app.last_sequence();
    let applied = wait_until_applied(&app, &map(&app, &big, "viewer"));
    assert_eq!(applied["progress"], json!({"done": 140, "total": 140}));
    assert_eq!(applied["impact"]["roles"]["viewer"]["added"], 130);
    check(true);
    let changed = |after: i64| {
        app.events_after(after)
            .iter()
            .filter(|e| e["type"] == "user.roles_changed")
            .count()
    };
    assert_eq!(
        changed(before),
        130,
        "one event per user whose roles changed"
    );

    let id = applied["id"].as_str().unwrap();
    let before = app.last_sequence();
    let r = app.api("POST", &format!("/change-sets/{id}/revert"), None);
    assert_eq!(r.status, 201, "{}", r.text);
    wait_until_applied(&app, &r.body);
    check(false);
    assert_eq!(changed(before), 130);
}

/// A batch dense in id order is read as a range of each index; it must find exactly
/// the rows one probe per user finds.
#[test]
fn a_dense_batch_reads_by_range_what_probes_read() {
    use roster::store::roles::{self as store, Batch};
    use roster::store::{write_transaction, DbConnection, TenantId};
    let app = TestApp::spawn();
    role(&app, "viewer", 50, false);
    // Ids are random: any 50 of 100 users span about all 100 (a range), and 34 of
    // them span more than twice their number (a probe each).
    let users = bulk_users(&app, "d", 100);
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let g = app.create_group("Dense", &refs[..50]);
    app.create_group("Other", &refs[20..70]);
    map(&app, &g, "viewer");
    let mut dense: Vec<String> = users[..50].to_vec();
    dense.sort();
    let mut sparse: Vec<String> = users.iter().step_by(3).cloned().collect();
    sparse.sort();
    let mut conn = app.store.connection().unwrap();
    let tenant = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        let id = roster::store::query::RawQuery::new("SELECT id FROM tenants WHERE slug = 'acme'")
            .load::<Id>(&mut conn)
            .unwrap()
            .remove(0)
            .id;
        TenantId(id)
    };
    for (ids, range) in [(&dense, true), (&sparse, false)] {
        let c: &mut DbConnection = &mut conn;
        write_transaction(c, |c| {
            let planned = Batch::plan(c, &tenant, ids)?;
            assert_eq!(planned.reads_a_range(), range);
            let listed = Batch::listed(ids);
            for lock in [false, true] {
                let names = |rows: Vec<store::SubjectRow>| -> Vec<String> {
                    rows.into_iter().map(|r| r.id).collect()
                };
                assert_eq!(
                    names(store::subjects(c, &tenant, planned, lock)?),
                    names(store::subjects(c, &tenant, listed, lock)?)
                );
            }
            let mut a: Vec<(String, String)> = store::memberships(c, &tenant, planned)?
                .into_iter()
                .map(|m| (m.user_id, m.group_id))
                .collect();
            let mut b: Vec<(String, String)> = store::memberships(c, &tenant, listed)?
                .into_iter()
                .map(|m| (m.user_id, m.group_id))
                .collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
            assert!(!a.is_empty());
            let mut a = store::grants_in(c, &tenant, planned)?;
            let mut b = store::grants_in(c, &tenant, listed)?;
            a.sort_by(|x, y| x.user_id.cmp(&y.user_id));
            b.sort_by(|x, y| x.user_id.cmp(&y.user_id));
            assert_eq!(a, b);
            assert!(!a.is_empty());
            Ok::<_, roster::store::StoreError>(())
        })
        .unwrap();
    }
}

#[test]
fn an_application_asks_for_roles_by_user_name_external_id_or_email() {
    let app = TestApp::spawn();
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "Ada@Example.com", "externalId": "jc-1",
                "emails": [{"value": "ada.lovelace@example.com", "primary": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    let eng = app.create_group("Eng", &[&ada]);
    role(&app, "engineer", 10, false);
    map(&app, &eng, "engineer");
    for query in [
        format!("id={ada}"),
        "userName=ada%40example.com".to_owned(),
        "externalId=jc-1".to_owned(),
        "email=ADA.LOVELACE%40example.com".to_owned(),
    ] {
        let r = app.api("GET", &format!("/effective-roles?{query}"), None);
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(r.body["user"]["id"], ada.as_str(), "{query}");
        assert_eq!(r.body["roles"][0]["slug"], "engineer", "{query}");
    }
    // Case matters for externalId, as SCIM compares it.
    assert_eq!(
        app.api("GET", "/effective-roles?externalId=JC-1", None)
            .status,
        404
    );
    assert_eq!(
        app.api("GET", "/effective-roles?userName=nobody", None)
            .status,
        404
    );
    for bad in ["", "?userName=a&email=b", "?username=ada%40example.com"] {
        let r = app.api("GET", &format!("/effective-roles{bad}"), None);
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // Two users with one address: a conflict, never a guess.
    let r = app.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "lovelace2", "emails": [{"value": "ada.lovelace@example.com"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.api(
        "GET",
        "/effective-roles?email=ada.lovelace%40example.com",
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text);
}

#[test]
fn a_roles_holders_are_listed_in_pages_as_the_roles_are_held_now() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, false);
    role(&app, "member", 20, false);
    let users: Vec<String> = (0..5)
        .map(|i| app.create_user(&format!("u{i}@example.com")))
        .collect();
    let all: Vec<&str> = users.iter().map(String::as_str).collect();
    let staff = app.create_group("Staff", &all);
    let leads = app.create_group("Leads", &all[..2]);
    map(&app, &staff, "member");
    map(&app, &leads, "admin");
    let holders = |slug: &str| -> Vec<String> {
        let mut ids = Vec::new();
        let mut after = String::new();
        loop {
            let r = app.api(
                "GET",
                &format!("/roles/{slug}/holders?limit=2&after={after}"),
                None,
            );
            assert_eq!(r.status, 200, "{}", r.text);
            let page = r.body["data"].as_array().unwrap();
            assert!(page.len() <= 2);
            ids.extend(page.iter().map(|h| h["id"].as_str().unwrap().to_owned()));
            match r.body["next_after"].as_str() {
                Some(next) => after = next.to_owned(),
                None => return ids,
            }
        }
    };
    let mut sorted = users.clone();
    sorted.sort();
    assert_eq!(holders("member"), sorted, "union: all five, in id order");
    let mut leads_sorted = users[..2].to_vec();
    leads_sorted.sort();
    assert_eq!(holders("admin"), leads_sorted);
    // Highest priority: the leads hold admin only, so member has three holders.
    change_set(
        &app,
        json!([{"op": "set_mode", "mode": "highest_priority"}]),
    );
    assert_eq!(holders("member").len(), 3);
    // A deactivated user holds nothing.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(app.patch(&format!("/Users/{}", users[0]), &off).status, 200);
    assert!(!holders("admin").contains(&users[0]));
    let one = app.api("GET", "/roles/admin/holders", None);
    assert_eq!(one.body["data"][0]["userName"], "u1@example.com");
    assert_eq!(app.api("GET", "/roles/nosuch/holders", None).status, 404);
    assert_eq!(
        app.api("GET", "/roles/admin/holders?limit=x", None).status,
        400
    );
}
