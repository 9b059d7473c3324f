//! The group-commit write path: writes queued behind a busy writer commit as one batch,
//! yet answer exactly as if each had run alone; a failure or a panic undoes one use case
//! only; a killed roster loses nothing it acknowledged and keeps nothing half-done.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use roster::service::tenants;
use roster::store::{Store, StoreError};
use serde_json::{json, Value};

use crate::helpers::{metric, patch_op, TestApp};

/// Holds the writer that works on `key` until the returned sender is used or dropped.
fn hold_writer(store: &Store, key: &str) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (store, key) = (store.clone(), key.to_owned());
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime
            .block_on(store.write_for(&key, move |_| {
                started_tx.send(()).unwrap();
                let _ = release_rx.recv();
                Ok::<_, StoreError>(())
            }))
            .unwrap();
    });
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the writer runs the holding job");
    (release_tx, handle)
}

/// Waits until `n` writes are queued.
fn wait_for_queue(store: &Store, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.pipeline_stats().1 < n {
        assert!(Instant::now() < deadline, "{n} writes never queued");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `requests` at once behind a held writer, releases it when all are queued, and
/// returns each request's answer in the order given.
fn as_one_batch(app: &TestApp, requests: Vec<(&str, String, Option<Value>)>) -> Vec<(u16, Value)> {
    let (release, holder) = hold_writer(&app.store, "acme");
    let before = batches_of_at_least(&app.store, requests.len());
    let answers = std::thread::scope(|s| {
        let threads: Vec<_> = requests
            .iter()
            .map(|(method, path, body)| {
                s.spawn(move || {
                    let r = app.call(method, path, body.as_ref());
                    (r.status, r.body)
                })
            })
            .collect();
        wait_for_queue(&app.store, requests.len());
        release.send(()).unwrap();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    holder.join().unwrap();
    assert_eq!(
        batches_of_at_least(&app.store, requests.len()),
        before + 1,
        "the queued writes committed as one batch"
    );
    answers
}

/// How many batches so far held at least `n` use cases (by the histogram's buckets).
fn batches_of_at_least(store: &Store, n: usize) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let (stats, _) = store.pipeline_stats();
    let first = roster::store::BATCH_BUCKETS
        .iter()
        .position(|&b| b as usize >= n)
        .unwrap_or(roster::store::BATCH_BUCKETS.len());
    // The bucket holding `n` also holds smaller batches; `n` is its upper bound here.
    stats.sizes[first..].iter().map(|c| c.load(Relaxed)).sum()
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

fn sequences_are_gapless(app: &TestApp) {
    let sequences: Vec<i64> = app
        .events_after(0)
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
}

/// A loaded CI machine must not split the queued writes over two batches.
fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.write_batch_budget_ms = 10_000)
}

#[test]
fn a_failing_use_case_in_a_batch_undoes_only_itself() {
    let app = spawn();
    app.create_user("warm-up"); // the tenant's first request activates it
    let answers = as_one_batch(
        &app,
        vec![
            ("POST", "/Users".into(), Some(user("alice@example.com"))),
            (
                "PATCH",
                "/Users/no-such-id".into(),
                Some(patch_op(
                    json!([{"op": "replace", "path": "title", "value": "x"}]),
                )),
            ),
            (
                "POST",
                "/Users".into(),
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})),
            ),
            ("POST", "/Users".into(), Some(user("carol@example.com"))),
        ],
    );
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, vec![201, 404, 400, 201]);
    for (name, (_, body)) in [
        ("alice@example.com", &answers[0]),
        ("carol@example.com", &answers[3]),
    ] {
        let id = body["id"].as_str().unwrap();
        let r = app.get(&format!("/Users/{id}"));
        assert_eq!((r.status, r.body["userName"].as_str()), (200, Some(name)));
    }
    let r = app.get("/Users?count=0");
    assert_eq!(r.body["totalResults"], 3);
    sequences_are_gapless(&app);
}

