//! The tests on one designated value, per dialect, mirroring `matches`' `compare` and
//! `is_present`: strings compare as strings (folded unless case-exact), numbers as
//! numbers, booleans with `eq` only, and values of another JSON type never match.

use crate::scim::filter::CompareOp;
use crate::scim::resource::fold;

use super::node::{Json, Pred, Text};
use super::{Compiler, Dialect, Sql, FALSE, TRUE};
use crate::store::query::Bind;

impl Compiler<'_> {
    pub(super) fn json_pred(&self, json: &Json, pred: &Pred) -> Sql {
        let (ty, val) = (&json.ty, &json.val);
        let pg = self.dialect == Dialect::Postgres;
        match pred {
            Pred::Present => Sql::new(&self.json_present(json)),
            Pred::NotNull => Sql::new(&format!("({ty} <> 'null')")),
            Pred::Str { op, text, exact } => {
                let (string, text_of) = if pg {
                    ("'string'", format!("({val} #>> '{{}}')"))
                } else {
                    ("'text'", val.clone())
                };
                let mut q = Sql::new(&format!("({ty} = {string} AND "));
                q.append(&self.string_cmp(&Sql::new(&text_of), None, *op, text, *exact))
                    .sql(")");
                q
            }
            Pred::Num { op, number } => {
                let Some(sql_op) = ordering(*op) else {
                    // `co`, `sw` and `ew` never match a number.
                    return Sql::new(FALSE);
                };
                let mut q = Sql::default();
                if pg {
                    // jsonb compares two numbers as exact decimals, and never errs.
                    q.sql(&format!("({ty} = 'number' AND {val} {sql_op} CAST("))
                        .bind(Bind::Text(number.to_string()))
                        .sql(" AS jsonb))");
                } else {
                    let bind = match number.as_i64() {
                        Some(i) => Bind::BigInt(i),
                        None => Bind::Double(number.as_f64().unwrap_or(f64::NAN)),
                    };
                    q.sql(&format!("({ty} IN ('integer', 'real') AND {val} {sql_op} "))
                        .bind(bind)
                        .sql(")");
                }
                q
            }
            Pred::Bool(b) if pg => Sql::new(&format!("({val} = CAST('{b}' AS jsonb))")),
            Pred::Bool(b) => Sql::new(&format!("({ty} = '{b}')")),
            Pred::Never | Pred::Matches { .. } => Sql::new(FALSE),
        }
    }

    /// RFC 7644 `pr`: a non-empty string, a number or boolean, or an array or object
    /// with a non-null member.
    fn json_present(&self, json: &Json) -> String {
        let (ty, val) = (&json.ty, &json.val);
        let p = self.alias("p");
        match self.dialect {
            Dialect::Sqlite => format!(
                "(CASE WHEN {ty} = 'text' THEN {val} <> '' \
                 WHEN {ty} IN ('array', 'object') THEN EXISTS (SELECT 1 FROM json_each(\
                 CASE WHEN {ty} IN ('array', 'object') THEN {val} END) AS {p} WHERE {p}.type <> 'null') \
                 ELSE COALESCE({ty} IN ('integer', 'real', 'true', 'false'), 0) END)"
            ),
            Dialect::Postgres => format!(
                "(CASE WHEN {ty} = 'string' THEN {val} <> CAST('\"\"' AS jsonb) \
                 WHEN {ty} = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(\
                 CASE WHEN {ty} = 'array' THEN {val} END) AS {p} WHERE jsonb_typeof({p}.value) <> 'null') \
                 WHEN {ty} = 'object' THEN EXISTS (SELECT 1 FROM jsonb_each(\
                 CASE WHEN {ty} = 'object' THEN {val} END) AS {p} WHERE jsonb_typeof({p}.value) <> 'null') \
                 ELSE COALESCE({ty} IN ('number', 'boolean'), FALSE) END)"
            ),
        }
    }

    pub(super) fn text_pred(&self, text: &Text, pred: &Pred) -> Sql {
        let test = match pred {
            Pred::Present => {
                let mut q = Sql::new("(");
                q.append(&text.raw).sql(" <> '')");
                q
            }
            Pred::NotNull => Sql::new(TRUE),
            Pred::Str {
                op,
                text: value,
                exact,
            } => self.string_cmp(&text.raw, text.folded.as_ref(), *op, value, *exact),
            // A string is never a number or a boolean.
            Pred::Num { .. } | Pred::Bool(_) | Pred::Never | Pred::Matches { .. } => {
                return Sql::new(FALSE)
            }
        };
        if !text.nullable {
            return test;
        }
        let mut q = Sql::new("(");
        q.append(&text.raw)
            .sql(" IS NOT NULL AND ")
            .append(&test)
            .sql(")");
        q
    }

    /// `raw op value` on strings: byte order on both backends; folded on both sides
    /// unless case-exact (with a Rust-folded column when there is one).
    fn string_cmp(
        &self,
        raw: &Sql,
        folded: Option<&Sql>,
        op: CompareOp,
        value: &str,
        exact: bool,
    ) -> Sql {
        // No stored string holds U+0000: roster refuses it on input, as PostgreSQL text
        // cannot hold it (so it is never bound). Against strings without it, a literal
        // cut at its first U+0000 orders the same, and nothing equals or contains it.
        let (op, value) = match value.find('\0') {
            None => (op, value),
            Some(end) => match op {
                CompareOp::Gt | CompareOp::Ge => (CompareOp::Gt, &value[..end]),
                CompareOp::Lt | CompareOp::Le => (CompareOp::Le, &value[..end]),
                _ => return Sql::new(FALSE),
            },
        };
        let pg = self.dialect == Dialect::Postgres;
        let wrap = |f: &str| {
            let mut q = Sql::new(&format!("{f}("));
            q.append(raw).sql(")");
            q
        };
        // The left side, the literal, and whether SQL folds the literal too.
        let (lhs, value, fold_in_sql) = match (exact, folded) {
            (true, _) => (raw.clone(), value.to_owned(), false),
            (false, Some(column)) => (column.clone(), fold(value), false),
            (false, None) if pg => (wrap("lower"), value.to_owned(), true),
            (false, None) => (wrap("roster_fold"), fold(value), false),
        };
        let (sql_op, value) = match op {
            CompareOp::Co => ("LIKE", format!("%{}%", escape_like(&value))),
            CompareOp::Sw => ("LIKE", format!("{}%", escape_like(&value))),
            CompareOp::Ew => ("LIKE", format!("%{}", escape_like(&value))),
            // `ne` is compiled as `not eq` before it gets here.
            CompareOp::Ne => return Sql::new(FALSE),
            _ => match ordering(op) {
                Some(sql_op) => (sql_op, value),
                None => return Sql::new(FALSE),
            },
        };
        let mut q = Sql::new("(");
        q.append(&lhs);
        if pg && sql_op != "=" && sql_op != "LIKE" {
            q.sql(" COLLATE \"C\"");
        }
        q.sql(&format!(" {sql_op} "));
        if fold_in_sql {
            q.sql("lower(").bind(Bind::Text(value)).sql(")");
        } else {
            q.bind(Bind::Text(value));
        }
        if sql_op == "LIKE" {
            q.sql(" ESCAPE '\\'");
        }
        q.sql(")");
        q
    }
}

/// The SQL operator of `eq` and the ordering operators.
fn ordering(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
    })
}

/// Escapes LIKE metacharacters for `ESCAPE '\'`.
pub(super) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
