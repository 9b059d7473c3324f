//! Read-only credentials on the SCIM API: read-only SCIM tokens, and API keys with the
//! `scim:read` scope. Both read resources; every write gets 403 with a SCIM error.

use serde_json::{json, Value};

use crate::browser::{csrf_of, Browser};
use crate::cli::{last_line, roster, stdout};
use crate::helpers::{patch_op, Resp, TestApp};

/// A request to the tenant's SCIM API with `credential`.
fn scim_as(
    app: &TestApp,
    credential: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Resp {
    app.raw(
        method,
        &format!("{}{path}", app.base),
        &[("Authorization", &format!("Bearer {credential}"))],
        body.map(Value::to_string).as_deref(),
        Some("application/scim+json"),
    )
}

fn new_user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

/// Every kind of SCIM write, each refused with 403, no `scimType` and a detail that
/// names `says`; the directory is unchanged afterwards.
fn every_write_is_refused(app: &TestApp, credential: &str, says: &str) {
    let alice = app.create_user("alice@example.com");
    let group = app.create_group("Engineering", &[&alice]);
    let before = app.count("SELECT count(*) AS n FROM users");
    let events = app.last_sequence();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": new_user("bulk@example.com")}],
    });
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/Users".into(), Some(new_user("bob@example.com"))),
        (
            "PUT",
            format!("/Users/{alice}"),
            Some(new_user("alice2@example.com")),
        ),
        (
            "PATCH",
            format!("/Users/{alice}"),
            Some(patch_op(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        ),
        ("DELETE", format!("/Users/{alice}"), None),
        (
            "PATCH",
            format!("/Groups/{group}"),
            Some(patch_op(json!([{"op": "remove", "path": "members"}]))),
        ),
        ("DELETE", format!("/Groups/{group}"), None),
        ("POST", "/Bulk".into(), Some(bulk)),
    ];
    for (method, path, body) in writes {
        let r = scim_as(app, credential, method, &path, body.as_ref());
        r.assert_scim_error(403, None);
        assert!(
            r.body.get("scimType").is_none(),
            "{method} {path}: {}",
            r.text
        );
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{method} {path}: {detail}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM users"), before);
    assert_eq!(app.member_ids(&group), std::slice::from_ref(&alice));
    assert_eq!(app.last_sequence(), events, "no event was written");

    // Reads, including a search sent as POST, work.
    let list = scim_as(app, credential, "GET", "/Users", None);
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["totalResults"], 1);
    let one = scim_as(app, credential, "GET", &format!("/Users/{alice}"), None);
    assert_eq!(one.body["userName"], "alice@example.com");
    let group_read = scim_as(app, credential, "GET", &format!("/Groups/{group}"), None);
    assert_eq!(group_read.status, 200, "{}", group_read.text);
    let search = scim_as(
        app,
        credential,
        "POST",
        "/Users/.search",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName eq \"alice@example.com\"",
        })),
    );
    assert_eq!(search.status, 200, "{}", search.text);
    assert_eq!(search.body["totalResults"], 1);
}

#[test]
fn a_read_only_scim_token_reads_resources_and_every_write_gets_403() {
    let app = TestApp::spawn();
    let created = app.api(
        "POST",
        "/scim-tokens",
        Some(&json!({"name": "audit", "read_only": true})),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["read_only"], true);
    let token = created.body["token"].as_str().unwrap().to_owned();

    every_write_is_refused(&app, &token, "read-only");

    // The usual token still writes, and says it may.
    app.create_user("carol@example.com");
    let tokens = app.api("GET", "/scim-tokens", None);
    let flags: Vec<&Value> = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["read_only"])
        .collect();
    assert_eq!(flags, [&json!(false), &json!(true)]);

    // A successor of a read-only token is read-only too.
    let id = created.body["id"].as_str().unwrap();
    let rotated = app.api("POST", &format!("/scim-tokens/{id}/rotate"), None);
    assert_eq!(rotated.body["read_only"], true, "{}", rotated.text);
    let successor = rotated.body["token"].as_str().unwrap();
    scim_as(
        &app,
        successor,
        "POST",
        "/Users",
        Some(&new_user("dan@example.com")),
    )
    .assert_scim_error(403, None);
}

#[test]
fn an_api_key_with_scim_read_reads_scim_resources_and_never_writes() {
    let app = TestApp::spawn();
    let key = |scopes: Value| {
        let r = app.api("POST", "/api-keys", Some(&json!({"scopes": scopes})));
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["key"].as_str().unwrap().to_owned()
    };
    let reader = key(json!(["scim:read"]));
    let events_only = key(json!(["events:read"]));

    every_write_is_refused(&app, &reader, "read-only");

    // Another scope does not read SCIM; admin implies scim:read but still only reads.
    scim_as(&app, &events_only, "GET", "/Users", None).assert_scim_error(403, None);
    assert_eq!(
        scim_as(&app, &app.api_key, "GET", "/Users", None).status,
        200
    );
    scim_as(
        &app,
        &app.api_key,
        "POST",
        "/Users",
        Some(&new_user("e@example.com")),
    )
    .assert_scim_error(403, None);

    // A key opens only its own tenant, and a revoked one nothing.
    let (other_base, _) = app.add_tenant("globex");
    let stranger = app.raw(
        "GET",
        &format!("{other_base}/Users"),
        &[("Authorization", &format!("Bearer {reader}"))],
        None,
        None,
    );
    assert_eq!(stranger.status, 401, "{}", stranger.text);
    let listed = app.api("GET", "/api-keys", None);
    let id = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["scim:read"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.api("DELETE", &format!("/api-keys/{id}"), None).status,
        204
    );
    assert_eq!(scim_as(&app, &reader, "GET", "/Users", None).status, 401);

    // read_only is for tokens; keys have scopes.
    let refused = app.api("POST", "/api-keys", Some(&json!({"read_only": true})));
    refused.assert_scim_error(400, Some("invalidValue"));
}

#[test]
fn the_cli_and_the_credentials_screen_make_read_only_tokens() {
    let app = TestApp::spawn();
    let created = stdout(&roster(
        &app.db,
        &[
            "token",
            "create",
            "acme",
            "--read-only",
            "--name",
            "reports",
        ],
    ));
    let token = last_line(&created).to_owned();
    scim_as(
        &app,
        &token,
        "POST",
        "/Users",
        Some(&new_user("a@example.com")),
    )
    .assert_scim_error(403, None);
    assert_eq!(scim_as(&app, &token, "GET", "/Users", None).status, 200);
    let listed = stdout(&roster(&app.db, &["token", "list", "acme"]));
    let line = listed.lines().find(|l| l.ends_with("reports")).unwrap();
    assert!(line.contains("read-only"), "{listed}");

    let mut owner = Browser::owner(&app, "acme");
    let page = owner.screen(&app, "acme", "credentials");
    assert!(page.text.contains(r#"name="read_only""#), "{}", page.text);
    let made = owner.post_form(
        &format!("{}/admin/acme/credentials/tokens", app.address),
        &csrf_of(&page),
        &[("name", "screen"), ("read_only", "on")],
    );
    assert_eq!(made.status, 200, "{}", made.text);
    let tokens = app.api("GET", "/scim-tokens", None);
    let screen = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "screen")
        .unwrap();
    assert_eq!(screen["read_only"], true, "{}", tokens.text);
}
