//! `sortBy` (RFC 7644 §3.4.2.3) as an SQL expression: indexed columns for the attributes
//! that have them, a JSON expression otherwise.
//!
//! Attributes of the schema with a string-like type (string, dateTime, reference,
//! binary) can be sorted on. A multi-valued complex attribute sorts by its primary
//! element, or else its first (RFC 7644 §3.4.2.3): `emails` by that element's `value`,
//! `emails.type` by its `type`. Anything else (singular complex attributes, booleans,
//! numbers, `password`, `groups` and `members`, attributes roster does not know) is 400
//! `invalidValue`. Strings sort folded unless the attribute is `caseExact`, so `userName`
//! sorts case-insensitively (on its folded, indexed column). A resource without the
//! attribute, or with a value of another JSON type, sorts as if its value were greater
//! than any other: last when ascending, first when descending.

use crate::scim::filter::AttrPath;
use crate::scim::schema::{self, AttrType, AttributeDef, ResourceKind};
use crate::scim::{Invalid, ScimType};

use super::node::quote;
use super::Dialect;

/// A bind-free SQL expression over the resource table that orders rows, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub expr: String,
    /// Whether `expr` can be NULL (the attribute is missing).
    pub nullable: bool,
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The sort key of `by` on resources of `kind`.
pub fn sort_key(kind: ResourceKind, by: &AttrPath, dialect: Dialect) -> Result<SortKey, Invalid> {
    let table = match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    let refuse = |why: &str| {
        Invalid::new(
            ScimType::InvalidValue,
            format!("cannot sort by '{by}': {why}"),
        )
    };
    let core = kind.core_schema();
    let urn = by.urn.as_deref().filter(|u| !u.eq_ignore_ascii_case(core));
    let column = |expr: String, nullable: bool| Ok(SortKey { expr, nullable });
    if urn.is_none() {
        let user = kind == ResourceKind::User;
        let sub = by.sub_attr.as_deref();
        let is = |name: &str| by.is(name) && sub.is_none();
        if is("id") {
            return column(format!("{table}.id"), false);
        }
        if user && is("userName") {
            return column("users.user_name_folded".into(), false);
        }
        if !user && is("displayName") {
            return column("groups.display_name_folded".into(), false);
        }
        if is("externalId") {
            return column(format!("{table}.external_id"), true);
        }
        if user && is("displayName") {
            return column(fold(dialect, "users.display_name"), true);
        }
        if by.is("meta") {
            return match sub {
                Some(s) if s.eq_ignore_ascii_case("created") => {
                    column(format!("{table}.created_at"), false)
                }
                Some(s) if s.eq_ignore_ascii_case("lastModified") => {
                    column(format!("{table}.updated_at"), false)
                }
                _ => Err(refuse("of meta, only created and lastModified sort")),
            };
        }
        if by.is("password") {
            return Err(refuse("it is never returned"));
        }
    }
    // Everything else lives in the stored JSON: find where, and whether it may sort.
    let (holder, top) = match urn {
        None => match kind.core_schema_def().attribute(&by.name) {
            Some(def) => (None, def),
            None if kind == ResourceKind::User => {
                let def = schema::schema(ENTERPRISE)
                    .and_then(|s| s.attribute(&by.name))
                    .ok_or_else(|| refuse("roster does not know this attribute"))?;
                (Some(ENTERPRISE), def)
            }
            None => return Err(refuse("roster does not know this attribute")),
        },
        Some(u) => {
            let ext = kind
                .extensions()
                .iter()
                .copied()
                .find(|e| e.eq_ignore_ascii_case(u))
                .ok_or_else(|| refuse("roster does not know this schema"))?;
            let def = schema::schema(ext)
                .and_then(|s| s.attribute(&by.name))
                .ok_or_else(|| refuse("roster does not know this attribute"))?;
            (Some(ext), def)
        }
    };
    if top.multi_valued && (top.name == "groups" || top.name == "members") {
        return Err(refuse("it is computed from memberships"));
    }
    let sub = match by.sub_attr.as_deref() {
        // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value.
        None if top.multi_valued && top.is_complex() => Some("value"),
        other => other,
    };
    let def: &AttributeDef = match sub {
        None => top,
        Some(sub) => top
            .sub_attribute(sub)
            .ok_or_else(|| refuse("roster does not know this sub-attribute"))?,
    };
    if def.multi_valued || (top.multi_valued && !top.is_complex()) {
        return Err(refuse("it is multi-valued"));
    }
    if !matches!(
        def.attr_type,
        AttrType::String | AttrType::DateTime | AttrType::Reference | AttrType::Binary
    ) {
        return Err(refuse("only string and dateTime attributes sort"));
    }
    // Known attributes are stored under their canonical names.
    let mut keys: Vec<&'static str> = holder.into_iter().collect();
    keys.push(top.name);
    let value = if top.multi_valued {
        primary_string(dialect, table, &keys, def.name)
    } else {
        if sub.is_some() {
            keys.push(def.name);
        }
        json_string(dialect, table, &keys)
    };
    let fold_it = !def.case_exact && def.attr_type == AttrType::String;
    let expr = if fold_it {
        fold(dialect, &value)
    } else {
        value
    };
    column(expr, true)
}

