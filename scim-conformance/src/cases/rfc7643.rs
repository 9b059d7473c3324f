//! RFC 7643: the schema and `meta` rules a client relies on when it reads back what it
//! wrote.

use std::time::Duration;

use serde_json::{json, Value};

use super::{attr, datetime, has_string, id_of, member_ids, user_body, Want, ENTERPRISE, USER};
use crate::case;
use crate::ensure;
use crate::runner::{fail, Case, CaseResult, Ctx, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7643-2.1", [], rfc7643_2_1_attribute_names_are_case_insensitive),
        case!(Rfc, "rfc7643-2.2", [], rfc7643_2_2_password_is_never_returned),
        case!(Rfc, "rfc7643-2.3", [], rfc7643_2_3_values_come_back_with_their_types),
        case!(Rfc, "rfc7643-2.4", [], rfc7643_2_4_at_most_one_primary_value),
        case!(Rfc, "rfc7643-2.5", [], rfc7643_2_5_null_and_empty_list_unassign),
        case!(Rfc, "rfc7643-3.1", [], rfc7643_3_1_meta_is_complete),
        case!(Rfc, "rfc7643-3.1", [], rfc7643_3_1_meta_location_is_the_resource),
        case!(Rfc, "rfc7643-3.1", [], rfc7643_3_1_last_modified_moves_and_created_stays),
        case!(Rfc, "rfc7643-3.1", [], rfc7643_3_1_external_id_is_kept_exactly),
        case!(Rfc, "rfc7643-3.3", [], rfc7643_3_3_enterprise_extension_round_trips),
        case!(Rfc, "rfc7643-4.1", [], rfc7643_4_1_read_only_groups_are_ignored_on_create),
    ]
}

/// "Attribute names are case insensitive".
fn rfc7643_2_1_attribute_names_are_case_insensitive(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let user = ctx.create_user(&json!({
        "schemas": [USER],
        "UserName": name,
        "NAME": {"GivenName": "Ada", "familyname": "Lovelace"},
        "DisplayName": "Ada Lovelace"
    }))?;
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(
        attr(&stored, "userName") == name.as_str(),
        "userName is {}",
        attr(&stored, "userName")
    );
    ensure!(
        attr(attr(&stored, "name"), "givenName") == "Ada",
        "name.givenName sent as NAME.GivenName is {}",
        attr(&stored, "name")
    );
    ensure!(
        attr(&stored, "displayName") == "Ada Lovelace",
        "displayName is {}",
        attr(&stored, "displayName")
    );
    Ok(())
}

/// RFC 7643 §4.1.1: `password` has `returned: never` (§2.2: "never returned").
fn rfc7643_2_2_password_is_never_returned(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["password"] = json!("t1meMach1ne!");
    let user = ctx.create_user(&body)?;
    ensure!(
        attr(&user, "password").is_null(),
        "the POST response returned password"
    );
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(attr(&stored, "password").is_null(), "GET returned password");
    Ok(())
}

/// §2.3: booleans are JSON booleans, multi-valued attributes are arrays, date-times are
/// xsd:dateTime strings.
fn rfc7643_2_3_values_come_back_with_their_types(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(
        attr(&stored, "active").is_boolean(),
        "active is {}",
        attr(&stored, "active")
    );
    ensure!(
        attr(&stored, "emails").is_array(),
        "emails is {}",
        attr(&stored, "emails")
    );
    ensure!(stored["id"].is_string(), "id is {}", stored["id"]);
    let created = stored["meta"]["created"].as_str().unwrap_or_default();
    ensure!(
        datetime(created).is_some(),
        "meta.created {created:?} is not an xsd:dateTime"
    );
    Ok(())
}

/// §2.4: "The primary attribute value true MUST appear no more than once." A client that
/// sends two may be refused or corrected, never stored as is.
fn rfc7643_2_4_at_most_one_primary_value(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["emails"] = json!([
        {"value": name, "type": "work", "primary": true},
        {"value": format!("home-{name}"), "type": "home", "primary": true}
    ]);
    let r = ctx.http.post("/Users", &body)?;
    if r.status == 400 {
        return Ok(());
    }
    let r = r.want(201, "POST with two primary emails")?;
    ctx.track(format!("/Users/{}", id_of(&r.body)));
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&r.body)))?;
    let primaries = attr(&stored, "emails")
        .as_array()
        .map_or(0, |a| a.iter().filter(|e| e["primary"] == true).count());
    ensure!(primaries <= 1, "{primaries} emails are stored as primary");
    Ok(())
}

/// §2.5: "Assigning an attribute with the value null or an empty array (in the case of
/// multi-valued attributes) has the effect of making the attribute unassigned."
fn rfc7643_2_5_null_and_empty_list_unassign(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["nickName"] = json!("Countess");
    body["phoneNumbers"] = json!([{"value": "tel:+44-20-7946-0000", "type": "work"}]);
    let user = ctx.create_user(&body)?;
    let path = format!("/Users/{}", id_of(&user));
    body["id"] = user["id"].clone();
    body["nickName"] = Value::Null;
    body["phoneNumbers"] = json!([]);
    ctx.http
        .put(&path, &body)?
        .want(200, "PUT with nickName null and phoneNumbers []")?;
    let stored = ctx.fetch(&path)?;
    ensure!(
        attr(&stored, "nickName").is_null(),
        "nickName is still {}",
        attr(&stored, "nickName")
    );
    ensure!(
        attr(&stored, "phoneNumbers")
            .as_array()
            .is_none_or(Vec::is_empty),
        "phoneNumbers is still {}",
        attr(&stored, "phoneNumbers")
    );
    Ok(())
}

