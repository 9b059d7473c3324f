//! The SQL filter engine against the in-memory reference evaluator, over HTTP.
//!
//! A seeded directory of users and groups (mixed case, LIKE metacharacters, quotes,
//! non-ASCII, numbers, missing and unknown attributes, an unknown extension, sub-keys
//! spelled by PATCH) is loaded through the API. Thousands of generated filters then go
//! through `GET /Users?filter=…` and `GET /Groups?filter=…`, and each answer must be
//! exactly the ids that `roster::scim::filter::matches` selects from the resources as GET
//! returns them. Everything is seeded: a failure prints its (shrunk) filter and
//! reproduces. Runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` names one.
//!
//! Test data stays within what PostgreSQL's `lower()` and Rust's `to_lowercase` agree
//! on (no `İ`, no Greek sigma), and numbers within ±2^53 (see `store::filter_sql`).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use roster::scim::filter::{self, AttrPath, CompareOp, Filter, Literal};
use roster::scim::filter_schema;
use roster::scim::schema::{self, ResourceKind};
use serde_json::{json, Map, Number, Value};

use crate::helpers::{patch_op, Rng, TestApp};
use crate::users::urlencode;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ACME: &str = "urn:acme:params:scim:schemas:extension:acme:1.0:User";
const FLAT: &str = "urn:acme:flat:1.0:User";

const USER_CASES: u32 = 1_500;
const GROUP_CASES: u32 = 400;

const WORDS: &[&str] = &[
    "alice",
    "Alice",
    "ALICE",
    "bob",
    "Bob Smith",
    "bob_smith",
    "a%b",
    "a_b",
    "axb",
    "a\\b",
    "O'Malley",
    "say \"hi\"",
    "École",
    "école",
    "straße",
    "STRASSE",
    "Zoë",
    "ÖL",
    "Жук",
    "😀x",
    "",
    " ",
    "Vice President",
    "vice president",
    "50% off",
    "under_score",
    "back\\slash",
    "x",
    "Engineering",
    "eng",
    "Ops",
    "ops-team",
    "Sales",
    "ß",
    "ẞIG",
    "ñandú",
    "Ünïcødé",
    "%",
    "_",
];

fn word(rng: &mut Rng) -> String {
    rng.pick(WORDS).to_owned()
}

fn number(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(0),
        json!(1),
        json!(41),
        json!(42),
        json!(42.0),
        json!(1.5),
        json!(-3),
        json!(1e3),
        json!(-0.5),
        json!(9_007_199_254_740_991_i64),
        json!("42"),
    ])
}