#[test]
fn two_creates_of_one_user_name_in_one_batch_make_one_user_and_one_conflict() {
    let app = spawn();
    app.create_user("warm-up");
    let answers = as_one_batch(
        &app,
        vec![
            ("POST", "/Users".into(), Some(user("bjensen@example.com"))),
            ("POST", "/Users".into(), Some(user("BJensen@example.com"))),
        ],
    );
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, vec![201, 409]);
    let conflict = answers.iter().find(|(s, _)| *s == 409).unwrap();
    assert_eq!(conflict.1["scimType"], "uniqueness");
    let r = app.get("/Users?filter=userName%20eq%20%22bjensen@example.com%22");
    assert_eq!(r.body["totalResults"], 1);
    sequences_are_gapless(&app);
}

#[test]
fn if_match_races_in_one_batch_let_exactly_one_write_win() {
    let app = spawn();
    let id = app.create_user("racer@example.com");
    let etag = app.get(&format!("/Users/{id}")).body["meta"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let (release, holder) = hold_writer(&app.store, "acme");
    let statuses = std::thread::scope(|s| {
        let threads: Vec<_> = (0..5)
            .map(|i| {
                let (app, id, etag) = (&app, &id, &etag);
                s.spawn(move || {
                    let mut body = user("racer@example.com");
                    body["title"] = json!(format!("writer {i}"));
                    app.raw(
                        "PUT",
                        &format!("{}/Users/{id}", app.base),
                        &[
                            ("Authorization", &format!("Bearer {}", app.token)),
                            ("If-Match", etag),
                        ],
                        Some(&body.to_string()),
                        Some("application/scim+json"),
                    )
                    .status
                })
            })
            .collect();
        wait_for_queue(&app.store, 5);
        release.send(()).unwrap();
        let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        statuses.sort();
        statuses
    });
    holder.join().unwrap();
    assert_eq!(statuses, vec![200, 412, 412, 412, 412]);
    let version = app.get(&format!("/Users/{id}")).body["meta"]["version"].clone();
    assert_eq!(version, json!("W/\"2\""), "one write, one version bump");
}

type UseCase = Box<
    dyn FnOnce(&mut roster::store::DbConnection) -> Result<(), roster::service::ServiceError>
        + Send,
>;

#[test]
fn a_use_case_that_panics_rolls_back_alone_and_the_writer_goes_on() {
    let app = spawn();
    let (release, holder) = hold_writer(&app.store, "");
    let run = |f: UseCase| {
        let store = app.store.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap()
                .block_on(store.write(f))
        })
    };
    let first = run(Box::new(|c| {
        tenants::create_tenant(c, "first", None).map(drop)
    }));
    let panics = run(Box::new(|c| {
        tenants::create_tenant(c, "doomed", None)?;
        panic!("a bug in a use case");
    }));
    let last = run(Box::new(|c| {
        tenants::create_tenant(c, "last", None).map(drop)
    }));
    wait_for_queue(&app.store, 3);
    release.send(()).unwrap();
    holder.join().unwrap();
    assert!(first.join().unwrap().is_ok());
    assert!(matches!(
        panics.join().unwrap(),
        Err(roster::service::ServiceError::Store(StoreError::Panicked))
    ));
    assert!(last.join().unwrap().is_ok());
    let mut conn = app.store.connection().unwrap();
    assert!(tenants::tenant(&mut conn, "first").is_ok());
    assert!(tenants::tenant(&mut conn, "doomed").is_err());
    assert!(tenants::tenant(&mut conn, "last").is_ok());
    // The writer survived: a later write commits.
    assert_eq!(app.post("/Users", &user("after@example.com")).status, 201);
}

#[test]
fn a_full_write_queue_answers_503_with_retry_after_at_once() {
    let app = TestApp::spawn_with(|s| s.write_queue_capacity = 2);
    app.create_user("warm-up");
    let (release, holder) = hold_writer(&app.store, "acme");
    let app = &app;
    std::thread::scope(|s| {
        let queued: Vec<_> = (0..2)
            .map(|i| {
                s.spawn(move || {
                    app.post("/Users", &user(&format!("q{i}@example.com")))
                        .status
                })
            })
            .collect();
        wait_for_queue(&app.store, 2);
        let started = Instant::now();
        let r = app.post("/Users", &user("overflow@example.com"));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused at once"
        );
        r.assert_scim_error(503, None);
        assert!(r.header("retry-after").is_some());
        release.send(()).unwrap();
        for q in queued {
            assert_eq!(q.join().unwrap(), 201);
        }
    });
    holder.join().unwrap();
}

