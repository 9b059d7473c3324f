//! The page, count and probe queries of users and groups, built with [`RawQuery`]: the
//! ones the diesel DSL cannot express on both backends at once.

use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryableByName;

use super::conn::DbConnection;
use super::error::StoreError;
use super::paging::{Keyed, Order, Page, Window};
use super::query::{Bind, RawQuery};

/// `SELECT COUNT(*) AS n` rows.
#[derive(Debug, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// The tenant's rows of `table` (`users` or `groups`) per id bucket, in bucket order:
/// the `row_counts` rows that triggers keep in the same transaction as every insert and
/// delete. A bucket is the id's first three characters; on PostgreSQL its count is the
/// sum of one row per shard that counted into it (see `pipeline::claim_shard`).
fn buckets(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
) -> Result<Vec<(String, i64)>, StoreError> {
    #[derive(QueryableByName)]
    struct Bucket {
        #[diesel(sql_type = Text)]
        bucket: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // On PostgreSQL a bucket has a row per shard that counted into it.
    let mut q = RawQuery::new(
        "SELECT bucket, CAST(SUM(n) AS BIGINT) AS n FROM row_counts WHERE tenant_id = ",
    );
    q.text(tenant.0.clone())
        .sql(" AND kind = ")
        .text(table)
        .sql(" GROUP BY bucket HAVING SUM(n) > 0 ORDER BY bucket")
        .reused();
    Ok(q.load::<Bucket>(conn)?
        .into_iter()
        .map(|b| (b.bucket, b.n))
        .collect())
}

/// How many rows of `table` the tenant has: the sum of its buckets, at most 4,096 rows
/// read however many users there are (a `COUNT(*)` reads every one).
pub fn tally(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
) -> Result<i64, StoreError> {
    let mut q = RawQuery::new(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM row_counts WHERE tenant_id = ",
    );
    q.text(tenant.0.clone())
        .sql(" AND kind = ")
        .text(table)
        .reused();
    Ok(q.load::<Count>(conn)?.first().map_or(0, |c| c.n))
}

/// At most how many rows of `table` the tenant has with ids from `first` to `last`:
/// the rows of every bucket from `first`'s to `last`'s (see [`tally`]).
pub fn tally_between(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
    first: &str,
    last: &str,
) -> Result<i64, StoreError> {
    let bucket = |id: &str| id.get(..3).unwrap_or(id).to_owned();
    let mut q = RawQuery::new(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM row_counts WHERE tenant_id = ",
    );
    q.text(tenant.0.clone())
        .sql(" AND kind = ")
        .text(table)
        .sql(" AND bucket >= ")
        .text(bucket(first))
        .sql(" AND bucket <= ")
        .text(bucket(last))
        .reused();
    Ok(q.load::<Count>(conn)?.first().map_or(0, |c| c.n))
}

/// From this `startIndex` offset on, an unfiltered page in id order starts from the id
/// bucket holding its first row; below it, stepping over the rows costs less than
/// reading the buckets.
const SEEK_FROM: i64 = 1_000;

/// Where the row at `offset` (0-based, in id order) is: its bucket and how many of the
/// bucket's rows come before it. None past the end.
fn locate(buckets: &[(String, i64)], offset: i64) -> Option<(&str, i64)> {
    let mut before = 0;
    for (bucket, n) in buckets {
        if offset < before + n {
            return Some((bucket, offset - before));
        }
        before += n;
    }
    None
}

/// An unfiltered `startIndex` page in id order, however deep: the buckets say which
/// one holds the page's first row, an index-only step over at most that bucket's rows
/// finds its id, and the page is the `limit` rows from there. One read snapshot, so the
/// counts and the rows agree.
fn seek_page<R>(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
    offset: i64,
    limit: i64,
) -> Result<Page<R>, StoreError>
where
    R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    super::read_transaction(conn, |c| {
        let buckets = buckets(c, table, tenant)?;
        let total = buckets.iter().map(|(_, n)| n).sum();
        let Some((bucket, skip)) = locate(&buckets, offset).filter(|_| limit > 0) else {
            return Ok(Page {
                total,
                rows: Vec::new(),
                more: false,
            });
        };
        // Ids compare as their buckets do: `id >= bucket` holds exactly for the ids of
        // this bucket and the ones after it.
        let mut q = RawQuery::new(&format!(
            "SELECT {table}.*, CAST(NULL AS TEXT) AS sort_key FROM {table} \
             WHERE {table}.tenant_id = "
        ));
        q.text(tenant.0.clone())
            .sql(&format!(
                " AND {table}.id >= (SELECT id FROM {table} WHERE tenant_id = "
            ))
            .text(tenant.0.clone())
            .sql(" AND id >= ")
            .text(bucket)
            .sql(" ORDER BY id LIMIT 1 OFFSET ")
            .bind(Bind::BigInt(skip))
            .sql(&format!(") ORDER BY {table}.id LIMIT "))
            .bind(Bind::BigInt(limit));
        let rows = q.load::<Keyed<R>>(c)?;
        Ok(Page {
            total,
            rows,
            more: false,
        })
    })
}