fn user_body(rng: &mut Rng, i: usize) -> Value {
    let mut u = Map::new();
    u.insert("schemas".into(), json!([USER]));
    let base = rng.pick(&[
        "user", "User", "a%b", "a_b", "a\\b", "Zoë", "o'neil", "STRASSE",
    ]);
    u.insert("userName".into(), json!(format!("{base}{i}")));
    let maybe = |u: &mut Map<String, Value>, rng: &mut Rng, p, key: &str, value: Value| {
        if rng.chance(p) {
            u.insert(key.into(), value);
        }
    };
    let v = json!(word(rng));
    maybe(&mut u, rng, 80, "displayName", v);
    let v = json!(word(rng));
    maybe(&mut u, rng, 70, "title", v);
    let v = json!(rng.chance(60));
    maybe(&mut u, rng, 70, "active", v);
    let v = json!(word(rng));
    maybe(&mut u, rng, 40, "nickName", v);
    let v = json!(rng.pick(&["Employee", "employee", "Contractor", "Intern"]));
    maybe(&mut u, rng, 60, "userType", v);
    let v = json!(rng.pick(&["ext-1", "EXT-1", "Ext-2", "e%", "E_1"]));
    maybe(&mut u, rng, 60, "externalId", v);
    if rng.chance(70) {
        let mut name = Map::new();
        for key in ["givenName", "familyName", "formatted"] {
            if rng.chance(70) {
                name.insert(key.into(), json!(word(rng)));
            }
        }
        u.insert("name".into(), Value::Object(name));
    }
    let emails: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            let mut e = Map::new();
            let local = rng.pick(&["bjensen", "BJensen", "a%b", "x_y", "o'malley", "zoë"]);
            let domain = rng.pick(&["example.com", "Example.COM", "example.org", "x.io"]);
            e.insert("value".into(), json!(format!("{local}@{domain}")));
            if rng.chance(70) {
                e.insert(
                    "type".into(),
                    json!(rng.pick(&["work", "home", "other", "Work"])),
                );
            }
            if rng.chance(50) {
                e.insert("primary".into(), json!(rng.chance(50)));
            }
            if rng.chance(20) {
                e.insert("display".into(), json!(word(rng)));
            }
            Value::Object(e)
        })
        .collect();
    if !emails.is_empty() {
        u.insert("emails".into(), Value::Array(emails));
    }
    if rng.chance(30) {
        let phone = json!({"value": rng.pick(&["+1 555 0100", "555-0199", "0"]), "type": rng.pick(&["work", "mobile"])});
        u.insert("phoneNumbers".into(), json!([phone]));
    }
    if rng.chance(60) {
        let mut ent = Map::new();
        let v = json!(rng.pick(&["701984", "00042", "42", "A-7"]));
        maybe(&mut ent, rng, 70, "employeeNumber", v);
        let v = json!(word(rng));
        maybe(&mut ent, rng, 60, "department", v);
        let v = json!(rng.pick(&["CC-1", "cc-1", "4130"]));
        maybe(&mut ent, rng, 40, "costCenter", v);
        let v = json!({"value": rng.pick(&["m-1", "M-1", "m-2"])});
        maybe(&mut ent, rng, 40, "manager", v);
        if !ent.is_empty() {
            u.insert(ENTERPRISE.into(), Value::Object(ent));
        }
    }
    // Unknown attributes, kept as sent.
    let v = number(rng);
    maybe(&mut u, rng, 60, "loginCount", v);
    let colors: Vec<Value> = (0..1 + rng.below(3)).map(|_| json!(word(rng))).collect();
    maybe(&mut u, rng, 40, "favoriteColors", Value::Array(colors));
    let v = json!([1, "a", true, null, {"value": "x"}, ["nested"], 2.5]);
    maybe(&mut u, rng, 20, "flags", v);
    let v = json!({"Level": {"deep": word(rng)}, "list": [{"k": 1}, {"K": "two"}], "n": null});
    maybe(&mut u, rng, 25, "nested", v);
    let v = json!(word(rng));
    maybe(&mut u, rng, 30, "CamelCase", v);
    // Keys equal but for case: the exact spelling wins, then the smallest key.
    let v = json!({"Key": word(rng), "key": word(rng), "KEY": number(rng)});
    maybe(&mut u, rng, 20, "dup", v);
    let tags: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| json!({"value": word(rng), "Weight": number(rng)}))
        .collect();
    maybe(&mut u, rng, 30, "tags", Value::Array(tags));
    if i == 1 {
        // Empty strings are present as values, but not for `pr`.
        for key in ["displayName", "externalId", "title", "CamelCase"] {
            u.insert(key.into(), json!(""));
        }
    }
    let v = json!({"badge": word(rng), "Level": number(rng)});
    maybe(&mut u, rng, 25, ACME, v);
    let v = json!(word(rng));
    maybe(&mut u, rng, 15, &format!("{FLAT}:code"), v);
    Value::Object(u)
}

