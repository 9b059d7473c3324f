//! S7 Roles, S8 the mapping editor and the change-set page, driven over HTTP by a
//! signed-in admin (spec §6.6).

use roster::service::admin::audit_log;
use serde_json::{json, Value};

use crate::browser::{csrf_of, Browser, Page};
use crate::helpers::TestApp;

/// A signed-in owner with the CSRF token of their session.
fn owner(app: &TestApp) -> (Browser, String) {
    let mut browser = Browser::owner(app, "acme");
    let page = browser.screen(app, "acme", "roles");
    let csrf = csrf_of(&page);
    (browser, csrf)
}

fn post(
    app: &TestApp,
    browser: &mut Browser,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    browser.post_form(&format!("{}/admin/acme/{path}", app.address), csrf, fields)
}

/// POSTs a form that must redirect (303) and returns the page it leads to.
fn submit(
    app: &TestApp,
    browser: &mut Browser,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let done = post(app, browser, csrf, path, fields);
    assert_eq!(done.status, 303, "POST {path}: {}", done.text);
    browser.follow(done.location.as_deref().expect("location"))
}

fn role(app: &TestApp, slug: &str, priority: i64, privileged: bool) {
    let r = app.api(
        "POST",
        "/roles",
        Some(&json!({"slug": slug, "priority": priority, "privileged": privileged})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

fn roles_of(app: &TestApp, user: &str) -> Vec<String> {
    let r = app.api("GET", &format!("/users/{user}/roles"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_owned())
        .collect()
}

/// The audit log, newest first, as (action, before, after).
fn audit(app: &TestApp) -> Vec<(String, Value, Value)> {
    let mut conn = app.store.connection().unwrap();
    let parse = |j: Option<String>| serde_json::from_str(j.as_deref().unwrap_or("null")).unwrap();
    audit_log(&mut conn, "acme")
        .unwrap()
        .into_iter()
        .map(|r| (r.action, parse(r.before_json), parse(r.after_json)))
        .collect()
}

/// The change-set id of a page at `/change-sets/{id}`.
fn change_set_id(page: &Page) -> String {
    page.url.rsplit('/').next().unwrap().to_owned()
}

/// The order of the roles' rows on the roles screen.
fn role_order(page: &Page, slugs: &[&str]) -> Vec<String> {
    let mut found: Vec<(usize, String)> = slugs
        .iter()
        .map(|s| {
            let at = page
                .text
                .find(&format!("id=\"role-{s}\""))
                .unwrap_or_else(|| panic!("role {s} listed"));
            (at, (*s).to_owned())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, s)| s).collect()
}

#[test]
fn roles_are_created_edited_reordered_and_listed() {
    let app = TestApp::spawn();
    let (mut browser, csrf) = owner(&app);

    submit(
        &app,
        &mut browser,
        &csrf,
        "roles",
        &[
            ("slug", "admin"),
            ("name", "Admin"),
            ("description", "Runs the place"),
            ("priority", "10"),
            ("privileged", "on"),
        ],
    );
    let page = submit(
        &app,
        &mut browser,
        &csrf,
        "roles",
        &[("slug", "member"), ("name", "Member"), ("priority", "")],
    );

    assert!(page.text.contains("Runs the place"), "{}", page.text);
    assert!(page
        .text
        .contains(r#"<span class="badge bad">privileged</span>"#));
    assert_eq!(role_order(&page, &["admin", "member"]), ["admin", "member"]);
    let listed = app.api("GET", "/roles/member", None);
    assert_eq!(listed.body["priority"], 20, "blank priority goes last");
    assert_eq!(listed.body["privileged"], false);

    let page = submit(
        &app,
        &mut browser,
        &csrf,
        "roles/admin",
        &[("name", "Administrator"), ("description", "Still runs it")],
    );
    assert!(page.text.contains("Administrator"), "{}", page.text);
    let admin = app.api("GET", "/roles/admin", None);
    assert_eq!(admin.body["name"], "Administrator");
    assert_eq!(admin.body["privileged"], false, "an unticked box clears it");

    let page = submit(
        &app,
        &mut browser,
        &csrf,
        "roles/member/move",
        &[("direction", "up")],
    );
    assert_eq!(role_order(&page, &["admin", "member"]), ["member", "admin"]);
    assert_eq!(app.api("GET", "/roles/member", None).body["priority"], 10);
    assert_eq!(app.api("GET", "/roles/admin", None).body["priority"], 20);

    let page = submit(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[
            ("mode", "highest_priority"),
            ("default_role", "member"),
            ("previewed", "1"),
        ],
    );
    assert!(page
        .text
        .contains(r#"<span class="badge good">default</span>"#));
    let settings = app.api("GET", "/role-settings", None).body;
    assert_eq!(settings["mode"], "highest_priority");
    assert_eq!(settings["default_role"], "member");

    submit(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[("mode", "union"), ("default_role", ""), ("previewed", "1")],
    );
    let settings = app.api("GET", "/role-settings", None).body;
    assert_eq!(settings["mode"], "union");
    assert_eq!(
        settings["default_role"],
        Value::Null,
        "none clears the default"
    );

    let page = submit(&app, &mut browser, &csrf, "roles/admin/delete", &[]);
    assert!(!page.text.contains("id=\"role-admin\""), "{}", page.text);
}

#[test]
fn deleting_a_role_in_use_is_refused_with_the_reason() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    let group = app.create_group("Staff", &[]);
    let r = app.api(
        "POST",
        "/mappings",
        Some(&json!({"group": group, "role": "member"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let (mut browser, csrf) = owner(&app);

    let refused = post(&app, &mut browser, &csrf, "roles/member/delete", &[]);

    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.text.contains("has 1 mapping(s)"),
        "{}",
        refused.text
    );
    assert_eq!(app.api("GET", "/roles/member", None).status, 200);
}

#[test]
fn a_viewer_sees_no_forms_and_a_viewers_post_is_refused() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    let alice = app.create_user("alice@example.com");
    let group = app.create_group("Staff", &[&alice]);
    let (mut browser, csrf) = owner(&app);
    let applied = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[("op", "add"), ("group", &group), ("role", "member")],
    );
    let set = change_set_id(&applied);
    crate::browser::demote_all(&app, "viewer");

    for path in [
        "roles".to_owned(),
        "mappings".into(),
        format!("change-sets/{set}"),
    ] {
        let page = browser.screen(&app, "acme", &path);
        assert!(page.text.contains("<span id=\"role\">viewer</span>"));
        // The only form left is the logout one.
        assert_eq!(
            page.text.matches("<form").count(),
            1,
            "{path}: {}",
            page.text
        );
        assert!(page.text.contains("member"), "{path}: {}", page.text);
    }

    let mapping = [
        ("op", "remove"),
        ("group", group.as_str()),
        ("role", "member"),
    ];
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("roles".into(), vec![("slug", "x")]),
        ("roles/member".into(), vec![("name", "X")]),
        ("roles/member/delete".into(), vec![]),
        ("roles/member/move".into(), vec![("direction", "down")]),
        ("role-settings".into(), vec![("mode", "highest_priority")]),
        ("mappings/preview".into(), mapping.to_vec()),
        ("mappings/apply".into(), mapping.to_vec()),
        (format!("change-sets/{set}/revert/preview"), vec![]),
        (format!("change-sets/{set}/revert"), vec![]),
    ];
    for (path, fields) in posts {
        let refused = post(&app, &mut browser, &csrf, &path, &fields);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
    }
    assert_eq!(roles_of(&app, &alice), ["member"]);
}

#[test]
fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn();
    let (mut browser, _) = owner(&app);

    for (path, fields) in [
        ("roles", vec![("slug", "member")]),
        ("role-settings", vec![("mode", "highest_priority")]),
        ("mappings/apply", vec![("op", "add")]),
    ] {
        let refused = browser.request(
            "POST",
            &format!("{}/admin/acme/{path}", app.address),
            Some(fields.as_slice()),
            &[],
        );
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
        let forged = post(&app, &mut browser, "not-the-token", path, &fields);
        assert_eq!(forged.status, 403, "{path}: {}", forged.text);
    }
    assert_eq!(app.api("GET", "/roles/member", None).status, 404);
}

#[test]
fn a_previewed_mapping_shows_its_members_and_applying_it_grants_the_role() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    let alice = app.create_user("alice@example.com");
    let bob = app.create_user("bob@example.com");
    let carol = app.create_user("carol@example.com");
    let group = app.create_group("Engineering", &[&alice, &bob]);
    let (mut browser, csrf) = owner(&app);
    let editor = browser.screen(&app, "acme", "mappings");
    assert!(editor.text.contains(r#"<form class="bar" id="draft""#));
    assert!(editor
        .text
        .contains(&format!(r#"<option value="{group}">Engineering</option>"#)));

    let preview = post(
        &app,
        &mut browser,
        &csrf,
        "mappings/preview",
        &[("op", "add"), ("group", &group), ("role", "member")],
    );

    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(preview.text.contains(r#"<section id="impact">"#));
    assert!(preview.text.contains("+2 users"), "{}", preview.text);
    assert!(preview.text.contains("<li>alice@example.com</li>"));
    assert!(preview.text.contains("<li>bob@example.com</li>"));
    assert!(!preview.text.contains("carol@example.com"));
    assert!(preview.text.contains(r#"id="apply""#));
    assert!(
        !preview.text.contains(r#"name="confirm""#),
        "no confirmation needed"
    );
    assert!(
        roles_of(&app, &alice).is_empty(),
        "a preview changes nothing"
    );

    let operations = hidden(&preview, "operations");
    let page = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[("operations", &operations), ("description", "")],
    );

    assert!(page.url.contains("/change-sets/cs_"), "{}", page.url);
    assert!(page
        .text
        .contains(r#"<span id="change-set-state" class="badge good">applied</span>"#));
    assert!(page.text.contains("map group “Engineering” → member"));
    assert_eq!(roles_of(&app, &alice), ["member"]);
    assert_eq!(roles_of(&app, &bob), ["member"]);
    assert!(roles_of(&app, &carol).is_empty());
    let editor = browser.screen(&app, "acme", "mappings");
    assert!(
        editor.text.contains(&change_set_id(&page)),
        "listed as recent"
    );
    assert!(editor
        .text
        .contains(r#"<span class="badge good">active</span>"#));
}

/// The value of a hidden field of the page (HTML-unescaped).
fn hidden(page: &Page, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = page.text.find(&marker).expect("hidden field") + marker.len();
    page.text[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn a_privileged_grant_without_the_typed_word_is_not_applied() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, true);
    let alice = app.create_user("alice@example.com");
    let group = app.create_group("Admins", &[&alice]);
    let (mut browser, csrf) = owner(&app);
    let draft = [("op", "add"), ("group", group.as_str()), ("role", "admin")];

    let preview = post(&app, &mut browser, &csrf, "mappings/preview", &draft);
    assert!(preview
        .text
        .contains(r#"<span class="badge bad">privileged</span>"#));
    assert!(
        preview.text.contains(r#"name="confirm""#),
        "{}",
        preview.text
    );
    assert!(preview
        .text
        .contains(r#"<strong id="confirm-word">APPLY</strong>"#));

    for word in [None, Some("apply please"), Some("")] {
        let mut fields = draft.to_vec();
        if let Some(w) = word {
            fields.push(("confirm", w));
        }
        let again = post(&app, &mut browser, &csrf, "mappings/apply", &fields);
        assert_eq!(again.status, 422, "{word:?}: {}", again.text);
        assert!(again.text.contains("Type APPLY to apply"), "{}", again.text);
        assert!(again.text.contains(r#"id="impact""#));
        assert!(roles_of(&app, &alice).is_empty(), "{word:?} applied");
    }

    let mut fields = draft.to_vec();
    fields.push(("confirm", "APPLY"));
    submit(&app, &mut browser, &csrf, "mappings/apply", &fields);
    assert_eq!(roles_of(&app, &alice), ["admin"]);
}

#[test]
fn more_than_fifty_affected_users_need_the_typed_word() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    let users: Vec<String> = (0..51)
        .map(|i| app.create_user(&format!("user{i:02}@example.com")))
        .collect();
    let members: Vec<&str> = users.iter().map(String::as_str).collect();
    let group = app.create_group("Everyone", &members);
    let (mut browser, csrf) = owner(&app);
    let draft = [("op", "add"), ("group", group.as_str()), ("role", "member")];

    let preview = post(&app, &mut browser, &csrf, "mappings/preview", &draft);
    assert!(preview.text.contains("+51 users"), "{}", preview.text);
    assert!(preview.text.contains(r#"name="confirm""#));
    let refused = post(&app, &mut browser, &csrf, "mappings/apply", &draft);
    assert_eq!(refused.status, 422);
    assert!(roles_of(&app, &users[0]).is_empty());

    let mut fields = draft.to_vec();
    fields.push(("confirm", "APPLY"));
    submit(&app, &mut browser, &csrf, "mappings/apply", &fields);
    assert_eq!(roles_of(&app, &users[50]), ["member"]);
}

#[test]
fn reverting_a_change_set_restores_the_roles() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    role(&app, "admin", 5, true);
    let alice = app.create_user("alice@example.com");
    let staff = app.create_group("Staff", &[&alice]);
    let admins = app.create_group("Admins", &[&alice]);
    let r = app.api(
        "POST",
        "/mappings",
        Some(&json!({"group": admins, "role": "admin"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let (mut browser, csrf) = owner(&app);
    let applied = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[("op", "add"), ("group", &staff), ("role", "member")],
    );
    let set = change_set_id(&applied);
    assert_eq!(roles_of(&app, &alice), ["admin", "member"]);
    assert!(applied.text.contains(r#"id="revert""#));

    let preview = post(
        &app,
        &mut browser,
        &csrf,
        &format!("change-sets/{set}/revert/preview"),
        &[],
    );
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(preview.text.contains("unmap group “Staff” from member"));
    assert!(preview.text.contains("−1 users"), "{}", preview.text);
    assert!(roles_of(&app, &alice).contains(&"member".to_owned()));

    let reverted = submit(
        &app,
        &mut browser,
        &csrf,
        &format!("change-sets/{set}/revert"),
        &[],
    );
    assert_eq!(roles_of(&app, &alice), ["admin"]);
    assert!(reverted
        .text
        .contains(&format!("/change-sets/{set}\">{set}</a>")));
    let original = browser.screen(&app, "acme", &format!("change-sets/{set}"));
    assert!(original
        .text
        .contains(r#"<span class="badge warn">reverted</span>"#));
    assert!(
        !original.text.contains(r#"id="revert""#),
        "reverted once only"
    );

    // Reverting the revert grants again; that needs no word for a plain role.
    let again = change_set_id(&reverted);
    submit(
        &app,
        &mut browser,
        &csrf,
        &format!("change-sets/{again}/revert"),
        &[],
    );
    assert_eq!(roles_of(&app, &alice), ["admin", "member"]);

    // Reverting the removal of a privileged mapping grants it: that needs the word.
    let bob = app.create_user("bob@example.com");
    let leads = app.create_group("Leads", &[&bob]);
    let granted = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[
            ("op", "add"),
            ("group", &leads),
            ("role", "admin"),
            ("confirm", "APPLY"),
        ],
    );
    assert_eq!(roles_of(&app, &bob), ["admin"]);
    let path = format!("change-sets/{}/revert", change_set_id(&granted));
    let removed = submit(&app, &mut browser, &csrf, &path, &[]);
    assert!(roles_of(&app, &bob).is_empty());
    let path = format!("change-sets/{}/revert", change_set_id(&removed));
    let refused = post(&app, &mut browser, &csrf, &path, &[]);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("Type APPLY to revert"),
        "{}",
        refused.text
    );
    assert!(roles_of(&app, &bob).is_empty());
    submit(&app, &mut browser, &csrf, &path, &[("confirm", "APPLY")]);
    assert_eq!(roles_of(&app, &bob), ["admin"]);
}

#[test]
fn every_action_lands_in_the_audit_log() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    let group = app.create_group("Staff", &[&alice]);
    let (mut browser, csrf) = owner(&app);
    let fields = |slug: &'static str| vec![("slug", slug), ("priority", "")];
    submit(&app, &mut browser, &csrf, "roles", &fields("member"));
    submit(&app, &mut browser, &csrf, "roles", &fields("spare"));
    submit(
        &app,
        &mut browser,
        &csrf,
        "roles/spare",
        &[("name", "Spare")],
    );
    submit(
        &app,
        &mut browser,
        &csrf,
        "roles/spare/move",
        &[("direction", "up")],
    );
    submit(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[
            ("mode", "highest_priority"),
            ("default_role", ""),
            ("previewed", "1"),
        ],
    );
    submit(&app, &mut browser, &csrf, "roles/spare/delete", &[]);
    let applied = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[("op", "add"), ("group", &group), ("role", "member")],
    );
    let set = change_set_id(&applied);
    submit(
        &app,
        &mut browser,
        &csrf,
        &format!("change-sets/{set}/revert"),
        &[],
    );

    let log = audit(&app);
    let actions: Vec<&str> = log
        .iter()
        .map(|(a, _, _)| a.as_str())
        .filter(|a| !a.starts_with("login"))
        .collect();
    assert_eq!(
        actions,
        [
            "change_set.reverted",
            "change_set.applied",
            "role.deleted",
            "role_settings.updated",
            "role.reordered",
            "role.updated",
            "role.created",
            "role.created",
        ]
    );
    let find = |action: &str| log.iter().find(|(a, _, _)| a == action).unwrap();
    let (_, _, after) = find("change_set.applied");
    assert_eq!(after["id"], json!(set));
    assert_eq!(after["impact"]["roles"]["member"]["added"], 1);
    let (_, before, after) = find("change_set.reverted");
    assert_eq!(before["change_set"], json!(set));
    assert_eq!(after["revert_of"], json!(set));
    let (_, before, after) = find("role.updated");
    assert_eq!(before["name"], "spare");
    assert_eq!(after["name"], "Spare");
    let (_, before, after) = find("role_settings.updated");
    assert_eq!(before["settings"]["mode"], "union");
    assert_eq!(after["settings"]["mode"], "highest_priority");
    assert!(after["change_set"]["id"]
        .as_str()
        .unwrap()
        .starts_with("cs_"));
    let (_, before, after) = find("role.reordered");
    assert_eq!(before["priorities"], json!({"member": 10, "spare": 20}));
    assert_eq!(after["priorities"], json!({"member": 20, "spare": 10}));
    let (_, before, after) = find("role.deleted");
    assert_eq!(before["slug"], "spare");
    assert_eq!(*after, Value::Null);
}

#[test]
fn a_privileged_default_role_is_confirmed_on_a_preview_first() {
    let app = TestApp::spawn();
    role(&app, "admin", 10, true);
    let alice = app.create_user("alice@example.com");
    let (mut browser, csrf) = owner(&app);
    let settings = [("mode", "union"), ("default_role", "admin")];

    let preview = post(&app, &mut browser, &csrf, "role-settings", &settings);

    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(
        preview.text.contains("default role → admin"),
        "{}",
        preview.text
    );
    assert!(preview.text.contains(r#"name="confirm""#));
    assert_eq!(hidden(&preview, "previewed"), "1");
    assert!(roles_of(&app, &alice).is_empty(), "not applied yet");
    let previewed = [
        ("mode", "union"),
        ("default_role", "admin"),
        ("previewed", "1"),
    ];
    let mut wrong = previewed.to_vec();
    wrong.push(("confirm", "yes"));
    let refused = post(&app, &mut browser, &csrf, "role-settings", &wrong);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("Type APPLY"), "{}", refused.text);
    assert!(roles_of(&app, &alice).is_empty());
    let mut right = previewed.to_vec();
    right.push(("confirm", "APPLY"));
    submit(&app, &mut browser, &csrf, "role-settings", &right);
    assert_eq!(roles_of(&app, &alice), ["admin"]);
    let settings = app.api("GET", "/role-settings", None).body;
    assert_eq!(settings["default_role"], "admin");
}

#[test]
fn changing_the_default_role_shows_who_gains_and_loses_which_role_before_applying() {
    let app = TestApp::spawn();
    role(&app, "member", 10, false);
    role(&app, "guest", 20, false);
    let alice = app.create_user("alice@example.com");
    let bob = app.create_user("bob@example.com");
    let (mut browser, csrf) = owner(&app);
    submit(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[
            ("mode", "union"),
            ("default_role", "guest"),
            ("previewed", "1"),
        ],
    );
    assert_eq!(roles_of(&app, &alice), ["guest"]);

    let preview = post(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[("mode", "union"), ("default_role", "member")],
    );

    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(
        preview.text.contains("Preview: role settings"),
        "{}",
        preview.text
    );
    assert!(
        preview.text.contains("2 user(s) change"),
        "{}",
        preview.text
    );
    let member = section(&preview.text, r#"id="impact-member""#);
    assert!(member.contains("+2 users"), "{member}");
    assert!(member.contains("alice@example.com") && member.contains("bob@example.com"));
    let guest = section(&preview.text, r#"id="impact-guest""#);
    assert!(guest.contains("−2 users"), "{guest}");
    assert_eq!(roles_of(&app, &alice), ["guest"], "nothing moved yet");
    assert_eq!(roles_of(&app, &bob), ["guest"]);
    assert!(
        preview
            .text
            .contains(r#"action="/admin/acme/role-settings""#),
        "the preview's form applies the settings: {}",
        preview.text
    );

    submit(
        &app,
        &mut browser,
        &csrf,
        "role-settings",
        &[
            ("mode", "union"),
            ("default_role", "member"),
            ("previewed", "1"),
        ],
    );
    assert_eq!(roles_of(&app, &alice), ["member"]);
    assert_eq!(roles_of(&app, &bob), ["member"]);
    let log = audit(&app);
    assert_eq!(log[0].0, "role_settings.updated");
}

/// The text of the table row that opens with `marker`.
fn section<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text.find(marker).expect(marker);
    let end = text[at..].find("</tr>").map_or(text.len(), |e| at + e);
    &text[at..end]
}

#[test]
fn a_change_set_recomputed_in_the_background_shows_its_progress() {
    let app = TestApp::spawn_with(|s| s.change_set_inline_limit = 1);
    role(&app, "member", 10, false);
    let alice = app.create_user("alice@example.com");
    let bob = app.create_user("bob@example.com");
    let group = app.create_group("Staff", &[&alice, &bob]);
    let (mut browser, csrf) = owner(&app);

    let preview = post(
        &app,
        &mut browser,
        &csrf,
        "mappings/preview",
        &[("op", "add"), ("group", &group), ("role", "member")],
    );
    assert!(preview.text.contains("recomputed in the background"));
    let applied = submit(
        &app,
        &mut browser,
        &csrf,
        "mappings/apply",
        &[("op", "add"), ("group", &group), ("role", "member")],
    );
    assert!(
        applied.text.contains("/ 2 users recomputed"),
        "{}",
        applied.text
    );

    let path = format!("change-sets/{}", change_set_id(&applied));
    let done = browser.eventually(&app, "acme", &path, |text| {
        text.contains(r#"class="badge good">applied</span>"#)
    });
    assert!(
        done.text.contains("2 / 2 users recomputed"),
        "{}",
        done.text
    );
    assert_eq!(roles_of(&app, &bob), ["member"]);
}