/// SIGKILL during a 32-client burst of creates and member adds, as an IdP's first sync
/// sends them: every acknowledged write is there after a restart, every committed user
/// has exactly one `user.created` and every committed membership one `group.member_added`,
/// and the event sequence has no gaps.
#[test]
fn killing_roster_during_a_burst_loses_nothing_acknowledged_and_keeps_nothing_half_done() {
    use crate::cli::Server;
    use crate::helpers::TestDb;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    const CLIENTS: usize = 32;
    let db = TestDb::new();
    let mut server = Server::start(&db);
    let token = server.token();
    let base = format!("{}/scim/v2/default", server.url);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let send = |agent: &ureq::Agent, method: &str, path: &str, body: &Value| {
        agent
            .request(method, &format!("{base}{path}"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/scim+json")
            .send_string(&body.to_string())
            .ok()
            .and_then(|r| r.into_string().ok())
            .map(|text| serde_json::from_str::<Value>(&text).unwrap_or(Value::Null))
    };
    let group = send(
        &agent,
        "POST",
        "/Groups",
        &json!({"displayName": "Everyone"}),
    )
    .unwrap();
    let group = group["id"].as_str().unwrap().to_owned();
    let (users, members) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..CLIENTS {
            let (send, users, members, stop, group) = (&send, &users, &members, &stop, &group);
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(10))
                    .build();
                for i in 0.. {
                    let Some(created) = send(
                        &agent,
                        "POST",
                        "/Users",
                        &user(&format!("w{w}-{i}@example.com")),
                    ) else {
                        return;
                    };
                    let id = created["id"].as_str().unwrap().to_owned();
                    users.lock().unwrap().push(id.clone());
                    let add = patch_op(
                        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
                    );
                    if send(
                        &agent,
                        "PATCH",
                        &format!("/Groups/{group}?excludedAttributes=members"),
                        &add,
                    )
                    .is_none()
                    {
                        return;
                    }
                    members.lock().unwrap().push(id);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            });
        }
        // Kill once the burst has committed batches of several writes.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let metrics = agent
                .get(&format!("{}/metrics", server.url))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
            let single = metric(&metrics, "roster_write_batch_size_bucket{le=\"1\"}");
            let all = metric(&metrics, "roster_write_batch_size_count");
            if all - single >= 20 && users.lock().unwrap().len() >= 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no multi-write batches: {metrics}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server.kill();
        stop.store(true, Ordering::Relaxed);
    });

    let store = db.store();
    let mut conn = store.connection().unwrap();
    let tenant = tenants::tenant(&mut conn, "default").unwrap();
    let tenant = roster::store::TenantId(tenant.id);
    let mut events = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(0, |e: &Value| e["sequence"].as_i64().unwrap());
        let page = roster::service::events::feed(&mut conn, &tenant, after, 500, &[]).unwrap();
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
    let mut created: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "user.created")
        .map(|e| e["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    created.sort();
    let mut stored =
        roster::store::roles::user_ids_after(&mut conn, &tenant, None, 1_000_000).unwrap();
    stored.sort();
    assert_eq!(
        created, stored,
        "one user.created per committed user, and no other"
    );
    let acked = users.into_inner().unwrap();
    assert!(
        acked.iter().all(|id| stored.binary_search(id).is_ok()),
        "no acknowledged create is lost"
    );

    // Restarted, roster serves the same directory: every acknowledged member is there.
    let restarted = Server::start(&db);
    let r = agent
        .get(&format!("{}/scim/v2/default/Groups/{group}", restarted.url))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let body: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    let mut in_group: Vec<String> = body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    in_group.sort();
    let mut added: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "group.member_added")
        .map(|e| e["data"]["member"]["id"].as_str().unwrap().to_owned())
        .collect();
    added.sort();
    assert_eq!(
        added, in_group,
        "one group.member_added per committed member, and no other"
    );
    for id in members.into_inner().unwrap() {
        assert!(
            in_group.binary_search(&id).is_ok(),
            "acknowledged member {id} is lost"
        );
    }
    assert!(
        in_group.iter().all(|id| stored.binary_search(id).is_ok()),
        "no member without its user"
    );
    assert!(acked.len() >= 200, "the burst got going: {}", acked.len());
    drop(restarted);
}