/// Loads the directory: returns (users, groups) as GET renders them.
fn load(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let mut rng = Rng(0x5eed_f11e);
    let mut user_ids = Vec::new();
    for i in 0..60 {
        let r = app.post("/Users", &user_body(&mut rng, i));
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        // PATCH keeps a client's spelling of a new sub-attribute: lookups must not
        // assume canonical keys below the top level.
        if i % 7 == 0 {
            let ops = json!([{"op": "replace", "path": "name.GIVENNAME", "value": word(&mut rng)}]);
            let r = app.patch(&format!("/Users/{id}"), &patch_op(ops));
            assert_eq!(r.status, 200, "{}", r.text);
        }
        if i % 11 == 3 && r.body["emails"].is_array() {
            let ops = json!([{"op": "replace", "path": "emails.TYPE", "value": "other"}]);
            let r = app.patch(&format!("/Users/{id}"), &patch_op(ops));
            assert_eq!(r.status, 200, "{}", r.text);
        }
        user_ids.push(id);
    }
    let names = [
        "Engineering",
        "eng-ops",
        "Sales",
        "a%b team",
        "a_b team",
        "École",
        "ZOË",
        "Ops",
        "back\\slash",
        "Empty",
    ];
    let mut group_ids: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut members: Vec<Value> = (0..rng.below(9))
            .map(|_| {
                let id = rng.pick(&user_ids);
                if rng.chance(20) {
                    json!({"value": id, "display": word(&mut rng)})
                } else {
                    json!({"value": id})
                }
            })
            .collect();
        if i == names.len() - 1 {
            members.clear();
        } else if let Some(g) = group_ids.first().filter(|_| i % 3 == 1) {
            members.push(json!({"value": g}));
        }
        let mut body = json!({"schemas": [GROUP], "displayName": name, "members": members});
        if rng.chance(60) {
            body["externalId"] = json!(rng.pick(&["g-1", "G-1", "g_2"]));
        }
        if rng.chance(60) {
            body["description"] = json!(word(&mut rng));
        }
        if rng.chance(50) {
            body["level"] = number(&mut rng);
        }
        let r = app.post("/Groups", &body);
        assert_eq!(r.status, 201, "{}", r.text);
        group_ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    (list(app, "/Users"), list(app, "/Groups"))
}

fn list(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let r = app.get(&format!("{endpoint}?count=500"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["Resources"].as_array().unwrap().clone()
}

/// Every string in the resources, with case variants, prefixes and suffixes.
fn strings(resources: &[Value]) -> Vec<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(fields) => fields.values().for_each(|f| walk(f, out)),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    resources.iter().for_each(|r| walk(r, &mut seen));
    let mut out = BTreeSet::new();
    for s in &seen {
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        out.insert(s.clone());
        out.insert(s.to_uppercase());
        out.insert(s.to_lowercase());
        for k in [1, 2, 4] {
            out.insert(chars[..k.min(n)].iter().collect());
            out.insert(chars[n.saturating_sub(k)..].iter().collect());
        }
        out.insert(chars[n / 3..(2 * n / 3).max(n / 3)].iter().collect());
        out.extend(other_spellings_of_a_stamp(s));
    }
    out.into_iter().collect()
}

/// A stored stamp (`2026-12-06T14:33:46.123Z`) spelled as clients may: with an offset,
/// more digits, or an instant between two milliseconds.
fn other_spellings_of_a_stamp(s: &str) -> Vec<String> {
    let hour = s.get(11..13).and_then(|h| h.parse::<u32>().ok());
    let (Some(hour), true) = (hour, s.len() == 24 && s.ends_with('Z')) else {
        return Vec::new();
    };
    let bare = &s[..23];
    let mut out = vec![format!("{bare}000Z"), format!("{bare}4Z"), bare.to_owned()];
    if hour < 23 {
        out.push(format!("{}{:02}{}+01:00", &s[..11], hour + 1, &s[13..23]));
    }
    out
}

fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub_attr: sub.map(str::to_owned),
    }
}

