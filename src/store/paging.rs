//! The shapes of a list page: how rows are ordered, which window of them a page holds,
//! and the rows with the sort keys cursors are made from.

use diesel::sql_types::Text;
use diesel::QueryableByName;

use super::filter_sql::SortKey;
use crate::scim::paging::Position;

/// A row with the sort key it was ordered by (as text; NULL when the list is in id order
/// or the row has no value), from which a cursor to it is made.
#[derive(Debug)]
pub struct Keyed<R> {
    pub row: R,
    pub sort_key: Option<String>,
}

// By hand: diesel's derive does not take a type parameter as an embedded row.
impl<R, DB> QueryableByName<DB> for Keyed<R>
where
    DB: diesel::backend::Backend,
    R: QueryableByName<DB>,
    String: diesel::deserialize::FromSql<Text, DB>,
{
    fn build<'a>(row: &impl diesel::row::NamedRow<'a, DB>) -> diesel::deserialize::Result<Self> {
        Ok(Self {
            row: R::build(row)?,
            sort_key: diesel::row::NamedRow::get::<
                diesel::sql_types::Nullable<Text>,
                Option<String>,
            >(row, "sort_key")?,
        })
    }
}

/// How rows are ordered: by `key` (then id, so the order is total), or by id alone.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub key: Option<&'a SortKey>,
    pub descending: bool,
}

/// Which rows of the ordered list a page holds.
#[derive(Debug, Clone, Copy)]
pub enum Window<'a> {
    /// `startIndex` paging: skip `offset` rows.
    Offset { offset: i64, limit: i64 },
    /// Cursor paging: the rows after `from` (before it when it walks backward), or the
    /// first rows. A keyset condition, so a deep page costs what the first one costs.
    Keyset {
        from: Option<&'a Position>,
        limit: i64,
    },
}

/// A page, in list order, with the total count; `more` says whether the keyset walk
/// has rows beyond this page in its direction.
#[derive(Debug)]
pub struct Page<R> {
    pub total: i64,
    pub rows: Vec<Keyed<R>>,
    pub more: bool,
}
