//! RFC 7644 §3.4: retrieving, listing, sorting, paging, attribute selection and POST
//! search. Filters have their own module (`rfc7644_3_4_2_2`).

use serde_json::{json, Value};

use super::{attr, has_string, id_of, resource_ids, sorted, user_body, want_error, Want};
use super::{LIST_RESPONSE, SEARCH_REQUEST};
use crate::case;
use crate::ensure;
use crate::http::Req;
use crate::runner::{fail, skip, Case, CaseResult, Ctx, Profile::Rfc, Verdict};

/// §3.4 in section order, with the filter cases (§3.4.2.2) in their place.
#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        case!(Rfc, "rfc7644-3.4.1", [], rfc7644_3_4_1_get_user_by_id),
        case!(Rfc, "rfc7644-3.4.1", [], rfc7644_3_4_1_unknown_user_is_404),
        case!(Rfc, "rfc7644-3.4.1", [], rfc7644_3_4_1_get_group_by_id),
        case!(Rfc, "rfc7644-3.4.1", [], rfc7644_3_4_1_unknown_group_is_404),
        case!(Rfc, "rfc7644-3.4.2", [], rfc7644_3_4_2_list_is_a_list_response),
    ];
    cases.extend(super::rfc7644_3_4_2_2::cases());
    cases.extend([
        case!(Rfc, "rfc7644-3.4.2.3", [Filter, Sort], rfc7644_3_4_2_3_sort_by_user_name),
        case!(Rfc, "rfc7644-3.4.2.4", [Filter], rfc7644_3_4_2_4_count_and_start_index_page_through),
        case!(Rfc, "rfc7644-3.4.2.4", [Filter], rfc7644_3_4_2_4_start_index_below_1_counts_as_1),
        case!(Rfc, "rfc7644-3.4.2.4", [Filter], rfc7644_3_4_2_4_count_0_returns_only_total),
        case!(Rfc, "rfc7644-3.4.2.4", [Filter], rfc7644_3_4_2_4_negative_count_counts_as_0),
        case!(Rfc, "rfc7644-3.4.2.4", [Filter], rfc7644_3_4_2_4_start_index_past_the_end_is_an_empty_page),
        case!(Rfc, "rfc7644-3.4.2.5", [], rfc7644_3_4_2_5_attributes_limits_the_response),
        case!(Rfc, "rfc7644-3.4.2.5", [], rfc7644_3_4_2_5_attributes_names_a_sub_attribute),
        case!(Rfc, "rfc7644-3.4.2.5", [], rfc7644_3_4_2_5_excluded_attributes_drops_them),
        case!(Rfc, "rfc7644-3.4.2.5", [Filter], rfc7644_3_4_2_5_attributes_apply_to_lists),
        case!(Rfc, "rfc7644-3.4.2.5", [], rfc7644_3_4_2_5_group_without_members),
        case!(Rfc, "rfc7644-3.4.3", [Filter], rfc7644_3_4_3_post_search_on_users),
        case!(Rfc, "rfc7644-3.4.3", [Filter], rfc7644_3_4_3_post_search_at_server_root),
    ]);
    cases
}

fn rfc7644_3_4_1_get_user_by_id(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let got = ctx.fetch(&format!("/Users/{}", id_of(&user)))?;
    ensure!(got["id"] == user["id"], "GET returned id {}", got["id"]);
    ensure!(
        attr(&got, "userName") == attr(&user, "userName"),
        "GET returned userName {}",
        attr(&got, "userName")
    );
    Ok(())
}

fn rfc7644_3_4_1_unknown_user_is_404(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.get(&format!("/Users/{}", uuid::Uuid::new_v4()))?;
    want_error(&r, 404, None, "GET /Users/<unknown id>")
}

fn rfc7644_3_4_1_get_group_by_id(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let group = ctx.new_group(&[&a])?;
    let got = ctx.fetch(&format!("/Groups/{}", id_of(&group)))?;
    ensure!(got["id"] == group["id"], "GET returned id {}", got["id"]);
    ensure!(
        super::member_ids(&got) == vec![a],
        "members are {:?}",
        super::member_ids(&got)
    );
    Ok(())
}

