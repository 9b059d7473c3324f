//! A tenant's directory as rows that move between databases (`roster tenant export` and
//! `import`): users, groups, memberships, roles, role settings, mappings, manual grants
//! and the grants they produce. No secrets (tokens, API keys, webhooks, sign-in
//! settings) and no history (events, logs, change-sets).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::groups::GroupRow;
use super::roles::{GrantRow, ManualGrantRow, MappingRow, RoleRow, SettingsRow};
use super::schema::{
    group_members, groups, manual_grants, role_mappings, role_settings, roles, user_role_grants,
    users,
};
use super::users::UserRow;
use super::{DbConnection, StoreError, TenantId};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = group_members)]
pub struct MembershipRow {
    #[serde(skip)]
    pub tenant_id: String,
    pub group_id: String,
    pub member_id: String,
    pub member_type: String,
    pub display: Option<String>,
    pub created_at: String,
}

/// Everything of a tenant's directory, in the order an import writes it. The rows'
/// `tenant_id` is not serialized: an import writes its own tenant's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    pub roles: Vec<RoleRow>,
    pub settings: SettingsRow,
    pub users: Vec<UserRow>,
    pub groups: Vec<GroupRow>,
    pub memberships: Vec<MembershipRow>,
    pub mappings: Vec<MappingRow>,
    pub manual_grants: Vec<ManualGrantRow>,
    pub grants: Vec<GrantRow>,
}

/// Reads the tenant's directory, each kind in key order (so two exports of one state
/// are equal).
pub fn read(conn: &mut DbConnection, tenant: &TenantId) -> Result<Directory, StoreError> {
    let t = &tenant.0;
    Ok(Directory {
        roles: roles::table
            .filter(roles::tenant_id.eq(t))
            .order(roles::id)
            .select(RoleRow::as_select())
            .load(conn)?,
        settings: role_settings::table
            .filter(role_settings::tenant_id.eq(t))
            .select(SettingsRow::as_select())
            .get_result(conn)?,
        users: users::table
            .filter(users::tenant_id.eq(t))
            .order(users::id)
            .select(UserRow::as_select())
            .load(conn)?,
        groups: groups::table
            .filter(groups::tenant_id.eq(t))
            .order(groups::id)
            .select(GroupRow::as_select())
            .load(conn)?,
        memberships: group_members::table
            .filter(group_members::tenant_id.eq(t))
            .order((group_members::group_id, group_members::member_id))
            .select(MembershipRow::as_select())
            .load(conn)?,
        mappings: role_mappings::table
            .filter(role_mappings::tenant_id.eq(t))
            .order(role_mappings::id)
            .select(MappingRow::as_select())
            .load(conn)?,
        manual_grants: manual_grants::table
            .filter(manual_grants::tenant_id.eq(t))
            .order((manual_grants::user_id, manual_grants::role_id))
            .select(ManualGrantRow::as_select())
            .load(conn)?,
        grants: user_role_grants::table
            .filter(user_role_grants::tenant_id.eq(t))
            .order((
                user_role_grants::user_id,
                user_role_grants::role_id,
                user_role_grants::source,
                user_role_grants::source_ref,
            ))
            .select(GrantRow::as_select())
            .load(conn)?,
    })
}

/// Whether the tenant holds no user, group or role yet: the only state an import
/// writes into.
pub fn is_empty(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, StoreError> {
    let t = &tenant.0;
    let any_user = diesel::select(diesel::dsl::exists(
        users::table.filter(users::tenant_id.eq(t)),
    ))
    .get_result::<bool>(conn)?;
    let any_group = diesel::select(diesel::dsl::exists(
        groups::table.filter(groups::tenant_id.eq(t)),
    ))
    .get_result::<bool>(conn)?;
    let any_role = diesel::select(diesel::dsl::exists(
        roles::table.filter(roles::tenant_id.eq(t)),
    ))
    .get_result::<bool>(conn)?;
    Ok(!(any_user || any_group || any_role))
}

/// Writes `directory` into the (empty) tenant, every row under the tenant's own id.
/// Users go through `users::insert`, which also derives their e-mail index.
pub fn write(
    conn: &mut DbConnection,
    tenant: &TenantId,
    mut d: Directory,
) -> Result<(), StoreError> {
    let t = tenant.0.clone();
    for r in &mut d.roles {
        r.tenant_id.clone_from(&t);
    }
    d.settings.tenant_id.clone_from(&t);
    for r in &mut d.groups {
        r.tenant_id.clone_from(&t);
    }
    for r in &mut d.memberships {
        r.tenant_id.clone_from(&t);
    }
    for r in &mut d.mappings {
        r.tenant_id.clone_from(&t);
    }
    for r in &mut d.manual_grants {
        r.tenant_id.clone_from(&t);
    }
    for r in &mut d.grants {
        r.tenant_id.clone_from(&t);
    }
    // Row by row: diesel's multi-row VALUES is not built for a connection that may be
    // either backend. An import is an operator's one-off, inside one transaction.
    macro_rules! insert_each {
        ($table:expr, $rows:expr) => {
            for row in &$rows {
                diesel::insert_into($table).values(row).execute(conn)?;
            }
        };
    }
    insert_each!(roles::table, d.roles);
    super::roles::update_settings(conn, &d.settings)?;
    for mut user in d.users {
        user.tenant_id.clone_from(&t);
        super::users::insert(conn, &user)?;
    }
    insert_each!(groups::table, d.groups);
    insert_each!(group_members::table, d.memberships);
    insert_each!(role_mappings::table, d.mappings);
    insert_each!(manual_grants::table, d.manual_grants);
    insert_each!(user_role_grants::table, d.grants);
    Ok(())
}