/// One page of `table` (the tenant's rows matching `filter`, a fragment over `table`),
/// with the total count. Two queries on purpose: `COUNT(*) OVER ()` in the page query
/// would materialise every matching row, full JSON included, on every page, where a
/// separate count reads only the index. Without a filter the count is the tenant's
/// tally (see [`tally`]), and a deep page in id order seeks (see [`seek_page`]), so
/// every page of the whole list costs what the first one does. `table` is a
/// compile-time name, never user input; so is the sort key's expression.
pub fn page<R>(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
    filter: Option<&RawQuery>,
    order: Order<'_>,
    window: Window<'_>,
) -> Result<Page<R>, StoreError>
where
    R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    let scoped = |select: &str| {
        let mut q = RawQuery::new(&format!(
            "SELECT {select} FROM {table} WHERE {table}.tenant_id = "
        ));
        q.text(tenant.0.clone());
        if let Some(filter) = filter {
            q.sql(" AND (").append(filter).sql(")");
        }
        q
    };
    if let (None, None, Window::Offset { offset, limit }) = (filter, order.key, window) {
        if offset >= SEEK_FROM {
            return seek_page(conn, table, tenant, offset, limit);
        }
    }
    let count = |conn: &mut DbConnection| -> Result<i64, StoreError> {
        Ok(scoped("COUNT(*) AS n")
            .load::<Count>(conn)?
            .first()
            .map_or(0, |c| c.n))
    };
    let (limit, offset, from) = match window {
        Window::Offset { offset, limit } => (limit, Some(offset), None),
        Window::Keyset { from, limit } => (limit, None, from),
    };
    // A filtered first page that is not full holds every match: its length is the
    // total, and the count query (the most a `userName eq` look-up costs) is skipped.
    let first_page = offset == Some(0) || (offset.is_none() && from.is_none());
    let total = match filter {
        None => Some(tally(conn, table, tenant)?),
        Some(_) if first_page && limit > 0 => None,
        Some(_) => Some(count(conn)?),
    };
    if let Some(total) = total.filter(|&t| limit == 0 || offset.is_some_and(|o| o >= t)) {
        return Ok(Page {
            total,
            rows: Vec::new(),
            more: false,
        });
    }
    let id = format!("{table}.id");
    // A missing key sorts after every value: a flag first, then the value.
    let (null_flag, key) = match order.key {
        None => (None, None),
        Some(k) if k.nullable => (
            Some(format!("(CASE WHEN {} IS NULL THEN 1 ELSE 0 END)", k.expr)),
            Some(format!("COALESCE({}, '')", k.expr)),
        ),
        Some(k) => (None, Some(k.expr.clone())),
    };
    let select = match order.key {
        Some(k) => format!("{table}.*, {} AS sort_key", k.expr),
        None => format!("{table}.*, CAST(NULL AS TEXT) AS sort_key"),
    };
    let mut q = scoped(&select);
    let backward = from.is_some_and(|p| p.backward);
    let descending = order.descending != backward;
    let terms: Vec<&String> = [null_flag.as_ref(), key.as_ref(), Some(&id)]
        .into_iter()
        .flatten()
        .collect();
    if let Some(position) = from {
        // (flag, key, id) > (…) as a row value: both backends compare it in order.
        let columns: Vec<&str> = terms.iter().map(|t| t.as_str()).collect();
        q.sql(&format!(
            " AND ({}) {} (",
            columns.join(", "),
            if descending { "<" } else { ">" }
        ));
        if null_flag.is_some() {
            q.bind(Bind::BigInt(i64::from(position.key.is_none())))
                .sql(", ");
        }
        if key.is_some() {
            q.text(position.key.clone().unwrap_or_default()).sql(", ");
        }
        q.text(position.id.clone()).sql(")");
    }
    let direction = if descending { " DESC" } else { "" };
    let ordering: Vec<String> = terms.iter().map(|t| format!("{t}{direction}")).collect();
    q.sql(&format!(" ORDER BY {} LIMIT ", ordering.join(", ")));
    // One row more than the page, to know whether the walk goes on.
    let fetch = if offset.is_some() { limit } else { limit + 1 };
    q.bind(Bind::BigInt(fetch));
    if let Some(offset) = offset {
        q.sql(" OFFSET ").bind(Bind::BigInt(offset));
    }
    let mut rows = q.load::<Keyed<R>>(conn)?;
    let total = match total {
        Some(total) => total,
        None if (rows.len() as i64) < limit || (offset.is_none() && rows.len() as i64 == limit) => {
            rows.len() as i64
        }
        None => count(conn)?,
    };
    let more = offset.is_none() && rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if backward {
        rows.reverse();
    }
    Ok(Page { total, rows, more })
}

