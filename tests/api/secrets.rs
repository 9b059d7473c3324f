//! Secrets at rest: what roster must use again is stored encrypted under a key from
//! configuration; a wrong or missing key stops it at start; rotation re-seals.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use roster::secrets::{key_id_of, new_key, KeyRing};
use roster::service::admin::{self, OidcSettings};
use roster::store::secrets::{all, Place};
use serde_json::json;

use crate::helpers::{TestApp, TestDb};

/// `roster ARGS` on `db` with exactly these keys (none inherited from the harness).
fn roster_with_keys(db: &TestDb, key: Option<&str>, old: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .args(args)
        .env("ROSTER_DATABASE_URL", &db.url)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env("ROSTER_LOG_LEVEL", "warn")
        .env("ROSTER_SECRETS_OLD_KEYS", old)
        .env_remove("ROSTER_SECRETS_KEY");
    if let Some(key) = key {
        command.env("ROSTER_SECRETS_KEY", key);
    }
    command.output().expect("roster runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn oidc_with_secret(secret: &str) -> OidcSettings {
    OidcSettings {
        issuer: "https://idp.example/".into(),
        client_id: "roster".into(),
        client_secret: Some(secret.into()),
        groups_claim: String::new(),
        expected_jc_org: None,
        group_roles: BTreeMap::new(),
        scopes: roster::service::admin::default_scopes(),
    }
}

/// An app with a webhook endpoint and an OIDC client secret; returns the endpoint's
/// id and its secret as shown once.
fn app_with_secrets(key: &str) -> (TestApp, String, String) {
    let key = key.to_owned();
    let app = TestApp::spawn_with(move |s| {
        s.secrets_key = Some(key);
        s.allow_private_webhook_urls = true;
    });
    let r = app.api(
        "POST",
        "/webhooks",
        Some(&json!({"url": "http://127.0.0.1:9/hook"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let mut conn = app.store.connection().unwrap();
    admin::set_oidc(
        &mut conn,
        "acme",
        &oidc_with_secret("client-s3cret"),
        "tests",
        &app.keys,
    )
    .unwrap();
    (app, id, secret)
}

fn stored(app: &TestApp) -> Vec<(Place, String)> {
    all(&mut app.store.connection().unwrap()).unwrap()
}

#[test]
fn webhook_and_client_secrets_are_stored_sealed_and_open_only_where_they_were_stored() {
    let key = new_key();
    let (app, id, secret) = app_with_secrets(&key);
    let rows = stored(&app);
    let places: Vec<&Place> = rows.iter().map(|(p, _)| p).collect();
    assert!(places
        .iter()
        .any(|p| matches!(p, Place::WebhookSecret { id: i, .. } if *i == id)));
    assert!(places
        .iter()
        .any(|p| matches!(p, Place::OidcClientSecret { .. })));
    assert!(places
        .iter()
        .any(|p| matches!(p, Place::Setting { key } if key == "session_secret")));
    let keys = KeyRing::new(&key, &[]).unwrap();
    for (place, value) in &rows {
        assert_eq!(
            key_id_of(value),
            Some(keys.current_id()),
            "{place:?}: {value}"
        );
        assert!(!value.contains("whsec_") && !value.contains("client-s3cret"));
        keys.open(value, &place.context())
            .expect("opens in its own place");
    }
    let (place, sealed) = rows
        .iter()
        .find(|(p, _)| matches!(p, Place::WebhookSecret { .. }))
        .unwrap();
    assert_eq!(keys.open(sealed, &place.context()).unwrap(), secret);
    // Moved to another row, a sealed value does not open there.
    let tenant_id = match place {
        Place::WebhookSecret { tenant_id, .. } => tenant_id.clone(),
        _ => unreachable!(),
    };
    let elsewhere = Place::OidcClientSecret { tenant_id };
    assert!(keys.open(sealed, &elsewhere.context()).is_err());

    // The sign-in still gets the secret it was given.
    let mut conn = app.store.connection().unwrap();
    let (_, oidc) = admin::oidc_settings(&mut conn, "acme", &app.keys).unwrap();
    assert_eq!(
        oidc.unwrap().client_secret.as_deref(),
        Some("client-s3cret")
    );
    // A rotated webhook secret keeps the old one sealed beside it.
    let r = app.api("POST", &format!("/webhooks/{id}/rotate-secret"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = stored(&app);
    let previous = rows
        .iter()
        .find(|(p, _)| matches!(p, Place::WebhookPreviousSecret { .. }))
        .expect("the rotated-out secret is kept");
    assert_eq!(
        keys.open(&previous.1, &previous.0.context()).unwrap(),
        secret
    );
}

#[test]
fn a_wrong_secrets_key_stops_roster_at_start_and_says_which_key_the_database_needs() {
    let key = new_key();
    let (app, _, _) = app_with_secrets(&key);
    let db_key = KeyRing::new(&key, &[]).unwrap();
    let wrong = new_key();
    let out = roster_with_keys(&app.db, Some(&wrong), "", &["serve"]);
    assert!(!out.status.success(), "served with a wrong key");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("sealed with (id {})", db_key.current_id()))
            && err.contains("secrets_key"),
        "{err}"
    );
    // The CLI refuses the same way before it touches a secret.
    let out = roster_with_keys(
        &app.db,
        Some(&wrong),
        "",
        &["admin", "oidc", "show", "acme"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(db_key.current_id()),
        "{}",
        stderr(&out)
    );
    // A key that is not 32 bytes of base64 is refused as such.
    let out = roster_with_keys(&app.db, Some("not-a-key"), "", &["serve"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("32 random bytes in base64"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn postgresql_refuses_to_start_without_a_configured_secrets_key() {
    let db = TestDb::new();
    if !db.runs_on(true, "SQLite makes its own key file beside the database") {
        return;
    }
    let out = roster_with_keys(&db, None, "", &["serve"]);
    assert!(!out.status.success(), "served without a key");
    let err = stderr(&out);
    assert!(
        err.contains("ROSTER_SECRETS_KEY") && err.contains("roster secrets new-key"),
        "{err}"
    );
}

#[test]
fn rotation_reseals_every_secret_under_the_new_key_and_the_old_key_can_then_go() {
    let old = new_key();
    let (app, id, secret) = app_with_secrets(&old);
    let new = new_key();
    // Before rotating, the new key alone does not open the database.
    assert!(
        !roster_with_keys(&app.db, Some(&new), "", &["admin", "oidc", "show", "acme"])
            .status
            .success()
    );
    let before = stored(&app).len();
    let out = roster_with_keys(&app.db, Some(&new), &old, &["secrets", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    // The webhook secret, the OIDC client secret, the session secret, the key check.
    assert!(
        said.starts_with(&format!("{before} secret(s) re-sealed")),
        "{said}"
    );

    let keys = KeyRing::new(&new, &[]).unwrap();
    for (place, value) in stored(&app) {
        assert!(keys.is_current(&value), "{place:?} still under the old key");
        let plain = keys.open(&value, &place.context()).unwrap();
        if matches!(place, Place::WebhookSecret { id: ref i, .. } if *i == id) {
            assert_eq!(plain, secret);
        }
        if matches!(place, Place::OidcClientSecret { .. }) {
            assert_eq!(plain, "client-s3cret");
        }
    }
    // The new key alone now serves, and a second rotation has nothing to do.
    let out = roster_with_keys(&app.db, Some(&new), "", &["admin", "oidc", "show", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = roster_with_keys(&app.db, Some(&new), "", &["secrets", "rotate"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("0 secret(s) re-sealed and 0 sealed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn secrets_stored_before_encryption_are_sealed_when_roster_starts() {
    let key = new_key();
    let (app, id, _) = app_with_secrets(&key);
    // As a database written by a roster before encryption holds them.
    use diesel::connection::SimpleConnection;
    app.store
        .connection()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE webhook_endpoints SET secret = 'whsec_plain' WHERE id = '{id}';
             UPDATE oidc_configs SET client_secret = 'plain-client-secret'"
        ))
        .unwrap();
    let out = roster_with_keys(&app.db, Some(&key), "", &["admin", "oidc", "show", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = KeyRing::new(&key, &[]).unwrap();
    let rows = stored(&app);
    for (place, value) in &rows {
        assert!(keys.is_current(value), "{place:?} left plain: {value}");
    }
    let webhook = rows
        .iter()
        .find(|(p, _)| matches!(p, Place::WebhookSecret { .. }))
        .unwrap();
    assert_eq!(
        keys.open(&webhook.1, &webhook.0.context()).unwrap(),
        "whsec_plain"
    );
    let oidc = rows
        .iter()
        .find(|(p, _)| matches!(p, Place::OidcClientSecret { .. }))
        .unwrap();
    assert_eq!(
        keys.open(&oidc.1, &oidc.0.context()).unwrap(),
        "plain-client-secret"
    );
}

#[test]
fn sqlite_keeps_its_generated_key_beside_the_database_readable_by_its_owner_only() {
    let app = TestApp::spawn();
    if !app
        .db
        .runs_on(false, "PostgreSQL takes a configured key only")
    {
        return;
    }
    let path = app.db.url.trim_start_matches("sqlite://").to_owned() + ".key";
    let meta = std::fs::metadata(&path).expect("the key file exists");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let from_file = KeyRing::new(&text, &[]).unwrap();
    assert_eq!(from_file.current_id(), app.keys.current_id());
    // The database alone (without the file) opens nothing: its key check names the key.
    let check = stored(&app)
        .into_iter()
        .find(|(p, _)| matches!(p, Place::Setting { key } if key == "secrets_key_check"))
        .unwrap();
    assert_eq!(key_id_of(&check.1), Some(from_file.current_id()));
}
