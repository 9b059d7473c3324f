use serde_json::Value;

use crate::helpers::TestApp;

#[test]
fn service_provider_config_advertises_what_works() {
    let app = TestApp::spawn();
    let r = app.get("/ServiceProviderConfig");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));
    let c = &r.body;
    assert_eq!(
        c["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(c["patch"]["supported"], true);
    assert_eq!(c["filter"]["supported"], true);
    assert_eq!(c["filter"]["maxResults"], 500);
    assert_eq!(c["bulk"]["supported"], true);
    assert_eq!(c["bulk"]["maxPayloadSize"], 1_048_576);
    assert_eq!(c["etag"]["supported"], true);
    assert_eq!(c["sort"]["supported"], true);
    let pagination = &c["pagination"];
    assert_eq!(pagination["cursor"], true);
    assert_eq!(pagination["index"], true);
    assert_eq!(pagination["defaultPaginationMethod"], "index");
    assert_eq!(pagination["defaultPageSize"], 500);
    assert_eq!(pagination["maxPageSize"], 500);
    assert!(
        pagination.get("cursorTimeout").is_none(),
        "cursors never expire"
    );
    assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        c["meta"]["location"],
        format!("{}/ServiceProviderConfig", app.base)
    );
}

#[test]
fn schemas_lists_user_group_and_enterprise_user_and_each_by_id() {
    let app = TestApp::spawn();
    let r = app.get("/Schemas");
    assert_eq!(r.status, 200);
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&urn), "{urn}");
        let one = app.get(&format!("/Schemas/{urn}"));
        assert_eq!(one.status, 200);
        assert_eq!(one.body["id"], urn);
    }
    let user = app
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .body;
    let user_name = find(&user, "userName");
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["required"], true);
    assert_eq!(find(&user, "groups")["mutability"], "readOnly");
    assert_eq!(find(&user, "password")["returned"], "never");
    app.get("/Schemas/urn:nope").assert_scim_error(404, None);
}

fn find<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()
}

#[test]
fn resource_types_describe_users_and_groups() {
    let app = TestApp::spawn();
    let r = app.get("/ResourceTypes");
    assert_eq!(r.body["totalResults"], 2);
    let user = app.get("/ResourceTypes/User");
    assert_eq!(user.body["endpoint"], "/Users");
    assert_eq!(
        user.body["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert_eq!(
        user.body["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(app.get("/ResourceTypes/Group").body["endpoint"], "/Groups");
    app.get("/ResourceTypes/Widget")
        .assert_scim_error(404, None);
}

#[test]
fn me_is_501_as_there_is_no_authenticated_user() {
    let app = TestApp::spawn();
    app.get("/Me").assert_scim_error(501, None);
}