fn rfc7644_3_4_1_unknown_group_is_404(ctx: &mut Ctx) -> CaseResult {
    let r = ctx.http.get(&format!("/Groups/{}", uuid::Uuid::new_v4()))?;
    want_error(&r, 404, None, "GET /Groups/<unknown id>")
}

/// §3.4.2: `schemas` is the ListResponse URN and `totalResults` is REQUIRED; §3.4.2.4:
/// `itemsPerPage` is the number returned and never more than `count`.
fn rfc7644_3_4_2_list_is_a_list_response(ctx: &mut Ctx) -> CaseResult {
    ctx.new_user()?;
    let list = ctx.fetch("/Users?count=2")?;
    check_envelope(&list, Some(2))?;
    ensure!(
        list["totalResults"].as_u64().unwrap_or(0) >= 1,
        "totalResults is {} after a create",
        list["totalResults"]
    );
    Ok(())
}

/// The ListResponse rules every list must follow, with `count` if one was asked for.
pub fn check_envelope(list: &Value, count: Option<usize>) -> CaseResult {
    ensure!(
        has_string(&list["schemas"], LIST_RESPONSE),
        "schemas lacks the ListResponse URN: {}",
        list["schemas"]
    );
    let Some(total) = list["totalResults"].as_u64() else {
        return fail(format!(
            "totalResults is not an integer: {}",
            list["totalResults"]
        ));
    };
    let returned = list["Resources"].as_array().map_or(0, Vec::len);
    ensure!(
        returned as u64 <= total,
        "{returned} Resources but totalResults {total}"
    );
    if total > 0 && count != Some(0) {
        ensure!(
            list["Resources"].is_array(),
            "totalResults {total} but no Resources list"
        );
    }
    if let Some(count) = count {
        ensure!(
            returned <= count,
            "count={count} but {returned} Resources returned"
        );
    }
    if !list["itemsPerPage"].is_null() {
        ensure!(
            list["itemsPerPage"] == returned,
            "itemsPerPage is {} but {returned} Resources returned",
            list["itemsPerPage"]
        );
    }
    Ok(())
}

/// Three users sharing a unique stem: `<stem>-alpha`, `-beta`, `-gamma`, so that a
/// `userName sw "<stem>"` filter scopes a query to them on a shared server.
pub fn three_users(ctx: &mut Ctx) -> Result<(String, Vec<String>), Verdict> {
    let stem = ctx.unique("-x");
    let mut ids = Vec::new();
    for (word, external_id, active) in [
        ("alpha", Some("ExtA"), true),
        ("beta", Some("ExtB"), false),
        ("gamma", None, true),
    ] {
        let mut body = user_body(&format!("{stem}-{word}@example.com"));
        body["active"] = json!(active);
        if let Some(x) = external_id {
            body["externalId"] = json!(format!("{x}-{stem}"));
        }
        ids.push(id_of(&ctx.create_user(&body)?));
    }
    Ok((stem, ids))
}

/// RFC 7644 §3.4.2.3: `sortBy` with `sortOrder` (ascending is the default).
fn rfc7644_3_4_2_3_sort_by_user_name(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let filter = format!("userName sw \"{stem}\"");
    for (order, want) in [
        ("", ids.clone()),
        ("&sortOrder=descending", ids.iter().rev().cloned().collect()),
    ] {
        let list = ctx.query("/Users", &filter, &format!("&sortBy=userName{order}"))?;
        let got: Vec<String> = list["Resources"]
            .as_array()
            .map(|a| a.iter().map(id_of).collect())
            .unwrap_or_default();
        ensure!(
            got == want,
            "sortBy=userName{order}: order {got:?}, want {want:?}"
        );
    }
    Ok(())
}

fn rfc7644_3_4_2_4_count_and_start_index_page_through(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let filter = format!("userName sw \"{stem}\"");
    let first = ctx.query("/Users", &filter, "&startIndex=1&count=2")?;
    check_envelope(&first, Some(2))?;
    ensure!(
        first["totalResults"] == 3,
        "totalResults is {}, want 3",
        first["totalResults"]
    );
    ensure!(
        first["startIndex"] == 1,
        "startIndex is {}, want 1",
        first["startIndex"]
    );
    let second = ctx.query("/Users", &filter, "&startIndex=3&count=2")?;
    check_envelope(&second, Some(2))?;
    ensure!(
        second["startIndex"] == 3,
        "startIndex is {}, want 3",
        second["startIndex"]
    );
    let mut seen = resource_ids(&first);
    seen.extend(resource_ids(&second));
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    ensure!(
        seen == want,
        "two pages returned {seen:?}, want each of {want:?} once"
    );
    Ok(())
}

