//! `sortBy` (RFC 7644 §3.4.2.3) as an SQL expression: indexed columns for the attributes
//! that have them, a JSON expression otherwise.
//!
//! Only singular attributes of the schema with a string-like type (string, dateTime,
//! reference, binary) can be sorted on; anything else (multi-valued or complex
//! attributes, booleans, numbers, `password`, attributes roster does not know) is 400
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
    let def: &AttributeDef = match by.sub_attr.as_deref() {
        None => top,
        Some(sub) if !top.multi_valued => top
            .sub_attribute(sub)
            .ok_or_else(|| refuse("roster does not know this sub-attribute"))?,
        Some(_) => return Err(refuse("it is multi-valued")),
    };
    if def.multi_valued || top.multi_valued {
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
    if by.sub_attr.is_some() {
        keys.push(def.name);
    }
    let value = json_string(dialect, table, &keys);
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
