//! SCIM filter expressions (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and an
//! in-memory reference evaluator.
//!
//! # Syntax
//!
//! A hand-written recursive-descent parser over the filter ABNF. Operators,
//! keywords (`and`, `or`, `not`, `pr`, `true`, `false`, `null`) and attribute
//! names are case-insensitive; names keep their original spelling in the AST.
//! `not` binds tighter than `and`, which binds tighter than `or`; `and`/`or` are
//! left-associative. Whitespace (spaces, tabs, newlines) may be repeated and is
//! optional around parentheses and brackets; `not(x)` is accepted.
//!
//! Attribute names are `ALPHA *(ALPHA / DIGIT / "-" / "_")`, optionally
//! prefixed by `$` (for `$ref`). A path starting with `urn:` is split at its
//! last `:` into the schema URN and the attribute, then at `.` into attribute
//! and sub-attribute. A value filter (`emails[...]`) cannot be nested, and its
//! attribute cannot carry a sub-attribute.
//!
//! Values are JSON literals: strings with JSON escapes (raw control characters
//! are rejected), numbers in JSON syntax, `true`, `false`, `null`. `gt`, `ge`,
//! `lt`, `le` reject boolean and null values, and `co`, `sw`, `ew` reject
//! boolean and null values at parse time (RFC 7644 answers `invalidFilter`).
//! Numbers are accepted with every operator; `co`/`sw`/`ew` on a number never
//! matches.
//!
//! # Limits and errors
//!
//! Input longer than [`MAX_FILTER_LEN`] bytes is rejected before parsing, and
//! nesting (parentheses, `not (`, `[`) deeper than [`MAX_FILTER_DEPTH`] is
//! rejected before recursing, so no input can exhaust the stack. `and`/`or`
//! chains are built iteratively, so a parsed tree is at most a few hundred
//! nodes deep and the recursive `matches`, `Display` and `Drop` are safe on it.
//!
//! Every [`FilterError::position`] is a **byte offset** into the input, always
//! on a char boundary (`MAX_FILTER_LEN` for an over-long input). Error messages
//! never echo the input beyond a single offending character.
//!
//! # Evaluation ([`matches()`])
//!
//! - Attribute and JSON key lookups are ASCII case-insensitive. A path with a
//!   URN looks inside the resource's object under that URN, except for core
//!   schema URNs (`urn:ietf:params:scim:schemas:core:2.0:…`) which mean the top
//!   level; a path naming a whole extension designates its object.
//! - A multi-valued attribute matches a comparison when **any** element
//!   matches. Without a sub-attribute, an element that is an object is compared
//!   through its `value` sub-attribute (`emails co "x"` ≡ `emails.value co "x"`).
//!   A value filter (`emails[type eq "work" and value co "@x"]`) needs a single
//!   element to satisfy the whole inner filter; inside it, a `value` path on a
//!   non-object element designates the element itself.
//! - A missing or null attribute matches no comparison except `ne` (`ne` is
//!   exactly `not eq`, so a missing attribute is "not equal") and `eq null`
//!   (true when no non-null value is there; an empty array counts as absent). `pr` needs a non-null, non-empty
//!   value (`""`, `[]`, `{}` and all-null objects are absent).
//! - Strings compare with Unicode `to_lowercase()` on both sides unless
//!   `case_exact` says the attribute is case-exact. `gt`/`ge`/`lt`/`le` are
//!   lexicographic on strings, so dateTime values compare correctly only when
//!   both use the same UTC RFC 3339 form (which SCIM servers emit). Numbers
//!   compare numerically; booleans support `eq`/`ne` only; values of different
//!   JSON types never match.
//! - Inside a value filter, `case_exact` is asked about the qualified path
//!   (`emails[value eq …]` asks for `emails.value`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::{Number, Value};

use FilterErrorKind as Kind;

/// Longest accepted filter or path, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest accepted nesting of parentheses, `not (…)` and value filters.
pub const MAX_FILTER_DEPTH: usize = 32;