/// Runs `f` as a retryable write of tenant `acme` on its own thread.
fn retryable_write<T: Send + 'static>(
    store: &Store,
    f: impl FnMut(&mut roster::store::DbConnection) -> Result<T, StoreError> + Send + 'static,
) -> std::thread::JoinHandle<Result<T, StoreError>> {
    let store = store.clone();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(store.write_retryable_for("acme", f))
    })
}

/// A retryable write of `acme` that runs `first`, then holds its batch open until the
/// returned sender is used or dropped; returns once `first` has run.
fn hold_retryable(
    store: &Store,
    mut first: impl FnMut(&mut roster::store::DbConnection) -> Result<(), StoreError> + Send + 'static,
) -> (
    mpsc::Sender<()>,
    std::thread::JoinHandle<Result<(), StoreError>>,
) {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let held = retryable_write(store, move |c| {
        first(c)?;
        let _ = started_tx.send(());
        let _ = release_rx.lock().unwrap().recv();
        Ok(())
    });
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the held write runs");
    (release_tx, held)
}

/// On PostgreSQL with `write_writers_per_tenant = 2`, a tenant's burst is written by two
/// writers at once: a SCIM write commits while another batch of the same tenant is
/// still running.
#[test]
fn on_postgresql_two_batches_of_one_tenant_run_side_by_side() {
    let app = TestApp::spawn_with(|s| s.write_writers_per_tenant = 2);
    if !app.db.runs_on(true, "SQLite has one writer") {
        return;
    }
    let (release_tx, held) = hold_retryable(&app.store, |_| Ok(()));
    assert_eq!(app.post("/Users", &user("beside@example.com")).status, 201);
    release_tx.send(()).unwrap();
    held.join().unwrap().unwrap();
}

