//! Off-boarding and pausing a customer: `roster tenant suspend|resume|delete`.

use std::time::{Duration, Instant};

use diesel::{QueryableByName, RunQueryDsl};
use roster::service::tenants;

use crate::cli::{roster, stdout};
use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// Every table with a `tenant_id` column, read from the database's own catalog, so a
/// table added later is checked too.
fn tenant_tables(app: &TestApp) -> Vec<String> {
    let sql = if app.db.is_postgres() {
        "SELECT table_name AS line FROM information_schema.columns \
         WHERE column_name = 'tenant_id' AND table_schema = current_schema()"
    } else {
        "SELECT m.name AS line FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND p.name = 'tenant_id'"
    };
    let mut conn = app.store.connection().unwrap();
    diesel::sql_query(sql)
        .load::<Line>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// `GET url` with another tenant's token.
fn get_as(app: &TestApp, url: &str, token: &str) -> crate::helpers::Resp {
    let bearer = format!("Bearer {token}");
    app.raw("GET", url, &[("Authorization", &bearer)], None, None)
}

fn tenant_id(app: &TestApp, slug: &str) -> String {
    let mut conn = app.store.connection().unwrap();
    tenants::tenant(&mut conn, slug).unwrap().id
}

/// Rows of tenant `id` in every tenant table.
fn rows_of(app: &TestApp, id: &str) -> i64 {
    tenant_tables(app)
        .iter()
        .map(|t| {
            app.count(&format!(
                "SELECT count(*) AS n FROM {t} WHERE tenant_id = '{id}'"
            ))
        })
        .sum()
}

#[test]
fn a_suspended_tenant_gets_403_from_scim_until_it_is_resumed_and_both_are_audited() {
    let app = TestApp::spawn();
    let (other_base, other_token) = app.add_tenant("other");
    assert_eq!(app.get("/Users").status, 200);
    let mut conn = app.store.connection().unwrap();
    tenants::set_suspended(&mut conn, "acme", true, "operator").unwrap();

    let refused = app.get("/Users");
    refused.assert_scim_error(403, None);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("suspended"),
        "{}",
        refused.text
    );
    let write = app.post(
        "/Users",
        &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"}),
    );
    write.assert_scim_error(403, None);
    let other = get_as(&app, &format!("{other_base}/Users"), &other_token);
    assert_eq!(other.status, 200, "another tenant is not suspended");

    tenants::set_suspended(&mut conn, "acme", false, "operator").unwrap();
    assert_eq!(app.get("/Users").status, 200);
    let id = tenant_id(&app, "acme");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM admin_audit_log WHERE tenant_id = '{id}' \
             AND action IN ('tenant.suspended', 'tenant.resumed')"
        )),
        2
    );
    assert!(tenants::set_suspended(&mut conn, "nosuch", true, "operator").is_err());
}

#[test]
fn deleting_a_tenant_needs_its_slug_twice_revokes_its_credentials_and_leaves_no_row_of_it() {
    let app = TestApp::spawn();
    let (other_base, other_token) = app.add_tenant("other");
    let ada = app.create_user("ada@example.com");
    app.create_group("Eng", &[&ada]);
    let id = tenant_id(&app, "acme");
    let other_id = tenant_id(&app, "other");
    assert!(rows_of(&app, &id) > 0);
    let others_before = rows_of(&app, &other_id);

    let unconfirmed = roster(&app.db, &["tenant", "delete", "acme", "--confirm", "acm"]);
    assert!(!unconfirmed.status.success());
    assert_eq!(app.get("/Users").status, 200, "nothing deleted");

    let out = stdout(&roster(
        &app.db,
        &["tenant", "delete", "acme", "--confirm", "acme"],
    ));
    assert!(out.contains("deleted tenant acme"), "{out}");
    assert_eq!(rows_of(&app, &id), 0, "no row of the tenant is left");
    // Counted before the other tenant sends anything: its own request adds rows
    // (its activation event, a sync-log row written in the background).
    assert_eq!(
        rows_of(&app, &other_id),
        others_before,
        "the other tenant keeps all"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM tenants WHERE id = '{id}'"
        )),
        0
    );
    // The API key is checked against the database on every request.
    assert_eq!(app.api("GET", "/roles", None).status, 401);
    // The SCIM token, by another process: within the documented second.
    let deadline = Instant::now() + Duration::from_secs(3);
    while app.get("/Users").status != 401 {
        assert!(Instant::now() < deadline, "the token still works");
        std::thread::sleep(Duration::from_millis(50));
    }
    let other = get_as(&app, &format!("{other_base}/Users"), &other_token);
    assert_eq!(other.status, 200);
}

