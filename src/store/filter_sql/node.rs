//! Resolving a path to SQL row sources, the way `matches` resolves it in memory.
//!
//! Each step maps one step of `matches`' `any_value`: `lookup` a key (exact first, then
//! ignoring ASCII case), `elements` of a multi-valued value, the implicit `value` of an
//! object. A JSON step adds a row source; computed attributes (see `computed`) resolve
//! at compile time to column expressions.

use std::cell::Cell;
use std::rc::Rc;

use crate::scim::filter::{AttrPath, CompareOp, Filter};
use crate::scim::schema::{self, AttributeDef};
use crate::scim::{Invalid, ScimType};
use crate::store::query::Bind;

use super::{CaseRule, Compiler, Dialect, Scope, Sql, FALSE, TRUE};

/// A JSON value, as bind-free SQL over aliases. SQLite: `ty` is `json_each`'s type name
/// and `val` its value (JSON text for objects and arrays, an SQL value otherwise).
/// PostgreSQL: `val` is `jsonb` and `ty` is `jsonb_typeof(val)`.
#[derive(Debug, Clone)]
pub(super) struct Json {
    pub ty: String,
    pub val: String,
}

/// A string the server computes or keeps in a column; SQL `NULL` means absent.
#[derive(Debug, Clone)]
pub(super) struct Text {
    pub raw: Sql,
    /// The same value already folded by Rust's `to_lowercase` (a `*_folded` column, or
    /// an id, which is lower-case hex anyway), so no SQL folding is needed.
    pub folded: Option<Sql>,
    pub nullable: bool,
}

/// A member of a computed object. `text` is `None` when it needs the base URL that the
/// caller did not give; `join` is set when the member reads a joined table.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) text: Option<Text>,
    pub(super) join: Option<Rc<Cell<bool>>>,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Json(Json),
    Text(Text),
    /// `meta`, or one element of `groups`/`members`.
    Object(Vec<Field>),
    /// `groups` of a User or `members` of a Group, before flattening.
    Memberships,
    Missing,
}

/// A row source of an `EXISTS`.
#[derive(Debug, Clone)]
pub(super) enum Source {
    Sql(Sql),
    /// `group_members`, joined to the member's or group's row only when a `display` is
    /// compared (the join is decided after the predicate is compiled).
    Members {
        gm: String,
        join: Rc<Cell<bool>>,
    },
}

#[derive(Debug, Clone, Default)]
pub(super) struct Rows {
    pub(super) from: Vec<Source>,
    pub(super) conds: Vec<Sql>,
}

/// Rows that each designate one value, with what the schema says about it.
#[derive(Debug, Clone)]
pub(super) struct Place {
    pub(super) rows: Rows,
    pub(super) node: Node,
    pub(super) def: Option<&'static AttributeDef>,
}

impl Place {
    pub(super) fn new(node: Node, def: Option<&'static AttributeDef>) -> Self {
        Self {
            rows: Rows::default(),
            node,
            def,
        }
    }

    /// The same value as the root of a value filter's inner filter, whose SQL is nested
    /// inside this place's `EXISTS` and so sees its aliases.
    pub(super) fn as_element(&self) -> Place {
        Place::new(self.node.clone(), self.def)
    }
}

/// The attribute a path names, or with a URN, `matches`' "this, or else that":
/// `lookup(lookup(r, urn), name)`, falling back to `lookup(r, "urn:name")`.
pub(super) struct Found {
    pub(super) primary: Place,
    pub(super) fallback: Option<Place>,
}

impl From<Place> for Found {
    fn from(primary: Place) -> Self {
        Self {
            primary,
            fallback: None,
        }
    }
}

/// What to test on each designated value.
pub(super) enum Pred<'a> {
    Present,
    NotNull,
    Str {
        op: CompareOp,
        text: &'a str,
        exact: bool,
    },
    Num {
        op: CompareOp,
        number: &'a serde_json::Number,
    },
    Bool(bool),
    Never,
    /// A value filter's inner filter, evaluated on the element.
    Matches {
        filter: &'a Filter,
        rule: &'a CaseRule<'a>,
    },
}

/// How to find a key: the canonical spelling of a known attribute (roster stores known
/// top-level and extension attributes under that spelling only), or `matches`' rule:
/// the spelling as written, else the first key equal ignoring ASCII case.
#[derive(Clone, Copy)]
pub(super) enum Key<'a> {
    Exact(&'static str),
    Ci(&'a str),
}

const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

fn urn_is_core(urn: &str) -> bool {
    urn.as_bytes()
        .get(..CORE_URN_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX.as_bytes()))
}

