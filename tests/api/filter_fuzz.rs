//! Random and malformed filters: no input may panic the parser or the SQL compiler, and
//! every rejection is `invalidFilter` (T17, T22).
//!
//! In process, 100,000 seeded inputs go through `filter::parse` and, when they parse,
//! `filter_schema::check` and `filter_sql::compile` for both dialects: valid filters over any names and literals,
//! the same with random edits, token soup, arbitrary Unicode, and deep or huge nesting
//! (up to 10^5 levels, 1 MiB). Over HTTP, 2,000 of them go through
//! `GET /Users?filter=` (long ones through `POST /Users/.search`): no 5xx, and every 4xx
//! is 400 `invalidFilter`. The generator is hand-written rather than proptest's: it has
//! to make 100,000 inputs in a few seconds of a debug build.

use std::panic::{catch_unwind, AssertUnwindSafe};

use roster::scim::filter::{self, AttrPath, CompareOp, Filter, Literal};
use roster::scim::filter_schema;
use roster::scim::schema::{ResourceKind, SEARCH_REQUEST};
use roster::scim::{Invalid, ScimType};
use roster::store::filter_sql::{compile, compile_at, Dialect};
use serde_json::{json, Number};

use crate::helpers::{Rng, TestApp};
use crate::users::urlencode;

const IN_PROCESS: usize = 100_000;
const OVER_HTTP: usize = 2_000;

/// Text no SQL may contain: it only ever appears inside literals and URNs, which must
/// travel as bound parameters.
const MARKER: &str = "zzmark";

const NAMES: &[&str] = &[
    "userName",
    "emails",
    "members",
    "groups",
    "meta",
    "id",
    "password",
    "value",
    "$ref",
    "schemas",
    "displayName",
    "active",
    "name",
    "type",
    "display",
    "created",
    "lastModified",
    "location",
    "version",
    "externalId",
    "not",
    "and",
    "pr",
    "zzmark",
    "title",
    "x509Certificates",
];

const URNS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
    "urn:zzmark':x'; drop table users; --",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER",
];

const STRINGS: &[&str] = &[
    "",
    "%",
    "_",
    "\\",
    "'",
    "\"",
    "zzmark'; DROP TABLE users; --",
    "zzmark\u{0}x",
    "\u{0}",
    "İ",
    "ΣΑΣ",
    "ß",
    "$1",
    "?",
    "' OR '1'='1",
    "\u{feff}",
    "😀",
    "\n\t",
    "a%b_c\\d",
    "\u{1}",
];

const TOKENS: &[&str] = &[
    "userName",
    "emails",
    "members[",
    "]",
    "(",
    ")",
    "not",
    "not(",
    "and",
    "or",
    " ",
    "  ",
    "\t",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "\"x\"",
    "\"",
    "\\",
    "\\u00",
    "\\ud800",
    "\"\\u0000\"",
    "true",
    "false",
    "null",
    "42",
    "-0",
    "1e999",
    "01",
    "1.",
    ".5",
    "urn:",
    "urn:x:y:",
    ":",
    ".",
    "$ref",
    "value",
    "[",
    "é",
    "😀",
    "'",
    ";",
    "--",
    "/*",
    "%",
    "_",
    "password",
    "meta.location",
    "\"zzmark'\"",
];

fn any_string(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    (0..len).map(|_| rng.any_char()).collect()
}

fn name(rng: &mut Rng) -> String {
    if rng.chance(60) {
        return rng.pick(NAMES).to_owned();
    }
    let first = rng.ascii("abcxyzABCXYZ", 1);
    let len = rng.below(9);
    first + &rng.ascii("abcdxyzABCZ0129_-", len)
}

fn urn(rng: &mut Rng) -> String {
    if rng.chance(60) {
        return rng.pick(URNS).to_owned();
    }
    let mut out = String::from("urn:");
    let len = 1 + rng.below(6);
    out.push_str(&rng.ascii("abz'%_.-", len));
    for _ in 0..rng.below(4) {
        let len = 1 + rng.below(5);
        out.push(':');
        out.push_str(&rng.ascii("az09.'$%-", len));
    }
    out
}

