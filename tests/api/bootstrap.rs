//! An application bootstraps from `/snapshot`, then follows `/events`: with writes
//! between its pages, it still ends at roster's state. Events past their retention are
//! refused with 410, and the snapshot is the way back.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::helpers::{patch_op, TestApp};
use crate::roles::{map, role};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// An application's copy of the directory: users by id, as the snapshot lists them.
#[derive(Default)]
struct Consumer {
    users: BTreeMap<String, Value>,
}

impl Consumer {
    fn apply_page(&mut self, page: &Value) {
        for user in page["users"].as_array().unwrap() {
            self.users
                .insert(user["id"].as_str().unwrap().to_owned(), user.clone());
        }
    }

    /// Applies an event's after-state, as the README tells applications to.
    fn apply_event(&mut self, event: &Value) {
        let data = &event["data"];
        match event["type"].as_str().unwrap() {
            "user.created" | "user.updated" | "user.deactivated" | "user.reactivated" => {
                let id = data["id"].as_str().unwrap().to_owned();
                let roles = self
                    .users
                    .get(&id)
                    .map_or(json!([]), |u| u["roles"].clone());
                let mut user = json!({
                    "id": id,
                    "userName": data["userName"],
                    "externalId": data.get("externalId").cloned().unwrap_or(Value::Null),
                    "active": data["active"].as_bool().unwrap_or(true),
                    "roles": roles,
                });
                if let Some(emails) = data.get("emails") {
                    user["emails"] = emails.clone();
                }
                self.users.insert(id, user);
            }
            "user.deleted" => {
                self.users.remove(data["id"].as_str().unwrap());
            }
            "user.roles_changed" => {
                let id = data["user"]["id"].as_str().unwrap();
                if let Some(user) = self.users.get_mut(id) {
                    let mut roles: Vec<String> = data["after"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect();
                    roles.sort();
                    user["roles"] = json!(roles);
                }
            }
            _ => {}
        }
    }
}

fn snapshot(app: &TestApp, query: &str) -> Value {
    let r = app.api("GET", &format!("/snapshot?{query}"), None);
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.body
}

/// The directory as roster holds it now: one page, read on one database snapshot.
fn truth(app: &TestApp) -> BTreeMap<String, Value> {
    let mut whole = Consumer::default();
    let page = snapshot(app, "limit=1000");
    assert!(page["next_after"].is_null());
    whole.apply_page(&page);
    whole.users
}

fn create(app: &TestApp, name: &str) -> String {
    let r = app.post(
        "/Users",
        &json!({
            "schemas": [USER],
            "userName": name,
            "externalId": format!("ext-{name}"),
            "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn members(app: &TestApp, group: &str, op: &str, user: &str) {
    let body = patch_op(json!([{"op": op, "path": "members", "value": [{"value": user}]}]));
    let body = if op == "remove" {
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]))
    } else {
        body
    };
    let r = app.patch(&format!("/Groups/{group}"), &body);
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
}

#[test]
fn a_snapshot_read_between_writes_then_the_feed_from_its_sequence_equal_rosters_state() {
    let app = TestApp::spawn();
    role(&app, "eng", 10, false);
    role(&app, "ops", 20, false);
    let names = ["ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal"];
    let ids: Vec<String> = names.iter().map(|n| create(&app, n)).collect();
    let eng = app.create_group("Engineering", &[&ids[0], &ids[1], &ids[2]]);
    let ops = app.create_group("Operations", &[&ids[3], &ids[4]]);
    map(&app, &eng, "eng");
    map(&app, &ops, "ops");
    let mut sorted = ids.clone();
    sorted.sort();
    let before = truth(&app);
    assert_eq!(before[&ids[0]]["roles"], json!(["eng"]));
    assert_eq!(before[&ids[0]]["emails"][0]["value"], "ann@example.com");

    let mut consumer = Consumer::default();
    let first = snapshot(&app, "limit=3");
    let sequence = first["sequence"].as_i64().unwrap();
    assert_eq!(sequence, app.last_sequence());
    consumer.apply_page(&first);
    let seen: Vec<String> = first["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, sorted[..3], "id order");

    // Writes between pages, to users already read and users not yet read.
    let (paged, unpaged_a, unpaged_b, last) = (&sorted[0], &sorted[4], &sorted[5], &sorted[7]);
    let r = app.patch(
        &format!("/Users/{last}"),
        &patch_op(json!([
            {"op": "replace", "path": "userName", "value": "renamed"},
            {"op": "replace", "path": "externalId", "value": "ext-renamed"},
        ])),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    members(&app, &eng, "add", unpaged_a);
    members(&app, &ops, "add", paged);
    members(&app, &eng, "remove", paged);
    create(&app, "ida");
    let mut after = first["next_after"].as_str().unwrap().to_owned();
    let mut round = 0;
    loop {
        let page = snapshot(&app, &format!("after={after}&at={sequence}&limit=3"));
        assert_eq!(
            page["sequence"], sequence,
            "every page names the first's sequence"
        );
        consumer.apply_page(&page);
        round += 1;
        match round {
            1 => {
                let r = app.patch(
                    &format!("/Users/{unpaged_b}"),
                    &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
                );
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(app.delete(&format!("/Users/{last}")).status, 204);
                assert_eq!(app.delete(&format!("/Users/{}", sorted[1])).status, 204);
                create(&app, "jon");
                let r = app.patch(
                    &format!("/Users/{}", sorted[2]),
                    &patch_op(json!([{"op": "replace", "path": "emails", "value": [{"value": "new@example.com"}]}])),
                );
                assert_eq!(r.status, 200, "{}", r.text);
            }
            2 => {
                members(&app, &ops, "add", unpaged_a);
            }
            _ => {}
        }
        match page["next_after"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert!(round >= 2, "the writes landed between pages");

    let mut from = sequence;
    loop {
        let events = app.events_after(from);
        let Some(last_event) = events.last() else {
            break;
        };
        from = last_event["sequence"].as_i64().unwrap();
        for event in &events {
            consumer.apply_event(event);
        }
    }

    let now = truth(&app);
    assert_ne!(now, before, "the directory changed meanwhile");
    assert_eq!(consumer.users, now);
    assert_eq!(now[unpaged_a]["roles"], json!(["eng", "ops"]));
    assert_eq!(now[paged]["roles"], json!(["ops"]));
    assert_eq!(now[unpaged_b]["active"], false);
    assert_eq!(
        now[unpaged_b]["roles"],
        json!([]),
        "inactive users hold no roles"
    );
}

#[test]
fn snapshot_pages_need_the_first_pages_sequence_and_refuse_bad_queries() {
    let app = TestApp::spawn();
    let ann = create(&app, "ann");
    create(&app, "ben");
    let first = snapshot(&app, "limit=1");
    assert_eq!(first["users"].as_array().unwrap().len(), 1);
    assert!(first["users"][0]["roles"].is_array());
    let next = first["next_after"].as_str().unwrap();

    app.api("GET", &format!("/snapshot?after={next}"), None)
        .assert_scim_error(400, Some("invalidValue"));
    let ahead = first["sequence"].as_i64().unwrap() + 1;
    app.api("GET", &format!("/snapshot?after={next}&at={ahead}"), None)
        .assert_scim_error(400, Some("invalidValue"));
    app.api("GET", "/snapshot?since=1", None)
        .assert_scim_error(400, Some("invalidValue"));

    let reader = app.api(
        "POST",
        "/api-keys",
        Some(&json!({"scopes": ["events:read"]})),
    );
    let reader = reader.body["key"].as_str().unwrap().to_owned();
    let roles_only = app.api(
        "POST",
        "/api-keys",
        Some(&json!({"scopes": ["roles:read"]})),
    );
    let roles_only = roles_only.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.api_as(&reader, "GET", "/snapshot", None).status, 200);
    assert_eq!(
        app.api_as(&roles_only, "GET", "/snapshot", None).status,
        403
    );
    assert_eq!(app.api_as(&app.token, "GET", "/snapshot", None).status, 401);
    let all = snapshot(&app, "limit=1000");
    assert!(all["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == ann));
}

#[test]
fn a_feed_read_from_pruned_events_gets_410_and_the_snapshot_recovers() {
    let app = TestApp::spawn();
    for name in ["ann", "ben", "cat"] {
        create(&app, name);
    }
    let kept_from = app.last_sequence();
    create(&app, "dan");
    create(&app, "eve");
    let last = app.last_sequence();

    // Events up to `kept_from` are 40 days old, past the default 30 days' retention.
    let forty_days_ago =
        roster::service::stamp(SystemTime::now() - Duration::from_secs(40 * 86_400));
    {
        use diesel::RunQueryDsl;
        let mut conn = app.store.connection().unwrap();
        diesel::sql_query(format!(
            "UPDATE events SET occurred_at = '{forty_days_ago}' WHERE sequence <= {kept_from}"
        ))
        .execute(&mut *conn)
        .unwrap();
        let cutoff = roster::service::stamp(SystemTime::now() - Duration::from_secs(30 * 86_400));
        let (events, _) = roster::service::webhooks::prune_batch(&mut conn, &cutoff, 1000).unwrap();
        assert_eq!(events as i64, kept_from);
    }

    for after in [0, kept_from - 1] {
        let r = app.api("GET", &format!("/events?after={after}"), None);
        r.assert_scim_error(410, None);
        assert!(r.body.get("scimType").is_none(), "{}", r.text);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("/snapshot"), "{detail}");
    }
    let rest = app.events_after(kept_from);
    assert_eq!(
        rest.len() as i64,
        last - kept_from,
        "nothing kept is skipped"
    );
    assert!(
        app.events_after(last).is_empty(),
        "a consumer that is caught up is fine"
    );

    // A snapshot begun before the pruning cannot be finished; a new one can.
    let r = app.api(
        "GET",
        &format!("/snapshot?at={}&after=0", kept_from - 1),
        None,
    );
    r.assert_scim_error(410, None);
    let fresh = snapshot(&app, "limit=1000");
    assert_eq!(fresh["sequence"], last);
    assert_eq!(fresh["users"].as_array().unwrap().len(), 5);
    assert!(app.events_after(last).is_empty());
}