/// §3.1: `meta.resourceType`, `created`, `lastModified` and `location` on every resource.
fn rfc7643_3_1_meta_is_complete(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let group = ctx.new_group(&[])?;
    for (resource, kind, endpoint) in [(&user, "User", "Users"), (&group, "Group", "Groups")] {
        let meta = &resource["meta"];
        ensure!(
            meta["resourceType"] == kind,
            "{kind}: meta.resourceType is {}",
            meta["resourceType"]
        );
        for key in ["created", "lastModified"] {
            let value = meta[key].as_str().unwrap_or_default();
            ensure!(
                datetime(value).is_some(),
                "{kind}: meta.{key} is {:?}",
                meta[key]
            );
        }
        let location = meta["location"].as_str().unwrap_or_default();
        ensure!(
            location.starts_with("http")
                && location.ends_with(&format!("/{endpoint}/{}", id_of(resource))),
            "{kind}: meta.location is {:?}",
            meta["location"]
        );
    }
    Ok(())
}

/// §3.1: `meta.location` is "the URI of the resource being returned": a client can GET it.
fn rfc7643_3_1_meta_location_is_the_resource(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let Some(location) = user["meta"]["location"].as_str() else {
        return fail("no meta.location");
    };
    let r = ctx
        .http
        .get(location)?
        .want(200, &format!("GET {location}"))?;
    ensure!(
        r.body["id"] == user["id"],
        "{location} returned id {}",
        r.body["id"]
    );
    Ok(())
}

/// §3.1: `lastModified` is "the most recent DateTime that the details of this resource
/// were updated"; `created` is fixed.
fn rfc7643_3_1_last_modified_moves_and_created_stays(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let path = format!("/Users/{}", id_of(&user));
    // Past a one-second tick, for servers that keep whole seconds.
    std::thread::sleep(Duration::from_millis(1100));
    let mut body = user_body(attr(&user, "userName").as_str().unwrap_or_default());
    body["id"] = user["id"].clone();
    body["displayName"] = json!("Changed");
    ctx.http.put(&path, &body)?.want(200, "PUT")?;
    let after = ctx.fetch(&path)?;
    let time = |v: &Value, key: &str| datetime(v["meta"][key].as_str().unwrap_or_default());
    ensure!(
        time(&after, "created") == time(&user, "created"),
        "meta.created moved from {} to {}",
        user["meta"]["created"],
        after["meta"]["created"]
    );
    let advanced = matches!(
        (time(&user, "lastModified"), time(&after, "lastModified")),
        (Some(before), Some(now)) if now > before
    );
    ensure!(
        advanced,
        "meta.lastModified did not advance: {} then {}",
        user["meta"]["lastModified"],
        after["meta"]["lastModified"]
    );
    Ok(())
}

/// §3.1: `externalId` is `caseExact` and belongs to the client: it comes back as sent.
fn rfc7643_3_1_external_id_is_kept_exactly(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.user_name();
    let mut body = user_body(&name);
    let external_id = format!("MiXeD-{}", uuid::Uuid::new_v4());
    body["externalId"] = json!(external_id);
    let user = ctx.create_user(&body)?;
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(
        attr(&stored, "externalId") == external_id.as_str(),
        "externalId is {}",
        attr(&stored, "externalId")
    );
    Ok(())
}

/// §3.3: extension attributes live under the extension's URN, which `schemas` lists.
fn rfc7643_3_3_enterprise_extension_round_trips(ctx: &mut Ctx) -> CaseResult {
    let manager = ctx.new_user()?;
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["schemas"] = json!([USER, ENTERPRISE]);
    body[ENTERPRISE] = json!({
        "employeeNumber": "701984",
        "department": "Analytical Engines",
        "manager": {"value": id_of(&manager)}
    });
    let user = ctx.create_user(&body)?;
    let stored = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(
        has_string(&stored["schemas"], ENTERPRISE),
        "schemas lacks the extension: {}",
        stored["schemas"]
    );
    let ext = attr(&stored, ENTERPRISE);
    ensure!(
        ext["employeeNumber"] == "701984",
        "employeeNumber is {}",
        ext["employeeNumber"]
    );
    ensure!(
        ext["department"] == "Analytical Engines",
        "department is {}",
        ext["department"]
    );
    ensure!(
        ext["manager"]["value"] == manager["id"],
        "manager is {}",
        ext["manager"]
    );
    Ok(())
}

/// §4.1.2: `groups` is readOnly ("membership changes MUST be applied via the Group
/// Resource"), and readOnly values in a POST "SHALL be ignored" (RFC 7644 §3.3).
fn rfc7643_4_1_read_only_groups_are_ignored_on_create(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.new_group(&[])?;
    let name = ctx.user_name();
    let mut body = user_body(&name);
    body["groups"] = json!([{"value": id_of(&group)}]);
    ctx.create_user(&body)?;
    let stored = ctx.fetch(&format!("/Groups/{}", id_of(&group)))?;
    ensure!(
        member_ids(&stored).is_empty(),
        "a user's groups made it a member: {:?}",
        member_ids(&stored)
    );
    Ok(())
}