/// An SQL string literal for a compile-time name (schema names hold no quote).
pub(super) fn quote(s: &'static str) -> String {
    quote_owned(s)
}

pub(super) fn quote_owned(s: &str) -> String {
    debug_assert!(!s.contains('\''), "{s}");
    format!("'{s}'")
}

impl Compiler<'_> {
    /// `matches`' `any_value`: whether `pred` holds for any value `path` designates.
    pub(super) fn any_value(
        &self,
        scope: &Scope,
        path: &AttrPath,
        implicit_value: bool,
        pred: &Pred,
    ) -> Result<Sql, Invalid> {
        let found = self.designate(scope, path)?;
        let primary = self.finish(found.primary.clone(), path, implicit_value, pred)?;
        let Some(fallback) = found.fallback else {
            return Ok(primary);
        };
        let taken = self.exists(&found.primary.rows, self.node_exists(&found.primary.node));
        let other = self.finish(fallback, path, implicit_value, pred)?;
        let mut q = Sql::new("(");
        q.append(&primary)
            .sql(" OR (NOT ")
            .append(&taken)
            .sql(" AND ")
            .append(&other)
            .sql("))");
        Ok(q)
    }

    pub(super) fn finish(
        &self,
        place: Place,
        path: &AttrPath,
        implicit_value: bool,
        pred: &Pred,
    ) -> Result<Sql, Invalid> {
        let mut place = self.elements(place);
        if let Some(sub) = &path.sub_attr {
            place = self.lookup(place, sub, false)?;
            place = self.elements(place);
        } else if implicit_value {
            // An object compares through its `value`; anything else compares itself.
            place = self.lookup(place, "value", true)?;
        }
        let test = self.pred(&place, pred)?;
        Ok(self.exists(&place.rows, test))
    }

    pub(super) fn designate(&self, scope: &Scope, path: &AttrPath) -> Result<Found, Invalid> {
        // A core schema URN (any resource type's) means the top level, as in `matches`.
        let urn = path.urn.as_deref().filter(|u| !urn_is_core(u));
        match (scope, urn) {
            (Scope::Resource, None) => self.resource_attribute(&path.name),
            (Scope::Resource, Some(urn)) => {
                Ok(self.urn_attribute(self.root(), true, urn, &path.name))
            }
            (Scope::Element(element), None) => {
                Ok(self.lookup(element.as_element(), &path.name, true)?.into())
            }
            (Scope::Element(element), Some(urn)) => {
                Ok(self.urn_attribute(element.as_element(), false, urn, &path.name))
            }
        }
    }

    /// The stored attributes as a JSON object.
    pub(super) fn root(&self) -> Place {
        let table = self.table();
        let json = match self.dialect {
            Dialect::Sqlite => Json {
                ty: "'object'".into(),
                val: format!("{table}.attributes"),
            },
            Dialect::Postgres => pg_json(format!("CAST({table}.attributes AS jsonb)")),
        };
        Place::new(Node::Json(json), None)
    }

    /// `urn:…:name` other than the core schema's: the attribute inside the object
    /// stored under the URN, or else a key spelled `urn:…:name` (which is how a path
    /// naming a whole extension, `urn:…:enterprise:2.0:User`, finds its object).
    pub(super) fn urn_attribute(
        &self,
        start: Place,
        at_root: bool,
        urn: &str,
        name: &str,
    ) -> Found {
        let known = |key: &str| {
            let extensions = self.kind.extensions().iter().copied();
            at_root.then(|| extensions.clone().find(|e| e.eq_ignore_ascii_case(key)))?
        };
        let ext = known(urn);
        let object = self.lookup_key(
            start.clone(),
            ext.map_or(Key::Ci(urn), Key::Exact),
            false,
            None,
        );
        let def = ext.and_then(schema::schema).and_then(|s| s.attribute(name));
        let primary = self.lookup_key(
            object,
            def.map_or(Key::Ci(name), |d| Key::Exact(d.name)),
            false,
            def,
        );
        let whole = format!("{urn}:{name}");
        let key = known(&whole).map_or(Key::Ci(&whole), Key::Exact);
        Found {
            primary,
            fallback: Some(self.lookup_key(start, key, false, None)),
        }
    }

    /// `lookup(v, name)` on one designated value; with `element_rule`, a value that is
    /// not an object designates itself when `name` is `value` (a value filter over
    /// simple values, and the implicit `value`). Keys below the top level may be spelled
    /// as a client sent them (PATCH keeps the spelling of a new sub-attribute), so they
    /// are looked up the way `matches` does.
    pub(super) fn lookup(
        &self,
        place: Place,
        name: &str,
        element_rule: bool,
    ) -> Result<Place, Invalid> {
        let def = place.def.and_then(|d| d.sub_attribute(name));
        let itself = element_rule && name.eq_ignore_ascii_case("value");
        match &place.node {
            Node::Object(fields) => {
                let Some(field) = fields.iter().find(|f| f.name.eq_ignore_ascii_case(name)) else {
                    return Ok(Place {
                        node: Node::Missing,
                        ..place
                    });
                };
                let Some(text) = field.text.clone() else {
                    return Err(Invalid::new(
                        ScimType::InvalidFilter,
                        format!("'{}' cannot be filtered on here", field.name),
                    ));
                };
                if let Some(join) = &field.join {
                    join.set(true);
                }
                Ok(Place {
                    node: Node::Text(text),
                    def,
                    ..place
                })
            }
            Node::Json(_) => Ok(self.lookup_key(place, Key::Ci(name), itself, def)),
            Node::Text(_) | Node::Memberships if itself => Ok(place),
            Node::Text(_) | Node::Memberships | Node::Missing => Ok(Place {
                node: Node::Missing,
                ..place
            }),
        }
    }

    /// A key of a JSON object: one row of `json_each`/`jsonb_each` over it.
    pub(super) fn lookup_key(
        &self,
        mut place: Place,
        key: Key,
        itself: bool,
        def: Option<&'static AttributeDef>,
    ) -> Place {
        let Node::Json(parent) = &place.node else {
            return Place {
                node: Node::Missing,
                def,
                ..place
            };
        };
        let parent = parent.clone();
        let k = self.alias("k");
        let (each, dummy) = match self.dialect {
            Dialect::Sqlite => ("json_each", "'{\"value\":0}'"),
            Dialect::Postgres => ("jsonb_each", "CAST('{\"value\":0}' AS jsonb)"),
        };
        // Only an object is walked: SQLite would parse a string value as JSON text.
        let object = |fallback: &str| {
            format!(
                "CASE WHEN {} = 'object' THEN {} {fallback}END",
                parent.ty, parent.val
            )
        };
        let source = object(&if itself {
            format!("ELSE {dummy} ")
        } else {
            String::new()
        });
        place
            .rows
            .from
            .push(Source::Sql(Sql::new(&format!("{each}({source}) AS {k}"))));
        let wanted = match key {
            Key::Exact(name) => Sql::new(&quote(name)),
            Key::Ci(name) => self.ci_key(&object(""), name),
        };
        let mut cond = Sql::default();
        if let Key::Ci(name) = key {
            // Cheap first: the picking subquery then runs for the one likely key only.
            cond.sql(&format!("{} = ", self.ascii_lower(&format!("{k}.key"))))
                .bind(Bind::Text(name.to_ascii_lowercase()))
                .sql(" AND ");
        }
        cond.sql(&format!("{k}.key = "));
        if itself {
            // Not an object: the dummy's one key picks the value itself.
            cond.sql(&format!("CASE WHEN {} = 'object' THEN ", parent.ty))
                .append(&wanted)
                .sql(" ELSE 'value' END");
        } else {
            cond.append(&wanted);
        }
        place.rows.conds.push(cond);
        let member = match self.dialect {
            Dialect::Sqlite => Json {
                ty: format!("{k}.type"),
                val: format!("{k}.value"),
            },
            Dialect::Postgres => pg_json(format!("{k}.value")),
        };
        let node = if itself {
            let pick = |a: &str, b: &str| {
                format!("CASE WHEN {} = 'object' THEN {a} ELSE {b} END", parent.ty)
            };
            match self.dialect {
                Dialect::Sqlite => Json {
                    ty: pick(&member.ty, &parent.ty),
                    val: pick(&member.val, &parent.val),
                },
                Dialect::Postgres => pg_json(pick(&member.val, &parent.val)),
            }
        } else {
            member
        };
        Place {
            node: Node::Json(node),
            def,
            ..place
        }
    }

    /// The key of `object` equal to `name` ignoring ASCII case: the exact spelling
    /// first, then the smallest in byte order (`serde_json`'s map order).
    pub(super) fn ci_key(&self, object: &str, name: &str) -> Sql {
        let kk = self.alias("kk");
        let (each, order) = match self.dialect {
            Dialect::Sqlite => ("json_each", format!("{kk}.key")),
            Dialect::Postgres => ("jsonb_each", format!("{kk}.key COLLATE \"C\"")),
        };
        let folded = self.ascii_lower(&format!("{kk}.key"));
        let mut q = Sql::new(&format!(
            "(SELECT {kk}.key FROM {each}({object}) AS {kk} WHERE {folded} = "
        ));
        q.bind(Bind::Text(name.to_ascii_lowercase()))
            .sql(&format!(" ORDER BY {kk}.key <> "))
            .bind(Bind::Text(name.to_owned()))
            .sql(&format!(", {order} LIMIT 1)"));
        q
    }

    /// `expr` with ASCII letters lower-cased, as `eq_ignore_ascii_case` compares.
    fn ascii_lower(&self, expr: &str) -> String {
        match self.dialect {
            // SQLite's built-in lower() folds ASCII only: just what is wanted here.
            Dialect::Sqlite => format!("lower({expr})"),
            Dialect::Postgres => format!(
                "translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
            ),
        }
    }

    /// `elements(v)`: the items of an array, or the value itself. Known single-valued
    /// attributes are never stored as arrays, so they skip the row source.
    pub(super) fn elements(&self, mut place: Place) -> Place {
        match &place.node {
            Node::Memberships => self.memberships(place),
            Node::Json(_) if place.def.is_some_and(|d| !d.multi_valued) => place,
            Node::Json(array) => {
                let e = self.alias("e");
                let (source, node) = match self.dialect {
                    Dialect::Sqlite => (
                        format!("json_each(CASE WHEN {} = 'array' THEN {} ELSE '[0]' END) AS {e}", array.ty, array.val),
                        Json {
                            ty: format!("CASE WHEN {} = 'array' THEN {e}.type ELSE {} END", array.ty, array.ty),
                            val: format!("CASE WHEN {} = 'array' THEN {e}.value ELSE {} END", array.ty, array.val),
                        },
                    ),
                    Dialect::Postgres => (
                        format!(
                            "jsonb_array_elements(CASE WHEN {} = 'array' THEN {} ELSE jsonb_build_array({}) END) AS {e}",
                            array.ty, array.val, array.val
                        ),
                        pg_json(format!("{e}.value")),
                    ),
                };
                place.rows.from.push(Source::Sql(Sql::new(&source)));
                place.node = Node::Json(node);
                place
            }
            Node::Text(_) | Node::Object(_) | Node::Missing => place,
        }
    }

    /// `EXISTS (SELECT 1 FROM <rows> WHERE <conditions> AND <test>)`, or just the test
    /// when nothing needs a row source.
    pub(super) fn exists(&self, rows: &Rows, test: Sql) -> Sql {
        if rows.from.is_empty() && rows.conds.is_empty() {
            return test;
        }
        let mut q = Sql::default();
        if !rows.from.is_empty() {
            q.sql("EXISTS (SELECT 1 FROM ");
            for (i, source) in rows.from.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                match source {
                    Source::Sql(sql) => {
                        q.append(sql);
                    }
                    Source::Members { gm, join } => {
                        q.sql(&self.members_source(gm, join.get()));
                    }
                }
            }
            q.sql(" WHERE ");
        } else {
            q.sql("(");
        }
        for cond in &rows.conds {
            q.append(cond).sql(" AND ");
        }
        q.append(&test).sql(")");
        q
    }

    /// Whether a looked-up value is there at all (for "this, or else that").
    pub(super) fn node_exists(&self, node: &Node) -> Sql {
        match node {
            Node::Text(text) if text.nullable => {
                let mut q = Sql::new("(");
                q.append(&text.raw).sql(" IS NOT NULL)");
                q
            }
            Node::Missing => Sql::new(FALSE),
            Node::Json(_) | Node::Text(_) | Node::Object(_) | Node::Memberships => Sql::new(TRUE),
        }
    }

    pub(super) fn pred(&self, place: &Place, pred: &Pred) -> Result<Sql, Invalid> {
        if let Pred::Matches { filter, rule } = pred {
            if matches!(place.node, Node::Missing | Node::Memberships) {
                return Ok(Sql::new(FALSE));
            }
            return self.filter(&Scope::Element(place.as_element()), rule, filter);
        }
        Ok(match &place.node {
            Node::Json(json) => self.json_pred(json, pred),
            Node::Text(text) => self.text_pred(text, pred),
            Node::Object(_) => Sql::new(match pred {
                // Every computed object has a member that is never null.
                Pred::Present | Pred::NotNull => TRUE,
                _ => FALSE,
            }),
            // `groups`/`members` are always flattened before a test.
            Node::Memberships | Node::Missing => Sql::new(FALSE),
        })
    }
}

/// A `jsonb` expression with its type.
pub(super) fn pg_json(val: String) -> Json {
    Json {
        ty: format!("jsonb_typeof({val})"),
        val,
    }
}