/// One statement that reads the tenant's rows for each of a list of keys (user ids),
/// probing an index once per key, whatever the planner knows.
///
/// On PostgreSQL `tenant_id = $1 AND user_id = ANY($2)` is not enough: without
/// statistics (a table that grew since its last ANALYZE, as the grants do while a
/// mapping is applied, or autovacuum turned off) the planner takes `tenant_id = $1` for
/// a selective condition and reads every row of the tenant through whichever index
/// starts with it, once per statement. So each key gets its own probe, in a `LATERAL`
/// subquery that `OFFSET 0` keeps from being merged into a join: a probe binds both
/// columns of a primary key prefix, which no plan beats. SQLite probes an `IN` list
/// key by key.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The select list, over `from`'s aliases (`u.id, u.user_name`).
    pub select: &'a str,
    /// Tables and joins (`users u`).
    pub from: &'a str,
    /// The tenant column (`u.tenant_id`).
    pub tenant: &'a str,
    /// The keyed column (`u.id`).
    pub key: &'a str,
    /// Further conditions, each starting with ` AND `.
    pub and: &'a str,
}

impl Probe<'_> {
    /// The rows of `keys` (at most a few hundred a statement); `lock` locks them
    /// (PostgreSQL `FOR UPDATE`, taken in the order of `keys`). The result's columns
    /// are named as in the select list; their order is unspecified.
    pub fn query(
        &self,
        conn: &DbConnection,
        tenant: &super::TenantId,
        keys: &[String],
        lock: bool,
    ) -> RawQuery {
        let Probe {
            select,
            from,
            tenant: tenant_column,
            key,
            and,
        } = *self;
        let mut q = RawQuery::new("");
        match conn {
            DbConnection::Postgres(_) => {
                q.sql("SELECT x.* FROM (VALUES ");
                for (i, k) in keys.iter().enumerate() {
                    q.sql(if i == 0 { "(" } else { ", (" })
                        .text(k.clone())
                        .sql(")");
                }
                q.sql(&format!(
                    ") AS k(key) CROSS JOIN LATERAL (SELECT {select} FROM {from} WHERE {tenant_column} = "
                ))
                .text(tenant.0.clone())
                .sql(&format!(" AND {key} = k.key{and} OFFSET 0"));
                if lock {
                    q.sql(" FOR UPDATE");
                }
                q.sql(") AS x");
            }
            DbConnection::Sqlite(_) => {
                q.sql(&self.head())
                    .text(tenant.0.clone())
                    .sql(&format!(" AND {key} IN ("))
                    .texts(keys)
                    .sql(&format!("){and}"))
                    .reused_if_few(keys.len());
            }
        }
        q
    }

    /// The rows whose key lies between `first` and `last`, both included: one range of
    /// the index, for keys that are dense in it (see `store::roles::Batch`). Both
    /// planners bound the read by the range, with statistics or without.
    pub fn span(&self, tenant: &super::TenantId, first: &str, last: &str) -> RawQuery {
        let key = self.key;
        let mut q = RawQuery::new(&self.head());
        q.text(tenant.0.clone())
            .sql(&format!(" AND {key} >= "))
            .text(first)
            .sql(&format!(" AND {key} <= "))
            .text(last)
            .sql(self.and);
        q
    }

    /// `SELECT … FROM … WHERE <tenant> = `, for the tenant's value to follow.
    fn head(&self) -> String {
        format!(
            "SELECT {} FROM {} WHERE {} = ",
            self.select, self.from, self.tenant
        )
    }
}

/// Which of `ids` are rows of `table` in the tenant; chunked so a 10k-member PUT stays
/// under every backend's bind limit. `table` is a compile-time name, never user input.
pub fn existing_ids(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = RawQuery::new(&format!("SELECT id FROM {table} WHERE tenant_id = "));
        q.text(tenant.0.clone())
            .sql(" AND id IN (")
            .texts(chunk)
            .sql(")")
            .reused_if_few(chunk.len());
        found.extend(q.load::<Id>(conn)?.into_iter().map(|row| row.id));
    }
    Ok(found)
}

/// The tenant's row `id` of `table`, locked for the rest of the transaction on
/// PostgreSQL (`FOR UPDATE`), so concurrent read-modify-write use cases on one resource
/// take turns instead of losing updates. SQLite's `BEGIN IMMEDIATE` already serialises
/// writers. `table` is a compile-time name, never user input.
pub fn find_for_update<R>(
    conn: &mut DbConnection,
    table: &'static str,
    tenant: &super::TenantId,
    id: &str,
) -> Result<Option<R>, StoreError>
where
    R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    let mut q = RawQuery::new(&format!("SELECT * FROM {table} WHERE tenant_id = "));
    q.text(tenant.0.clone()).sql(" AND id = ").text(id).reused();
    if matches!(conn, DbConnection::Postgres(_)) {
        q.sql(" FOR UPDATE");
    }
    Ok(q.load::<R>(conn)?.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn locate_finds_the_bucket_holding_an_offset() {
        let buckets = [
            ("00a".to_owned(), 3),
            ("0f1".to_owned(), 1),
            ("ff0".to_owned(), 2),
        ];
        let at = |offset| locate(&buckets, offset);
        assert_eq!(at(0), Some(("00a", 0)));
        assert_eq!(at(2), Some(("00a", 2)));
        assert_eq!(at(3), Some(("0f1", 0)));
        assert_eq!(at(4), Some(("ff0", 0)));
        assert_eq!(at(5), Some(("ff0", 1)));
        assert_eq!(at(6), None);
        assert_eq!(locate(&[], 0), None);
    }
}
