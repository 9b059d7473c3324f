//! Hand-built SQL with bound parameters, for queries the diesel DSL cannot express on
//! both backends at once (dynamic filters, `ON CONFLICT`).
//!
//! Placeholders are written `$1`, `$2`, … in order of first use: PostgreSQL reads them
//! natively, and SQLite treats them as named parameters numbered in order of appearance.
//! User text only ever travels as a bind, never inside the SQL string.
//!
//! diesel prepares such SQL anew on every run. A query of one fixed shape, run on every
//! write, says so with [`RawQuery::reused`]: on SQLite its prepared statement is kept per
//! connection, keyed by its text (preparing was a tenth of the writer's time). Shapes
//! that vary without bound (filters, long `IN` lists) stay unkept, so the cache cannot
//! grow with what clients send. PostgreSQL keeps planning each run, as before: its
//! generic plans could change what these queries were tuned for.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, Text, Untyped};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::conn::DbConnection;
use super::error::StoreError;

/// At most this many keys in an `IN` list, or rows in a `VALUES` list, make a statement
/// one of a few shapes, fit for [`RawQuery::reused`]: what a single write asks.
pub const FEW: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Bool(bool),
    BigInt(i64),
    Double(f64),
}

#[derive(Debug, Clone, Default)]
pub struct RawQuery {
    sql: String,
    binds: Vec<Bind>,
    reused: bool,
}

impl RawQuery {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            binds: Vec::new(),
            reused: false,
        }
    }

    /// Keeps this query's prepared statement on SQLite (see the module's note): only for
    /// a query of one of a few shapes.
    pub fn reused(&mut self) -> &mut Self {
        self.reused = true;
        self
    }

    /// [`RawQuery::reused`] when `n` (the keys or rows it lists) is at most [`FEW`].
    pub fn reused_if_few(&mut self, n: usize) -> &mut Self {
        self.reused = n <= FEW;
        self
    }

    pub fn sql(&mut self, fragment: &str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.sql.push('$');
        self.sql.push_str(&self.binds.len().to_string());
        self
    }

    pub fn text(&mut self, value: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(value.into()))
    }

    /// Comma-separated placeholders for `values` (the inside of an `IN (...)`).
    pub fn texts(&mut self, values: &[String]) -> &mut Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.sql(", ");
            }
            self.text(value.clone());
        }
        self
    }

    /// Appends another query's SQL and binds, renumbering its placeholders.
    pub fn append(&mut self, other: &RawQuery) -> &mut Self {
        let offset = self.binds.len();
        for piece in pieces(&other.sql) {
            match piece {
                Piece::Sql(text) => self.sql.push_str(text),
                Piece::Placeholder(n) => {
                    self.sql.push('$');
                    self.sql.push_str(&(n + offset).to_string());
                }
            }
        }
        self.binds.extend(other.binds.iter().cloned());
        self
    }

    pub fn as_sql(&self) -> &str {
        &self.sql
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    pub fn load<R>(&self, conn: &mut DbConnection) -> Result<Vec<R>, StoreError>
    where
        R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        Ok(match conn {
            DbConnection::Sqlite(c) if self.reused => Reused(self).load(c)?,
            DbConnection::Sqlite(c) => self.boxed::<Sqlite>().load(c)?,
            DbConnection::Postgres(c) => self.boxed::<Pg>().load(c)?,
        })
    }

    pub fn execute(&self, conn: &mut DbConnection) -> Result<usize, StoreError> {
        Ok(match conn {
            DbConnection::Sqlite(c) if self.reused => Reused(self).execute(c)?,
            DbConnection::Sqlite(c) => self.boxed::<Sqlite>().execute(c)?,
            DbConnection::Postgres(c) => self.boxed::<Pg>().execute(c)?,
        })
    }

    fn boxed<DB>(&self) -> BoxedSqlQuery<'static, DB, diesel::query_builder::SqlQuery>
    where
        DB: diesel::backend::Backend
            + diesel::sql_types::HasSqlType<Text>
            + diesel::sql_types::HasSqlType<Bool>
            + diesel::sql_types::HasSqlType<BigInt>
            + diesel::sql_types::HasSqlType<Double>,
        String: diesel::serialize::ToSql<Text, DB>,
        bool: diesel::serialize::ToSql<Bool, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
        f64: diesel::serialize::ToSql<Double, DB>,
    {
        let mut query = diesel::sql_query(self.sql.clone()).into_boxed::<DB>();
        for bind in &self.binds {
            query = match bind.clone() {
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::Bool(v) => query.bind::<Bool, _>(v),
                Bind::BigInt(v) => query.bind::<BigInt, _>(v),
                Bind::Double(v) => query.bind::<Double, _>(v),
            };
        }
        query
    }
}