fn path(rng: &mut Rng, with_sub: bool) -> AttrPath {
    AttrPath {
        urn: rng.chance(20).then(|| urn(rng)),
        name: name(rng),
        sub_attr: (with_sub && rng.chance(40)).then(|| name(rng)),
    }
}

fn literal(rng: &mut Rng) -> Literal {
    match rng.below(9) {
        0..=2 => Literal::String(any_string(rng, 12)),
        3 | 4 => Literal::String(rng.pick(STRINGS).to_owned()),
        5 => Literal::Number(Number::from(rng.next() as i64)),
        6 => Literal::Number(
            Number::from_f64(f64::from_bits(rng.next())).unwrap_or_else(|| Number::from(0)),
        ),
        7 => Literal::Bool(rng.chance(50)),
        _ => Literal::Null,
    }
}

fn leaf(rng: &mut Rng) -> Filter {
    use CompareOp::*;
    if rng.chance(25) {
        return Filter::Present(path(rng, true));
    }
    let op = rng.pick(&[Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le]);
    let value = match literal(rng) {
        Literal::Bool(_) | Literal::Null if !matches!(op, Eq | Ne) => Literal::String("x".into()),
        value => value,
    };
    Filter::Compare {
        path: path(rng, true),
        op,
        value,
    }
}

fn tree(rng: &mut Rng, depth: usize, value_paths: bool) -> Filter {
    let pick = if depth == 0 { 0 } else { rng.below(6) };
    let sub = |rng: &mut Rng| Box::new(tree(rng, depth.saturating_sub(1), value_paths));
    match pick {
        0 | 1 if value_paths && rng.chance(20) => Filter::ValuePath {
            path: path(rng, false),
            filter: Box::new(tree(rng, 2, false)),
        },
        0 | 1 => leaf(rng),
        2 => Filter::And(sub(rng), sub(rng)),
        3 => Filter::Or(sub(rng), sub(rng)),
        _ => Filter::Not(sub(rng)),
    }
}

/// A filter the parser accepts, written out.
fn valid(rng: &mut Rng) -> String {
    let depth = rng.below(5);
    tree(rng, depth, true).to_string()
}

/// A valid filter with random edits, token soup, or any string.
fn malformed(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => {
            let mut chars: Vec<char> = valid(rng).chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(4) {
                    0 => {
                        let end = (at + 1 + rng.below(5)).min(chars.len());
                        chars.drain(at..end);
                    }
                    1 => {
                        let token = rng.pick(TOKENS);
                        chars.splice(at..at, token.chars());
                    }
                    2 => chars.truncate(at),
                    _ => {
                        let copy = chars[at..].to_vec();
                        chars.extend(copy);
                    }
                }
            }
            chars.into_iter().collect()
        }
        4..=6 => {
            let joiner = if rng.chance(70) { " " } else { "" };
            let tokens: Vec<&str> = (0..1 + rng.below(24)).map(|_| rng.pick(TOKENS)).collect();
            tokens.join(joiner)
        }
        7 | 8 => any_string(rng, 80),
        _ => {
            let len = rng.below(80);
            rng.ascii(" !\"#$%&'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~", len)
        }
    }
}

/// Deep nesting and huge inputs.
fn deep(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=5 => {
            let depth = match rng.below(10) {
                0 => 1_000,
                1 => 100_000,
                _ => 1 + rng.below(80),
            };
            let open = rng.pick(&["(", "not (", "not(", "e[", "e[(", "(not ("]);
            let close: String = open
                .chars()
                .rev()
                .filter_map(|c| match c {
                    '(' => Some(')'),
                    '[' => Some(']'),
                    _ => None,
                })
                .collect();
            let closes = if rng.chance(70) { depth } else { depth / 2 };
            format!("{}a pr{}", open.repeat(depth), close.repeat(closes))
        }
        6..=8 => {
            let op = rng.pick(&[" and ", " or "]);
            vec!["userName pr"; 1 + rng.below(1_200)].join(op)
        }
        _ => format!("userName eq \"{}\"", "x".repeat(1 << 20)),
    }
}

/// The first `n` inputs of the seeded stream.
fn sample(n: usize) -> Vec<String> {
    let mut rng = Rng(0xf11e_f022);
    (0..n)
        .map(|_| match rng.below(10) {
            0..=3 => valid(&mut rng),
            4..=8 => malformed(&mut rng),
            _ => deep(&mut rng),
        })
        .collect()
}

