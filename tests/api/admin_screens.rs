//! The admin UI's screens, driven over HTTP by a signed-in owner.

use crate::browser::Browser;
use crate::helpers::TestApp;

#[test]
fn the_overview_counts_the_directory_and_shows_the_last_scim_request() {
    let app = TestApp::spawn();
    let alice = app.create_user("alice@example.com");
    app.create_user("bob@example.com");
    app.create_group("Engineering", &[&alice]);
    let mut browser = Browser::owner(&app, "acme");

    // The sync log is written in batches, a moment after the response.
    let page = browser.eventually(&app, "acme", "", |text| text.contains("/Groups</code>"));

    assert!(
        page.text
            .contains(r#"<div class="n" id="active-users">2</div>"#),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains(r#"<div class="n" id="group-count">1</div>"#));
    assert!(
        page.text.contains("<code>POST /scim/v2/acme/Groups</code>"),
        "{}",
        page.text
    );
}

#[test]
fn a_tenant_that_never_connected_is_told_to_run_the_setup_wizard() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");

    let page = browser.screen(&app, "acme", "");

    assert!(page.text.contains("never"), "{}", page.text);
    // The test app's token exists but was never used.
    assert!(
        page.text.contains("1 SCIM token(s) never used"),
        "{}",
        page.text
    );
}

#[test]
fn logging_out_from_a_screen_ends_the_session() {
    let app = TestApp::spawn();
    let mut browser = Browser::owner(&app, "acme");
    let page = browser.screen(&app, "acme", "");
    let csrf = crate::browser::csrf_of(&page);

    let out = browser.post_form(&format!("{}/admin/acme/logout", app.address), &csrf, &[]);

    assert_eq!(out.status, 200, "{}", out.text);
    let after = browser.get(&format!("{}/admin/acme/", app.address));
    assert_eq!(after.status, 303);
}