fn user_paths() -> Vec<AttrPath> {
    let mut paths: Vec<AttrPath> = [
        "id",
        "userName",
        "displayName",
        "title",
        "active",
        "nickName",
        "userType",
        "externalId",
        "name",
        "emails",
        "phoneNumbers",
        "meta",
        "schemas",
        "groups",
        "loginCount",
        "favoriteColors",
        "flags",
        "nested",
        "CamelCase",
        "tags",
        "members",
        "nope",
        ENTERPRISE,
    ]
    .iter()
    .map(|n| path(None, n, None))
    .collect();
    for (name, sub) in [
        ("name", "givenName"),
        ("name", "familyName"),
        ("name", "formatted"),
        ("name", "middleName"),
        ("emails", "value"),
        ("emails", "type"),
        ("emails", "primary"),
        ("emails", "display"),
        ("phoneNumbers", "value"),
        ("phoneNumbers", "type"),
        ("meta", "created"),
        ("meta", "lastModified"),
        ("meta", "location"),
        ("meta", "version"),
        ("meta", "resourceType"),
        ("groups", "value"),
        ("groups", "display"),
        ("groups", "type"),
        ("groups", "$ref"),
        ("nested", "Level"),
        ("nested", "list"),
        ("nested", "n"),
        ("dup", "key"),
        ("dup", "Key"),
        ("dup", "kEY"),
        ("tags", "value"),
        ("tags", "Weight"),
        ("flags", "value"),
        ("userName", "x"),
    ] {
        paths.push(path(None, name, Some(sub)));
    }
    let ent_prefix = ENTERPRISE.rsplit_once(':').unwrap().0;
    let acme_prefix = ACME.rsplit_once(':').unwrap().0;
    for (urn, name, sub) in [
        (ENTERPRISE, "employeeNumber", None),
        (ENTERPRISE, "department", None),
        (ENTERPRISE, "costCenter", None),
        (ENTERPRISE, "manager", None),
        (ENTERPRISE, "manager", Some("value")),
        (ent_prefix, "User", None),
        (USER, "userName", None),
        (USER, "emails", Some("value")),
        (GROUP, "displayName", None),
        (GROUP, "id", None),
        (ACME, "badge", None),
        (ACME, "level", None),
        (acme_prefix, "User", None),
        (FLAT, "code", None),
        ("urn:nope:x", "y", None),
    ] {
        paths.push(path(Some(urn), name, sub));
    }
    paths
}

fn group_paths() -> Vec<AttrPath> {
    let mut paths: Vec<AttrPath> = [
        "id",
        "displayName",
        "externalId",
        "members",
        "meta",
        "schemas",
        "description",
        "level",
        "groups",
        "nope",
    ]
    .iter()
    .map(|n| path(None, n, None))
    .collect();
    for (name, sub) in [
        ("members", "value"),
        ("members", "display"),
        ("members", "type"),
        ("members", "$ref"),
        ("meta", "created"),
        ("meta", "lastModified"),
        ("meta", "location"),
        ("meta", "version"),
        ("displayName", "value"),
    ] {
        paths.push(path(None, name, Some(sub)));
    }
    paths.push(path(Some(GROUP), "displayName", None));
    paths.push(path(Some(USER), "members", Some("value")));
    paths.push(path(Some(ENTERPRISE), "department", None));
    paths
}

/// Attributes for value filters, and the names their inner filters use.
fn value_path_attrs(kind: ResourceKind) -> (Vec<AttrPath>, Vec<AttrPath>) {
    let attrs: &[&str] = match kind {
        ResourceKind::User => &[
            "emails",
            "phoneNumbers",
            "groups",
            "tags",
            "flags",
            "favoriteColors",
            "name",
            "meta",
            "schemas",
            "id",
            "userName",
            "nested",
            "loginCount",
        ],
        ResourceKind::Group => &["members", "meta", "schemas", "displayName", "id"],
    };
    let mut attrs: Vec<AttrPath> = attrs.iter().map(|n| path(None, n, None)).collect();
    if kind == ResourceKind::User {
        attrs.push(path(Some(ENTERPRISE), "manager", None));
    }
    let inner = [
        "value",
        "type",
        "primary",
        "display",
        "givenName",
        "created",
        "Weight",
        "deep",
        "Level",
        "nope",
        "$ref",
        "lastModified",
        "version",
        "location",
        "resourceType",
    ]
    .iter()
    .map(|n| path(None, n, None))
    .chain([
        path(Some(USER), "value", None),
        path(Some(ACME), "badge", None),
    ])
    .collect();
    (attrs, inner)
}

