//! `roster backup` and `roster restore` (SQLite): a consistent copy while roster serves
//! under write load, and a restore that serves exactly that directory again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::{json, Value};

use crate::cli::{roster, stdout, Server};
use crate::helpers::TestDb;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// The directory a SQLite file holds, row by row: users, groups, memberships, role
/// grants and the event feed.
fn directory(file: &Path) -> Vec<String> {
    let mut c = SqliteConnection::establish(&format!("file:{}?mode=ro", file.display()))
        .expect("open the file");
    [
        "SELECT 'user ' || id || ' ' || user_name || ' ' || active AS line FROM users",
        "SELECT 'group ' || id || ' ' || display_name AS line FROM groups",
        "SELECT 'member ' || group_id || ' ' || member_id AS line FROM group_members",
        "SELECT 'grant ' || user_id || ' ' || role_id || ' ' || source AS line FROM user_role_grants",
        "SELECT 'event ' || tenant_id || ' ' || sequence || ' ' || type || ' ' || id AS line FROM events",
    ]
    .iter()
    .flat_map(|sql| {
        let mut lines: Vec<String> = diesel::sql_query(*sql)
            .load::<Line>(&mut c)
            .expect(sql)
            .into_iter()
            .map(|l| l.line)
            .collect();
        lines.sort();
        lines
    })
    .collect()
}

/// Every user a snapshot holds has its one `user.created` event, every member its
/// `group.member_added`, and each tenant's sequence has no gap: a copy of one instant.
fn assert_consistent(lines: &[String]) {
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    let events = |kind: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with("event ") && l.split(' ').nth(3) == Some(kind))
            .count()
    };
    assert_eq!(
        events("user.created"),
        count("user "),
        "one user.created per user"
    );
    assert_eq!(
        events("group.member_added"),
        count("member "),
        "one member_added per membership"
    );
    let mut sequences: Vec<i64> = lines
        .iter()
        .filter(|l| l.starts_with("event "))
        .map(|l| l.split(' ').nth(2).unwrap().parse().unwrap())
        .collect();
    sequences.sort();
    assert_eq!(
        sequences,
        (1..=sequences.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
}

fn scim(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}/scim/v2/default{path}", server.url);
    let request = ureq::request(method, &url)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/scim+json");
    let response = match body {
        Some(b) => request.send_string(&b.to_string()),
        None => request.call(),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    serde_json::from_str(&response.into_string().unwrap_or_default()).unwrap_or(Value::Null)
}

#[test]
fn a_backup_under_write_load_is_consistent_and_restores_to_the_same_directory() {
    let db = TestDb::new();
    if !db.runs_on(
        false,
        "an online copy of the SQLite file; PostgreSQL uses pg_dump",
    ) {
        return;
    }
    let database = Path::new(db.url.trim_start_matches("sqlite://")).to_owned();
    let backup = database.with_file_name("backup.db");
    let mut server = Server::start(&db);
    let token = server.token();
    let group = scim(
        &server,
        &token,
        "POST",
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"})),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Four IdP-like clients create users and add each to the group, until told to stop.
    let stop = AtomicBool::new(false);
    let written = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for client in 0..4 {
            let (server, token, group, stop, written) = (&server, &token, &group, &stop, &written);
            s.spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let user = scim(
                        server,
                        token,
                        "POST",
                        "/Users",
                        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                    "userName": format!("u{client}-{i}@example.com")})),
                    );
                    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}]});
                    scim(server, token, "PATCH", &format!("/Groups/{group}"), Some(add));
                    written.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        while written.load(Ordering::SeqCst) < 20 {
            std::thread::sleep(Duration::from_millis(10));
        }
        stdout(&roster(&db, &["backup", backup.to_str().unwrap()]));
        let during = written.load(Ordering::SeqCst);
        // The load goes on past the backup, so the copy was taken mid-stream.
        while written.load(Ordering::SeqCst) < during + 20 {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::SeqCst);
    });

    let saved = directory(&backup);
    assert_consistent(&saved);
    let users = saved.iter().filter(|l| l.starts_with("user ")).count();
    assert!(
        users >= 20,
        "the backup holds the writes before it: {users}"
    );
    assert!(
        directory(&database).len() > saved.len(),
        "writes went on after the backup"
    );
    assert!(
        !roster(&db, &["backup", backup.to_str().unwrap()])
            .status
            .success(),
        "a backup never overwrites a file"
    );

    // Not over a live database.
    let refused = roster(&db, &["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is using"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(server.terminate().0.success());

    let restored = stdout(&roster(&db, &["restore", backup.to_str().unwrap()]));
    assert!(restored.contains("kept as"), "{restored}");
    assert_eq!(
        directory(&database),
        saved,
        "the directory the backup holds"
    );
    // And served as such.
    let server = Server::start(&db);
    let listed = scim(&server, &token, "GET", "/Users?count=1", None);
    assert_eq!(listed["totalResults"], users);
    let members = scim(&server, &token, "GET", &format!("/Groups/{group}"), None);
    assert_eq!(
        members["members"].as_array().map_or(0, Vec::len),
        saved.iter().filter(|l| l.starts_with("member ")).count()
    );
}

#[test]
fn a_damaged_or_foreign_file_is_not_restored() {
    let db = TestDb::new();
    if !db.runs_on(false, "SQLite files") {
        return;
    }
    let database = Path::new(db.url.trim_start_matches("sqlite://")).to_owned();
    stdout(&roster(&db, &["migrate"]));
    let before = std::fs::read(&database).unwrap();
    let junk = database.with_file_name("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let empty = database.with_file_name("empty.db");
    SqliteConnection::establish(empty.to_str().unwrap()).unwrap();
    for file in [&junk, &empty] {
        let out = roster(&db, &["restore", file.to_str().unwrap()]);
        assert!(!out.status.success(), "{}", file.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable roster backup"));
    }
    assert_eq!(std::fs::read(&database).unwrap(), before, "left as it was");
}
