//! Random and malformed resource bodies and PATCH requests: no input may panic the core,
//! every rejection is a SCIM error, and what is accepted is valid again.
//!
//! In process, 100,000 seeded cases go through the core functions the use cases call,
//! in their order: POST and PUT bodies through `limits::check_resource`,
//! `resource::normalize` and the column checks; PATCH requests through
//! `limits::check_patch`, `patch::parse_request`, `patch::apply` on a random stored
//! resource, `limits::check_growth` and the column checks; then the result is rendered
//! and projected with a random `attributes` or `excludedAttributes`. Bodies hold known
//! names in odd cases and under URNs, values of every JSON type, deep and wide nesting,
//! long and odd strings and unknown extensions; PATCH operations hold valid and malformed
//! paths, filters in paths, and values of every shape. A rejection is an `Invalid`
//! (a 4xx with a `scimType`); an accepted result normalises again to itself, and keeps
//! its identity columns valid.
//!
//! Over HTTP, a few thousand of them go to the real app: no 5xx, and every answer that is
//! not 2xx has an RFC 7644 §3.12 error body. Like `filter_fuzz.rs`, the generator is
//! hand-written and seeded: a failure prints its input and reproduces.

use std::panic::{catch_unwind, AssertUnwindSafe};

use roster::scim::list::parse_projection;
use roster::scim::resource::{self, Meta};
use roster::scim::schema::{ResourceKind, PATCH_OP};
use roster::scim::{limits, patch, Invalid, ScimType};
use serde_json::{json, Map, Number, Value};

use crate::helpers::{Rng, TestApp};

const IN_PROCESS: usize = 100_000;
const OVER_HTTP: usize = 3_000;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Attribute names and URNs, as IdPs and attackers spell them.
const KEYS: &[&str] = &[
    "userName",
    "USERNAME",
    "username",
    "displayName",
    "DisplayName",
    "name",
    "Name",
    "emails",
    "Emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "active",
    "Active",
    "password",
    "id",
    "meta",
    "schemas",
    "externalId",
    "title",
    "nickName",
    "profileUrl",
    "timezone",
    "locale",
    "userType",
    "preferredLanguage",
    "members",
    "Members",
    "manager",
    "employeeNumber",
    "department",
    "value",
    "display",
    "primary",
    "type",
    "$ref",
    "givenName",
    "familyName",
    "formatted",
    "streetAddress",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "urn:acme:params:scim:schemas:extension:acme:1.0:User",
    "urn:acme:flat:1.0:User:badge",
    "urn:",
    "urn:x",
    "name.givenName",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"]",
    "members[value eq \"m1\"]",
    "a.b.c",
    "",
    " ",
    "\u{0}",
    "😀",
    "zz",
];

/// Strings that coerce, confuse or are merely odd.
const STRINGS: &[&str] = &[
    "",
    " ",
    "a",
    "True",
    "FALSE",
    "true",
    "yes",
    "0",
    "42",
    " 17 ",
    "-1",
    "1.5",
    "1e309",
    "NaN",
    "9223372036854775808",
    "work",
    "home",
    "User",
    "Group",
    "m1",
    "bulkId:x",
    "a@example.com",
    "A@EXAMPLE.COM",
    "2026-12-06T15:33:46+01:00",
    "\u{0}",
    "a\u{0}b",
    "\u{feff}",
    "\u{202e}rtl",
    "İ",
    "ß",
    "😀",
    "' OR '1'='1",
    "\"",
    "\\",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:api:messages:2.0:PatchOp",
];

const PATH_NAMES: &[&str] = &[
    "userName",
    "displayName",
    "name",
    "name.givenName",
    "name.nope",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "phoneNumbers",
    "addresses.locality",
    "active",
    "title",
    "password",
    "id",
    "meta",
    "meta.lastModified",
    "groups",
    "members",
    "members.value",
    "externalId",
    "x509Certificates",
    "unknownThing",
    "unknown.sub",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:emails",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "urn:acme:x:1.0:User:badge",
];

const FILTERS: &[&str] = &[
    "type eq \"work\"",
    "value eq \"a@example.com\"",
    "value eq \"m1\"",
    "value eq \"m1\" or value eq \"m2\"",
    "primary eq true",
    "value co \"@\"",
    "not (type pr)",
    "type eq \"work\" and primary eq false",
    "display eq null",
    "type eq 42",
    "value gt \"a\"",
    "$ref pr",
    "nope eq \"x\"",
];

const JUNK: &str = "[]().\" :abcXYZ$eqprnot\\,01";

/// `max` or fewer characters of `alphabet`.
fn ascii(rng: &mut Rng, alphabet: &str, max: usize) -> String {
    let len = rng.below(max + 1);
    rng.ascii(alphabet, len)
}

