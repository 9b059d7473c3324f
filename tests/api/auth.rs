use serde_json::json;

use crate::helpers::TestApp;

#[test]
fn requests_without_a_valid_token_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn();
    let url = format!("{}/Users", app.base);
    for headers in [
        vec![],
        vec![("Authorization", "Bearer")],
        vec![("Authorization", "Bearer rst_not-a-real-token")],
        vec![("Authorization", "Basic dXNlcjpwYXNz")],
        vec![("Authorization", "rst_0000")],
    ] {
        let r = app.raw("GET", &url, &headers, None, None);
        r.assert_scim_error(401, None);
        assert!(
            r.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{headers:?}"
        );
    }
}

#[test]
fn a_token_in_the_query_string_is_ignored() {
    let app = TestApp::spawn();
    let r = app.raw(
        "GET",
        &format!("{}/Users?access_token={}", app.base, app.token),
        &[],
        None,
        None,
    );
    r.assert_scim_error(401, None);
}

#[test]
fn bearer_variants_identity_providers_send_are_accepted() {
    let app = TestApp::spawn();
    let url = format!("{}/Users", app.base);
    for value in [
        format!("Bearer {}", app.token),
        format!("bearer {}", app.token),
        app.token.clone(),
        format!("Bearer Bearer {}", app.token),
    ] {
        assert_eq!(
            app.raw("GET", &url, &[("Authorization", &value)], None, None)
                .status,
            200,
            "{value}"
        );
    }
}

#[test]
fn a_token_of_one_tenant_is_401_on_another_tenants_path() {
    let app = TestApp::spawn();
    let (other_base, other_token) = app.add_tenant("globex");
    let r = app.raw(
        "GET",
        &format!("{other_base}/Users"),
        &[("Authorization", &format!("Bearer {}", app.token))],
        None,
        None,
    );
    r.assert_scim_error(401, None);
    let r = app.raw(
        "GET",
        &format!("{}/Users", app.base),
        &[("Authorization", &format!("Bearer {other_token}"))],
        None,
        None,
    );
    r.assert_scim_error(401, None);
    let r = app.raw(
        "GET",
        &format!("{}/scim/v2/nosuch/Users", app.address),
        &[("Authorization", &format!("Bearer {}", app.token))],
        None,
        None,
    );
    r.assert_scim_error(401, None);
}

#[test]
fn a_revoked_token_is_refused_on_the_next_request() {
    let app = TestApp::spawn();
    assert_eq!(app.get("/Users").status, 200);
    let mut conn = app.store.connection().unwrap();
    let tokens = roster::service::tenants::list_tokens(&mut conn, "acme").unwrap();
    roster::service::tenants::revoke_token(
        &mut conn,
        "acme",
        &tokens[0].id,
        &roster::service::events::Actor::cli(),
    )
    .unwrap();
    app.get("/Users").assert_scim_error(401, None);
}

#[test]
fn tokens_are_stored_only_as_digests_and_record_last_use() {
    let app = TestApp::spawn();
    app.get("/Users");
    let mut conn = app.store.connection().unwrap();
    let tokens = roster::service::tenants::list_tokens(&mut conn, "acme").unwrap();
    assert_eq!(tokens.len(), 1);
    assert_ne!(tokens[0].token_hash, app.token);
    assert!(!tokens[0].token_hash.contains(&app.token[4..]));
    assert!(tokens[0].last_used_at.is_some());
    assert!(app
        .token
        .starts_with(&tokens[0].hint[..tokens[0].hint.len() - "…".len()]));
}

#[test]
fn another_tenants_resources_look_exactly_like_unknown_ones() {
    let app = TestApp::spawn();
    let (other_base, other_token) = app.add_tenant("globex");
    let auth = format!("Bearer {other_token}");
    let theirs = app.raw(
        "POST",
        &format!("{other_base}/Users"),
        &[("Authorization", &auth)],
        Some(&json!({"userName": "bjensen"}).to_string()),
        Some("application/scim+json"),
    );
    let their_id = theirs.body["id"].as_str().unwrap();
    let their_group = app.raw(
        "POST",
        &format!("{other_base}/Groups"),
        &[("Authorization", &auth)],
        Some(&json!({"displayName": "Eng"}).to_string()),
        Some("application/scim+json"),
    );
    let their_group_id = their_group.body["id"].as_str().unwrap();

    for (path, unknown) in [
        (
            format!("/Users/{their_id}"),
            "/Users/00000000-0000-0000-0000-000000000000",
        ),
        (
            format!("/Groups/{their_group_id}"),
            "/Groups/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        for method in ["GET", "DELETE"] {
            let foreign = app.call(method, &path, None);
            let missing = app.call(method, unknown, None);
            assert_eq!(foreign.status, 404);
            assert_eq!(foreign.text, missing.text);
        }
        let put = app.put(&path, &json!({"userName": "x", "displayName": "x"}));
        assert_eq!(put.status, 404);
    }
    // Same userName and displayName in this tenant are fine: uniqueness is per tenant.
    assert_eq!(
        app.post("/Users", &json!({"userName": "bjensen"})).status,
        201
    );
    assert_eq!(
        app.post("/Groups", &json!({"displayName": "Eng"})).status,
        201
    );
    // A member id from the other tenant cannot be linked.
    app.post(
        "/Groups",
        &json!({"displayName": "Ops", "members": [{"value": their_id}]}),
    )
    .assert_scim_error(400, Some("invalidValue"));
    // Lists and filters never see the other tenant.
    let r = app.get(&format!("/Users?filter=id%20eq%20%22{their_id}%22"));
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(app.get("/Users").body["totalResults"], 1);
    // And the other tenant still has its user, untouched.
    let r = app.raw(
        "GET",
        &format!("{other_base}/Users/{their_id}"),
        &[("Authorization", &auth)],
        None,
        None,
    );
    assert_eq!(r.body, theirs.body);
}

#[test]
fn a_token_revoked_through_the_api_is_refused_at_once_though_it_was_just_verified() {
    let app = TestApp::spawn();
    assert_eq!(app.get("/Users").status, 200);
    assert_eq!(app.get("/Users").status, 200); // now served from the verified-token cache
    let tokens = app.api("GET", "/scim-tokens", None).body;
    let id = tokens[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api("DELETE", &format!("/scim-tokens/{id}"), None)
            .status,
        204
    );
    app.get("/Users").assert_scim_error(401, None);
}

/// A revocation this process did not make (the CLI, another roster on the same
/// PostgreSQL) is seen once the cached verification is older than a second.
#[test]
fn a_token_revoked_behind_this_process_is_refused_within_a_second() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn();
    assert_eq!(app.get("/Users").status, 200);
    let mut conn = app.store.connection().unwrap();
    diesel::sql_query("UPDATE scim_tokens SET revoked_at = '2026-01-01T00:00:00.000Z'")
        .execute(&mut *conn)
        .unwrap();
    std::thread::sleep(
        roster::service::tenants::TokenCache::TTL + std::time::Duration::from_millis(100),
    );
    app.get("/Users").assert_scim_error(401, None);
}
