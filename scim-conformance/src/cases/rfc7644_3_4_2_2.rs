//! RFC 7644 §3.4.2.2: filtering. Every query is scoped to users this case created
//! (`userName sw "<stem>"`), so results are exact even on a shared server.

use super::rfc7644_3_4::three_users;
use super::{attr, id_of, resource_ids, sorted, want_error};
use crate::case;
use crate::ensure;
use crate::runner::{skip, Case, CaseResult, Ctx, Profile::Rfc, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_user_name_eq),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_user_name_eq_ignores_value_case),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_attribute_and_operator_ignore_case),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_external_id_eq_is_case_exact),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_sw_co_ew),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_ne_and_pr),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_and_or_not_with_precedence),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_boolean_eq),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_date_time_comparison),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_group_display_name_eq),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_no_match_is_200_with_zero_results),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_malformed_filter_is_400_invalid_filter),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_wildcard_characters_are_literal),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_escaped_quote_in_a_value),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_multi_valued_filter_matches_or_is_refused),
        case!(Rfc, "rfc7644-3.4.2.2", [Filter], rfc7644_3_4_2_2_deeply_nested_filter_is_answered),
    ]
}

/// The ids a user filter finds, sorted.
fn found(ctx: &mut Ctx, filter: &str) -> Result<Vec<String>, Verdict> {
    Ok(resource_ids(&ctx.query("/Users", filter, "")?))
}

/// Expects exactly these users (by index into `ids`).
fn expect(ctx: &mut Ctx, filter: &str, ids: &[String], want: &[usize]) -> CaseResult {
    let got = found(ctx, filter)?;
    let want = sorted(&want.iter().map(|i| ids[*i].as_str()).collect::<Vec<_>>());
    ensure!(got == want, "filter {filter}: found {got:?}, want {want:?}");
    Ok(())
}

fn rfc7644_3_4_2_2_user_name_eq(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(
        ctx,
        &format!("userName eq \"{stem}-alpha@example.com\""),
        &ids,
        &[0],
    )
}

/// RFC 7643 §4.1.1: `userName` is `caseExact: false`, so `eq` ignores the value's case.
fn rfc7644_3_4_2_2_user_name_eq_ignores_value_case(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let upper = format!("{stem}-alpha@example.com").to_uppercase();
    expect(ctx, &format!("userName eq \"{upper}\""), &ids, &[0])
}

/// "Attribute names and attribute operators used in filters are case insensitive."
fn rfc7644_3_4_2_2_attribute_and_operator_ignore_case(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(
        ctx,
        &format!("USERNAME EQ \"{stem}-alpha@example.com\""),
        &ids,
        &[0],
    )?;
    expect(
        ctx,
        &format!("UserName Sw \"{stem}\" AND ExternalId Pr"),
        &ids,
        &[0, 1],
    )
}

/// RFC 7643 §3.1: `externalId` is `caseExact: true`.
fn rfc7644_3_4_2_2_external_id_eq_is_case_exact(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(ctx, &format!("externalId eq \"ExtA-{stem}\""), &ids, &[0])?;
    expect(ctx, &format!("externalId eq \"exta-{stem}\""), &ids, &[])
}

fn rfc7644_3_4_2_2_sw_co_ew(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(ctx, &format!("userName sw \"{stem}\""), &ids, &[0, 1, 2])?;
    expect(ctx, &format!("userName co \"{stem}-bet\""), &ids, &[1])?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and userName ew \"-gamma@example.com\""),
        &ids,
        &[2],
    )
}

fn rfc7644_3_4_2_2_ne_and_pr(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and externalId pr"),
        &ids,
        &[0, 1],
    )?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and userName ne \"{stem}-alpha@example.com\""),
        &ids,
        &[1, 2],
    )
}

/// "Filters MUST be evaluated using the standard order of operations": parentheses,
/// then `not`, then `and`, then `or`.
fn rfc7644_3_4_2_2_and_or_not_with_precedence(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let (a, b, g) = (
        format!("userName eq \"{stem}-alpha@example.com\""),
        format!("userName eq \"{stem}-beta@example.com\""),
        format!("userName eq \"{stem}-gamma@example.com\""),
    );
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and ({a} or {g})"),
        &ids,
        &[0, 2],
    )?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and not ({a})"),
        &ids,
        &[1, 2],
    )?;
    // `and` binds tighter than `or`: a or (b and g) is a alone.
    expect(ctx, &format!("{a} or {b} and {g}"), &ids, &[0])
}

fn rfc7644_3_4_2_2_boolean_eq(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and active eq false"),
        &ids,
        &[1],
    )
}

/// Date-time attributes compare chronologically (`gt`, `lt`).
fn rfc7644_3_4_2_2_date_time_comparison(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let scope = format!("userName sw \"{stem}\"");
    expect(
        ctx,
        &format!("{scope} and meta.lastModified gt \"2000-01-01T00:00:00Z\""),
        &ids,
        &[0, 1, 2],
    )?;
    expect(
        ctx,
        &format!("{scope} and meta.lastModified lt \"2000-01-01T00:00:00Z\""),
        &ids,
        &[],
    )?;
    expect(
        ctx,
        &format!("{scope} and meta.created lt \"2999-12-31T23:59:59Z\""),
        &ids,
        &[0, 1, 2],
    )
}

fn rfc7644_3_4_2_2_group_display_name_eq(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.new_group(&[])?;
    ctx.new_group(&[])?;
    let name = attr(&group, "displayName")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let list = ctx.query("/Groups", &format!("displayName eq \"{name}\""), "")?;
    ensure!(
        resource_ids(&list) == vec![id_of(&group)],
        "displayName eq found {:?}",
        resource_ids(&list)
    );
    Ok(())
}

