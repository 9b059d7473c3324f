//! Users: indexed columns for the hot attributes, the rest as JSON.

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use super::conn::DbConnection;
use super::error::StoreError;
use super::paging::{Order, Page, Window};
use super::query::{Bind, RawQuery};
use super::schema::{user_emails, users};
use super::TenantId;

#[derive(
    Debug,
    Clone,
    PartialEq,
    Queryable,
    QueryableByName,
    Selectable,
    Insertable,
    AsChangeset,
    Serialize,
    Deserialize,
)]
#[diesel(table_name = users, primary_key(tenant_id, id))]
#[diesel(treat_none_as_null = true)]
pub struct UserRow {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub user_name: String,
    pub user_name_folded: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub attributes: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Which source last wrote it (`ActorKind::source`); exports from before it say scim.
    #[serde(default = "super::written_by_scim")]
    pub written_by: String,
}

/// The tenant's users after id `after`, in id order, at most `limit` (keyset pages).
pub fn page_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut query = users::table
        .filter(users::tenant_id.eq(&tenant.0))
        .order(users::id.asc())
        .limit(limit)
        .select(UserRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)?;
    // A new user has no email rows yet: nothing to delete first.
    write_emails(conn, row, false)
}

/// Writes the user's `user_emails` rows as its stored attributes imply, replacing any
/// it had (`replace`). Callers run it in the transaction that writes the user row, so
/// the two never disagree.
fn write_emails(conn: &mut DbConnection, row: &UserRow, replace: bool) -> Result<(), StoreError> {
    if replace {
        diesel::delete(
            user_emails::table
                .filter(user_emails::tenant_id.eq(&row.tenant_id))
                .filter(user_emails::user_id.eq(&row.id)),
        )
        .execute(conn)?;
    }
    let values = crate::scim::resource::email_values(&row.attributes);
    if values.is_empty() {
        return Ok(());
    }
    // One multi-row statement per 300 values (a user has a handful; this bounds binds).
    let numbered: Vec<(usize, (String, bool))> = values.into_iter().enumerate().collect();
    for chunk in numbered.chunks(300) {
        let mut q = RawQuery::new(
            "INSERT INTO user_emails (tenant_id, user_id, position, value_folded, bare) VALUES ",
        );
        for (n, (i, (folded, bare))) in chunk.iter().enumerate() {
            q.sql(if n == 0 { "(" } else { ", (" })
                .text(row.tenant_id.clone())
                .sql(", ")
                .text(row.id.clone())
                .sql(", ")
                .bind(Bind::BigInt(*i as i64))
                .sql(", ")
                .text(folded.clone())
                .sql(", ")
                .bind(Bind::Bool(*bare))
                .sql(")");
        }
        q.reused_if_few(chunk.len()).execute(conn)?;
    }
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::tenant_id.eq(&tenant.0))
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// `(id, userName)` of those of `ids` that are users of the tenant: what a screen
/// shows in place of an id.
pub fn names_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    // Bounded binds a statement, whatever a caller hands in.
    for chunk in ids.chunks(500) {
        out.extend(
            users::table
                .filter(users::tenant_id.eq(&tenant.0))
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::user_name))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// Which attribute finds a user in [`ids_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKey {
    /// `userName`, ignoring case (unique in a tenant).
    UserName,
    /// `externalId`, exactly (the IdP's id; unique in practice, not by constraint).
    ExternalId,
    /// An address of `emails`, ignoring case (several users may share one).
    Email,
}

/// Ids of at most `limit` users whose `key` is `value`, in id order.
pub fn ids_by(
    conn: &mut DbConnection,
    tenant: &TenantId,
    key: UserKey,
    value: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let folded = crate::scim::resource::fold(value);
    Ok(match key {
        UserKey::UserName => users::table
            .filter(users::tenant_id.eq(&tenant.0))
            .filter(users::user_name_folded.eq(&folded))
            .select(users::id)
            .order(users::id)
            .limit(limit)
            .load(conn)?,
        UserKey::ExternalId => users::table
            .filter(users::tenant_id.eq(&tenant.0))
            .filter(users::external_id.eq(value))
            .select(users::id)
            .order(users::id)
            .limit(limit)
            .load(conn)?,
        UserKey::Email => user_emails::table
            .filter(user_emails::tenant_id.eq(&tenant.0))
            .filter(user_emails::value_folded.eq(&folded))
            .filter(user_emails::bare.eq(false))
            .select(user_emails::user_id)
            .distinct()
            .order(user_emails::user_id)
            .limit(limit)
            .load(conn)?,
    })
}

/// The row, locked until the transaction ends (see `raw::find_for_update`).
pub fn find_for_update(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    super::raw::find_for_update(conn, "users", tenant, id)
}

/// Overwrites the row with the same tenant and id.
pub fn update(conn: &mut DbConnection, row: &UserRow) -> Result<(), StoreError> {
    diesel::update(
        users::table
            .filter(users::tenant_id.eq(&row.tenant_id))
            .filter(users::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)?;
    write_emails(conn, row, true)
}

/// Deletes the user, its memberships and (by cascade) its `user_emails` rows; false when there was no such user.
pub fn delete(conn: &mut DbConnection, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
    super::groups::remove_from_all_groups(conn, tenant, id)?;
    let deleted = diesel::delete(
        users::table
            .filter(users::tenant_id.eq(&tenant.0))
            .filter(users::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// Which of `ids` are users of the tenant.
pub fn existing_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    super::raw::existing_ids(conn, "users", tenant, ids)
}

/// A page of users matching `filter` (a fragment over the `users` table, already
/// holding its binds), in `order`, plus the total count.
pub fn list(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: Option<&RawQuery>,
    order: Order<'_>,
    window: Window<'_>,
) -> Result<Page<UserRow>, StoreError> {
    super::raw::page(conn, "users", tenant, filter, order, window)
}

/// A group a user belongs to, for the read-only `groups` attribute.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct MembershipRef {
    #[diesel(sql_type = Text)]
    pub member_id: String,
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
}

/// The direct groups of each of `user_ids`.
pub fn groups_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_ids: &[String],
) -> Result<Vec<MembershipRef>, StoreError> {
    // Every user write and read asks this, so it must start from the user's memberships
    // (the `(tenant_id, member_id)` index) whatever the planner knows. With statistics
    // gathered while the tables were small, SQLite walked every membership of the tenant
    // instead: a PUT took 2 ms at 15,000 memberships, and grew with them. So SQLite is
    // told the index and the join order; PostgreSQL plans this query on each call and
    // finds the index by itself.
    let join = match conn.dialect() {
        super::filter_sql::Dialect::Sqlite => "INDEXED BY group_members_member CROSS JOIN",
        super::filter_sql::Dialect::Postgres => "JOIN",
    };
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        let mut q = RawQuery::new(&format!(
            "SELECT m.member_id AS member_id, g.id AS group_id, g.display_name AS display_name \
             FROM group_members AS m {join} groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
             WHERE m.tenant_id = "
        ));
        q.text(tenant.0.clone())
            .sql(" AND m.member_id IN (")
            .texts(chunk)
            .sql(") ORDER BY g.display_name_folded, g.id")
            .reused_if_few(chunk.len());
        out.extend(q.load::<MembershipRef>(conn)?);
    }
    Ok(out)
}
