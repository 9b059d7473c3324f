//! What the server computes rather than stores, as GET renders it: `id`, `schemas`,
//! `meta`, `groups`/`members`, and the indexed columns that mirror stored attributes
//! (`userName`, `displayName`, `externalId`), so that filters on them use the columns.

use std::cell::Cell;
use std::rc::Rc;

use crate::scim::schema::{self, ResourceKind};
use crate::scim::{Invalid, ScimType};
use crate::store::query::Bind;

use super::node::{
    pg_json, quote, quote_owned, Field, Found, Json, Key, Node, Place, Source, Text,
};
use super::{Compiler, Dialect, Sql};

impl Text {
    pub(super) fn column(expr: &str) -> Self {
        Self {
            raw: Sql::new(expr),
            folded: None,
            nullable: true,
        }
    }

    /// A column that is never NULL and equals its own fold (ids are lower-case UUIDs).
    pub(super) fn fold_invariant(expr: &str) -> Self {
        Self {
            raw: Sql::new(expr),
            folded: Some(Sql::new(expr)),
            nullable: false,
        }
    }

    /// A column with a Rust-folded twin.
    pub(super) fn with_folded(expr: &str, folded: &str, nullable: bool) -> Self {
        Self {
            raw: Sql::new(expr),
            folded: Some(Sql::new(folded)),
            nullable,
        }
    }

    pub(super) fn constant(value: &'static str) -> Self {
        Self {
            raw: Sql::new(&quote(value)),
            folded: Some(Sql::new(&quote_owned(&value.to_lowercase()))),
            nullable: false,
        }
    }
}

