use serde_json::json;

use super::*;
use crate::scim::filter::{matches, parse};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

fn checked(kind: ResourceKind, text: &str) -> Result<String, Invalid> {
    check(kind, &parse(text).unwrap()).map(|f| f.to_string())
}

fn refused(kind: ResourceKind, text: &str) {
    let err = checked(kind, text).unwrap_err();
    assert_eq!(err.scim_type, ScimType::InvalidFilter, "{text}: {err}");
}

#[test]
fn date_time_literals_become_the_stored_utc_form() {
    for (literal, stored) in [
        ("2026-12-06T15:33:46+01:00", "2026-12-06T14:33:46.000Z"),
        ("2026-12-06T14:33:46Z", "2026-12-06T14:33:46.000Z"),
        ("2026-12-06t14:33:46z", "2026-12-06T14:33:46.000Z"),
        ("2026-12-06T14:33:46", "2026-12-06T14:33:46.000Z"),
        ("2026-12-06T14:33:46.5Z", "2026-12-06T14:33:46.500Z"),
        ("2026-12-06T14:33:46.12300Z", "2026-12-06T14:33:46.123Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00.000Z"),
        ("2024-03-01T00:15:00+00:30", "2024-02-29T23:45:00.000Z"),
        ("2000-01-01T00:00:00+14:00", "1999-12-31T10:00:00.000Z"),
    ] {
        assert_eq!(
            checked(USER, &format!("meta.lastModified gt \"{literal}\"")).unwrap(),
            format!("meta.lastModified gt \"{stored}\""),
            "{literal}"
        );
    }
    // Inside a value filter, and on groups, the same.
    assert_eq!(
        checked(GROUP, "meta[created le \"2026-12-06T15:33:46+01:00\"]").unwrap(),
        "meta[created le \"2026-12-06T14:33:46.000Z\"]"
    );
}

#[test]
fn instants_finer_than_a_millisecond_order_exactly() {
    let t = "2026-12-06T14:33:46.1234Z";
    let floor = "2026-12-06T14:33:46.123Z";
    for (op, want) in [("gt", "gt"), ("ge", "gt"), ("lt", "le"), ("le", "le")] {
        assert_eq!(
            checked(USER, &format!("meta.created {op} \"{t}\"")).unwrap(),
            format!("meta.created {want} \"{floor}\"")
        );
    }
    // Stored values are milliseconds: each compares with t as with the rewritten bound.
    let stored = |ms: &str| json!({"meta": {"created": format!("2026-12-06T14:33:46.{ms}Z")}});
    let no_case = |_: &AttrPath| false;
    for op in ["gt", "ge", "lt", "le", "eq", "ne"] {
        let f = check(USER, &parse(&format!("meta.created {op} \"{t}\"")).unwrap()).unwrap();
        for (ms, after) in [("122", false), ("123", false), ("124", true)] {
            let want = match op {
                "gt" | "ge" => after,
                "lt" | "le" => !after,
                "eq" => false,
                _ => true,
            };
            assert_eq!(matches(&f, &stored(ms), &no_case), want, "{op} at .{ms}");
        }
    }
}

#[test]
fn a_literal_that_is_not_a_date_time_is_an_invalid_filter() {
    for literal in [
        "\"yesterday\"",
        "\"2026-12-06\"",
        "\"2026-13-06T00:00:00Z\"",
        "\"2026-02-29T00:00:00Z\"",
        "\"2026-12-06T24:00:00Z\"",
        "\"2026-12-06T23:59:60Z\"",
        "\"2026-12-06T14:33:46.Z\"",
        "\"2026-12-06T14:33:46+1:00\"",
        "\"2026-12-06T14:33:46+01:00x\"",
        "\"0000-01-01T00:00:00Z\"",
        "\"9999-12-31T23:30:00-01:00\"",
        "\"٢٠٢٦-12-06T14:33:46Z\"",
        "\"\"",
        "42",
        "true",
    ] {
        for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
            let text = format!("meta.lastModified {op} {literal}");
            // The parser already refuses ordering a boolean.
            if parse(&text).is_ok() {
                refused(USER, &text);
            }
        }
    }
    // Null is a presence test; co/sw/ew compare the stored text.
    assert!(checked(USER, "meta.created eq null").is_ok());
    assert_eq!(
        checked(USER, "meta.created sw \"2026-12\"").unwrap(),
        "meta.created sw \"2026-12\""
    );
    // Not a dateTime attribute: left alone.
    assert!(checked(USER, "title gt \"yesterday\"").is_ok());
}

#[test]
fn a_complex_attribute_compares_through_a_sub_attribute() {
    for text in [
        "name eq \"x\"",
        "name gt \"A\"",
        "NAME co \"a\"",
        "meta eq \"x\"",
        "addresses eq \"x\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:name eq \"x\"",
        "title eq \"a\" or name eq \"x\"",
        "not (name sw \"x\")",
    ] {
        refused(USER, text);
    }
    refused(GROUP, "meta lt \"x\"");
    for text in [
        "name.givenName eq \"x\"",
        "name pr",
        "name eq null",
        "emails co \"@x\"",
        "emails[value co \"@x\"]",
        "groups eq \"id\"",
        "manager eq \"id\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"id\"",
        "unknownThing eq \"x\"",
    ] {
        assert!(checked(USER, text).is_ok(), "{text}");
    }
    // Groups have no `name`: an unknown attribute compares as stored JSON.
    assert!(checked(GROUP, "name eq \"x\"").is_ok());
    assert!(checked(GROUP, "members eq \"id\"").is_ok());
}

#[test]
fn long_chains_keep_their_terms() {
    let text = (0..200)
        .map(|i| format!("title eq \"{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    assert_eq!(checked(USER, &text).unwrap(), text);
}