/// Sometimes respells the names, which are case-insensitive.
fn respell() -> BoxedStrategy<u8> {
    any::<u8>().boxed()
}

fn respelled(mut p: AttrPath, how: u8) -> AttrPath {
    let change = |s: &mut String, upper: bool| {
        *s = if upper {
            s.to_ascii_uppercase()
        } else {
            s.to_ascii_lowercase()
        };
    };
    match how {
        0..=179 => {}
        180..=219 => change(&mut p.name, true),
        220..=239 => change(&mut p.name, false),
        _ => {
            if let Some(sub) = p.sub_attr.as_mut() {
                change(sub, true);
            }
            if let Some(urn) = p.urn.as_mut() {
                change(urn, false);
            }
        }
    }
    p
}

/// Literals that probe escaping, empty strings and the U+0000 rewrite.
const PROBES: &[&str] = &[
    "",
    "%",
    "_",
    "\\",
    "a%",
    "a_b",
    "a\\b",
    "\"",
    "'",
    "@",
    "example.com",
    "a\u{0}b",
    "\u{0}",
    "z",
    "~",
    "0",
    "2026",
    "W/\"1\"",
    "http",
    "/Users/",
    "direct",
    " ",
];

fn literal(strings: Vec<String>) -> impl Strategy<Value = Literal> {
    let probes: Vec<String> = PROBES.iter().map(|p| (*p).to_owned()).collect();
    let numbers: Vec<Number> = [
        json!(0),
        json!(1),
        json!(1.5),
        json!(41),
        json!(42),
        json!(42.0),
        json!(-3),
        json!(1000),
        json!(-0.5),
        json!(2.5),
        json!(9_007_199_254_740_991_i64),
    ]
    .into_iter()
    .filter_map(|v| v.as_number().cloned())
    .collect();
    prop_oneof![
        10 => select(strings).prop_map(Literal::String),
        3 => select(probes).prop_map(Literal::String),
        4 => select(numbers).prop_map(Literal::Number),
        2 => any::<bool>().prop_map(Literal::Bool),
        1 => Just(Literal::Null),
    ]
}

fn leaf(paths: Vec<AttrPath>, strings: Vec<String>) -> BoxedStrategy<Filter> {
    use CompareOp::*;
    let op = select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le]);
    let p = (select(paths), respell())
        .prop_map(|(p, how)| respelled(p, how))
        .boxed();
    let compare = (p.clone(), op, literal(strings)).prop_map(|(path, op, value)| {
        let value = match (&value, op) {
            // The parser refuses these: ask something it accepts.
            (Literal::Bool(_) | Literal::Null, Co | Sw | Ew | Gt | Ge | Lt | Le) => {
                Literal::String("a".into())
            }
            _ => value,
        };
        Filter::Compare { path, op, value }
    });
    prop_oneof![4 => compare, 1 => p.prop_map(Filter::Present)].boxed()
}