fn string(rng: &mut Rng) -> String {
    match rng.below(20) {
        0..=9 => rng.pick(STRINGS).to_owned(),
        10..=16 => (0..rng.below(12)).map(|_| rng.any_char()).collect(),
        17 => rng.pick(KEYS).to_owned(),
        // Long ones, now and then very long.
        18 => "x".repeat(rng.below(5_000)),
        _ => (0..rng.below(300)).map(|_| rng.any_char()).collect(),
    }
}

fn key(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=6 => rng.pick(KEYS).to_owned(),
        7 => ascii(rng, "abcXYZ019_-$:.", 8),
        8 => (0..rng.below(6)).map(|_| rng.any_char()).collect(),
        _ => format!("{}:{}", rng.pick(KEYS), rng.pick(KEYS)),
    }
}

fn number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(rng.below(3)),
        1 => json!(-(rng.below(1000) as i64)),
        2 => json!(u64::MAX - rng.below(3) as u64),
        3 => json!(i64::MIN),
        4 => json!(-0.0),
        5 => json!(1.5e308),
        6 => Value::Number(Number::from_f64(rng.next() as f64 / 7.0).unwrap_or(0.into())),
        _ => json!(0.1),
    }
}

/// A JSON value of any type, `depth` levels deep at most; now and then a huge one.
fn value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0 || rng.chance(45);
    if leaf {
        return match rng.below(10) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(50)),
            2 | 3 => number(rng),
            _ => Value::String(string(rng)),
        };
    }
    match rng.below(1_000) {
        // Past the limits: deep, long and wide.
        0 => (0..20).fold(json!(1), |v, _| json!({ "a": v })),
        1 => Value::Array(
            (0..1_001 + rng.below(50))
                .map(|i| json!({ "value": format!("v{i}") }))
                .collect(),
        ),
        2 => Value::Object(
            (0..201 + rng.below(50))
                .map(|i| (format!("k{i}"), json!(i)))
                .collect(),
        ),
        n if n % 2 == 0 => Value::Array((0..rng.below(6)).map(|_| value(rng, depth - 1)).collect()),
        _ => object(rng, depth - 1, 6),
    }
}

fn object(rng: &mut Rng, depth: usize, max_keys: usize) -> Value {
    let mut out = Map::new();
    for _ in 0..rng.below(max_keys + 1) {
        out.insert(key(rng), value(rng, depth));
    }
    Value::Object(out)
}