/// Runs two retryable writes of `acme` as two batches side by side: each runs
/// `step(first)`, waits on its first attempt until the other has run its own first step
/// (or 10 s pass, so a test fails on its assertions instead of hanging), then runs
/// `step(second)`. Returns each write's attempts, sorted, and the reruns this counted.
fn crossing_writes<S>(app: &TestApp, step: S, a: [&str; 2], b: [&str; 2]) -> ([u32; 2], u64)
where
    S: Fn(&mut roster::store::DbConnection, &str) -> Result<(), StoreError>
        + Clone
        + Send
        + 'static,
{
    use std::sync::{Arc, Condvar, Mutex};
    let both_stepped = Arc::new((Mutex::new(0), Condvar::new()));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let crossing = |[first, second]: [&str; 2]| {
        let (first, second) = (first.to_owned(), second.to_owned());
        let (both_stepped, step) = (both_stepped.clone(), step.clone());
        let started = Mutex::new(started_tx.clone());
        let mut attempts = 0;
        move |c: &mut roster::store::DbConnection| {
            attempts += 1;
            let _ = started.lock().unwrap().send(());
            step(c, &first)?;
            if attempts == 1 {
                let (arrived, wake) = &*both_stepped;
                let mut n = arrived.lock().unwrap();
                *n += 1;
                wake.notify_all();
                let _ = wake
                    .wait_timeout_while(n, Duration::from_secs(10), |n| *n < 2)
                    .unwrap();
            }
            step(c, &second)?;
            Ok(attempts)
        }
    };
    let reruns = || {
        let stats = app.store.pipeline_stats().0;
        stats.reruns.load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = reruns();
    let first = retryable_write(&app.store, crossing(a));
    // Running before the second is queued, so they are two batches.
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the first write runs");
    let second = retryable_write(&app.store, crossing(b));
    let mut attempts = [
        first.join().unwrap().unwrap(),
        second.join().unwrap().unwrap(),
    ];
    attempts.sort();
    (attempts, reruns() - before)
}

fn acme(app: &TestApp) -> roster::store::TenantId {
    let mut conn = app.store.connection().unwrap();
    roster::store::TenantId(tenants::tenant(&mut conn, "acme").unwrap().id)
}

/// Two batches of one tenant locking two groups in opposite orders: PostgreSQL fails
/// one statement to break the deadlock, and that use case runs again once its batch
/// has committed, so both succeed and the client never sees the race.
#[test]
fn a_write_that_loses_a_deadlock_to_a_batch_beside_it_runs_again_and_succeeds() {
    let app = TestApp::spawn_with(|s| s.write_writers_per_tenant = 2);
    if !app
        .db
        .runs_on(true, "SQLite has one writer: no deadlock between batches")
    {
        return;
    }
    let g1 = app.create_group("One", &[]);
    let g2 = app.create_group("Two", &[]);
    let tenant = acme(&app);
    let lock_group = move |c: &mut roster::store::DbConnection, id: &str| {
        roster::store::groups::find_for_update(c, &tenant, id).map(drop)
    };
    let (attempts, reruns) = crossing_writes(&app, lock_group, [&g1, &g2], [&g2, &g1]);
    assert_eq!(attempts, [1, 2], "one ran once, the deadlock's loser twice");
    assert_eq!(reruns, 1);
}

/// A guarded write that waits for the guard's lock while a batch beside it holds a
/// change reads the held queue under the lock, and queues behind that change instead of
/// applying (the user stays active). Reading it before the lock missed the change.
#[test]
fn a_guarded_write_that_waited_for_the_guard_queues_behind_a_change_held_meanwhile() {
    let Some((app, id)) = guarded_on_postgresql("waiting@example.com") else {
        return;
    };
    let tenant = acme(&app);
    let (release_tx, held) = hold_retryable(&app.store, move |c| {
        use roster::store::guard;
        guard::lock_guard(c, &tenant)?;
        guard::hold(
            c,
            guard::HeldRow {
                tenant_id: tenant.0.clone(),
                seq: 0,
                state: "pending".into(),
                origin: "scim".into(),
                resource_id: Some("someone-else".into()),
                label: "DELETE /Users/someone-else".into(),
                users: "[]".into(),
                request: "{}".into(),
                actor: "{}".into(),
                correlation_id: "held-beside".into(),
                held_at: "2026-12-08T00:00:00Z".into(),
                decided_at: None,
                decided_by: None,
                outcome: None,
            },
        )
        .map(drop)
    });
    std::thread::scope(|s| {
        // Dropped if the wait fails, which ends the held batch: no hang.
        let release_tx = release_tx;
        let deactivation = s.spawn(|| {
            app.patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
            )
        });
        wait_for_a_lock_wait(&app);
        release_tx.send(()).unwrap();
        // Held or applied, the client gets a success.
        assert_eq!(deactivation.join().unwrap().status, 200);
    });
    held.join().unwrap().unwrap();
    let user = app.get(&format!("/Users/{id}"));
    assert_eq!(user.status, 200, "{}", user.text);
    assert_ne!(
        user.body["active"], false,
        "queued behind the change held beside it, not applied"
    );
    let pending = app.api("GET", "/deprovisioning-guard", None).body["pending"].clone();
    assert_eq!(pending.as_array().map(Vec::len), Some(2), "{pending}");
}

