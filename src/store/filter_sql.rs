//! SCIM filters compiled to SQL over the indexed columns, with bound parameters only.
//!
//! Every comparison is made NULL-safe (a missing attribute is never "unknown"), so `not`
//! and `ne` mean the same in SQL as in the in-memory evaluator. LIKE patterns escape
//! `%`, `_` and `\`; SQLite runs with `case_sensitive_like` so case-exact attributes
//! stay case-exact, and case-insensitive ones compare folded values.

use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::resource::fold;
use crate::scim::schema::ResourceKind;
use crate::scim::{Invalid, ScimType};

use super::raw::{Bind, RawQuery};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// Compared as stored.
    Exact(&'static str),
    /// Holds a folded copy: the literal is folded too.
    Folded(&'static str),
    Bool(&'static str),
    /// Membership: `EXISTS` over `group_members`.
    Members {
        key: &'static str,
        other: &'static str,
        outer: &'static str,
    },
}

/// Attributes filterable today, per resource type.
fn column(kind: ResourceKind, path: &AttrPath) -> Option<Column> {
    let core = path
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()));
    if !core {
        return None;
    }
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    Some(match (kind, name.as_str(), sub.as_deref()) {
        (ResourceKind::User, "id", None) => Column::Exact("users.id"),
        (ResourceKind::User, "username", None) => Column::Folded("users.user_name_folded"),
        (ResourceKind::User, "externalid", None) => Column::Exact("users.external_id"),
        (ResourceKind::User, "active", None) => Column::Bool("users.active"),
        (ResourceKind::User, "meta", Some("created")) => Column::Exact("users.created_at"),
        (ResourceKind::User, "meta", Some("lastmodified")) => Column::Exact("users.updated_at"),
        (ResourceKind::User, "groups", Some("value") | None) => Column::Members {
            key: "gm.member_id",
            other: "gm.group_id",
            outer: "users.id",
        },
        (ResourceKind::Group, "id", None) => Column::Exact("groups.id"),
        (ResourceKind::Group, "displayname", None) => Column::Folded("groups.display_name_folded"),
        (ResourceKind::Group, "externalid", None) => Column::Exact("groups.external_id"),
        (ResourceKind::Group, "meta", Some("created")) => Column::Exact("groups.created_at"),
        (ResourceKind::Group, "meta", Some("lastmodified")) => Column::Exact("groups.updated_at"),
        (ResourceKind::Group, "members", Some("value") | None) => Column::Members {
            key: "gm.group_id",
            other: "gm.member_id",
            outer: "groups.id",
        },
        _ => return None,
    })
}

fn unsupported(path: &AttrPath) -> Invalid {
    Invalid::new(
        ScimType::InvalidFilter,
        format!("filtering on '{path}' is not supported"),
    )
}

/// Compiles `filter` into a boolean SQL fragment over `users` or `groups`.
pub fn compile(kind: ResourceKind, filter: &Filter, dialect: Dialect) -> Result<RawQuery, Invalid> {
    let mut q = RawQuery::default();
    Compiler { kind, dialect }.node(&mut q, filter)?;
    Ok(q)
}

struct Compiler {
    kind: ResourceKind,
    dialect: Dialect,
}

impl Compiler {
    fn node(&self, q: &mut RawQuery, filter: &Filter) -> Result<(), Invalid> {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let joiner = if matches!(filter, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                q.sql("(");
                self.node(q, a)?;
                q.sql(joiner);
                self.node(q, b)?;
                q.sql(")");
            }
            Filter::Not(inner) => {
                q.sql("NOT (");
                self.node(q, inner)?;
                q.sql(")");
            }
            Filter::Present(path) => {
                match column(self.kind, path).ok_or_else(|| unsupported(path))? {
                    Column::Exact(c) | Column::Folded(c) => {
                        q.sql(&format!("({c} IS NOT NULL AND {c} <> '')"));
                    }
                    Column::Bool(_) => {
                        q.sql("1 = 1");
                    }
                    Column::Members { .. } => self.members(
                        q,
                        |q| {
                            q.sql("1 = 1");
                            Ok(())
                        },
                        path,
                    )?,
                }
            }
            Filter::Compare { path, op, value } => {
                match column(self.kind, path).ok_or_else(|| unsupported(path))? {
                    Column::Members { other, .. } => self.members(
                        q,
                        |q| compare(q, other, false, *op, value, self.dialect),
                        path,
                    )?,
                    Column::Exact(c) => compare(q, c, false, *op, value, self.dialect)?,
                    Column::Folded(c) => compare(q, c, true, *op, value, self.dialect)?,
                    Column::Bool(c) => compare_bool(q, c, *op, value)?,
                }
            }
            Filter::ValuePath { path, filter } => {
                let Some(Column::Members { other, .. }) = column(self.kind, path) else {
                    return Err(unsupported(path));
                };
                self.members(q, |q| self.member_filter(q, other, filter), path)?;
            }
        }
        Ok(())
    }

    /// `EXISTS (membership row of this resource WHERE <inner>)`.
    fn members(
        &self,
        q: &mut RawQuery,
        inner: impl FnOnce(&mut RawQuery) -> Result<(), Invalid>,
        path: &AttrPath,
    ) -> Result<(), Invalid> {
        let Some(Column::Members { key, outer, .. }) = column(self.kind, path) else {
            return Err(unsupported(path));
        };
        let table = match self.kind {
            ResourceKind::User => "users",
            ResourceKind::Group => "groups",
        };
        q.sql(&format!(
            "EXISTS (SELECT 1 FROM group_members gm WHERE gm.tenant_id = {table}.tenant_id AND {key} = {outer} AND "
        ));
        inner(q)?;
        q.sql(")");
        Ok(())
    }

    /// The filter inside `members[...]`: only `value` is indexed.
    fn member_filter(
        &self,
        q: &mut RawQuery,
        column: &'static str,
        filter: &Filter,
    ) -> Result<(), Invalid> {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let joiner = if matches!(filter, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                q.sql("(");
                self.member_filter(q, column, a)?;
                q.sql(joiner);
                self.member_filter(q, column, b)?;
                q.sql(")");
                Ok(())
            }
            Filter::Not(inner) => {
                q.sql("NOT (");
                self.member_filter(q, column, inner)?;
                q.sql(")");
                Ok(())
            }
            Filter::Compare { path, op, value }
                if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
            {
                compare(q, column, false, *op, value, self.dialect)
            }
            Filter::Present(path) if path.name.eq_ignore_ascii_case("value") => {
                q.sql("1 = 1");
                Ok(())
            }
            Filter::Compare { path, .. }
            | Filter::Present(path)
            | Filter::ValuePath { path, .. } => Err(unsupported(path)),
        }
    }
}

