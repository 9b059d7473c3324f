//! The mass-deprovisioning guard: bursts over the threshold are held (answered, never
//! applied until released, never lost), released in order or discarded; bursts at the
//! threshold apply at once. For SCIM push and for directory pull alike.

use serde_json::{json, Value};

use crate::helpers::{patch_op, TestApp};
use crate::pull::{apply, connect, plan, Standin};
use crate::roles::{map, role};

fn guard(app: &TestApp, percent: i64, max_users: i64, min_users: i64) {
    let r = app.api(
        "PUT",
        "/deprovisioning-guard",
        Some(
            &json!({"enabled": true, "percent": percent, "max_users": max_users,
                     "min_users": min_users, "window_minutes": 10}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn users(app: &TestApp, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| app.create_user(&format!("u{i}@acme.test")))
        .collect()
}

fn deactivate(app: &TestApp, id: &str) -> Value {
    let r = app.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(
        r.status, 200,
        "held or not, the IdP gets a success: {}",
        r.text
    );
    assert_eq!(
        r.body["active"], false,
        "answered as it will be: {}",
        r.text
    );
    r.body
}

fn active(app: &TestApp, id: &str) -> bool {
    let r = app.get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["active"].as_bool().unwrap_or(true)
}

fn held(app: &TestApp) -> Value {
    let r = app.api("GET", "/deprovisioning-guard", None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn pending_seqs(app: &TestApp) -> Vec<i64> {
    held(app)["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["seq"].as_i64().unwrap())
        .collect()
}

fn decide(app: &TestApp, what: &str, up_to: i64) -> Value {
    let r = app.api(
        "POST",
        &format!("/deprovisioning-guard/{what}"),
        Some(&json!({"up_to": up_to})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn event_count(app: &TestApp, event_type: &str) -> usize {
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = app.events_after(after);
        let Some(last) = page.last() else { return n };
        after = last["sequence"].as_i64().unwrap();
        n += page.iter().filter(|e| e["type"] == event_type).count();
    }
}

#[test]
fn a_burst_over_the_threshold_is_held_answered_and_released_in_order() {
    let app = TestApp::spawn();
    let ids = users(&app, 20);
    guard(&app, 100, 3, 1);
    for id in &ids[..3] {
        deactivate(&app, id);
        assert!(!active(&app, id), "under the threshold: applied at once");
    }
    assert!(held(&app)["pending"].as_array().unwrap().is_empty());
    assert_eq!(event_count(&app, "directory.deprovisioning_held"), 0);

    // The fourth is one past the threshold: answered, held, not applied.
    deactivate(&app, &ids[3]);
    assert!(active(&app, &ids[3]));
    deactivate(&app, &ids[4]);
    let r = app.delete(&format!("/Users/{}", ids[5]));
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get(&format!("/Users/{}", ids[5])).status, 200);
    // A write that takes no access away goes through; one to a user with a held change
    // waits behind it.
    let r = app.patch(
        &format!("/Users/{}", ids[6]),
        &patch_op(json!([{"op": "replace", "path": "title", "value": "Kept"}])),
    );
    assert_eq!(r.status, 200);
    assert_eq!(app.get(&format!("/Users/{}", ids[6])).body["title"], "Kept");
    let r = app.patch(
        &format!("/Users/{}", ids[3]),
        &patch_op(json!([{"op": "replace", "path": "title", "value": "After"}])),
    );
    assert_eq!(r.status, 200);
    assert!(app.get(&format!("/Users/{}", ids[3])).body["title"].is_null());

    let guard_view = held(&app);
    let pending = guard_view["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 4, "{guard_view}");
    assert_eq!(pending[0]["users"], json!(["u3@acme.test"]));
    assert_eq!(pending[2]["label"], format!("DELETE /Users/{}", ids[5]));
    assert_eq!(guard_view["pending_users"], 3);
    assert_eq!(event_count(&app, "directory.deprovisioning_held"), 1);

    let seqs = pending_seqs(&app);
    let after = decide(&app, "release", *seqs.last().unwrap());
    assert!(after["pending"].as_array().unwrap().is_empty(), "{after}");
    let decided = after["decided"].as_array().unwrap();
    assert!(decided.iter().all(|d| d["outcome"] == "applied"), "{after}");
    assert!(!active(&app, &ids[3]));
    assert_eq!(
        app.get(&format!("/Users/{}", ids[3])).body["title"],
        "After"
    );
    assert!(!active(&app, &ids[4]));
    assert_eq!(app.get(&format!("/Users/{}", ids[5])).status, 404);
    assert_eq!(event_count(&app, "directory.deprovisioning_released"), 1);
    assert!(app
        .audit_actions()
        .contains(&"directory.held_released".to_owned()));
}

#[test]
fn a_held_burst_an_owner_discards_is_never_applied_and_later_ones_wait_their_turn() {
    let app = TestApp::spawn();
    let ids = users(&app, 10);
    guard(&app, 100, 1, 1);
    deactivate(&app, &ids[0]);
    deactivate(&app, &ids[1]);
    deactivate(&app, &ids[2]);
    let seqs = pending_seqs(&app);
    assert_eq!(seqs.len(), 2);
    // The owner saw only the first: the second stays pending.
    let after = decide(&app, "discard", seqs[0]);
    assert_eq!(after["decided"][0]["state"], "discarded");
    assert_eq!(pending_seqs(&app), vec![seqs[1]]);
    assert!(active(&app, &ids[1]));
    decide(&app, "discard", seqs[1]);
    assert!(active(&app, &ids[1]) && active(&app, &ids[2]));
    assert_eq!(event_count(&app, "directory.deprovisioning_discarded"), 2);
    // Nothing is held now, and the window still counts the first: the next is held.
    deactivate(&app, &ids[3]);
    assert!(active(&app, &ids[3]));
}

#[test]
fn a_burst_at_the_threshold_applies_at_once_counting_role_losses() {
    let app = TestApp::spawn();
    let ids = users(&app, 30);
    let members: Vec<&str> = ids[..5].iter().map(String::as_str).collect();
    let group = app.create_group("Editors", &members);
    role(&app, "editor", 10, false);
    map(&app, &group, "editor");
    // 10 % of 30 active users: 3 may lose access within the window.
    guard(&app, 10, 50, 1);
    deactivate(&app, &ids[10]);
    deactivate(&app, &ids[11]);
    let r = app.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(
        !app.member_ids(&group).contains(&ids[0]),
        "a role loss at the threshold applies"
    );
    assert!(pending_seqs(&app).is_empty());
    // One more role loss is past it.
    let r = app.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}])),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(app.member_ids(&group).contains(&ids[1]));
    assert_eq!(held(&app)["pending"][0]["users"], json!(["u1@acme.test"]));
    // Turned off, the guard holds nothing new, but what it holds still waits.
    let r = app.api(
        "PUT",
        "/deprovisioning-guard",
        Some(&json!({"enabled": false, "percent": 10, "max_users": 50, "min_users": 1, "window_minutes": 10})),
    );
    assert_eq!(r.status, 200);
    deactivate(&app, &ids[20]);
    assert!(!active(&app, &ids[20]));
    assert_eq!(pending_seqs(&app).len(), 1);
}

#[test]
fn a_pull_past_the_threshold_is_held_like_a_push_and_released_from_the_guard() {
    let app = TestApp::spawn_with(|s| s.allow_private_webhook_urls = true);
    let standin = Standin::start(30, 3);
    connect(&app, &standin, json!({}));
    apply(&app, &plan(&app));
    guard(&app, 100, 2, 1);
    for i in [1, 2, 3, 4] {
        standin.control(
            "POST",
            "/users",
            Some(json!({"id": format!("64f0{:020x}", i + 1), "state": "SUSPENDED", "suspended": true})),
        );
    }
    let run = plan(&app);
    let applied = apply(&app, &run);
    assert_eq!(applied["applied"], applied["total"]);
    let view = held(&app);
    assert_eq!(view["pending"].as_array().unwrap().len(), 2, "{view}");
    assert_eq!(view["pending"][0]["origin"], "directory");
    let inactive = |app: &TestApp| {
        let r = app.call("GET", "/Users?filter=active%20eq%20false&count=0", None);
        r.body["totalResults"].as_i64().unwrap()
    };
    let before = inactive(&app);
    decide(&app, "release", *pending_seqs(&app).last().unwrap());
    assert_eq!(inactive(&app), before + 2);
}