/// The string at `keys` in the stored attributes, NULL when absent or not a string.
fn json_string(dialect: Dialect, table: &str, keys: &[&'static str]) -> String {
    match dialect {
        Dialect::Sqlite => {
            let path: String = keys.iter().map(|k| format!(".\"{k}\"")).collect();
            let path = quote_path(&format!("${path}"));
            format!(
                "(CASE WHEN json_type({table}.attributes, {path}) = 'text' \
                 THEN json_extract({table}.attributes, {path}) END)"
            )
        }
        Dialect::Postgres => {
            let array: Vec<String> = keys.iter().map(|k| quote(k)).collect();
            let path = format!("ARRAY[{}]", array.join(", "));
            format!(
                "(CASE WHEN jsonb_typeof(CAST({table}.attributes AS jsonb) #> {path}) = 'string' \
                 THEN CAST({table}.attributes AS jsonb) #>> {path} END)"
            )
        }
    }
}

/// The string `sub` of the primary element of the array at `keys` (RFC 7644
/// §3.4.2.3: "the value of the primary attribute, if any, or else the first value in
/// the list"); NULL when there is none or it is not a string.
fn primary_string(
    dialect: Dialect,
    table: &str,
    keys: &[&'static str],
    sub: &'static str,
) -> String {
    match dialect {
        Dialect::Sqlite => {
            let path: String = keys.iter().map(|k| format!(".\"{k}\"")).collect();
            let path = quote_path(&format!("${path}"));
            let field = quote_path(&format!("$.\"{sub}\""));
            format!(
                "(SELECT CASE WHEN json_type(sort_el.value, {field}) = 'text' \
                 THEN json_extract(sort_el.value, {field}) END \
                 FROM json_each({table}.attributes, {path}) AS sort_el \
                 WHERE json_type({table}.attributes, {path}) = 'array' \
                 ORDER BY CASE WHEN json_type(sort_el.value, '$.\"primary\"') = 'true' \
                 THEN 0 ELSE 1 END, sort_el.key LIMIT 1)"
            )
        }
        Dialect::Postgres => {
            let array: Vec<String> = keys.iter().map(|k| quote(k)).collect();
            let at = format!(
                "CAST({table}.attributes AS jsonb) #> ARRAY[{}]",
                array.join(", ")
            );
            let field = quote(sub);
            format!(
                "(SELECT CASE WHEN jsonb_typeof(sort_el.v -> {field}) = 'string' \
                 THEN sort_el.v ->> {field} END \
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({at}) = 'array' \
                 THEN {at} ELSE CAST('[]' AS jsonb) END) WITH ORDINALITY AS sort_el(v, n) \
                 ORDER BY CASE WHEN sort_el.v -> 'primary' = CAST('true' AS jsonb) \
                 THEN 0 ELSE 1 END, sort_el.n LIMIT 1)"
            )
        }
    }
}

/// An SQL literal for a JSON path built from schema names (which hold no quote).
fn quote_path(path: &str) -> String {
    debug_assert!(!path.contains('\''));
    format!("'{path}'")
}

/// Unicode lower case: Rust's own on SQLite; `lower()` on PostgreSQL (see the module
/// docs of `filter_sql` for where the two differ).
fn fold(dialect: Dialect, expr: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("roster_fold({expr})"),
        Dialect::Postgres => format!("lower({expr})"),
    }
}