/// An input for a message: long ones are cut.
fn short(input: &str) -> String {
    match input.char_indices().nth(300) {
        Some((end, _)) => format!("{:?}… ({} bytes)", &input[..end], input.len()),
        None => format!("{input:?}"),
    }
}

fn assert_invalid_filter(input: &str, e: &Invalid) {
    assert_eq!(
        e.scim_type,
        ScimType::InvalidFilter,
        "{}: {e:?}",
        short(input)
    );
}

/// The highest `$n` placeholder in `sql`.
fn placeholders(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Parses `input` and compiles it for both dialects (for users or groups, with or
/// without the base URL, by turns); returns whether it parsed.
fn parse_and_compile(i: usize, input: &str) -> bool {
    let parsed = catch_unwind(|| filter::parse(input))
        .unwrap_or_else(|_| panic!("the parser panicked on {}", short(input)));
    let f = match parsed {
        Ok(f) => f,
        Err(e) => {
            assert_invalid_filter(input, &Invalid::from(e));
            return false;
        }
    };
    let kind = [ResourceKind::User, ResourceKind::Group][i % 2];
    // What the service compiles: the filter as read against the schema.
    let checked = catch_unwind(|| filter_schema::check(kind, &f))
        .unwrap_or_else(|_| panic!("the schema check panicked on {}", short(input)));
    let f = match checked {
        Ok(f) => f,
        Err(e) => {
            assert_invalid_filter(input, &e);
            return true;
        }
    };
    let base = (i % 4 != 3).then_some("https://h/scim/v2/t'x");
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let compiled = catch_unwind(AssertUnwindSafe(|| match base {
            Some(_) => compile_at(kind, &f, dialect, base),
            None => compile(kind, &f, dialect),
        }))
        .unwrap_or_else(|_| panic!("the compiler panicked on {}", short(input)));
        match compiled {
            Ok(q) => {
                let sql = q.as_sql();
                let leaked = sql.to_ascii_lowercase().contains(MARKER);
                assert!(!leaked, "{} leaked into the SQL", short(input));
                let binds = placeholders(sql);
                assert!(binds < 30_000, "{}: {binds} binds", short(input));
            }
            Err(e) => assert_invalid_filter(input, &e),
        }
    }
    true
}

#[test]
fn a_hundred_thousand_filters_never_panic_and_are_rejected_as_invalid_filter() {
    let inputs = sample(IN_PROCESS);
    let parsed = (inputs.iter().enumerate())
        .filter(|(i, input)| parse_and_compile(*i, input))
        .count();
    // Both the compiler and the parser's rejections get a good share.
    assert!(parsed > IN_PROCESS / 4, "only {parsed} inputs parsed");
    assert!(parsed < IN_PROCESS * 3 / 4, "{parsed} inputs parsed");
}

#[test]
fn random_filters_over_http_are_never_5xx_and_4xx_is_invalid_filter() {
    let app = TestApp::spawn();
    app.create_user("alice");
    let bob = json!({"userName": "bob", "title": "x", "emails": [{"value": "b@x.io"}]});
    assert_eq!(app.post("/Users", &bob).status, 201);
    let mut answered = [0usize; 2];
    for input in sample(OVER_HTTP) {
        let r = if input.len() <= 6_000 {
            app.get(&format!("/Users?filter={}", urlencode(&input)))
        } else {
            app.post(
                "/Users/.search",
                &json!({"schemas": [SEARCH_REQUEST], "filter": input}),
            )
        };
        if input.len() > 1 << 20 {
            // Over `max_body_bytes`: refused before anyone reads the filter.
            assert_eq!(r.status, 413, "{}", short(&input));
            continue;
        }
        match r.status {
            200 => answered[0] += 1,
            400 => {
                r.assert_scim_error(400, Some("invalidFilter"));
                answered[1] += 1;
            }
            status => panic!("{} => {status} {}", short(&input), r.text),
        }
    }
    let [ok, refused] = answered;
    assert!(
        ok > 200 && refused > 200,
        "{ok} answered, {refused} refused"
    );
}