const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// An attribute reference: `[urn ":"] name ["." sub_attr]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A plain core attribute name, without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// Whether the attribute name is `name` (case-insensitive; URN and sub-attribute ignored).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the path is exactly `name.sub` (case-insensitive; URN ignored).
    pub fn is_sub(&self, name: &str, sub: &str) -> bool {
        self.is(name)
            && self
                .sub_attr
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(sub))
    }

    /// Whether the path carries `urn` (case-insensitive).
    pub fn urn_is(&self, urn: &str) -> bool {
        self.urn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(urn))
    }

    /// Case-insensitive equality of all three parts.
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        let opt_eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        opt_eq(&self.urn, &other.urn)
            && self.is(&other.name)
            && opt_eq(&self.sub_attr, &other.sub_attr)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<Self> {
        use CompareOp::*;
        [Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether an ordering of attribute vs. value satisfies this (ordering) operator.
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CompareOp::Eq => ord == Ordering::Equal,
            CompareOp::Ne => ord != Ordering::Equal,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Ge => ord != Ordering::Less,
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Le => ord != Ordering::Greater,
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

impl Literal {
    fn kind(&self) -> &'static str {
        match self {
            Literal::String(_) => "a string",
            Literal::Number(_) => "a number",
            Literal::Bool(_) => "a boolean",
            Literal::Null => "null",
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // serde_json's escaping is exactly what the parser reads back.
            Literal::String(s) => f.write_str(&Value::from(s.as_str()).to_string()),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Literal,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: the inner filter's paths are
    /// relative to the multi-valued attribute's elements.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Writes `self`, parenthesized when it binds looser than its context
    /// (0: anything, 1: operand of `and` or right of `or`, 2: right of `and`).
    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let prec = match self {
            Filter::Or(..) => 0,
            Filter::And(..) => 1,
            _ => 2,
        };
        if prec < min {
            f.write_str("(")?;
            self.fmt_prec(f, 0)?;
            return f.write_str(")");
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Or(l, r) => {
                l.fmt_prec(f, 0)?;
                f.write_str(" or ")?;
                r.fmt_prec(f, 1)
            }
            Filter::And(l, r) => {
                l.fmt_prec(f, 1)?;
                f.write_str(" and ")?;
                r.fmt_prec(f, 2)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// Canonical filter text: `parse(&f.to_string()) == Ok(f)` for any parseable `f`.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, 0)
    }
}

impl FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at offset {position}: {kind}")]
pub struct FilterError {
    /// Byte offset into the input.
    pub position: usize,
    pub kind: FilterErrorKind,
}

impl FilterError {
    pub fn new(position: usize, kind: FilterErrorKind) -> Self {
        Self { position, kind }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterErrorKind {
    #[error("longer than {max} bytes")]
    TooLong { max: usize },
    #[error("nested deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("unexpected end")]
    UnexpectedEnd,
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    #[error("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)")]
    ExpectedOperator,
    #[error("expected 'and', 'or' or the end of the filter")]
    ExpectedLogicalOperator,
    #[error("expected a value (a string, number, true, false or null)")]
    ExpectedValue,
    #[error("invalid string literal")]
    InvalidString,
    #[error("invalid number")]
    InvalidNumber,
    #[error("invalid schema URN")]
    InvalidUrn,
    #[error("unbalanced parenthesis")]
    UnbalancedParen,
    #[error("unbalanced bracket")]
    UnbalancedBracket,
    #[error("value filters cannot be nested")]
    NestedValuePath,
    #[error("operator '{op}' does not apply to {value}")]
    OperatorNotAllowedForValue { op: CompareOp, value: &'static str },
}

pub fn parse(input: &str) -> Result<Filter, FilterError> {
    check_len(input)?;
    Parser::new(input).filter()
}

/// PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an optional
/// trailing ".subAttr", e.g. `members[value eq "2819c223"]`,
/// `emails[type eq "work"].value`, `urn:...:User:manager.value`, `name.familyName`.
///
/// Without a filter, `attr.sub_attr` carries the sub-attribute and `sub_attr`
/// is `None`; with a filter, `attr` has no sub-attribute and the trailing one
/// is in `sub_attr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for PatchPath {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_path(s)
    }
}

pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    check_len(input)?;
    Parser::new(input).patch_path()
}

fn check_len(input: &str) -> PResult<()> {
    let max = MAX_FILTER_LEN;
    if input.len() > max {
        return fail(max, Kind::TooLong { max });
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Bytes that cannot end a word: a keyword followed by one of these is a longer word.
fn is_word_byte(b: u8) -> bool {
    is_name_byte(b) || matches!(b, b'.' | b':' | b'$')
}

/// Invariant: `pos` only advances over ASCII bytes or whole chars, so it is
/// always a char boundary.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    in_value_path: bool,
}

type PResult<T> = Result<T, FilterError>;

fn fail<T>(position: usize, kind: Kind) -> PResult<T> {
    Err(FilterError::new(position, kind))
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            depth: 0,
            in_value_path: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    /// The error for whatever sits at the current position: end or that char.
    fn unexpected(&self) -> FilterError {
        match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => FilterError::new(self.pos, Kind::UnexpectedChar(c)),
            None => FilterError::new(self.pos, Kind::UnexpectedEnd),
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes `kw` (case-insensitive) after optional whitespace if it is a whole word.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        self.skip_ws();
        let bytes = self.src.as_bytes();
        let end = self.pos + kw.len();
        if bytes
            .get(self.pos..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(kw.as_bytes()))
            && !bytes.get(end).copied().is_some_and(is_word_byte)
        {
            self.pos = end;
            return true;
        }
        self.pos = save;
        false
    }

    /// A run of ASCII letters (operators and keyword values).
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn enter(&mut self, at: usize) -> PResult<()> {
        let max = MAX_FILTER_DEPTH;
        if self.depth >= max {
            return fail(at, Kind::TooDeep { max });
        }
        self.depth += 1;
        Ok(())
    }

    fn filter(mut self) -> PResult<Filter> {
        let f = self.or_expr()?;
        self.skip_ws();
        match self.peek() {
            None => Ok(f),
            Some(b')') => fail(self.pos, Kind::UnbalancedParen),
            Some(b']') => fail(self.pos, Kind::UnbalancedBracket),
            Some(_) => fail(self.pos, Kind::ExpectedLogicalOperator),
        }
    }

    fn or_expr(&mut self) -> PResult<Filter> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("or") {
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult<Filter> {
        let mut left = self.unary()?;
        while self.eat_keyword("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Filter> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'(') {
            return self.group(start);
        }
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() == Some(b'(') {
                return Ok(Filter::Not(Box::new(self.group(start)?)));
            }
            // Not followed by "(": an attribute that happens to be called "not".
            self.pos = start;
        }
        self.attr_expr()
    }

    /// `"(" filter ")"` at the current position; `at` is where the nesting began.
    fn group(&mut self, at: usize) -> PResult<Filter> {
        self.enter(at)?;
        self.pos += 1;
        let inner = self.or_expr()?;
        self.close(b')')?;
        self.depth -= 1;
        Ok(inner)
    }

    fn close(&mut self, closer: u8) -> PResult<()> {
        self.skip_ws();
        match self.peek() {
            Some(b) if b == closer => {
                self.pos += 1;
                Ok(())
            }
            Some(b')') => fail(self.pos, Kind::UnbalancedParen),
            Some(b']') => fail(self.pos, Kind::UnbalancedBracket),
            None if closer == b')' => fail(self.pos, Kind::UnbalancedParen),
            None => fail(self.pos, Kind::UnbalancedBracket),
            Some(_) => fail(self.pos, Kind::ExpectedLogicalOperator),
        }
    }

    fn attr_expr(&mut self) -> PResult<Filter> {
        let path = self.attr_path()?;
        let after_path = self.pos;
        self.skip_ws();
        if self.peek() == Some(b'[') {
            let mut filter = self.value_filter(&path)?;
            // Entra's `emails[type eq "work"].value eq "x"`: a test on a sub-attribute
            // of the elements the value filter selects, which is exactly
            // `emails[type eq "work" and value eq "x"]`.
            if self.peek() == Some(b'.') {
                self.pos += 1;
                let sub = AttrPath::new(self.name()?);
                let after_sub = self.pos;
                self.skip_ws();
                if self.pos == after_sub {
                    return Err(self.unexpected());
                }
                let test = self.comparison(sub)?;
                filter = Filter::And(Box::new(filter), Box::new(test));
            }
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        if self.pos == after_path {
            return Err(self.unexpected());
        }
        self.comparison(path)
    }

    /// `compareOp SP compValue` or `pr`, after `path` and its space.
    fn comparison(&mut self, path: AttrPath) -> PResult<Filter> {
        let op_start = self.pos;
        let word = self.word();
        if word.is_empty() && self.peek().is_none() {
            return fail(op_start, Kind::UnexpectedEnd);
        }
        if self.peek().is_some_and(is_word_byte) {
            return fail(op_start, Kind::ExpectedOperator);
        }
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return fail(op_start, Kind::ExpectedOperator);
        };
        self.skip_ws();
        let value_start = self.pos;
        let value = self.literal()?;
        let unordered = matches!(value, Literal::Bool(_) | Literal::Null);
        if unordered && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            let kind = Kind::OperatorNotAllowedForValue {
                op,
                value: value.kind(),
            };
            return fail(value_start, kind);
        }
        Ok(Filter::Compare { path, op, value })
    }

    /// `"[" valFilter "]"` at the current position, for the attribute `path`.
    fn value_filter(&mut self, path: &AttrPath) -> PResult<Filter> {
        let open = self.pos;
        if self.in_value_path {
            return fail(open, Kind::NestedValuePath);
        }
        if path.sub_attr.is_some() {
            return Err(self.unexpected());
        }
        self.enter(open)?;
        self.pos += 1;
        self.in_value_path = true;
        let inner = self.or_expr()?;
        self.close(b']')?;
        self.in_value_path = false;
        self.depth -= 1;
        Ok(inner)
    }

    fn attr_path(&mut self) -> PResult<AttrPath> {
        let start = self.pos;
        let mut urn = None;
        let rest = &self.src[start..];
        if rest
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            // URNs allow many punctuation characters; stop only at filter syntax.
            let end = |c: char| !c.is_ascii_graphic() || "()[]\"".contains(c);
            let run = rest.split(end).next().unwrap_or_default();
            let colon = start + run.rfind(':').unwrap_or(3);
            if colon <= start + 4 {
                return fail(start, Kind::InvalidUrn);
            }
            urn = Some(self.src[start..colon].to_owned());
            self.pos = colon + 1;
        }
        let name = self.name()?;
        let sub_attr = if self.peek() == Some(b'.') {
            self.pos += 1;
            Some(self.name()?)
        } else {
            None
        };
        Ok(AttrPath {
            urn,
            name,
            sub_attr,
        })
    }

    /// `["$"] ALPHA *(ALPHA / DIGIT / "-" / "_")`
    fn name(&mut self) -> PResult<String> {
        let start = self.pos;
        if self.peek() == Some(b'$') {
            self.pos += 1;
        }
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return Err(self.unexpected());
        }
        while self.peek().is_some_and(is_name_byte) {
            self.pos += 1;
        }
        Ok(self.src[start..self.pos].to_owned())
    }

    fn literal(&mut self) -> PResult<Literal> {
        match self.peek() {
            None => fail(self.pos, Kind::UnexpectedEnd),
            Some(b'"') => self.string().map(Literal::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Literal::Number),
            Some(_) => {
                let start = self.pos;
                let word = self.word().to_ascii_lowercase();
                match word.as_str() {
                    _ if self.peek().is_some_and(is_word_byte) => fail(start, Kind::ExpectedValue),
                    "true" => Ok(Literal::Bool(true)),
                    "false" => Ok(Literal::Bool(false)),
                    "null" => Ok(Literal::Null),
                    _ => fail(start, Kind::ExpectedValue),
                }
            }
        }
    }

    /// A JSON string starting at the current `"`.
    fn string(&mut self) -> PResult<String> {
        let start = self.pos;
        let invalid = |at| FilterError::new(at, Kind::InvalidString);
        let body = start + 1;
        let mut chars = self.src[body..].char_indices().map(|(i, c)| (body + i, c));
        let mut out = String::new();
        loop {
            let Some((at, c)) = chars.next() else {
                return Err(invalid(start));
            };
            match c {
                '"' => {
                    self.pos = at + 1;
                    return Ok(out);
                }
                '\\' => {
                    let escaped = match chars.next().map(|(_, e)| e) {
                        Some(e @ ('"' | '\\' | '/')) => e,
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => {
                            let hi = hex4(&mut chars).ok_or_else(|| invalid(at))?;
                            let code = match hi {
                                0xD800..=0xDBFF => {
                                    // A high surrogate must be followed by an escaped low one.
                                    let lo = match (chars.next(), chars.next()) {
                                        (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                                        _ => None,
                                    };
                                    match lo {
                                        Some(lo @ 0xDC00..=0xDFFF) => {
                                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                        }
                                        _ => return Err(invalid(at)),
                                    }
                                }
                                _ => hi,
                            };
                            // Lone low surrogates are not chars.
                            char::from_u32(code).ok_or_else(|| invalid(at))?
                        }
                        _ => return Err(invalid(at)),
                    };
                    out.push(escaped);
                }
                c if c < ' ' => return Err(invalid(at)),
                c => out.push(c),
            }
        }
    }

    /// A JSON number at the current position.
    fn number(&mut self) -> PResult<Number> {
        let start = self.pos;
        let invalid = FilterError::new(start, Kind::InvalidNumber);
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(invalid),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integer = false;
            if !digits(self) {
                return Err(invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(invalid);
            }
        }
        if self.peek().is_some_and(|b| is_word_byte(b) || b == b'.') {
            return Err(invalid);
        }
        let text = &self.src[start..self.pos];
        if integer {
            let int = if text.starts_with('-') {
                text.parse::<i64>().ok().map(Number::from)
            } else {
                text.parse::<u64>().ok().map(Number::from)
            };
            if let Some(n) = int {
                return Ok(n);
            }
        }
        // std's float parsing is exact, so Display (shortest round-trip) re-parses identically.
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or(invalid)
    }

    fn patch_path(mut self) -> PResult<PatchPath> {
        self.skip_ws();
        let attr = self.attr_path()?;
        let mut filter = None;
        let mut sub_attr = None;
        if self.peek() == Some(b'[') {
            filter = Some(self.value_filter(&attr)?);
            if self.peek() == Some(b'.') {
                self.pos += 1;
                sub_attr = Some(self.name()?);
            }
        }
        self.skip_ws();
        if self.peek().is_some() {
            return Err(self.unexpected());
        }
        Ok(PatchPath {
            attr,
            filter,
            sub_attr,
        })
    }
}

/// In-memory reference evaluator over a SCIM resource in JSON form (the full
/// resource, or one element of a multi-valued attribute for a value filter's
/// inner filter). `case_exact(path)` tells whether string comparison on that
/// attribute is case-exact. See the module docs for the semantics.
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(l, r) => matches(l, resource, case_exact) && matches(r, resource, case_exact),
        Filter::Or(l, r) => matches(l, resource, case_exact) || matches(r, resource, case_exact),
        Filter::Not(inner) => !matches(inner, resource, case_exact),
        Filter::Present(path) => any_value(resource, path, false, is_present),
        Filter::Compare { path, op, value } => {
            compare(resource, path, *op, value, case_exact(path))
        }
        Filter::ValuePath { path, filter } => {
            let scoped = |p: &AttrPath| match p.urn {
                Some(_) => case_exact(p),
                None => case_exact(&AttrPath {
                    urn: path.urn.clone(),
                    name: path.name.clone(),
                    sub_attr: Some(p.name.clone()),
                }),
            };
            any_value(resource, path, false, |element| {
                matches(filter, element, &scoped)
            })
        }
    }
}

fn compare(resource: &Value, path: &AttrPath, op: CompareOp, value: &Literal, exact: bool) -> bool {
    match (op, value) {
        (CompareOp::Ne, _) => !compare(resource, path, CompareOp::Eq, value, exact),
        // A present complex value is not null even without a `value` member.
        (CompareOp::Eq, Literal::Null) => !any_value(resource, path, false, |v| !v.is_null()),
        (_, Literal::String(s)) => {
            let wanted = if exact {
                Cow::Borrowed(s.as_str())
            } else {
                Cow::Owned(s.to_lowercase())
            };
            any_value(resource, path, true, |v| match v {
                Value::String(a) if exact => compare_str(a, &wanted, op),
                Value::String(a) => compare_str(&a.to_lowercase(), &wanted, op),
                _ => false,
            })
        }
        (_, Literal::Number(n)) => any_value(resource, path, true, |v| {
            v.as_number()
                .and_then(|a| compare_numbers(a, n))
                .is_some_and(|o| op.accepts(o))
        }),
        (CompareOp::Eq, Literal::Bool(b)) => {
            any_value(resource, path, true, |v| v.as_bool() == Some(*b))
        }
        // Ordering a boolean or null: rejected by the parser, never true here.
        (_, Literal::Bool(_) | Literal::Null) => false,
    }
}

fn compare_str(attr: &str, value: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => attr.contains(value),
        CompareOp::Sw => attr.starts_with(value),
        CompareOp::Ew => attr.ends_with(value),
        _ => op.accepts(attr.cmp(value)),
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// RFC 7644 `pr`: a non-empty value, or a complex value with a non-null member.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(|v| !v.is_null()),
        Value::Object(o) => o.values().any(|v| !v.is_null()),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Case-insensitive key lookup, trying the exact spelling first.
fn lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let map = v.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn elements(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// Whether `pred` holds for any value `path` designates in `resource`, with
/// arrays flattened. `implicit_value` compares object elements through their
/// `value` sub-attribute when the path names none.
fn any_value(
    resource: &Value,
    path: &AttrPath,
    implicit_value: bool,
    mut pred: impl FnMut(&Value) -> bool,
) -> bool {
    let attr = match &path.urn {
        Some(urn) if !urn_is_core(urn) => lookup(resource, urn)
            .and_then(|ext| lookup(ext, &path.name))
            // `urn:…:enterprise:2.0:User` names the extension object itself.
            .or_else(|| lookup(resource, &format!("{urn}:{}", path.name))),
        _ => match resource {
            // A value filter over simple values: `value` is the element itself.
            Value::Object(_) => lookup(resource, &path.name),
            other => path.is("value").then_some(other),
        },
    };
    let Some(attr) = attr else { return false };
    elements(attr).iter().any(|v| match &path.sub_attr {
        Some(sub) => lookup(v, sub).is_some_and(|s| elements(s).iter().any(&mut pred)),
        None if implicit_value && v.is_object() => lookup(v, "value").is_some_and(&mut pred),
        None => pred(v),
    })
}

fn urn_is_core(urn: &str) -> bool {
    urn.as_bytes()
        .get(..CORE_URN_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX.as_bytes()))
}

fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    (0..4).try_fold(0, |acc, _| Some(acc * 16 + chars.next()?.1.to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use FilterErrorKind::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// Parses, checks that the canonical text re-parses to the same AST, and
    /// returns the tree's shape as an s-expression.
    fn shape(input: &str) -> String {
        fn sexp(f: &Filter) -> String {
            match f {
                Filter::Compare { path, op, value } => format!("({op} {path} {value})"),
                Filter::Present(path) => format!("(pr {path})"),
                Filter::And(l, r) => format!("(and {} {})", sexp(l), sexp(r)),
                Filter::Or(l, r) => format!("(or {} {})", sexp(l), sexp(r)),
                Filter::Not(f) => format!("(not {})", sexp(f)),
                Filter::ValuePath { path, filter } => format!("({path}[] {})", sexp(filter)),
            }
        }
        let f = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parse(&f.to_string()).as_ref(), Ok(&f), "{f}");
        sexp(&f)
    }

    fn err(input: &str) -> (usize, FilterErrorKind) {
        let e = parse(input).expect_err(input);
        (e.position, e.kind)
    }

    #[test]
    fn rfc_7644_filter_examples() {
        let cases = [
            (r#"userName eq "bjensen""#, r#"(eq userName "bjensen")"#),
            (
                r#"name.familyName co "O'Malley""#,
                r#"(co name.familyName "O'Malley")"#,
            ),
            (r#"userName sw "J""#, r#"(sw userName "J")"#),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                r#"(sw urn:ietf:params:scim:schemas:core:2.0:User:userName "J")"#,
            ),
            ("title pr", "(pr title)"),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                r#"(gt meta.lastModified "2011-05-13T04:42:34Z")"#,
            ),
            (
                r#"meta.lastModified ge "2011""#,
                r#"(ge meta.lastModified "2011")"#,
            ),
            (
                r#"meta.lastModified lt "2011""#,
                r#"(lt meta.lastModified "2011")"#,
            ),
            (
                r#"meta.lastModified le "2011""#,
                r#"(le meta.lastModified "2011")"#,
            ),
            (
                r#"title pr and userType eq "Employee""#,
                r#"(and (pr title) (eq userType "Employee"))"#,
            ),
            (
                r#"title pr or userType eq "Intern""#,
                r#"(or (pr title) (eq userType "Intern"))"#,
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                r#"(eq schemas "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")"#,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                r#"(and (eq userType "Employee") (or (co emails "example.com") (co emails.value "example.org")))"#,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                r#"(and (ne userType "Employee") (not (or (co emails "example.com") (co emails.value "example.org"))))"#,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                r#"(and (eq userType "Employee") (eq emails.type "work"))"#,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                r#"(and (eq userType "Employee") (emails[] (and (eq type "work") (co value "@example.com"))))"#,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                r#"(or (emails[] (and (eq type "work") (co value "@example.com"))) (ims[] (and (eq type "xmpp") (co value "@foo.com"))))"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(shape(input), expected, "{input}");
        }
        let Ok(Filter::Compare { path, .. }) = parse(cases[3].0) else {
            panic!()
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!((path.name.as_str(), path.sub_attr), ("userName", None));
    }

    #[test]
    fn rfc_7644_patch_path_examples() {
        let members = parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#);
        let members = members.unwrap();
        assert_eq!(
            (members.attr, members.sub_attr),
            (AttrPath::new("members"), None)
        );
        let value = Literal::String("2819c223-7f76-453a-919d-413861904646".into());
        let (path, op) = (AttrPath::new("value"), CompareOp::Eq);
        assert_eq!(members.filter, Some(Filter::Compare { path, op, value }));

        let work = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(
            (work.attr.clone(), work.sub_attr.as_deref()),
            (AttrPath::new("emails"), Some("value"))
        );
        assert_eq!(work.to_string(), r#"emails[type eq "work"].value"#);

        let family = parse_path("name.familyName").unwrap();
        assert_eq!(
            (family.attr.to_string(), family.filter, family.sub_attr),
            ("name.familyName".into(), None, None)
        );
        assert_eq!(family.attr.sub_attr.as_deref(), Some("familyName"));

        assert!(parse_path(r#"addresses[type eq "work"]"#)
            .unwrap()
            .filter
            .is_some());

        let manager = parse_path(&format!("{ENTERPRISE}:manager")).unwrap().attr;
        assert_eq!(
            (manager.urn.as_deref(), manager.name.as_str()),
            (Some(ENTERPRISE), "manager")
        );
        let value = parse_path(&format!("{ENTERPRISE}:manager.value"))
            .unwrap()
            .attr;
        assert_eq!(
            (value.urn.as_deref(), value.name.as_str()),
            (Some(ENTERPRISE), "manager")
        );
        assert_eq!(value.sub_attr.as_deref(), Some("value"));
        assert_eq!(value.to_string(), format!("{ENTERPRISE}:manager.value"));

        // A whole extension (as in `attributes=`): the last segment is the name.
        let ext = parse_path(ENTERPRISE).unwrap().attr;
        assert!(ext.is("User") && ext.to_string() == ENTERPRISE);

        let path_err = |input: &str| {
            parse_path(input)
                .map(|_| ())
                .map_err(|e| (e.position, e.kind))
        };
        assert_eq!(
            path_err(r#"name.familyName[type eq "x"]"#),
            Err((15, UnexpectedChar('[')))
        );
        assert_eq!(
            path_err(r#"emails[type eq "work"].value.x"#),
            Err((28, UnexpectedChar('.')))
        );
        assert_eq!(path_err(r#"emails eq "x""#), Err((7, UnexpectedChar('e'))));
        assert_eq!(path_err("emails[type pr].$"), Err((17, UnexpectedEnd)));
        assert_eq!(path_err(""), Err((0, UnexpectedEnd)));
        assert_eq!(path_err("  name.givenName "), Ok(()));
    }

    #[test]
    fn precedence_associativity_and_spacing() {
        let cases = [
            ("a pr or b pr and c pr", "(or (pr a) (and (pr b) (pr c)))"),
            ("a pr and b pr or c pr", "(or (and (pr a) (pr b)) (pr c))"),
            ("a pr and b pr and c pr", "(and (and (pr a) (pr b)) (pr c))"),
            ("a pr or b pr or c pr", "(or (or (pr a) (pr b)) (pr c))"),
            ("(a pr or b pr) and c pr", "(and (or (pr a) (pr b)) (pr c))"),
            (
                "a pr and (b pr and c pr)",
                "(and (pr a) (and (pr b) (pr c)))",
            ),
            ("not (a pr) and b pr", "(and (not (pr a)) (pr b))"),
            ("NOT(a pr or b pr)", "(not (or (pr a) (pr b)))"),
            (
                "a pr or not (b pr) and c pr or d pr",
                "(or (or (pr a) (and (not (pr b)) (pr c))) (pr d))",
            ),
            (
                "\t( a  PR )AND\tnot ( b Pr )  ",
                "(and (pr a) (not (pr b)))",
            ),
            ("USERNAME Eq\"x\"", r#"(eq USERNAME "x")"#),
            ("emails [type pr]", "(emails[] (pr type))"),
            // `not` without "(" is an attribute name.
            ("not pr", "(pr not)"),
            ("members[$ref pr]", "(members[] (pr $ref))"),
        ];
        for (input, expected) in cases {
            assert_eq!(shape(input), expected, "{input}");
        }
    }

    #[test]
    fn literals_and_escapes() {
        let cases = [
            (
                r#"a eq "q\" b\\ s\/ \b\f\n\r\t""#,
                r#"(eq a "q\" b\\ s/ \b\f\n\r\t")"#,
            ),
            (
                r#"a eq "\u00e9 \uD83D\uDE00 ü \u0001""#,
                r#"(eq a "é 😀 ü \u0001")"#,
            ),
            ("a eq TRUE", "(eq a true)"),
            ("a ne False", "(ne a false)"),
            ("a eq NULL", "(eq a null)"),
            ("a gt -12", "(gt a -12)"),
            ("a eq 18446744073709551615", "(eq a 18446744073709551615)"),
            ("a eq 18446744073709551616", "(eq a 1.8446744073709552e+19)"),
            ("a lt 1.5E3", "(lt a 1500.0)"),
            ("a co 7", "(co a 7)"),
            ("a eq -0", "(eq a 0)"),
        ];
        for (input, expected) in cases {
            assert_eq!(shape(input), expected, "{input}");
        }
        let bad_strings = [
            (r#"a eq "\x""#, 6),
            (r#"a eq "\u12""#, 6),
            (r#"a eq "x\uD83D""#, 7),
            (r#"a eq "\uDE00x""#, 6),
            ("a eq \"tab\there\"", 9),
            ("a eq \"open", 5),
        ];
        for (bad, at) in bad_strings {
            assert_eq!(err(bad), (at, InvalidString), "{bad}");
        }
        for bad in [
            "a eq 01",
            "a eq 1.",
            "a eq -",
            "a eq 1e",
            "a eq 1.2.3",
            "a eq 12abc",
            "a eq 1e999",
        ] {
            assert_eq!(err(bad), (5, InvalidNumber), "{bad}");
        }
    }

    #[test]
    fn errors_carry_byte_positions_and_never_echo_the_input() {
        let cases = [
            ("", 0, UnexpectedEnd),
            ("userName", 8, UnexpectedEnd),
            ("userName ", 9, UnexpectedEnd),
            ("userName eq", 11, UnexpectedEnd),
            (r#"userName xx "a""#, 9, ExpectedOperator),
            (r#"userName eqx "a""#, 9, ExpectedOperator),
            ("userName eq bjensen", 12, ExpectedValue),
            (r#"userName eq "a" xor b pr"#, 16, ExpectedLogicalOperator),
            (r#"userName eq "a" and"#, 19, UnexpectedEnd),
            ("(a pr", 5, UnbalancedParen),
            ("a pr)", 4, UnbalancedParen),
            ("emails[type pr", 14, UnbalancedBracket),
            ("a pr]", 4, UnbalancedBracket),
            ("emails[type pr)", 14, UnbalancedParen),
            ("(a pr]", 5, UnbalancedBracket),
            ("emails[x[y pr]]", 8, NestedValuePath),
            ("emails[(x[y pr])]", 9, NestedValuePath),
            (r#"emails[type pr].value"#, 21, UnexpectedEnd),
            (r#"emails[type pr].value eq"#, 24, UnexpectedEnd),
            (r#"emails[type pr]."#, 16, UnexpectedEnd),
            (r#"emails[type pr].value.x eq "a""#, 21, UnexpectedChar('.')),
            ("urn:x pr", 0, InvalidUrn),
            ("a.b.c pr", 3, UnexpectedChar('.')),
            ("1a pr", 0, UnexpectedChar('1')),
            ("a=1", 1, UnexpectedChar('=')),
            // `not` without "(" is an attribute name, so `b` is where an operator was due.
            ("a eq true and not b pr", 18, ExpectedOperator),
            // Offsets are in bytes; the offending char is reported whole.
            (r#"a eq "é" and ü pr"#, 14, UnexpectedChar('ü')),
            ("ü", 0, UnexpectedChar('ü')),
            ("a eq é", 5, ExpectedValue),
            ("a😀 pr", 1, UnexpectedChar('😀')),
            ("urn:a:b:c😀 pr", 9, UnexpectedChar('😀')),
        ];
        for (input, at, kind) in cases {
            assert_eq!(err(input), (at, kind), "{input}");
        }
        let not_for = |op, value| OperatorNotAllowedForValue { op, value };
        assert_eq!(
            err("active gt true"),
            (10, not_for(CompareOp::Gt, "a boolean"))
        );
        assert_eq!(err("a le null"), (5, not_for(CompareOp::Le, "null")));
        assert_eq!(err("a co false"), (5, not_for(CompareOp::Co, "a boolean")));

        let secret = r#"userName eq "very-secret-value" and password xx "hunter2""#;
        let message = parse(secret).unwrap_err().to_string();
        let expected = "invalid filter at offset 45: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)";
        assert_eq!(message, expected);
        assert_eq!(
            err("a gt true and b pr").1.to_string(),
            "operator 'gt' does not apply to a boolean"
        );
    }

    #[test]
    fn length_and_depth_limits() {
        let too_long = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN));
        assert_eq!(
            err(&too_long),
            (
                MAX_FILTER_LEN,
                TooLong {
                    max: MAX_FILTER_LEN
                }
            )
        );
        assert_eq!(
            parse_path(&too_long).unwrap_err().kind,
            TooLong {
                max: MAX_FILTER_LEN
            }
        );

        let deep = TooDeep {
            max: MAX_FILTER_DEPTH,
        };
        let nested = |n: usize, open: &str| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        for open in ["(", "not (", "not("] {
            assert!(parse(&nested(MAX_FILTER_DEPTH, open)).is_ok(), "{open}");
            let e = parse(&nested(MAX_FILTER_DEPTH + 1, open)).unwrap_err();
            assert_eq!(
                (e.position, e.kind),
                (MAX_FILTER_DEPTH * open.len(), deep.clone())
            );
        }
        assert_eq!(
            err(&format!("e[{}]", nested(MAX_FILTER_DEPTH, "("))).1,
            deep
        );
        let path = format!("e[{}]", nested(MAX_FILTER_DEPTH, "("));
        assert_eq!(parse_path(&path).unwrap_err().kind, deep);

        // Past the length limit, the parser itself still stops at the depth limit.
        for huge in [
            "(".repeat(100_000),
            "not (".repeat(100_000),
            format!("e[{}", "(".repeat(100_000)),
        ] {
            assert_eq!(Parser::new(&huge).filter().unwrap_err().kind, deep);
        }
        // Chains are built iteratively, without recursion per term.
        let chain = vec!["a pr"; 20_000].join(" and ");
        assert!(matches!(Parser::new(&chain).filter(), Ok(Filter::And(..))));
        let longest = vec!["a pr"; (MAX_FILTER_LEN + 5) / 9].join(" and ");
        assert!(longest.len() <= MAX_FILTER_LEN);
        assert!(matches(
            &parse(&longest).unwrap(),
            &json!({"a": 1}),
            &|_| false
        ));
    }

    #[test]
    fn attr_path_helpers_and_urn_split() {
        let Ok(Filter::Present(path)) = parse("URN:Foo:Bar:2.0:Thing:Attr.Sub-1 pr") else {
            panic!()
        };
        assert_eq!(path.urn.as_deref(), Some("URN:Foo:Bar:2.0:Thing"));
        assert!(
            path.is("attr") && path.is_sub("ATTR", "sub-1") && path.urn_is("urn:foo:bar:2.0:thing")
        );
        let lower = AttrPath {
            urn: Some("urn:foo:bar:2.0:thing".into()),
            name: "attr".into(),
            sub_attr: Some("SUB-1".into()),
        };
        assert!(path.eq_ignore_case(&lower) && !path.eq_ignore_case(&AttrPath::new("attr")));
        assert_eq!(path.to_string(), "URN:Foo:Bar:2.0:Thing:Attr.Sub-1");
        assert_eq!(
            "a[b pr].c".parse::<PatchPath>().unwrap().to_string(),
            "a[b pr].c"
        );
        assert_eq!("a  PR".parse::<Filter>().unwrap().to_string(), "a pr");
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223",
            "userName": "BJensen",
            "title": "",
            "userType": "Employee",
            "active": true,
            "loginCount": 42,
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "someaimhandle", "type": "aim"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
        })
    }

    /// Evaluates `filter` against [`user`] with id/externalId case-exact.
    fn eval(filter: &str) -> bool {
        let case_exact = |p: &AttrPath| p.is("id") || p.is("externalId");
        matches(&parse(filter).unwrap(), &user(), &case_exact)
    }

    #[test]
    fn evaluates_rfc_examples() {
        assert!(eval(r#"userName eq "bjensen""#));
        assert!(eval(r#"name.familyName co "o'malley""#));
        assert!(!eval(r#"userName sw "J""#) && eval(r#"userName sw "bj""#));
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#
        ));
        assert!(!eval("title pr"), "an empty string is not present");
        assert!(eval(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(!eval(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(eval(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
        assert!(eval(r#"userType eq "employee" or title pr"#));
        assert!(eval(&format!(r#"schemas eq "{ENTERPRISE}""#)));
        assert!(eval(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(!eval(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(eval(
            r#"userType eq "Employee" and (emails.type eq "work")"#
        ));
        assert!(eval(
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(!eval(
            r#"emails[type eq "work" and value co "@foo.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ));
    }

    #[test]
    fn entra_sub_attribute_after_a_value_filter_tests_the_selected_elements() {
        let entra = parse(r#"emails[type eq "work"].value eq "x@y""#).unwrap();
        let rfc = parse(r#"emails[type eq "work" and value eq "x@y"]"#).unwrap();
        assert_eq!(entra, rfc);
        let parsed = parse(r#"EMAILS[TYPE eq "work"].Value pr and userName pr"#).unwrap();
        assert_eq!(
            parsed.to_string(),
            r#"EMAILS[TYPE eq "work" and Value pr] and userName pr"#
        );
        assert!(eval(
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
        ));
        // The home address is not a work one.
        assert!(!eval(
            r#"emails[type eq "work"].value eq "babs@jensen.org""#
        ));
        assert!(eval(r#"emails[type eq "home"].value co "jensen.org""#));
        assert!(!eval(r#"emails[type eq "work"].display pr"#));
    }

    #[test]
    fn multi_valued_semantics() {
        // Any element may match a plain comparison...
        assert!(eval(
            r#"emails.type eq "home" and emails.value ew "example.com""#
        ));
        assert!(eval(r#"emails ew ".org""#));
        // ...but a value filter needs one element to satisfy all of it.
        assert!(!eval(
            r#"emails[type eq "home" and value ew "example.com"]"#
        ));
        assert!(eval(r#"emails[type eq "home" or value ew "example.com"]"#));
        assert!(eval("emails[primary eq true]") && !eval("emails[primary eq false]"));
        assert!(eval("emails[not (primary pr)]"));
        assert!(eval(r#"name[givenName sw "barb"]"#));
        assert!(eval("emails pr") && !eval("phoneNumbers pr") && eval("emails.primary pr"));
        // Simple multi-valued attributes: `value` is the element itself in a value filter.
        assert!(eval(&format!(r#"schemas[value eq "{ENTERPRISE}"]"#)));
        // `ne` is `not eq`: no element may be equal.
        assert!(!eval(r#"emails.type ne "home""#) && eval(r#"emails.type ne "other""#));
        // The PATCH engine evaluates inner filters on single elements.
        let work = &user()["emails"][0];
        let inner = parse(r#"type eq "WORK" and primary eq true"#).unwrap();
        assert!(matches(&inner, work, &|_| false));
    }

    #[test]
    fn missing_attributes_ne_and_null() {
        assert!(!eval(r#"nickName eq "x""#) && eval(r#"nickName ne "x""#));
        assert!(!eval(r#"nickName gt "a""#) && !eval(r#"nickName co """#));
        assert!(eval("nickName eq null") && !eval("nickName ne null"));
        assert!(!eval("userName eq null") && eval("userName ne null"));
        assert!(eval("not (nickName pr)"));
        assert!(eval(r#"userType ne "Intern""#) && !eval(r#"userType ne "EMPLOYEE""#));
        assert!(eval("emails.display eq null") && !eval("emails eq null"));
        assert!(!eval("name eq null") && eval("phoneNumbers eq null"));
        assert!(eval("name pr"));
        assert!(!matches(
            &parse("name pr").unwrap(),
            &json!({"name": {"a": null}}),
            &|_| false
        ));
    }

    #[test]
    fn case_exactness_and_types() {
        assert!(eval(r#"id eq "2819c223""#) && !eval(r#"id eq "2819C223""#));
        assert!(
            eval(r#"ID sw "2819""#),
            "attribute names are case-insensitive"
        );
        assert!(
            eval(r#"USERNAME eq "BJENSEN""#),
            "JSON keys are looked up case-insensitively"
        );
        assert!(eval(r#"userName gt "ajensen""#) && eval(r#"userName lt "CJENSEN""#));
        assert!(eval("active eq true") && !eval("active eq false") && eval("active ne false"));
        assert!(
            !eval(r#"active eq "true""#),
            "no coercion between JSON types"
        );
        assert!(
            eval("loginCount eq 42.0") && eval("loginCount gt 41.5") && eval("loginCount le 42")
        );
        assert!(!eval("loginCount co 4") && !eval(r#"loginCount eq "42""#));
        let big = json!({"n": u64::MAX});
        assert!(matches(
            &parse("n gt 9223372036854775807").unwrap(),
            &big,
            &|_| false
        ));
        // Unicode case folding on both sides.
        let resource = json!({"displayName": "ÉCOLE Straße"});
        let filter = parse(r#"displayName eq "école STRASSE""#).unwrap();
        assert!(
            !matches(&filter, &resource, &|_| false),
            "to_lowercase, not full case folding"
        );
        let filter = parse(r#"displayName eq "école straße""#).unwrap();
        assert!(matches(&filter, &resource, &|_| false) && !matches(&filter, &resource, &|_| true));
        // Value filters ask case_exact about the qualified path.
        let asked = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            asked.borrow_mut().push(p.to_string());
            false
        };
        matches(&parse(r#"emails[value eq "x"]"#).unwrap(), &user(), &record);
        assert_eq!(asked.into_inner(), ["emails.value"; 2]);
    }

    #[test]
    fn extension_attributes() {
        assert!(eval(&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#)));
        assert!(eval(&format!(
            r#"{}:EMPLOYEENUMBER sw "70""#,
            ENTERPRISE.to_uppercase()
        )));
        assert!(eval(&format!(
            r#"{ENTERPRISE}:manager.value eq "26118915""#
        )));
        assert!(eval(&format!(r#"{ENTERPRISE}:manager eq "26118915""#)));
        assert!(eval(&format!("{ENTERPRISE} pr")), "a whole extension");
        assert!(
            !eval("employeeNumber pr"),
            "bare names are core attributes only"
        );
        assert!(!eval("urn:other:2.0:User:employeeNumber pr"));
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
            Just("$ref".into()),
            Just("not".into())
        ]
    }

    fn attr_path(with_sub: bool) -> impl Strategy<Value = AttrPath> {
        let urn = prop_oneof![
            Just(ENTERPRISE.into()),
            "[uU][rR][nN]:[a-z][a-z0-9.-]{0,5}(:[a-z0-9.-]{1,5}){0,2}"
        ];
        let sub = if with_sub {
            proptest::option::of(name()).boxed()
        } else {
            Just(None).boxed()
        };
        (proptest::option::of(urn), name(), sub).prop_map(|(urn, name, sub_attr)| AttrPath {
            urn,
            name,
            sub_attr,
        })
    }

    fn leaf() -> BoxedStrategy<Filter> {
        use CompareOp::*;
        let number = prop_oneof![
            any::<i64>().prop_map(Number::from),
            any::<u64>().prop_map(Number::from),
            any::<f64>().prop_filter_map("finite", Number::from_f64),
        ];
        let any_op = proptest::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le]);
        let eq_ne = proptest::sample::select(vec![Eq, Ne]);
        let compare = prop_oneof![
            (any_op.clone(), any::<String>().prop_map(Literal::String)),
            (any_op, number.prop_map(Literal::Number)),
            (eq_ne.clone(), any::<bool>().prop_map(Literal::Bool)),
            (eq_ne, Just(Literal::Null)),
        ];
        let compare = (attr_path(true), compare).prop_map(|(path, (op, value))| Filter::Compare {
            path,
            op,
            value,
        });
        prop_oneof![attr_path(true).prop_map(Filter::Present), compare].boxed()
    }

    fn tree(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
        leaf.prop_recursive(5, 24, 2, |f| {
            prop_oneof![
                (f.clone(), f.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (f.clone(), f.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                f.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    fn filter() -> impl Strategy<Value = Filter> {
        let value_path =
            (attr_path(false), tree(leaf())).prop_map(|(path, inner)| Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        tree(prop_oneof![3 => leaf(), 1 => value_path].boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn display_round_trips(f in filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse(&text), Ok(f.clone()), "{}", text);
            matches(&f, &user(), &|_| false);
        }

        #[test]
        fn patch_paths_round_trip(
            attr in attr_path(false),
            inner in tree(leaf()),
            sub in proptest::option::of(name()),
        ) {
            let path = PatchPath { attr, filter: Some(inner), sub_attr: sub };
            prop_assert_eq!(parse_path(&path.to_string()), Ok(path));
        }

        #[test]
        fn arbitrary_input_never_panics(
            input in prop_oneof![any::<String>(), "[a-zA-Z0-9 \t\"()\\[\\]\\\\.:$eEuU+-é😀]{0,60}"],
        ) {
            if let Ok(f) = parse(&input) {
                matches(&f, &user(), &|_| true);
            }
            let _ = parse_path(&input);
            // Every prefix, including cuts inside escapes and multi-byte chars.
            for cut in (0..=input.len()).filter(|&i| input.is_char_boundary(i)) {
                let _ = parse(&input[..cut]);
            }
        }
    }
}
