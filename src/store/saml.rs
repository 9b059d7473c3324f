//! SAML: each tenant's connection, the AuthnRequests in flight and the replay cache of
//! assertion ids. The tables are declared here, beside their only queries.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::TenantId;

diesel::table! {
    saml_connections (tenant_id) {
        tenant_id -> Text,
        idp_entity_id -> Text,
        sso_url -> Text,
        idp_certificates -> Text,
        sp_private_key -> Text,
        sp_certificate -> Text,
        name_id_format -> Text,
        email_attribute -> Text,
        first_name_attribute -> Text,
        last_name_attribute -> Text,
        groups_attribute -> Text,
        admin_group_roles -> Text,
        allow_idp_initiated -> Bool,
        idp_initiated_url -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    saml_requests (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        purpose -> Text,
        payload -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    saml_assertions (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        expires_at -> Text,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = saml_connections)]
pub struct ConnectionRow {
    pub tenant_id: String,
    pub idp_entity_id: String,
    pub sso_url: String,
    pub idp_certificates: String,
    pub sp_private_key: String,
    pub sp_certificate: String,
    pub name_id_format: String,
    pub email_attribute: String,
    pub first_name_attribute: String,
    pub last_name_attribute: String,
    pub groups_attribute: String,
    pub admin_group_roles: String,
    pub allow_idp_initiated: bool,
    pub idp_initiated_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_requests)]
pub struct RequestRow {
    pub tenant_id: String,
    pub id: String,
    pub purpose: String,
    pub payload: String,
    pub expires_at: String,
}

pub fn connection(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<ConnectionRow>, StoreError> {
    Ok(saml_connections::table
        .filter(saml_connections::tenant_id.eq(&tenant.0))
        .select(ConnectionRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn upsert_connection(conn: &mut DbConnection, row: &ConnectionRow) -> Result<(), StoreError> {
    let updated = diesel::update(saml_connections::table)
        .filter(saml_connections::tenant_id.eq(&row.tenant_id))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(saml_connections::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_connection(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, StoreError> {
    let n = diesel::delete(saml_connections::table)
        .filter(saml_connections::tenant_id.eq(&tenant.0))
        .execute(conn)?;
    Ok(n == 1)
}

/// Records an AuthnRequest; expired ones go as new ones come.
pub fn insert_request(
    conn: &mut DbConnection,
    row: &RequestRow,
    now: &str,
) -> Result<(), StoreError> {
    diesel::delete(saml_requests::table)
        .filter(saml_requests::tenant_id.eq(&row.tenant_id))
        .filter(saml_requests::expires_at.lt(now))
        .execute(conn)?;
    diesel::insert_into(saml_requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Takes the AuthnRequest `id` out, once: a second response to it finds nothing.
pub fn take_request(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    now: &str,
) -> Result<Option<RequestRow>, StoreError> {
    let found = saml_requests::table
        .filter(saml_requests::tenant_id.eq(&tenant.0))
        .filter(saml_requests::id.eq(id))
        .select(RequestRow::as_select())
        .get_result(conn)
        .optional()?;
    let Some(found) = found else {
        return Ok(None);
    };
    let taken = diesel::delete(saml_requests::table)
        .filter(saml_requests::tenant_id.eq(&tenant.0))
        .filter(saml_requests::id.eq(id))
        .execute(conn)?;
    Ok((taken == 1 && found.expires_at.as_str() > now).then_some(found))
}

/// Remembers an assertion id until `expires_at`; false if it was seen before (a
/// replay). Expired ids go as new ones come.
pub fn remember_assertion(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    expires_at: &str,
    now: &str,
) -> Result<bool, StoreError> {
    diesel::delete(saml_assertions::table)
        .filter(saml_assertions::tenant_id.eq(&tenant.0))
        .filter(saml_assertions::expires_at.lt(now))
        .execute(conn)?;
    let seen = saml_assertions::table
        .filter(saml_assertions::tenant_id.eq(&tenant.0))
        .filter(saml_assertions::id.eq(id))
        .count()
        .get_result::<i64>(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(saml_assertions::table)
        .values((
            saml_assertions::tenant_id.eq(&tenant.0),
            saml_assertions::id.eq(id),
            saml_assertions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(true)
}
