//! SCIM filters compiled to SQL on SQLite and PostgreSQL, with bound parameters only.
//!
//! # Contract
//!
//! For every filter the parser accepts, [`compile_at`] selects exactly the resources
//! that [`crate::scim::filter::matches`] accepts when given the resource as GET renders
//! it and `case_exact(p) = schema::is_case_exact(kind, p.urn, p.name, p.sub_attr)`.
//! The differential test in `tests/api/filters.rs` holds both backends to this. The
//! only filters refused (400 `invalidFilter`) are those naming `password`, which is
//! never returned, so it must not be probed through filters either.
//!
//! Known limits of "exactly", all outside what roster stores or IdPs send:
//! - PostgreSQL folds case with `lower()`, which follows the database's ctype and maps
//!   one character at a time; Rust's `to_lowercase` also maps `İ` to `i̇` and a final
//!   `Σ` to `ς`. SQLite uses `roster_fold`, which is Rust's `to_lowercase` itself.
//! - Numbers beyond ±2^53 may compare differently: PostgreSQL compares JSON numbers as
//!   exact decimals, SQLite as 64-bit integers or doubles, Rust as `i128` or `f64`.
//! - When one JSON object holds several keys that differ only in ASCII case (possible
//!   only inside unknown attributes), both pick the exact spelling first and then the
//!   smallest key in byte order, as `serde_json`'s sorted map does.
//! - No stored string holds U+0000 (roster refuses it on input), so a literal holding
//!   one is never bound: it is cut there, which orders the same against every string.
//!
//! `active` is read from the stored attributes, not from the `active` column: the column
//! says true for a user that never had `active`, and GET then shows none.
//!
//! # How
//!
//! A path is resolved the way `matches` resolves it, step by step: look up the
//! attribute, flatten a multi-valued one, look up the sub-attribute (or the implicit
//! `value`), flatten again, then test each designated value. Every step that walks JSON
//! is a row source in an `EXISTS (SELECT 1 FROM … WHERE …)`: `json_each` over
//! `attributes` on SQLite, `jsonb_each`/`jsonb_array_elements` over `attributes::jsonb`
//! on PostgreSQL. What the server computes rather than stores is read from columns:
//! `id`, `userName`, `externalId`, `displayName`, `meta.*`, and `groups`/`members` from
//! `group_members`, so the hot attributes use their indexes. `node` resolves paths,
//! `computed` maps the computed attributes, `sql` holds the tests on one value.
//!
//! Every fragment is two-valued (never SQL `NULL`), so `not` and `ne` mean what they
//! mean in `matches`: a missing attribute is "not equal".

mod computed;
mod emails;
mod node;
mod sort;
mod sql;
#[cfg(test)]
mod tests;

use std::cell::Cell;

use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::schema::{is_case_exact, ResourceKind};
use crate::scim::Invalid;

use super::query::{Bind, RawQuery};
use node::{Place, Pred};
pub use sort::{sort_key, SortKey};

/// A fragment of SQL with its binds. A bind is a `SLOT` in the text until
/// [`Sql::into_query`] numbers them all in one pass: fragments nest deeply, and
/// renumbering at every level made compiling quadratic.
#[derive(Debug, Clone, Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

/// Stands for a bind in `Sql::text`; no SQL roster writes contains it.
const SLOT: char = '\u{1}';

impl Sql {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    fn sql(&mut self, text: &str) -> &mut Self {
        debug_assert!(!text.contains(SLOT));
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.text.push(SLOT);
        self.binds.push(value);
        self
    }

    fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds.iter().cloned());
        self
    }

    fn into_query(self) -> RawQuery {
        let mut q = RawQuery::default();
        let mut binds = self.binds.into_iter();
        for (i, part) in self.text.split(SLOT).enumerate() {
            // Every slot was written with its bind, in order.
            if i > 0 {
                if let Some(bind) = binds.next() {
                    q.bind(bind);
                }
            }
            q.sql(part);
        }
        q
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Compiles `filter` into a boolean SQL fragment over `users` or `groups`. Without the
/// tenant's SCIM base URL, `meta.location` and `$ref` cannot be compared and are
/// refused; the service uses [`compile_at`].
pub fn compile(kind: ResourceKind, filter: &Filter, dialect: Dialect) -> Result<RawQuery, Invalid> {
    compile_at(kind, filter, dialect, None)
}

/// [`compile`] for a tenant whose resources live under `base_url` (the SCIM base URL
/// without a trailing slash), from which `meta.location` and `$ref` are derived.
pub fn compile_at(
    kind: ResourceKind,
    filter: &Filter,
    dialect: Dialect,
    base_url: Option<&str>,
) -> Result<RawQuery, Invalid> {
    let compiler = Compiler {
        kind,
        dialect,
        base_url,
        aliases: Cell::new(0),
    };
    Ok(compiler
        .filter(&Scope::Resource, &CaseRule::Top, filter)?
        .into_query())
}

struct Compiler<'a> {
    kind: ResourceKind,
    dialect: Dialect,
    base_url: Option<&'a str>,
    /// Numbers the row sources, so nested subqueries never shadow each other.
    aliases: Cell<usize>,
}

/// What paths are relative to: the resource, or one element inside a value filter.
enum Scope {
    Resource,
    Element(Place),
}

