//! Sorting (RFC 7644 §3.4.2.3) and cursor paging (RFC 9865).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::users::urlencode;

fn user(app: &TestApp, user_name: &str, family: Option<&str>) -> String {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": user_name,
    });
    if let Some(family) = family {
        body["name"] = json!({ "familyName": family });
    }
    let r = app.post("/Users", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn field(list: &Value, name: &str) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[name].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// Follows `nextCursor` from the first page; returns every page's ids.
fn walk(
    app: &TestApp,
    query: &str,
    count: usize,
    between: &mut dyn FnMut(usize),
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get(&format!(
            "/Users?{query}&count={count}&cursor={}",
            urlencode(&cursor)
        ));
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body.get("startIndex").is_none(), "{}", r.text);
        assert!(r.body["Resources"].as_array().unwrap().len() <= count);
        pages.push(ids(&r.body));
        between(pages.len());
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return pages,
        }
        assert!(pages.len() < 1000, "the walk does not end");
    }
}

#[test]
fn sort_by_user_name_is_case_insensitive_and_descending_reverses_it() {
    let app = TestApp::spawn();
    for name in ["bob", "Alice", "carol", "aaron", "Bea"] {
        user(&app, name, None);
    }
    let r = app.get("/Users?sortBy=userName");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        field(&r.body, "userName"),
        ["aaron", "Alice", "Bea", "bob", "carol"]
    );
    let r = app.get("/Users?sortBy=USERNAME&sortOrder=descending&count=2&startIndex=2");
    assert_eq!(field(&r.body, "userName"), ["bob", "Bea"]);
    assert_eq!(r.body["totalResults"], 5);
}

#[test]
fn sort_by_a_stored_attribute_puts_users_without_it_last_ascending_and_first_descending() {
    let app = TestApp::spawn();
    let smith = user(&app, "u1", Some("smith"));
    let none = user(&app, "u2", None);
    let adams = user(&app, "u3", Some("Adams"));
    let jones = user(&app, "u4", Some("JONES"));
    let r = app.get("/Users?sortBy=name.familyName");
    assert_eq!(
        ids(&r.body),
        [adams.clone(), jones.clone(), smith.clone(), none.clone()]
    );
    let r = app.get("/Users?sortBy=name.familyName&sortOrder=descending");
    assert_eq!(ids(&r.body), [none, smith, jones, adams]);
    // meta.created and an indexed, case-exact column sort too.
    assert_eq!(app.get("/Users?sortBy=meta.created").status, 200);
    assert_eq!(app.get("/Users?sortBy=externalId").status, 200);
}

#[test]
fn sort_by_what_cannot_be_sorted_is_400_invalid_value() {
    let app = TestApp::spawn();
    user(&app, "u1", None);
    for by in [
        "nope",
        "groups",
        "emails.nope",
        "password",
        "active",
        "name",
        "meta.version",
        "urn:x:y:z",
    ] {
        let r = app.get(&format!("/Users?sortBy={}", urlencode(by)));
        r.assert_scim_error(400, Some("invalidValue"));
    }
    let r = app.get("/Users?sortBy=userName&sortOrder=sideways");
    r.assert_scim_error(400, Some("invalidValue"));
    // Groups sort by their own attributes.
    assert_eq!(app.get("/Groups?sortBy=displayName").status, 200);
    app.get("/Groups?sortBy=userName")
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn sort_by_a_multi_valued_attribute_uses_its_primary_value_or_else_its_first() {
    let app = TestApp::spawn();
    let mut ids = std::collections::HashMap::new();
    for (name, emails) in [
        // Primary "a@x", though listed second.
        (
            "u1",
            json!([{"value": "z@x"}, {"value": "A@x", "primary": true}]),
        ),
        // No primary: the first, "m@x".
        (
            "u2",
            json!([{"value": "m@x", "type": "work"}, {"value": "b@x"}]),
        ),
        ("u3", json!([{"value": "c@x", "primary": "True"}])),
        ("u4", json!(null)),
    ] {
        let r = app.post("/Users", &json!({"userName": name, "emails": emails}));
        assert_eq!(r.status, 201, "{}", r.text);
        ids.insert(r.body["id"].as_str().unwrap().to_owned(), name);
    }
    let names = |query: &str| -> Vec<&str> {
        let r = app.get(&format!("/Users?{query}"));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| ids[u["id"].as_str().unwrap()])
            .collect()
    };
    // Case-insensitive, as `emails.value` is; a user without emails sorts last.
    assert_eq!(names("sortBy=emails"), ["u1", "u3", "u2", "u4"]);
    assert_eq!(names("sortBy=emails.value"), ["u1", "u3", "u2", "u4"]);
    assert_eq!(
        names("sortBy=emails&sortOrder=descending"),
        ["u4", "u2", "u3", "u1"]
    );
    // Another sub-attribute of the same element: only u2's first has a type.
    assert_eq!(names("sortBy=emails.type")[0], "u2");
    let walked: Vec<String> = walk(&app, "sortBy=emails", 1, &mut |_| {}).concat();
    let whole = field(&app.get("/Users?sortBy=emails").body, "id");
    assert_eq!(walked, whole, "cursor pages follow the same order");
}