/// "A value less than 1 SHALL be interpreted as 1."
fn rfc7644_3_4_2_4_start_index_below_1_counts_as_1(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let filter = format!("userName sw \"{stem}\"");
    let list = ctx.query("/Users", &filter, "&startIndex=0&count=10")?;
    ensure!(
        resource_ids(&list) == sorted(&ids.iter().map(String::as_str).collect::<Vec<_>>()),
        "startIndex=0 returned {:?}",
        resource_ids(&list)
    );
    ensure!(
        list["startIndex"] == 1,
        "startIndex=0 answered startIndex {}",
        list["startIndex"]
    );
    Ok(())
}

/// "A value of 0 indicates that no resource results are to be returned except for
/// totalResults."
fn rfc7644_3_4_2_4_count_0_returns_only_total(ctx: &mut Ctx) -> CaseResult {
    let (stem, _) = three_users(ctx)?;
    let list = ctx.query("/Users", &format!("userName sw \"{stem}\""), "&count=0")?;
    ensure!(
        list["totalResults"] == 3,
        "totalResults is {}, want 3",
        list["totalResults"]
    );
    ensure!(
        list["Resources"].as_array().is_none_or(Vec::is_empty),
        "count=0 returned resources"
    );
    Ok(())
}

/// "A negative value SHALL be interpreted as 0."
fn rfc7644_3_4_2_4_negative_count_counts_as_0(ctx: &mut Ctx) -> CaseResult {
    let (stem, _) = three_users(ctx)?;
    let list = ctx.query("/Users", &format!("userName sw \"{stem}\""), "&count=-1")?;
    ensure!(
        list["totalResults"] == 3,
        "totalResults is {}, want 3",
        list["totalResults"]
    );
    ensure!(
        list["Resources"].as_array().is_none_or(Vec::is_empty),
        "count=-1 returned resources"
    );
    Ok(())
}

/// Past the last result the page is empty and `totalResults` still exact; a start far
/// beyond any table (2^63 - 1) must not turn into a 5xx (an OFFSET overflow).
fn rfc7644_3_4_2_4_start_index_past_the_end_is_an_empty_page(ctx: &mut Ctx) -> CaseResult {
    let (stem, _) = three_users(ctx)?;
    let filter = format!("userName sw \"{stem}\"");
    let list = ctx.query("/Users", &filter, "&startIndex=4&count=10")?;
    ensure!(
        list["totalResults"] == 3,
        "totalResults is {}, want 3",
        list["totalResults"]
    );
    ensure!(
        list["Resources"].as_array().is_none_or(Vec::is_empty),
        "startIndex=4 of 3 returned resources"
    );
    let target = format!(
        "/Users?filter={}&startIndex=9223372036854775807",
        crate::http::enc(&filter)
    );
    let r = ctx.http.get(&target)?;
    if r.status == 200 {
        ensure!(
            r.body["Resources"].as_array().is_none_or(Vec::is_empty),
            "startIndex=2^63-1 returned resources"
        );
    } else {
        want_error(&r, 400, None, "startIndex=2^63-1")?;
    }
    Ok(())
}

/// `attributes` returns those attributes and the `returned: always` ones (`id`) only.
fn rfc7644_3_4_2_5_attributes_limits_the_response(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let got = ctx.fetch(&format!("/Users/{}?attributes=userName", id_of(&user)))?;
    ensure!(
        got["id"] == user["id"],
        "id missing with attributes=userName"
    );
    ensure!(
        !attr(&got, "userName").is_null(),
        "userName missing with attributes=userName"
    );
    for other in ["emails", "name", "displayName"] {
        ensure!(
            attr(&got, other).is_null(),
            "attributes=userName still returned {other}"
        );
    }
    Ok(())
}