/// A [`RawQuery`] as a statement diesel may keep: its `$n` become SQLite's `?`, each
/// followed by its value, so the text is the cache's key. (diesel's `sql_query` marks
/// itself unsafe to keep.)
struct Reused<'q>(&'q RawQuery);

impl QueryId for Reused<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Reused<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<SqliteConnection> for Reused<'_> {}

impl QueryFragment<Sqlite> for Reused<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let RawQuery { sql, binds, .. } = self.0;
        for piece in pieces(sql) {
            let n = match piece {
                Piece::Sql(text) => {
                    out.push_sql(text);
                    continue;
                }
                Piece::Placeholder(n) => n,
            };
            let bind = n.checked_sub(1).and_then(|i| binds.get(i)).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(format!("no bind ${n}").into())
            })?;
            match bind {
                Bind::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Bind::Bool(v) => out.push_bind_param::<Bool, bool>(v)?,
                Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Bind::Double(v) => out.push_bind_param::<Double, f64>(v)?,
            }
        }
        Ok(())
    }
}

/// A piece of a [`RawQuery`]'s SQL: text, or the placeholder `$n`.
enum Piece<'s> {
    Sql(&'s str),
    Placeholder(usize),
}

/// `sql` split at its placeholders (a `$` not followed by a digit is text).
fn pieces(sql: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = sql;
    let mut placeholder = None;
    std::iter::from_fn(move || {
        if let Some(n) = placeholder.take() {
            return Some(Piece::Placeholder(n));
        }
        if rest.is_empty() {
            return None;
        }
        let mut from = 0;
        while let Some(at) = rest[from..].find('$').map(|i| from + i) {
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            if digits == 0 {
                from = at + 1;
                continue;
            }
            placeholder = Some(rest[at + 1..at + 1 + digits].parse().unwrap_or(0));
            let text = &rest[..at];
            rest = &rest[at + 1 + digits..];
            return Some(Piece::Sql(text));
        }
        let text = rest;
        rest = "";
        Some(Piece::Sql(text))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use diesel::connection::{Connection, InstrumentationEvent};
    use diesel::sql_types::{BigInt, Text};
    use diesel::QueryableByName;

    use super::{Bind, DbConnection, RawQuery, SqliteConnection};

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = Text)]
        a: String,
        #[diesel(sql_type = BigInt)]
        b: i64,
        #[diesel(sql_type = Text)]
        c: String,
    }

    #[test]
    fn append_renumbers_the_other_querys_placeholders_after_its_own() {
        let mut a = RawQuery::new("a = ");
        a.text("x");
        let mut b = RawQuery::new("");
        for v in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"] {
            b.sql(" b = ").text(v);
        }
        b.sql(" AND c = '$' AND d = $1");
        a.append(&b);
        assert!(
            a.as_sql().starts_with("a = $1 b = $2 b = $3"),
            "{}",
            a.as_sql()
        );
        assert!(
            a.as_sql().ends_with(" b = $11 AND c = '$' AND d = $2"),
            "{}",
            a.as_sql()
        );
        assert_eq!(a.binds().len(), 11);
    }

    #[test]
    fn a_reused_query_is_prepared_once_and_binds_each_placeholder_where_it_stands() {
        let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
        let prepared = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&prepared);
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { .. } = event {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut conn = DbConnection::Sqlite(sqlite);
        for (text, n) in [("x", 1), ("y", 2), ("z", 3)] {
            // `$1` twice, and a `$` that is no placeholder.
            let mut q = RawQuery::new("SELECT ");
            q.text(text)
                .sql(" AS a, ")
                .bind(Bind::BigInt(n))
                .sql(" + 1 AS b, '$' || $1 AS c")
                .reused();
            let rows: Vec<Row> = q.load(&mut conn).unwrap();
            let want = Row {
                a: text.to_owned(),
                b: n + 1,
                c: format!("${text}"),
            };
            assert_eq!(rows, [want]);
        }
        assert_eq!(
            prepared.load(Ordering::SeqCst),
            1,
            "kept after the first run"
        );

        let mut unkept = RawQuery::new("SELECT ");
        unkept.text("w").sql(" AS a, 0 AS b, '' AS c");
        unkept.load::<Row>(&mut conn).unwrap();
        let mut missing = RawQuery::new("SELECT $2 AS a");
        missing.reused();
        assert!(missing.load::<Row>(&mut conn).is_err());
        assert_eq!(
            prepared.load(Ordering::SeqCst),
            1,
            "an unkept query is not kept"
        );
    }
}
