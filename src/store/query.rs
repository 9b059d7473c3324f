//! Hand-built SQL with bound parameters, for queries the diesel DSL cannot express on
//! both backends at once (dynamic filters, `ON CONFLICT`).
//!
//! Placeholders are written `$1`, `$2`, … in order of first use: PostgreSQL reads them
//! natively, and SQLite treats them as named parameters numbered in order of appearance.
//! User text only ever travels as a bind, never inside the SQL string.

use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Bool, Double, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryableByName, RunQueryDsl};

use super::conn::DbConnection;
use super::error::StoreError;

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
}

impl RawQuery {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            binds: Vec::new(),
        }
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
        let mut chars = other.sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let index: usize = n.parse().unwrap_or(0);
                self.sql.push('$');
                self.sql.push_str(&(index + offset).to_string());
            } else {
                self.sql.push(c);
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
            DbConnection::Sqlite(c) => self.boxed::<Sqlite>().load(c)?,
            DbConnection::Postgres(c) => self.boxed::<Pg>().load(c)?,
        })
    }

    pub fn execute(&self, conn: &mut DbConnection) -> Result<usize, StoreError> {
        Ok(match conn {
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