/// A POST or PUT body: usually an object that names the required attribute.
fn body(rng: &mut Rng, kind: ResourceKind) -> Value {
    if rng.chance(3) {
        return value(rng, 2);
    }
    let mut body = match object(rng, 3, 8) {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    if rng.chance(75) {
        let required = match kind {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        };
        let name = if rng.chance(80) {
            Value::String(format!("n{}", rng.below(1_000_000)))
        } else {
            value(rng, 1)
        };
        body.insert(required.into(), name);
    }
    if kind == ResourceKind::User && rng.chance(30) {
        body.insert(ENTERPRISE.into(), object(rng, 2, 4));
    }
    if kind == ResourceKind::Group && rng.chance(20) {
        let members: Vec<Value> = (0..rng.below(4))
            .map(|_| match rng.below(4) {
                0 => value(rng, 1),
                _ => json!({"value": string(rng), "display": string(rng)}),
            })
            .collect();
        body.insert("members".into(), Value::Array(members));
    }
    Value::Object(body)
}

fn path(rng: &mut Rng) -> Value {
    match rng.below(20) {
        0 => Value::Null,
        1 => ascii(rng, JUNK, 20).into(),
        2 => value(rng, 1),
        3..=7 => format!(
            "{}[{}]{}",
            rng.pick(&[
                "emails",
                "members",
                "phoneNumbers",
                "name",
                "addresses",
                "unknown",
                "meta"
            ]),
            rng.pick(FILTERS),
            rng.pick(&["", ".value", ".type", ".display", ".nope", "."]),
        )
        .into(),
        _ => rng.pick(PATH_NAMES).into(),
    }
}

fn operation(rng: &mut Rng) -> Value {
    if rng.chance(1) {
        return value(rng, 2);
    }
    let mut op = Map::new();
    if rng.chance(99) {
        let name = match rng.below(50) {
            0 => value(rng, 0),
            1 => "explode".into(),
            _ => rng
                .pick(&["add", "remove", "replace", "Add", "REPLACE", "Remove"])
                .into(),
        };
        op.insert(rng.pick(&["op", "OP", "Op"]).into(), name);
    }
    if rng.chance(75) {
        op.insert("path".into(), path(rng));
    }
    if rng.chance(85) {
        let v = match rng.below(10) {
            // A path-less value object, as Okta and Entra send.
            0 | 1 => object(rng, 2, 4),
            2 | 3 => Value::Array(
                (0..rng.below(4))
                    .map(|_| json!({"value": string(rng), "type": rng.pick(&["work", "home"])}))
                    .collect(),
            ),
            4..=6 => Value::String(rng.pick(STRINGS).to_owned()),
            _ => value(rng, 3),
        };
        op.insert("value".into(), v);
    }
    Value::Object(op)
}

fn patch_request(rng: &mut Rng) -> Value {
    if rng.chance(2) {
        return value(rng, 2);
    }
    let mut body = Map::new();
    match rng.below(50) {
        0 => {}
        1 => {
            body.insert("schemas".into(), value(rng, 1));
        }
        _ => {
            body.insert("schemas".into(), json!([PATCH_OP]));
        }
    }
    let operations = match rng.below(40) {
        0 => value(rng, 1),
        1 => Value::Array(vec![
            json!({"op": "add", "path": "title", "value": "x"});
            1_001
        ]),
        2 => Value::Array(Vec::new()),
        _ => Value::Array((0..1 + rng.below(3)).map(|_| operation(rng)).collect()),
    };
    body.insert(rng.pick(&["Operations", "operations"]).into(), operations);
    Value::Object(body)
}

fn projection_list(rng: &mut Rng) -> String {
    (0..rng.below(4))
        .map(|_| match rng.below(4) {
            0 => ascii(rng, JUNK, 8),
            _ => rng.pick(PATH_NAMES).to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One generated request.
#[derive(Debug, Clone)]
enum Case {
    Write {
        kind: ResourceKind,
        body: Value,
    },
    Patch {
        kind: ResourceKind,
        start: Value,
        body: Value,
    },
}

fn case(rng: &mut Rng) -> Case {
    let kind = if rng.chance(65) {
        ResourceKind::User
    } else {
        ResourceKind::Group
    };
    if rng.chance(40) {
        Case::Write {
            kind,
            body: body(rng, kind),
        }
    } else {
        Case::Patch {
            kind,
            start: body(rng, kind),
            body: patch_request(rng),
        }
    }
}

/// The first `n` cases of the seeded stream.
fn sample(n: usize) -> Vec<Case> {
    let mut rng = Rng(0xb0d1_f022);
    (0..n).map(|_| case(&mut rng)).collect()
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(600) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text,
    }
}

/// How a case ended: accepted, or refused with this `scimType`.
type Outcome = Result<(), ScimType>;

fn columns(kind: ResourceKind, attributes: &Map<String, Value>) -> Result<(), Invalid> {
    match kind {
        ResourceKind::User => resource::user_columns(attributes).map(drop),
        ResourceKind::Group => resource::group_columns(attributes).map(drop),
    }
}

/// What a stored resource must satisfy: it normalises to itself, and its columns read.
fn assert_valid(kind: ResourceKind, attributes: &Map<String, Value>, shown: &str) {
    let again = resource::normalize(kind, Value::Object(attributes.clone()))
        .unwrap_or_else(|e| panic!("accepted, but does not normalise again ({e}): {shown}"));
    assert_eq!(
        &again.attributes, attributes,
        "accepted, but normalises to something else: {shown}"
    );
    if let Err(e) = columns(kind, attributes) {
        panic!("accepted with invalid columns ({e}): {shown}");
    }
}

/// Renders and projects a stored resource, as a GET does.
fn render_and_project(rng: &mut Rng, kind: ResourceKind, attributes: &Map<String, Value>) {
    let meta = Meta {
        created: "2026-12-06T14:33:46.000Z".into(),
        last_modified: "2026-12-06T14:33:46.000Z".into(),
        version: 1,
    };
    let rendered = resource::render(kind, "id1", attributes, &meta, "https://h/Users/id1", None);
    let (attrs, excluded) = (projection_list(rng), projection_list(rng));
    let projection = match rng.below(3) {
        0 => parse_projection(Some(&attrs), None),
        1 => parse_projection(None, Some(&excluded)),
        _ => parse_projection(Some(&attrs), Some(&excluded)),
    };
    if let Ok(projection) = projection {
        let shown = projection.apply(kind, rendered);
        assert!(shown["schemas"].is_array(), "{shown}");
    }
}

/// Runs one case through the core as the use case would.
fn run(case: &Case, rng: &mut Rng) -> Outcome {
    let refuse = |e: Invalid| e.scim_type;
    match case {
        Case::Write { kind, body } => {
            limits::check_resource(*kind, body).map_err(refuse)?;
            let normalized = resource::normalize(*kind, body.clone()).map_err(refuse)?;
            columns(*kind, &normalized.attributes).map_err(refuse)?;
            if let Some(members) = &normalized.members {
                assert!(members.iter().all(|m| !m.id.is_empty()), "{}", short(body));
            }
            assert_valid(*kind, &normalized.attributes, &short(body));
            render_and_project(rng, *kind, &normalized.attributes);
            Ok(())
        }
        Case::Patch { kind, start, body } => {
            // The stored resource: a random body that normalises, or a minimal one.
            let stored = resource::normalize(*kind, start.clone())
                .ok()
                .map(|n| n.attributes)
                .filter(|a| columns(*kind, a).is_ok())
                .unwrap_or_else(|| {
                    match kind {
                        ResourceKind::User => json!({"userName": "u"}),
                        ResourceKind::Group => json!({"displayName": "g"}),
                    }
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                });
            limits::check_patch(*kind, body).map_err(refuse)?;
            let operations = patch::parse_request(body.clone()).map_err(refuse)?;
            let mut attributes = stored.clone();
            patch::apply(*kind, &mut attributes, &operations).map_err(refuse)?;
            limits::check_growth(&stored, &attributes).map_err(refuse)?;
            columns(*kind, &attributes).map_err(refuse)?;
            let shown = format!("{}\non {}", short(body), short(&Value::Object(stored)));
            assert_valid(*kind, &attributes, &shown);
            render_and_project(rng, *kind, &attributes);
            Ok(())
        }
    }
}

#[test]
fn a_hundred_thousand_bodies_and_patches_never_panic_and_refuse_only_with_scim_errors() {
    let mut rng = Rng(0x5eed);
    let mut accepted = [0usize; 2];
    let mut refused = [0usize; 2];
    let mut too_many = 0;
    let mut why = std::collections::BTreeMap::new();
    for case in sample(IN_PROCESS) {
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&case, &mut rng)))
            .unwrap_or_else(|_| panic!("the core panicked on {case:?}"));
        let which = usize::from(matches!(case, Case::Patch { .. }));
        match outcome {
            Ok(()) => accepted[which] += 1,
            Err(scim_type) => {
                // Every refusal maps to 400 (403 only for `sensitive`, never raised here).
                assert_ne!(scim_type, ScimType::Sensitive, "{case:?}");
                refused[which] += 1;
                *why.entry((which, scim_type.as_str())).or_insert(0usize) += 1;
                too_many += usize::from(scim_type == ScimType::TooMany);
            }
        }
    }
    // Both paths get thousands of each answer (random values mostly miss the schema),
    // and the limits are reached.
    for i in 0..2 {
        let total = accepted[i] + refused[i];
        assert!(
            accepted[i] > total / 20,
            "{accepted:?} accepted, {refused:?} refused: {why:?}"
        );
        assert!(
            refused[i] > total / 20,
            "{accepted:?} accepted, {refused:?} refused"
        );
    }
    assert!(too_many > 100, "only {too_many} cases reached a limit");
}