/// §3.4.2: "A query that does not return any matches SHALL return success with
/// totalResults set to a value of 0" (never 404: IdPs read 404 as an error).
fn rfc7644_3_4_2_2_no_match_is_200_with_zero_results(ctx: &mut Ctx) -> CaseResult {
    let nobody = format!("{}nobody@example.com", ctx.prefix());
    let list = ctx.query("/Users", &format!("userName eq \"{nobody}\""), "")?;
    ensure!(
        list["totalResults"] == 0,
        "totalResults is {}",
        list["totalResults"]
    );
    Ok(())
}

/// §3.12: `invalidFilter`, "the specified filter syntax was invalid".
fn rfc7644_3_4_2_2_malformed_filter_is_400_invalid_filter(ctx: &mut Ctx) -> CaseResult {
    for filter in [
        "userName eq",
        "userName zz \"x\"",
        "(userName eq \"x\"",
        "userName eq \"x\" and",
    ] {
        let r = ctx
            .http
            .get(&format!("/Users?filter={}", crate::http::enc(filter)))?;
        want_error(&r, 400, Some("invalidFilter"), &format!("filter {filter}"))?;
    }
    Ok(())
}

/// Filters on multi-valued sub-attributes (Entra matches on
/// `emails[type eq "work"].value`). §3.12 lets a server refuse an "attribute and filter
/// comparison combination [that] is not supported" with 400 `invalidFilter`; what it
/// must never do is answer 200 with the wrong users.
fn rfc7644_3_4_2_2_multi_valued_filter_matches_or_is_refused(ctx: &mut Ctx) -> CaseResult {
    let (stem, ids) = three_users(ctx)?;
    let email = format!("{stem}-beta@example.com");
    let mut refused = Vec::new();
    for filter in [
        format!("emails.value eq \"{email}\""),
        format!("emails[type eq \"work\" and value eq \"{email}\"]"),
        format!("emails[type eq \"work\"].value eq \"{email}\""),
    ] {
        let r = ctx
            .http
            .get(&format!("/Users?filter={}", crate::http::enc(&filter)))?;
        if r.status == 400 && r.body["scimType"] == "invalidFilter" {
            refused.push(filter);
            continue;
        }
        ensure!(
            r.status == 200,
            "filter {filter}: got {}: {}",
            r.status,
            r.snippet()
        );
        let got = resource_ids(&r.body);
        ensure!(
            got == vec![ids[1].clone()],
            "filter {filter}: found {got:?}, want [{}]",
            ids[1]
        );
    }
    if !refused.is_empty() {
        return skip(format!(
            "refused with 400 invalidFilter (allowed): {}",
            refused.join("; ")
        ));
    }
    Ok(())
}

/// A 2,000-deep filter is valid syntax. A server may evaluate it or refuse it with a
/// 4xx (§3.12 `invalidFilter` or `tooMany`, or 414 for the URI), but a 5xx or a dropped
/// connection means a recursive parser blew its stack (the crash behind Keycloak #50472
/// and SCIMple #1126); the server must still answer afterwards.
fn rfc7644_3_4_2_2_deeply_nested_filter_is_answered(ctx: &mut Ctx) -> CaseResult {
    let nobody = format!("{}nobody@example.com", ctx.prefix());
    let depth = 2000;
    for (open, close) in [("(", ")"), ("not (", ")")] {
        let filter = format!(
            "{}userName eq \"{nobody}\"{}",
            open.repeat(depth),
            close.repeat(depth)
        );
        let target = format!("/Users?filter={}", crate::http::enc(&filter));
        let what = format!("a filter nested {depth} deep with {open:?}");
        let r = ctx.http.get(&target).map_err(|e| format!("{what}: {e}"))?;
        ensure!(
            r.status < 500,
            "{what} answered {}: {}",
            r.status,
            r.snippet()
        );
        if r.status == 200 {
            let total = r.body["totalResults"].as_u64();
            // `not` applied an even number of times is the plain filter: no match.
            ensure!(total == Some(0), "{what} matched {total:?} users, want 0");
        }
    }
    ctx.fetch("/ServiceProviderConfig")?;
    Ok(())
}

/// Values are literal strings: `%` and `_` match themselves, not "anything" as they would
/// in an unescaped SQL `LIKE`.
fn rfc7644_3_4_2_2_wildcard_characters_are_literal(ctx: &mut Ctx) -> CaseResult {
    let stem = ctx.unique("-w");
    let mut ids = Vec::new();
    for local in ["a_c", "abc", "a%c"] {
        let user = ctx.create_user(&super::user_body(&format!("{stem}-{local}@example.com")))?;
        ids.push(id_of(&user));
    }
    expect(ctx, &format!("userName sw \"{stem}-a_\""), &ids, &[0])?;
    expect(
        ctx,
        &format!("userName eq \"{stem}-a%c@example.com\""),
        &ids,
        &[2],
    )?;
    expect(
        ctx,
        &format!("userName sw \"{stem}\" and userName co \"%\""),
        &ids,
        &[2],
    )
}

/// Filter values are JSON strings (§3.4.2.2, `compValue`), so `\"` is a quote inside one.
fn rfc7644_3_4_2_2_escaped_quote_in_a_value(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.unique("-o\"brien@example.com");
    let user = ctx.create_user(&super::user_body(&name))?;
    let quoted = serde_json::to_string(&name).expect("a string");
    let got = found(ctx, &format!("userName eq {quoted}"))?;
    ensure!(
        got == vec![id_of(&user)],
        "userName eq {quoted} found {got:?}"
    );
    Ok(())
}
