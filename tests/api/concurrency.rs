//! Concurrent identity-provider pushes: no lost members, no mixed writes, one winner per
//! userName, never a 5xx. On PostgreSQL a second roster process shares the database.

use std::sync::Barrier;

use serde_json::json;

use crate::cli::Server;
use crate::helpers::{patch_op, TestApp};

/// The base URLs the threads spread their requests over: this app, plus a second
/// roster process on the same database when the backend is PostgreSQL.
fn bases(app: &TestApp) -> (Vec<String>, Option<Server>) {
    if !app.db.is_postgres() {
        return (vec![app.base.clone()], None);
    }
    let other = Server::start(&app.db);
    (
        vec![app.base.clone(), format!("{}/scim/v2/acme", other.url)],
        Some(other),
    )
}

fn send(
    app: &TestApp,
    base: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> crate::helpers::Resp {
    app.raw(
        method,
        &format!("{base}{path}"),
        &[("Authorization", &format!("Bearer {}", app.token))],
        Some(&body.to_string()),
        Some("application/scim+json"),
    )
}

#[test]
fn concurrent_member_adds_to_one_group_never_lose_a_member() {
    let app = TestApp::spawn();
    let (bases, other) = bases(&app);
    let users: Vec<String> = (0..24).map(|i| app.create_user(&format!("u{i}"))).collect();
    for round in 0..3 {
        let group = app.create_group(&format!("g{round}"), &[]);
        let barrier = Barrier::new(users.len());
        std::thread::scope(|s| {
            for (i, user) in users.iter().enumerate() {
                let (app, bases, barrier, group) = (&app, &bases, &barrier, &group);
                s.spawn(move || {
                    barrier.wait();
                    let body = patch_op(
                        json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
                    );
                    let r = send(
                        app,
                        &bases[i % bases.len()],
                        "PATCH",
                        &format!("/Groups/{group}?excludedAttributes=members"),
                        &body,
                    );
                    assert_eq!(r.status, 200, "{}", r.text);
                });
            }
        });
        let mut want = users.clone();
        want.sort();
        assert_eq!(app.member_ids(&group), want, "round {round}");
        let version = app.get(&format!("/Groups/{group}")).body["meta"]["version"].clone();
        assert_eq!(
            version,
            format!("W/\"{}\"", 1 + users.len()),
            "every add bumped the version once"
        );
    }
    drop(other.map(Server::terminate));
}

#[test]
fn concurrent_patches_of_one_user_never_mix_two_requests() {
    let app = TestApp::spawn();
    let (bases, other) = bases(&app);
    let id = app.create_user("bjensen");
    let writers = 16;
    let barrier = Barrier::new(writers);
    std::thread::scope(|s| {
        for i in 0..writers {
            let (app, bases, barrier, id) = (&app, &bases, &barrier, &id);
            s.spawn(move || {
                barrier.wait();
                let body = patch_op(json!([
                    {"op": "replace", "path": "displayName", "value": format!("writer {i}")},
                    {"op": "replace", "path": "title", "value": format!("writer {i}")},
                ]));
                let r = send(
                    app,
                    &bases[i % bases.len()],
                    "PATCH",
                    &format!("/Users/{id}"),
                    &body,
                );
                assert_eq!(r.status, 200, "{}", r.text);
            });
        }
    });
    let r = app.get(&format!("/Users/{id}"));
    assert_eq!(
        r.body["displayName"], r.body["title"],
        "one request's pair, never a mix"
    );
    assert_eq!(
        r.body["meta"]["version"],
        format!("W/\"{}\"", 1 + writers),
        "no update was lost"
    );
    drop(other.map(Server::terminate));
}

#[test]
fn concurrent_creates_of_one_user_name_in_any_case_give_one_201() {
    let app = TestApp::spawn();
    let (bases, other) = bases(&app);
    let spellings = ["JSmith", "jsmith", "JSMITH", "jSmith"];
    let contenders = 16;
    let barrier = Barrier::new(contenders);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..contenders)
            .map(|i| {
                let (app, bases, barrier) = (&app, &bases, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let body = json!({"userName": format!("{}@example.com", spellings[i % spellings.len()])});
                    let r = send(app, &bases[i % bases.len()], "POST", "/Users", &body);
                    if r.status == 409 {
                        assert_eq!(r.body["scimType"], "uniqueness", "{}", r.text);
                    }
                    r.status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        contenders - 1,
        "{statuses:?}"
    );
    assert_eq!(app.get("/Users").body["totalResults"], 1);
    drop(other.map(Server::terminate));
}

/// `totalResults` of a list, and of the same list through a filter every resource
/// matches (a filtered list counts its rows one by one; an unfiltered one reads the
/// tenant's counts, which triggers keep).
fn totals(app: &TestApp, endpoint: &str, everyone: &str) -> (i64, i64) {
    let plain = app.get(&format!("/{endpoint}?count=0"));
    let counted = app.get(&format!("/{endpoint}?count=0&filter={everyone}%20pr"));
    (
        plain.body["totalResults"].as_i64().expect("total"),
        counted.body["totalResults"].as_i64().expect("total"),
    )
}

#[test]
fn concurrent_creates_and_deletes_keep_the_counts_exact() {
    let app = TestApp::spawn();
    let (bases, other) = bases(&app);
    let writers = 16;
    let barrier = Barrier::new(writers);
    std::thread::scope(|s| {
        for i in 0..writers {
            let (app, bases, barrier) = (&app, &bases, &barrier);
            s.spawn(move || {
                let base = &bases[i % bases.len()];
                barrier.wait();
                let mut users = Vec::new();
                for j in 0..6 {
                    let r = send(
                        app,
                        base,
                        "POST",
                        "/Users",
                        &json!({"userName": format!("w{i}u{j}")}),
                    );
                    assert_eq!(r.status, 201, "{}", r.text);
                    users.push(r.body["id"].as_str().unwrap().to_owned());
                    let r = send(
                        app,
                        base,
                        "POST",
                        "/Groups",
                        &json!({"displayName": format!("w{i}g{j}")}),
                    );
                    assert_eq!(r.status, 201, "{}", r.text);
                    if j % 2 == 0 {
                        let id = r.body["id"].as_str().unwrap();
                        let r = send(app, base, "DELETE", &format!("/Groups/{id}"), &json!({}));
                        assert_eq!(r.status, 204, "{}", r.text);
                    }
                }
                for id in users.iter().step_by(2) {
                    let r = send(app, base, "DELETE", &format!("/Users/{id}"), &json!({}));
                    assert_eq!(r.status, 204, "{}", r.text);
                }
            });
        }
    });
    assert_eq!(totals(&app, "Users", "userName"), (48, 48));
    assert_eq!(totals(&app, "Groups", "displayName"), (48, 48));
    drop(other.map(Server::terminate));
}

/// The same at the table level, where the ids are chosen: every writer's rows land in
/// one bucket (ids starting `fff`), so on PostgreSQL concurrent transactions insert,
/// then update and decrement, the same counter row, starting from none.
#[test]
fn concurrent_writers_of_one_count_bucket_add_up_exactly() {
    use roster::store::query::RawQuery;
    use roster::store::raw::Count;
    let app = TestApp::spawn();
    let tenant: String = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        let mut conn = app.store.connection().unwrap();
        RawQuery::new("SELECT id FROM tenants WHERE slug = 'acme'")
            .load::<Id>(&mut conn)
            .unwrap()
            .remove(0)
            .id
    };
    let writers = 8;
    let per_writer = 12;
    let barrier = Barrier::new(writers);
    std::thread::scope(|s| {
        for w in 0..writers {
            let (app, barrier, tenant) = (&app, &barrier, &tenant);
            s.spawn(move || {
                let mut conn = app.store.connection().unwrap();
                barrier.wait();
                for k in 0..per_writer {
                    let id = format!("fff{w:05}-{k:04}");
                    let mut q = RawQuery::new(
                        "INSERT INTO users (tenant_id, id, user_name, user_name_folded, active, \
                         attributes, version, created_at, updated_at) VALUES (",
                    );
                    q.text(tenant.clone())
                        .sql(", ")
                        .text(id.clone())
                        .sql(", ")
                        .text(id.clone())
                        .sql(", ")
                        .text(id.clone())
                        .sql(", TRUE, '{}', 1, '', '')");
                    q.execute(&mut conn).unwrap();
                    if k % 3 == 0 {
                        let mut q = RawQuery::new("DELETE FROM users WHERE tenant_id = ");
                        q.text(tenant.clone()).sql(" AND id = ").text(id);
                        assert_eq!(q.execute(&mut conn).unwrap(), 1);
                    }
                }
            });
        }
    });
    let mut conn = app.store.connection().unwrap();
    let mut count = |sql: &str| {
        let mut q = RawQuery::new(sql);
        q.text(tenant.clone());
        q.load::<Count>(&mut conn).unwrap()[0].n
    };
    let rows = count("SELECT COUNT(*) AS n FROM users WHERE id LIKE 'fff%' AND tenant_id = ");
    let kept = count(
        "SELECT CAST(SUM(n) AS BIGINT) AS n FROM row_counts \
         WHERE bucket = 'fff' AND kind = 'users' AND tenant_id = ",
    );
    assert_eq!(rows, (writers * per_writer * 2 / 3) as i64);
    assert_eq!(kept, rows);
    drop(conn);
    assert_eq!(totals(&app, "Users", "userName"), (rows, rows));
}