/// How `case_exact` is asked, as `matches` asks it: a value filter's inner paths are
/// qualified with the outer attribute (`emails[value eq …]` asks for `emails.value`).
enum CaseRule<'a> {
    Top,
    Scoped {
        outer: &'a CaseRule<'a>,
        urn: Option<&'a str>,
        name: &'a str,
    },
}

impl CaseRule<'_> {
    fn exact(&self, kind: ResourceKind, p: &AttrPath) -> bool {
        match self {
            CaseRule::Top => is_case_exact(kind, p.urn.as_deref(), &p.name, p.sub_attr.as_deref()),
            CaseRule::Scoped { outer, .. } if p.urn.is_some() => outer.exact(kind, p),
            CaseRule::Scoped { outer, urn, name } => outer.exact(
                kind,
                &AttrPath {
                    urn: urn.map(str::to_owned),
                    name: (*name).to_owned(),
                    sub_attr: Some(p.name.clone()),
                },
            ),
        }
    }
}

impl Compiler<'_> {
    fn filter(&self, scope: &Scope, rule: &CaseRule, filter: &Filter) -> Result<Sql, Invalid> {
        if matches!(scope, Scope::Resource) {
            if let Some(indexed) = self.indexed_email(filter) {
                return Ok(indexed);
            }
            if let Some(pre) = self.email_precondition(filter) {
                let exact = self.filter_walked(scope, rule, filter)?;
                let mut q = Sql::new("(");
                q.append(&pre).sql(" AND ").append(&exact).sql(")");
                return Ok(q);
            }
        }
        self.filter_walked(scope, rule, filter)
    }

    /// `filter` resolved over the JSON and columns, without the email index.
    fn filter_walked(
        &self,
        scope: &Scope,
        rule: &CaseRule,
        filter: &Filter,
    ) -> Result<Sql, Invalid> {
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                let is_and = matches!(filter, Filter::And(..));
                let terms = chain(filter, is_and)
                    .into_iter()
                    .map(|term| self.filter(scope, rule, term))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(balanced(terms, if is_and { " AND " } else { " OR " }))
            }
            Filter::Not(inner) => Ok(not(self.filter(scope, rule, inner)?)),
            Filter::Present(path) => self.any_value(scope, path, false, &Pred::Present),
            Filter::Compare { path, op, value } => self.compare(scope, rule, path, *op, value),
            Filter::ValuePath { path, filter } => {
                let inner = CaseRule::Scoped {
                    outer: rule,
                    urn: path.urn.as_deref(),
                    name: &path.name,
                };
                let pred = Pred::Matches {
                    filter,
                    rule: &inner,
                };
                self.any_value(scope, path, false, &pred)
            }
        }
    }

    fn compare(
        &self,
        scope: &Scope,
        rule: &CaseRule,
        path: &AttrPath,
        op: CompareOp,
        value: &Literal,
    ) -> Result<Sql, Invalid> {
        let pred = match (op, value) {
            // `ne` is exactly `not eq`: a missing attribute is "not equal".
            (CompareOp::Ne, _) => {
                let eq = self.compare(scope, rule, path, CompareOp::Eq, value)?;
                return Ok(not(eq));
            }
            // `eq null`: no non-null value is there.
            (CompareOp::Eq, Literal::Null) => {
                let some = self.any_value(scope, path, false, &Pred::NotNull)?;
                return Ok(not(some));
            }
            (_, Literal::String(text)) => Pred::Str {
                op,
                text,
                exact: rule.exact(self.kind, path),
            },
            (_, Literal::Number(number)) => Pred::Num { op, number },
            (CompareOp::Eq, Literal::Bool(b)) => Pred::Bool(*b),
            // Ordering a boolean or null: the parser refuses it; it never matches.
            (_, Literal::Bool(_) | Literal::Null) => Pred::Never,
        };
        self.any_value(scope, path, true, &pred)
    }

    /// A fresh alias with this prefix.
    fn alias(&self, prefix: &str) -> String {
        let n = self.aliases.get() + 1;
        self.aliases.set(n);
        format!("{prefix}{n}")
    }

    /// The resources' table, as the outer query names it.
    fn table(&self) -> &'static str {
        match self.kind {
            ResourceKind::User => "users",
            ResourceKind::Group => "groups",
        }
    }
}

/// The operands of a chain of one logical operator, in order, without recursion.
fn chain(filter: &Filter, is_and: bool) -> Vec<&Filter> {
    let mut stack = vec![filter];
    let mut terms = Vec::new();
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(l, r) if is_and => stack.extend([r.as_ref(), l.as_ref()]),
            Filter::Or(l, r) if !is_and => stack.extend([r.as_ref(), l.as_ref()]),
            other => terms.push(other),
        }
    }
    terms
}

/// Joins `terms` as a balanced tree: a 400-term chain stays a few levels deep, well
/// under SQLite's expression depth limit of 1000.
fn balanced(mut terms: Vec<Sql>, joiner: &str) -> Sql {
    if terms.len() == 1 {
        return terms.pop().unwrap_or_default();
    }
    let right = terms.split_off(terms.len() / 2);
    let mut q = Sql::new("(");
    q.append(&balanced(terms, joiner))
        .sql(joiner)
        .append(&balanced(right, joiner))
        .sql(")");
    q
}

fn not(inner: Sql) -> Sql {
    let mut q = Sql::new("NOT (");
    q.append(&inner).sql(")");
    q
}

const TRUE: &str = "(1 = 1)";
const FALSE: &str = "(1 = 0)";