fn compare(
    q: &mut RawQuery,
    column: &str,
    folded: bool,
    op: CompareOp,
    value: &Literal,
    dialect: Dialect,
) -> Result<(), Invalid> {
    let text = match value {
        Literal::String(s) if folded => fold(s),
        Literal::String(s) => s.clone(),
        Literal::Null => {
            match op {
                CompareOp::Eq => q.sql(&format!("{column} IS NULL")),
                CompareOp::Ne => q.sql(&format!("{column} IS NOT NULL")),
                _ => {
                    return Err(Invalid::new(
                        ScimType::InvalidFilter,
                        "null compares only with eq and ne",
                    ))
                }
            };
            return Ok(());
        }
        _ => {
            return Err(Invalid::new(
                ScimType::InvalidFilter,
                "this attribute is a string: compare it with a quoted value",
            ));
        }
    };
    // Byte order on both backends, whatever the database's collation.
    let collate = if dialect == Dialect::Postgres {
        " COLLATE \"C\""
    } else {
        ""
    };
    let (sql_op, pattern) = match op {
        CompareOp::Eq => ("=", None),
        CompareOp::Ne => {
            q.sql(&format!("({column} IS NULL OR {column} <> "))
                .text(text)
                .sql(")");
            return Ok(());
        }
        CompareOp::Co => ("LIKE", Some(format!("%{}%", escape_like(&text)))),
        CompareOp::Sw => ("LIKE", Some(format!("{}%", escape_like(&text)))),
        CompareOp::Ew => ("LIKE", Some(format!("%{}", escape_like(&text)))),
        CompareOp::Gt => (">", None),
        CompareOp::Ge => (">=", None),
        CompareOp::Lt => ("<", None),
        CompareOp::Le => ("<=", None),
    };
    q.sql(&format!("({column} IS NOT NULL AND {column}"));
    match pattern {
        Some(p) => {
            q.sql(" LIKE ").text(p).sql(" ESCAPE '\\'");
        }
        None if matches!(op, CompareOp::Eq) => {
            q.sql(" = ").text(text);
        }
        None => {
            q.sql(&format!("{collate} {sql_op} ")).text(text);
        }
    }
    q.sql(")");
    Ok(())
}

fn compare_bool(
    q: &mut RawQuery,
    column: &str,
    op: CompareOp,
    value: &Literal,
) -> Result<(), Invalid> {
    let Literal::Bool(b) = value else {
        return Err(Invalid::new(
            ScimType::InvalidFilter,
            "this attribute is a boolean: compare it with true or false",
        ));
    };
    let sql_op = match op {
        CompareOp::Eq => " = ",
        CompareOp::Ne => " <> ",
        _ => {
            return Err(Invalid::new(
                ScimType::InvalidFilter,
                "booleans compare only with eq and ne",
            ))
        }
    };
    q.sql(&format!("({column}{sql_op}"))
        .bind(Bind::Bool(*b))
        .sql(")");
    Ok(())
}

/// Escapes LIKE metacharacters for `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;

    fn sql(kind: ResourceKind, f: &str) -> String {
        compile(kind, &parse(f).unwrap(), Dialect::Sqlite)
            .unwrap()
            .as_sql()
            .to_owned()
    }

    #[test]
    fn user_name_eq_uses_the_folded_index_column() {
        assert_eq!(
            sql(ResourceKind::User, "userName eq \"BJensen\""),
            "(users.user_name_folded IS NOT NULL AND users.user_name_folded = $1)"
        );
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
    }

    #[test]
    fn unindexed_attributes_are_an_invalid_filter_not_a_crash() {
        let err = compile(
            ResourceKind::User,
            &parse("title pr").unwrap(),
            Dialect::Sqlite,
        )
        .unwrap_err();
        assert_eq!(err.scim_type, ScimType::InvalidFilter);
    }

    #[test]
    fn member_value_paths_become_exists_subqueries() {
        let s = sql(ResourceKind::Group, "members[value eq \"u1\"]");
        assert!(
            s.starts_with("EXISTS (SELECT 1 FROM group_members gm"),
            "{s}"
        );
    }
}