/// On PostgreSQL, an app with two writers per tenant, the user `user_name` (its id is
/// returned), and the deprovisioning guard on with limits no single write reaches.
/// None on SQLite, which has one writer.
fn guarded_on_postgresql(user_name: &str) -> Option<(TestApp, String)> {
    let app = TestApp::spawn_with(|s| s.write_writers_per_tenant = 2);
    if !app.db.runs_on(true, "SQLite has one writer") {
        return None;
    }
    let id = app.create_user(user_name);
    let r = app.api(
        "PUT",
        "/deprovisioning-guard",
        Some(&json!({"enabled": true, "percent": 100, "max_users": 1000,
                     "min_users": 1, "window_minutes": 10})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    Some((app, id))
}

/// Returns once a session on this test's database waits for a lock (within 10 s, or
/// fails). Other tests share the server, so only this database's sessions count.
fn wait_for_a_lock_wait(app: &TestApp) {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.store.connection().unwrap();
    let q = roster::store::query::RawQuery::new(
        "SELECT COUNT(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while q.load::<Waiting>(&mut conn).unwrap()[0].n == 0 {
        assert!(
            Instant::now() < deadline,
            "no session came to wait for a lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Inserts a bare user row with the id (and userName) `id`.
fn insert_user(
    c: &mut roster::store::DbConnection,
    tenant: &roster::store::TenantId,
    id: &str,
) -> Result<(), StoreError> {
    let mut q = roster::store::query::RawQuery::new(
        "INSERT INTO users (tenant_id, id, user_name, user_name_folded, active, \
         attributes, version, created_at, updated_at) VALUES (",
    );
    q.text(tenant.0.clone())
        .sql(", ")
        .text(id)
        .sql(", ")
        .text(id)
        .sql(", ")
        .text(id)
        .sql(", TRUE, '{}', 1, '', '')");
    q.execute(c).map(drop)
}

/// Two batches of one tenant creating users in the same id buckets, in opposite orders:
/// each writer counts into its own shard of the bucket's row, so neither waits for the
/// other (before the shards, they deadlocked on the `row_counts` rows), and the totals
/// stay exact.
#[test]
fn two_batches_creating_users_in_the_same_buckets_do_not_wait_for_each_other() {
    let app = TestApp::spawn_with(|s| s.write_writers_per_tenant = 2);
    if !app.db.runs_on(true, "SQLite has one writer") {
        return;
    }
    let tenant = acme(&app);
    let insert_user =
        move |c: &mut roster::store::DbConnection, id: &str| insert_user(c, &tenant, id);
    let (attempts, reruns) = crossing_writes(
        &app,
        insert_user,
        ["aaa-first", "bbb-second"],
        ["bbb-first", "aaa-second"],
    );
    assert_eq!(
        (attempts, reruns),
        ([1, 1], 0),
        "no write waited or ran twice"
    );
    assert_eq!(app.get("/Users?count=0").body["totalResults"], 4);
    let mut q = roster::store::query::RawQuery::new(
        "SELECT COUNT(DISTINCT shard) AS n FROM row_counts WHERE tenant_id = ",
    );
    q.text(acme(&app).0);
    let mut conn = app.store.connection().unwrap();
    let shards = q.load::<roster::store::raw::Count>(&mut conn).unwrap()[0].n;
    assert_eq!(shards, 2, "one shard per batch, not one per writer thread");
}

/// A write that cannot run twice (here a bare `write_for`, like a change-set) has its
/// tenant to itself: with two writers per tenant it still waits for the batch beside.
#[test]
fn a_write_that_cannot_run_twice_waits_for_its_tenants_other_batch() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let app = TestApp::spawn_with(|s| s.write_writers_per_tenant = 2);
    if !app.db.runs_on(true, "SQLite has one writer") {
        return;
    }
    let (release_tx, held) = hold_retryable(&app.store, |_| Ok(()));
    let holding = Arc::new(AtomicBool::new(true));
    let once = {
        let (store, holding) = (app.store.clone(), holding.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap()
                .block_on(store.write_for("acme", move |_| {
                    Ok::<_, StoreError>(holding.load(Ordering::SeqCst))
                }))
        })
    };
    wait_for_queue(&app.store, 1);
    holding.store(false, Ordering::SeqCst);
    release_tx.send(()).unwrap();
    held.join().unwrap().unwrap();
    assert!(
        !once.join().unwrap().unwrap(),
        "it ran only after the other batch"
    );
}

/// Guarded writes take turns with each other only: beside a batch of the same tenant
/// that has inserted a user (and so holds a key share on the tenant's row), a
/// deactivation under the deprovisioning guard commits at once. It used to lock the
/// tenant's row, wait for that batch, and could deadlock with its event numbering.
#[test]
fn a_guarded_write_does_not_wait_for_a_batch_of_its_tenant_beside_it() {
    let Some((app, id)) = guarded_on_postgresql("guarded@example.com") else {
        return;
    };
    let tenant = acme(&app);
    let (release_tx, held) = hold_retryable(&app.store, move |c| {
        insert_user(c, &tenant, "beside@example.com")
    });
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = app.patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
            );
            let _ = done_tx.send(r.status);
        });
        let answered = done_rx.recv_timeout(Duration::from_secs(10));
        release_tx.send(()).unwrap();
        assert_eq!(answered, Ok(200), "answered while the other batch ran");
    });
    held.join().unwrap().unwrap();
    assert_eq!(app.get(&format!("/Users/{id}")).body["active"], false);
}