fn tree(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 12, 2, |f| {
        prop_oneof![
            (f.clone(), f.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
            (f.clone(), f.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
            f.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn filters(kind: ResourceKind, resources: &[Value]) -> BoxedStrategy<Filter> {
    let strings = strings(resources);
    let paths = match kind {
        ResourceKind::User => user_paths(),
        ResourceKind::Group => group_paths(),
    };
    let (attrs, inner) = value_path_attrs(kind);
    let value_path = (
        select(attrs),
        respell(),
        tree(leaf(inner, strings.clone()), 2),
    )
        .prop_map(|(path, how, inner)| Filter::ValuePath {
            path: respelled(path, how),
            filter: Box::new(inner),
        });
    let leaves = prop_oneof![4 => leaf(paths, strings), 1 => value_path].boxed();
    tree(leaves, 3)
}

/// Filter texts: mostly a generated filter as `Display` writes it, and sometimes with
/// Entra's form `attr[selector].sub op value` (which `Display` never writes) joined on.
fn filter_texts(kind: ResourceKind, resources: &[Value]) -> BoxedStrategy<String> {
    let (attrs, inner) = value_path_attrs(kind);
    // The part after `].` is a bare sub-attribute name.
    let subs: Vec<AttrPath> = inner
        .iter()
        .filter(|p| p.urn.is_none() && p.sub_attr.is_none())
        .cloned()
        .collect();
    let strings = strings(resources);
    let entra = (
        select(attrs),
        respell(),
        tree(leaf(inner, strings.clone()), 1),
        leaf(subs, strings),
    )
        .prop_map(|(path, how, selector, test)| {
            format!("{}[{selector}].{test}", respelled(path, how))
        });
    let plain = filters(kind, resources);
    prop_oneof![
        4 => plain.clone().prop_map(|f| f.to_string()),
        1 => entra.clone(),
        1 => (entra, plain, any::<bool>()).prop_map(|(e, f, and)| {
            format!("{e} {} ({f})", if and { "and" } else { "or" })
        }),
    ]
    .boxed()
}

fn ids(resources: &[Value]) -> BTreeSet<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `cases` generated filters through the endpoint; returns how many matched some
/// but not all resources (so the run is known to discriminate).
fn differential(
    app: &TestApp,
    kind: ResourceKind,
    resources: &[Value],
    grid: &[String],
    cases: u32,
) -> u32 {
    let endpoint = match kind {
        ResourceKind::User => "/Users",
        ResourceKind::Group => "/Groups",
    };
    let case_exact = |p: &AttrPath| {
        schema::is_case_exact(kind, p.urn.as_deref(), &p.name, p.sub_attr.as_deref())
    };
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let discriminating = std::cell::Cell::new(0);
    let all = ids(resources);
    let check = |text: &str| -> Result<(), TestCaseError> {
        let parsed =
            filter::parse(text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        // What the schema refuses (a complex attribute without a sub-attribute, a
        // dateTime compared with something else) must be refused, and what it accepts
        // is evaluated as checked (dateTime literals in stored form).
        let parsed = match filter_schema::check(kind, &parsed) {
            Ok(checked) => checked,
            Err(e) => {
                let r = app.get(&format!("{endpoint}?filter={}", urlencode(text)));
                if r.status != 400 || r.body["scimType"] != "invalidFilter" {
                    return Err(TestCaseError::fail(format!(
                        "{text}: refused by the schema ({e}), but => {} {}",
                        r.status, r.text
                    )));
                }
                return Ok(());
            }
        };
        let expected: BTreeSet<String> = resources
            .iter()
            .filter(|r| filter::matches(&parsed, r, &case_exact))
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let r = app.get(&format!(
            "{endpoint}?count=500&attributes=id&filter={}",
            urlencode(text)
        ));
        if r.status != 200 {
            return Err(TestCaseError::fail(format!(
                "{text}\n=> {} {}",
                r.status, r.text
            )));
        }
        let got = ids(r.body["Resources"].as_array().unwrap_or(&Vec::new()));
        if got != expected {
            let missing: Vec<_> = expected.difference(&got).collect();
            let extra: Vec<_> = got.difference(&expected).collect();
            let show = |id: &String| {
                resources
                    .iter()
                    .find(|r| r["id"] == id.as_str())
                    .map(Value::to_string)
                    .unwrap_or_default()
            };
            let detail: Vec<String> = missing.iter().chain(&extra).map(|id| show(id)).collect();
            return Err(TestCaseError::fail(format!(
                "{text}\nmissing {missing:?}\nextra {extra:?}\n{}",
                detail.join("\n")
            )));
        }
        if !got.is_empty() && got != all {
            discriminating.set(discriminating.get() + 1);
        }
        Ok(())
    };
    for text in grid {
        if let Err(e) = check(text) {
            panic!("{endpoint}: the SQL filter disagrees with the evaluator: {e}");
        }
    }
    let outcome = runner.run(&filter_texts(kind, resources), |text| check(&text));
    if let Err(e) = outcome {
        panic!("{endpoint}: the SQL filter disagrees with the evaluator: {e}");
    }
    discriminating.get()
}

/// Fixed filters run before the random ones: every probe literal with every operator on
/// a few attributes, presence and null tests on every path, and every inner name of
/// every value filter.
fn grid(kind: ResourceKind, probed: &[&str], extra: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for path in probed {
        for op in ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
            for probe in PROBES {
                out.push(format!("{path} {op} {}", Value::from(*probe)));
            }
        }
    }
    let paths = match kind {
        ResourceKind::User => user_paths(),
        ResourceKind::Group => group_paths(),
    };
    for path in paths {
        for test in ["pr", "eq null", "ne null"] {
            out.push(format!("{path} {test}"));
        }
    }
    let (attrs, inner) = value_path_attrs(kind);
    for attr in &attrs {
        for name in &inner {
            out.push(format!("{attr}[{name} pr]"));
        }
    }
    out.extend(extra.iter().map(|e| (*e).to_owned()));
    out
}

#[test]
fn sql_filters_select_exactly_what_the_evaluator_selects() {
    let app = TestApp::spawn();
    let (users, groups) = load(&app);
    assert_eq!((users.len(), groups.len()), (60, 10));
    // Case-exact sub-attributes inside value filters, and the whole-extension path.
    let extra = [
        r#"meta[version eq "w/\"1\""]"#,
        r#"meta[resourceType eq "user"]"#,
        r#"meta[location sw "HTTP"]"#,
        r#"meta[RESOURCETYPE eq "User" and version ne "W/\"1\""]"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr",
        "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
        "SCHEMAS co \"extension\" and not (schemas[value ew \"2.0:group\"])",
        "groups.type eq \"direct\" and members pr",
    ];
    let user_grid = grid(
        ResourceKind::User,
        &["title", "emails.value", "dup.kEy"],
        &extra,
    );
    let useful = differential(&app, ResourceKind::User, &users, &user_grid, USER_CASES);
    let cases = USER_CASES + user_grid.len() as u32;
    assert!(cases >= 2_000);
    assert!(
        useful > cases / 5,
        "only {useful} of {cases} filters selected some users but not all"
    );
    let group_grid = grid(ResourceKind::Group, &["members.display"], &extra);
    let useful = differential(&app, ResourceKind::Group, &groups, &group_grid, GROUP_CASES);
    let cases = GROUP_CASES + group_grid.len() as u32;
    assert!(
        useful > cases / 10,
        "only {useful} of {cases} filters selected some groups but not all"
    );
}

/// `(status, ids)` of a user filter.
fn user_ids(app: &TestApp, filter: &str) -> (u16, BTreeSet<String>) {
    let r = app.get(&format!("/Users?count=500&filter={}", urlencode(filter)));
    let found = r.body["Resources"]
        .as_array()
        .map(|rs| ids(rs))
        .unwrap_or_default();
    (r.status, found)
}

/// A stored stamp (`…T14:33:46.123Z`) written with another offset, the same instant:
/// UTC−01:00, or UTC+01:00 in the first hour of the day (so the date never changes).
fn in_another_offset(stamp: &str) -> String {
    let hour: u32 = stamp[11..13].parse().unwrap();
    let (local, offset) = if hour == 0 {
        (1, "+01:00")
    } else {
        (hour - 1, "-01:00")
    };
    format!("{}{local:02}{}{offset}", &stamp[..11], &stamp[13..23])
}

#[test]
fn date_time_filters_compare_instants_whatever_the_offset_or_precision() {
    let app = TestApp::spawn();
    for i in 0..6 {
        app.create_user(&format!("u{i}"));
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let users = list(&app, "/Users");
    let mut stamps: Vec<String> = users
        .iter()
        .map(|u| u["meta"]["lastModified"].as_str().unwrap().to_owned())
        .collect();
    stamps.sort();
    let middle = &stamps[2];
    let local = in_another_offset(middle);
    let finer = format!("{}4Z", &middle[..23]);
    for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
        let utc = user_ids(&app, &format!("meta.lastModified {op} \"{middle}\""));
        assert_eq!(utc.0, 200);
        let offset = user_ids(&app, &format!("meta.lastModified {op} \"{local}\""));
        assert_eq!(offset, utc, "{op}: {local} is {middle}");
        // Ten more digits that are zeros: the same instant.
        let padded = format!("{}0000000000Z", &middle[..23]);
        let padded = user_ids(&app, &format!("meta.lastModified {op} \"{padded}\""));
        assert_eq!(padded, utc, "{op} with more digits");
    }
    // Between two milliseconds: after `middle`, before the next one.
    let after = |op: &str, t: &str| user_ids(&app, &format!("meta.lastModified {op} \"{t}\"")).1;
    assert_eq!(after("gt", &finer), after("gt", middle));
    assert_eq!(after("ge", &finer), after("gt", middle));
    assert_eq!(after("lt", &finer), after("le", middle));
    assert_eq!(after("le", &finer), after("le", middle));
    assert!(after("eq", &finer).is_empty());
    // The same through a value filter, and on meta.created.
    let (status, found) = user_ids(&app, &format!("meta[lastModified gt \"{local}\"]"));
    assert_eq!((status, found), (200, after("gt", middle)));
    let (status, found) = user_ids(&app, &format!("meta.created le \"{local}\""));
    assert_eq!((status, found), (200, after("le", middle)));
}

#[test]
fn filters_the_schema_cannot_evaluate_are_400_invalid_filter() {
    let app = TestApp::spawn();
    app.create_user("a");
    for filter in [
        "meta.lastModified gt \"yesterday\"",
        "meta.created eq \"2026-02-30T00:00:00Z\"",
        "meta.created lt 2026",
        "name gt \"A\"",
        "name eq \"x\"",
        "meta eq \"x\"",
        "userName pr and name co \"x\"",
    ] {
        let r = app.get(&format!("/Users?filter={}", urlencode(filter)));
        r.assert_scim_error(400, Some("invalidFilter"));
    }
    for blank in ["", "%20", "%09%20"] {
        app.get(&format!("/Users?filter={blank}"))
            .assert_scim_error(400, Some("invalidFilter"));
        app.get(&format!("/Groups?filter={blank}"))
            .assert_scim_error(400, Some("invalidFilter"));
    }
    let schema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    app.post(
        "/Users/.search",
        &json!({"schemas": [schema], "filter": " "}),
    )
    .assert_scim_error(400, Some("invalidFilter"));
    // Still fine: a sub-attribute, presence, null, a `value` compared implicitly, and
    // on Groups `name` is just an unknown attribute.
    for filter in [
        "name.givenName eq \"x\"",
        "name pr",
        "name eq null",
        "emails co \"@\"",
        "meta.created sw \"20\"",
    ] {
        let r = app.get(&format!("/Users?filter={}", urlencode(filter)));
        assert_eq!(r.status, 200, "{filter}: {}", r.text);
    }
    assert_eq!(
        app.get(&format!("/Groups?filter={}", urlencode("name eq \"x\"")))
            .status,
        200
    );
    // The root search applies the filter to each type it can apply to.
    let r = app.post(
        "/.search",
        &json!({"schemas": [schema], "filter": "name eq \"x\""}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}