#[test]
fn an_export_imported_into_an_empty_tenant_reproduces_its_directory_exactly() {
    let app = TestApp::spawn();
    let ada = app.create_user("ada@example.com");
    let bob = app.create_user("bob@example.com");
    let sub = app.create_group("Sub", &[&bob]);
    let eng = app.create_group("Eng", &[&ada]);
    let nest = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": sub}]}]});
    assert_eq!(app.patch(&format!("/Groups/{eng}"), &nest).status, 204);
    crate::roles::role(&app, "engineer", 10, false);
    crate::roles::role(&app, "owner", 1, true);
    crate::roles::map(&app, &eng, "engineer");
    let allow = serde_json::json!({"operations": [{"op": "set_manual_grants", "allowed": true}]});
    let r = app.api("POST", "/change-sets", Some(&allow));
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.api("PUT", &format!("/users/{bob}/manual-grants/owner"), None);
    assert_eq!(r.status, 200, "{}", r.text);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.json");
    let file = file.to_str().unwrap();
    stdout(&roster(
        &app.db,
        &["tenant", "export", "acme", "--output", file],
    ));
    let exported: tenants::TenantExport =
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(!text.contains(&app.token) && !text.contains("rst_") && !text.contains("rak_"));
    assert_eq!(exported.directory.users.len(), 2);
    assert!(
        exported.directory.grants.len() >= 2,
        "mapped and manual grants"
    );

    app.add_tenant("copy");
    let out = stdout(&roster(&app.db, &["tenant", "import", "copy", file]));
    assert!(out.contains("imported 2 users and 2 groups"), "{out}");
    let mut conn = app.store.connection().unwrap();
    let copy = tenants::export(&mut conn, "copy", "test").unwrap();
    // Compared as exported: the rows' own tenant ids are not part of an export.
    assert_eq!(
        serde_json::to_value(&copy.directory).unwrap(),
        serde_json::to_value(&exported.directory).unwrap(),
        "the same directory, row for row"
    );

    // Served as such: the copy's SCIM users are the original's, ids and all.
    let (copy_base, copy_token) = (format!("{}/scim/v2/copy", app.address), {
        tenants::create_token(
            &mut conn,
            "copy",
            None,
            &roster::service::events::Actor::cli(),
        )
        .unwrap()
        .secret
    });
    let listed = get_as(&app, &format!("{copy_base}/Users/{ada}"), &copy_token);
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["userName"], "ada@example.com");

    let again = roster(&app.db, &["tenant", "import", "copy", file]);
    assert!(!again.status.success(), "only into an empty tenant");
    let id = tenant_id(&app, "copy");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM admin_audit_log WHERE tenant_id = '{id}' AND action = 'tenant.imported'"
        )),
        1
    );
}

#[test]
fn a_write_racing_a_tenant_deleted_by_another_process_is_refused_without_a_5xx() {
    let app = TestApp::spawn();
    assert_eq!(app.get("/Users").status, 200, "the token is now cached");
    // As another process deletes it: no revocation reaches this process's cache.
    let mut conn = app.store.connection().unwrap();
    diesel::sql_query("DELETE FROM tenants WHERE slug = 'acme'")
        .execute(&mut *conn)
        .unwrap();
    let write = app.post(
        "/Users",
        &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "late"}),
    );
    assert!(
        matches!(write.status, 401 | 404),
        "{}: {}",
        write.status,
        write.text
    );
    let read = app.get("/Users");
    assert!(matches!(read.status, 200 | 401 | 404), "{}", read.status);
}