impl Compiler<'_> {
    /// A top-level attribute of the resource as GET renders it: stored attributes plus
    /// what the server computes.
    pub(super) fn resource_attribute(&self, name: &str) -> Result<Found, Invalid> {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let def = schema::find_attribute(self.kind, None, name, None);
        let table = self.table();
        let user = self.kind == ResourceKind::User;
        let text = |text: Text| Ok(Place::new(Node::Text(text), def).into());
        if is("password") {
            return Err(Invalid::new(
                ScimType::InvalidFilter,
                "'password' is never returned and cannot be filtered on",
            ));
        }
        if is("id") {
            return text(Text::fold_invariant(&format!("{table}.id")));
        }
        if is("meta") {
            return Ok(Place::new(self.meta(), def).into());
        }
        if is("schemas") {
            return Ok(self.schemas(name));
        }
        if (user && is("groups")) || (!user && is("members")) {
            return Ok(Place::new(Node::Memberships, def).into());
        }
        if user && is("userName") {
            return text(Text::with_folded(
                "users.user_name",
                "users.user_name_folded",
                false,
            ));
        }
        if !user && is("displayName") {
            return text(Text::with_folded(
                "groups.display_name",
                "groups.display_name_folded",
                false,
            ));
        }
        if is("externalId") {
            return text(Text::column(&format!("{table}.external_id")));
        }
        if user && is("displayName") {
            return text(Text::column("users.display_name"));
        }
        // Known attributes are stored under their canonical name only.
        let key = def.map_or(Key::Ci(name), |d| Key::Exact(d.name));
        Ok(self.lookup_key(self.root(), key, false, def).into())
    }

    /// `schemas` as rendered: the stored attribute if a client managed to store one
    /// (a path-less PATCH can), else the core schema plus each extension present.
    pub(super) fn schemas(&self, name: &str) -> Found {
        let key = if name == "schemas" {
            Key::Exact("schemas")
        } else {
            // Any other spelling: a stored key sorts before the computed `schemas`.
            Key::Ci(name)
        };
        let stored = self.lookup_key(self.root(), key, false, None);
        let core = self.kind.core_schema();
        let table = self.table();
        // JSON text: the core schema, then each extension the resource has.
        let mut array = format!("'[\"{core}\"'");
        for ext in self.kind.extensions() {
            let present = match self.dialect {
                Dialect::Sqlite => {
                    format!("json_type({table}.attributes, '$.\"{ext}\"') IS NOT NULL")
                }
                Dialect::Postgres => {
                    format!("(CAST({table}.attributes AS jsonb) -> '{ext}') IS NOT NULL")
                }
            };
            array.push_str(&format!(
                " || CASE WHEN {present} THEN ',\"{ext}\"' ELSE '' END"
            ));
        }
        array.push_str(" || ']'");
        let json = match self.dialect {
            Dialect::Sqlite => Json {
                ty: "'array'".into(),
                val: format!("({array})"),
            },
            Dialect::Postgres => pg_json(format!("CAST(({array}) AS jsonb)")),
        };
        Found {
            primary: stored,
            fallback: Some(Place::new(Node::Json(json), None)),
        }
    }

    pub(super) fn meta(&self) -> Node {
        let table = self.table();
        let version =
            |prefix: &str| format!("('{prefix}\"' || CAST({table}.version AS TEXT) || '\"')");
        let location = self.base_url.map(|base| {
            let mut raw = Sql::new("(");
            raw.bind(Bind::Text(base.to_owned()))
                .sql(&format!(" || '{}/' || {table}.id)", self.kind.endpoint()));
            Text {
                raw,
                folded: None,
                nullable: false,
            }
        });
        let field = |name, text| Field {
            name,
            text,
            join: None,
        };
        Node::Object(vec![
            field("resourceType", Some(Text::constant(self.kind.name()))),
            field(
                "created",
                Some(Text::column(&format!("{table}.created_at"))),
            ),
            field(
                "lastModified",
                Some(Text::column(&format!("{table}.updated_at"))),
            ),
            field("location", location),
            field(
                "version",
                Some(Text::with_folded(&version("W/"), &version("w/"), false)),
            ),
        ])
    }

    /// One row per element of `groups` (User) or `members` (Group), each an object as
    /// GET renders it.
    pub(super) fn memberships(&self, mut place: Place) -> Place {
        let gm = self.alias("gm");
        let join = Rc::new(Cell::new(false));
        let table = self.table();
        let (own, other) = match self.kind {
            ResourceKind::User => ("member_id", "group_id"),
            ResourceKind::Group => ("group_id", "member_id"),
        };
        place.rows.from.push(Source::Members {
            gm: gm.clone(),
            join: join.clone(),
        });
        place.rows.conds.push(Sql::new(&format!(
            "{gm}.tenant_id = {table}.tenant_id AND {gm}.{own} = {table}.id"
        )));
        let reference = self.base_url.map(|base| {
            let endpoint = match self.kind {
                ResourceKind::User => "'/Groups/'".to_owned(),
                ResourceKind::Group => {
                    format!(
                        "CASE WHEN {gm}.member_type = 'Group' THEN '/Groups/' ELSE '/Users/' END"
                    )
                }
            };
            let mut raw = Sql::new("(");
            raw.bind(Bind::Text(base.to_owned()))
                .sql(&format!(" || {endpoint} || {gm}.{other})"));
            Text {
                raw,
                folded: None,
                nullable: false,
            }
        });
        let (display, kind_of) = match self.kind {
            ResourceKind::User => (
                Text::with_folded(&format!("{gm}_g.display_name"), &format!("{gm}_g.display_name_folded"), false),
                Text::constant("direct"),
            ),
            ResourceKind::Group => (
                Text::column(&format!(
                    "COALESCE({gm}.display, {gm}_u.display_name, {gm}_u.user_name, {gm}_g.display_name)"
                )),
                Text {
                    nullable: false,
                    ..Text::column(&format!("{gm}.member_type"))
                },
            ),
        };
        let field = |name, text: Option<Text>| Field {
            name,
            text,
            join: None,
        };
        place.node = Node::Object(vec![
            field(
                "value",
                Some(Text::fold_invariant(&format!("{gm}.{other}"))),
            ),
            field("$ref", reference),
            Field {
                name: "display",
                text: Some(display),
                join: Some(join),
            },
            field("type", Some(kind_of)),
        ]);
        place
    }

    pub(super) fn members_source(&self, gm: &str, join: bool) -> String {
        let mut source = format!("group_members {gm}");
        if join {
            let on = |alias: &str, table: &str, column: &str| {
                format!(" LEFT JOIN {table} {alias} ON {alias}.tenant_id = {gm}.tenant_id AND {alias}.id = {gm}.{column}")
            };
            match self.kind {
                ResourceKind::User => {
                    source.push_str(&on(&format!("{gm}_g"), "groups", "group_id"))
                }
                ResourceKind::Group => {
                    source.push_str(&on(&format!("{gm}_u"), "users", "member_id"));
                    source.push_str(&on(&format!("{gm}_g"), "groups", "member_id"));
                }
            }
        }
        source
    }
}