#[test]
fn random_bodies_and_patches_over_http_are_never_5xx_and_errors_are_scim_errors() {
    let app = TestApp::spawn();
    let user = app.create_user("fuzz-user");
    let group = app.create_group("fuzz-group", &[&user]);
    let mut statuses = std::collections::BTreeMap::new();
    for (i, case) in sample(OVER_HTTP).into_iter().enumerate() {
        let (method, path, body) = match &case {
            Case::Write { kind, body } => {
                let (endpoint, id) = match kind {
                    ResourceKind::User => ("Users", &user),
                    ResourceKind::Group => ("Groups", &group),
                };
                if i % 3 == 0 {
                    ("PUT", format!("/{endpoint}/{id}"), body)
                } else {
                    ("POST", format!("/{endpoint}"), body)
                }
            }
            Case::Patch { kind, body, .. } => match kind {
                ResourceKind::User => ("PATCH", format!("/Users/{user}"), body),
                ResourceKind::Group => ("PATCH", format!("/Groups/{group}"), body),
            },
        };
        let r = app.call(method, &path, Some(body));
        *statuses.entry(r.status).or_insert(0usize) += 1;
        assert!(
            r.status < 500,
            "{method} {path} {}\n=> {} {}",
            short(body),
            r.status,
            r.text
        );
        if !(200..300).contains(&r.status) {
            r.assert_scim_error(r.status, None);
        }
    }
    let ok: usize = statuses.range(200..300).map(|(_, n)| n).sum();
    assert!(ok > OVER_HTTP / 10, "{statuses:?}");
    assert!(
        statuses.get(&400).is_some_and(|n| *n > OVER_HTTP / 10),
        "{statuses:?}"
    );
}