#[test]
fn a_cursor_walk_visits_every_user_once_in_sort_order() {
    let app = TestApp::spawn();
    let mut names: Vec<String> = (0..23)
        .map(|i| format!("user{:02}", (i * 7) % 23))
        .collect();
    for (i, name) in names.iter().enumerate() {
        // Every third user has no familyName, so the walk crosses the missing values.
        let family = (i % 3 != 0).then(|| format!("F{}", i % 5));
        user(&app, name, family.as_deref());
    }
    let pages = walk(&app, "sortBy=userName", 4, &mut |_| {});
    assert_eq!(pages.len(), 6);
    let r = app.get("/Users?sortBy=userName");
    let all: Vec<String> = pages.concat();
    assert_eq!(all, ids(&r.body));
    names.sort();
    assert_eq!(field(&r.body, "userName"), names);
    for sort in [
        "sortBy=name.familyName",
        "sortBy=name.familyName&sortOrder=descending",
        "sortBy=id",
    ] {
        let walked = walk(&app, sort, 5, &mut |_| {}).concat();
        let whole = ids(&app.get(&format!("/Users?{sort}")).body);
        assert_eq!(walked, whole, "{sort}");
    }
    let filtered = walk(
        &app,
        &format!("filter={}", urlencode(r#"userName sw "user1""#)),
        3,
        &mut |_| {},
    );
    assert_eq!(filtered.concat().len(), 10);
}

#[test]
fn deep_cursor_walk_neither_skips_nor_repeats_while_users_are_created_and_deleted() {
    let app = TestApp::spawn();
    let before: Vec<String> = (0..40)
        .map(|i| user(&app, &format!("old{i}"), None))
        .collect();
    let mut deleted = BTreeSet::new();
    let mut created = BTreeSet::new();
    let pages = walk(&app, "", 3, &mut |page| {
        // Between pages: delete a user not yet seen (it must not appear later), and
        // create two (they may appear, once, or not at all).
        let victim = before
            .iter()
            .rev()
            .find(|id| !deleted.contains(*id))
            .cloned();
        if let Some(victim) = victim.filter(|_| page % 2 == 0) {
            assert_eq!(app.delete(&format!("/Users/{victim}")).status, 204);
            deleted.insert(victim);
        }
        for k in 0..2 {
            created.insert(user(&app, &format!("new{page}-{k}"), None));
        }
    });
    let all: Vec<String> = pages.concat();
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a user was repeated");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "the walk is in id order");
    for id in &before {
        if !deleted.contains(id) {
            assert!(
                unique.contains(id),
                "{id} existed throughout and was skipped"
            );
        }
    }
    for id in &all {
        assert!(before.contains(id) || created.contains(id));
    }
}

#[test]
fn previous_cursor_walks_back_to_the_page_before() {
    let app = TestApp::spawn();
    for i in 0..10 {
        user(&app, &format!("u{i}"), None);
    }
    let page = |cursor: &str| {
        let r = app.get(&format!(
            "/Users?sortBy=userName&count=3&cursor={}",
            urlencode(cursor)
        ));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    };
    let first = page("");
    assert!(first.get("previousCursor").is_none());
    let second = page(first["nextCursor"].as_str().unwrap());
    let third = page(second["nextCursor"].as_str().unwrap());
    let back = page(third["previousCursor"].as_str().unwrap());
    assert_eq!(ids(&back), ids(&second));
    let start = page(back["previousCursor"].as_str().unwrap());
    assert_eq!(ids(&start), ids(&first));
    assert!(
        start.get("previousCursor").is_none(),
        "nothing precedes the first page"
    );
    assert_eq!(
        ids(&page(start["nextCursor"].as_str().unwrap())),
        ids(&second)
    );
    let last = page(
        page(third["nextCursor"].as_str().unwrap())["previousCursor"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(ids(&last), ids(&third));
    assert_eq!(third["totalResults"], 10);
    assert_eq!(third["itemsPerPage"], 3);
}

#[test]
fn a_tampered_or_foreign_cursor_is_400_invalid_cursor() {
    let app = TestApp::spawn();
    for i in 0..4 {
        user(&app, &format!("u{i}"), None);
    }
    app.create_group("g1", &[]);
    app.create_group("g2", &[]);
    let r = app.get("/Users?count=1&cursor=");
    let cursor = r.body["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    tampered.insert(3, 'x');
    for bad in ["zzz", "%21%21", tampered.as_str(), "eyJxIjoiMCJ9"] {
        app.get(&format!("/Users?cursor={bad}"))
            .assert_scim_error(400, Some("invalidCursor"));
    }
    // A cursor belongs to its endpoint, filter and sort.
    for other in [
        "/Groups?",
        "/Users?sortBy=userName&",
        "/Users?filter=userName%20pr&",
    ] {
        app.get(&format!("{other}cursor={cursor}"))
            .assert_scim_error(400, Some("invalidCursor"));
    }
    app.get(&format!("/Users?cursor={cursor}&startIndex=2"))
        .assert_scim_error(400, Some("invalidValue"));
    app.get("/Users?cursor=&startIndex=1")
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn search_posts_page_by_cursor_and_sort_in_the_body() {
    let app = TestApp::spawn();
    for name in ["c", "a", "b"] {
        user(&app, name, None);
    }
    let search = |body: Value| {
        let r = app.post("/Users/.search", &body);
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    };
    let schema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    let first =
        search(json!({"schemas": [schema], "sortBy": "userName", "count": 2, "cursor": ""}));
    assert_eq!(field(&first, "userName"), ["a", "b"]);
    let next = first["nextCursor"].as_str().unwrap();
    let second =
        search(json!({"schemas": [schema], "sortBy": "userName", "count": 2, "cursor": next}));
    assert_eq!(field(&second, "userName"), ["c"]);
    assert!(second.get("nextCursor").is_none());
    // The root search sorts each type by itself and pages by index only.
    let r = app.post(
        "/.search",
        &json!({"schemas": [schema], "sortBy": "userName", "sortOrder": "descending"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(field(&r.body, "userName"), ["c", "b", "a"]);
    app.post("/.search", &json!({"schemas": [schema], "cursor": ""}))
        .assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn count_zero_with_a_cursor_returns_only_the_total() {
    let app = TestApp::spawn();
    user(&app, "a", None);
    let r = app.get("/Users?cursor=&count=0");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert!(r.body.get("nextCursor").is_none());
}

/// Creates `n` users through `/Bulk`, 1000 per request.
fn bulk_users(app: &TestApp, n: usize) {
    for start in (0..n).step_by(1000) {
        let ops: Vec<Value> = (start..n.min(start + 1000))
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                       "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": format!("bulk{i}")}})
            })
            .collect();
        let r = app.post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": ops}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        for result in r.body["Operations"].as_array().unwrap() {
            assert_eq!(result["status"], "201", "{result}");
        }
    }
}

/// Every id, in list order, from a cursor walk.
fn all_ids(app: &TestApp) -> Vec<String> {
    walk(app, "attributes=id", 500, &mut |_| {})
        .concat()
        .into_iter()
        .collect()
}

/// Checks `startIndex` pages at and past the depth where roster seeks (1000) against
/// the cursor walk's order, and their totalResults.
fn check_index_pages(app: &TestApp, order: &[String]) {
    let n = order.len();
    for start in [
        1,
        998,
        999,
        1000,
        1001,
        1002,
        1033,
        n - 1,
        n,
        n + 1,
        n + 500,
    ] {
        let r = app.get(&format!("/Users?attributes=id&count=7&startIndex={start}"));
        assert_eq!(r.status, 200, "{}", r.text);
        let want = &order[(start - 1).min(n)..(start - 1 + 7).min(n)];
        assert_eq!(ids(&r.body), want, "startIndex={start}");
        assert_eq!(r.body["totalResults"], n, "startIndex={start}");
        assert_eq!(r.body["startIndex"], start, "startIndex={start}");
        assert_eq!(r.body["itemsPerPage"], want.len(), "startIndex={start}");
    }
    // count=0 asks for the total alone, however deep.
    let r = app.get("/Users?count=0&startIndex=1500");
    assert_eq!(r.body["totalResults"], n, "{}", r.text);
    assert_eq!(ids(&r.body), Vec::<String>::new());
}

#[test]
fn deep_start_index_pages_follow_the_id_order_and_count_every_user() {
    let app = TestApp::spawn();
    bulk_users(&app, 1040);
    let order = all_ids(&app);
    assert_eq!(order.len(), 1040);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "id order");
    check_index_pages(&app, &order);
    // Deletes move every later page, and the count, at once.
    let mut order = order;
    for gone in [order[0].clone(), order[500].clone(), order[1001].clone()] {
        assert_eq!(app.delete(&format!("/Users/{gone}")).status, 204);
        order.retain(|id| *id != gone);
    }
    app.create_user("late");
    let order = all_ids(&app);
    assert_eq!(order.len(), 1038);
    check_index_pages(&app, &order);
    // A filter is counted row by row: same total when it matches everyone.
    let r = app.get("/Users?filter=userName%20pr&count=0");
    assert_eq!(r.body["totalResults"], 1038, "{}", r.text);
    // Another tenant's users are not counted here, nor these there.
    let (base, token) = app.add_tenant("other");
    let r = app.raw(
        "GET",
        &format!("{base}/Users?startIndex=1001"),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
        None,
    );
    assert_eq!(r.body["totalResults"], 0, "{}", r.text);
}