/// §3.10 attribute notation: `name.givenName` selects one sub-attribute.
fn rfc7644_3_4_2_5_attributes_names_a_sub_attribute(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let got = ctx.fetch(&format!(
        "/Users/{}?attributes=name.givenName",
        id_of(&user)
    ))?;
    let name = attr(&got, "name");
    ensure!(name["givenName"] == "Ada", "name.givenName missing: {name}");
    ensure!(
        name["familyName"].is_null(),
        "attributes=name.givenName returned familyName"
    );
    ensure!(
        attr(&got, "emails").is_null(),
        "attributes=name.givenName returned emails"
    );
    Ok(())
}

fn rfc7644_3_4_2_5_excluded_attributes_drops_them(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let got = ctx.fetch(&format!(
        "/Users/{}?excludedAttributes=emails,name",
        id_of(&user)
    ))?;
    ensure!(
        got["id"] == user["id"],
        "id missing with excludedAttributes"
    );
    ensure!(
        !attr(&got, "userName").is_null(),
        "userName missing with excludedAttributes=emails,name"
    );
    for gone in ["emails", "name"] {
        ensure!(
            attr(&got, gone).is_null(),
            "excludedAttributes=emails,name still returned {gone}"
        );
    }
    Ok(())
}

fn rfc7644_3_4_2_5_attributes_apply_to_lists(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let filter = format!(
        "userName eq \"{}\"",
        attr(&user, "userName").as_str().unwrap_or_default()
    );
    let list = ctx.query("/Users", &filter, "&attributes=userName")?;
    let Some(found) = list["Resources"].get(0) else {
        return fail("the filter found nothing");
    };
    ensure!(
        found["id"] == user["id"],
        "id missing from a listed resource"
    );
    ensure!(
        attr(found, "emails").is_null(),
        "attributes=userName on a list still returned emails"
    );
    Ok(())
}

/// The request Entra sends for every group read: members are not wanted.
fn rfc7644_3_4_2_5_group_without_members(ctx: &mut Ctx) -> CaseResult {
    let a = id_of(&ctx.new_user()?);
    let group = ctx.new_group(&[&a])?;
    let got = ctx.fetch(&format!(
        "/Groups/{}?excludedAttributes=members",
        id_of(&group)
    ))?;
    ensure!(
        attr(&got, "members").is_null(),
        "excludedAttributes=members returned members"
    );
    ensure!(!attr(&got, "displayName").is_null(), "displayName missing");
    Ok(())
}

/// §3.4.3: POST `/.search` with a SearchRequest answers like the GET query.
fn rfc7644_3_4_3_post_search_on_users(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let body = json!({
        "schemas": [SEARCH_REQUEST],
        "filter": format!("userName eq \"{}\"", attr(&user, "userName").as_str().unwrap_or_default()),
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 10
    });
    let r = ctx
        .http
        .post("/Users/.search", &body)?
        .want(200, "POST /Users/.search")?;
    check_envelope(&r.body, Some(10))?;
    ensure!(
        resource_ids(&r.body) == vec![id_of(&user)],
        "found {:?}",
        resource_ids(&r.body)
    );
    ensure!(
        attr(&r.body["Resources"][0], "emails").is_null(),
        "attributes in the SearchRequest were not applied"
    );
    Ok(())
}

/// A search at the root covers every resource type; servers need not offer it.
fn rfc7644_3_4_3_post_search_at_server_root(ctx: &mut Ctx) -> CaseResult {
    let user = ctx.new_user()?;
    let body = json!({
        "schemas": [SEARCH_REQUEST],
        "filter": format!("userName eq \"{}\"", attr(&user, "userName").as_str().unwrap_or_default()),
    });
    let r = ctx.http.send(Req::new("POST", "/.search").json(&body))?;
    if matches!(r.status, 403 | 404 | 405 | 501) {
        return skip(format!("the server offers no root search ({})", r.status));
    }
    let r = r.want(200, "POST /.search")?;
    check_envelope(&r.body, None)?;
    ensure!(
        resource_ids(&r.body) == vec![id_of(&user)],
        "found {:?}",
        resource_ids(&r.body)
    );
    Ok(())
}
