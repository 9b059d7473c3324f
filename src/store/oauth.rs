//! roster as an OpenID Provider: OAuth clients, signing keys, authorization codes,
//! upstream identities and sign-in settings. The tables are declared here, beside
//! their only queries.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::TenantId;

diesel::table! {
    oauth_clients (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        created_at -> Text,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_signing_keys (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        private_key -> Text,
        public_jwk -> Text,
        created_at -> Text,
        retired_at -> Nullable<Text>,
        expires_at -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_codes (tenant_id, code_hash) {
        tenant_id -> Text,
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Text,
        nonce -> Nullable<Text>,
        scope -> Text,
        auth_time -> BigInt,
        expires_at -> Text,
        used_at -> Nullable<Text>,
    }
}

diesel::table! {
    sso_identities (tenant_id, issuer, subject) {
        tenant_id -> Text,
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        jit -> Bool,
        created_at -> Text,
        last_sign_in_at -> Text,
    }
}

diesel::table! {
    sso_settings (tenant_id) {
        tenant_id -> Text,
        jit_enabled -> Bool,
        jit_domains -> Text,
        groups_in_tokens -> Bool,
        updated_at -> Text,
        upstream -> Text,
        sync_groups -> Bool,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct ClientRow {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_signing_keys)]
pub struct SigningKeyRow {
    pub tenant_id: String,
    pub id: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes)]
pub struct CodeRow {
    pub tenant_id: String,
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub expires_at: String,
    pub used_at: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sso_identities)]
pub struct IdentityRow {
    pub tenant_id: String,
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    pub jit: bool,
    pub created_at: String,
    pub last_sign_in_at: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sso_settings)]
pub struct SettingsRow {
    pub tenant_id: String,
    pub jit_enabled: bool,
    pub jit_domains: String,
    pub groups_in_tokens: bool,
    pub updated_at: String,
    /// `oidc` or `saml`: the connection applications' users sign in with.
    pub upstream: String,
    /// The provider's groups set the memberships of JIT-created users.
    pub sync_groups: bool,
}

pub fn insert_client(conn: &mut DbConnection, row: &ClientRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_clients::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn clients(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<ClientRow>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(&tenant.0))
        .order(oauth_clients::created_at)
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn client(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ClientRow>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(&tenant.0))
        .filter(oauth_clients::id.eq(id))
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Revokes a live client; false when there is none.
pub fn revoke_client(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(oauth_clients::table)
        .filter(oauth_clients::tenant_id.eq(&tenant.0))
        .filter(oauth_clients::id.eq(id))
        .filter(oauth_clients::revoked_at.is_null())
        .set(oauth_clients::revoked_at.eq(now))
        .execute(conn)?;
    Ok(n == 1)
}

/// The tenant's keys still in its JWKS at `now`, newest first.
pub fn published_keys(
    conn: &mut DbConnection,
    tenant: &TenantId,
    now: &str,
) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(oauth_signing_keys::table
        .filter(oauth_signing_keys::tenant_id.eq(&tenant.0))
        .filter(
            oauth_signing_keys::expires_at
                .is_null()
                .or(oauth_signing_keys::expires_at.gt(now)),
        )
        .order(oauth_signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

pub fn insert_key(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Stops the tenant's signing keys other than `keep` from signing, and drops them
/// from the JWKS at `expires_at`.
pub fn retire_keys(
    conn: &mut DbConnection,
    tenant: &TenantId,
    keep: &str,
    now: &str,
    expires_at: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(oauth_signing_keys::table)
        .filter(oauth_signing_keys::tenant_id.eq(&tenant.0))
        .filter(oauth_signing_keys::id.ne(keep))
        .filter(oauth_signing_keys::retired_at.is_null())
        .set((
            oauth_signing_keys::retired_at.eq(now),
            oauth_signing_keys::expires_at.eq(expires_at),
        ))
        .execute(conn)?)
}

/// Every tenant's id that has a signing key (for rotating them all).
pub fn tenants_with_keys(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(oauth_signing_keys::table
        .select(oauth_signing_keys::tenant_id)
        .distinct()
        .load(conn)?)
}

pub fn insert_code(conn: &mut DbConnection, row: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn code(
    conn: &mut DbConnection,
    tenant: &TenantId,
    code_hash: &str,
) -> Result<Option<CodeRow>, StoreError> {
    Ok(oauth_codes::table
        .filter(oauth_codes::tenant_id.eq(&tenant.0))
        .filter(oauth_codes::code_hash.eq(code_hash))
        .select(CodeRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Marks a code used; false when it already was (a replay lost the race).
pub fn use_code(
    conn: &mut DbConnection,
    tenant: &TenantId,
    code_hash: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(oauth_codes::table)
        .filter(oauth_codes::tenant_id.eq(&tenant.0))
        .filter(oauth_codes::code_hash.eq(code_hash))
        .filter(oauth_codes::used_at.is_null())
        .set(oauth_codes::used_at.eq(now))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes the tenant's codes that expired before `cutoff`.
pub fn prune_codes(
    conn: &mut DbConnection,
    tenant: &TenantId,
    cutoff: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        oauth_codes::table
            .filter(oauth_codes::tenant_id.eq(&tenant.0))
            .filter(oauth_codes::expires_at.lt(cutoff)),
    )
    .execute(conn)?)
}

pub fn identity(
    conn: &mut DbConnection,
    tenant: &TenantId,
    issuer: &str,
    subject: &str,
) -> Result<Option<IdentityRow>, StoreError> {
    Ok(sso_identities::table
        .filter(sso_identities::tenant_id.eq(&tenant.0))
        .filter(sso_identities::issuer.eq(issuer))
        .filter(sso_identities::subject.eq(subject))
        .select(IdentityRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Links the upstream identity to `row.user_id`, or records a sign-in of a linked one.
pub fn upsert_identity(conn: &mut DbConnection, row: &IdentityRow) -> Result<(), StoreError> {
    let updated = diesel::update(sso_identities::table)
        .filter(sso_identities::tenant_id.eq(&row.tenant_id))
        .filter(sso_identities::issuer.eq(&row.issuer))
        .filter(sso_identities::subject.eq(&row.subject))
        .set((
            sso_identities::user_id.eq(&row.user_id),
            sso_identities::last_sign_in_at.eq(&row.last_sign_in_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(sso_identities::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Whether `user_id` is linked to an identity of `issuer` other than `subject`.
pub fn linked_to_other(
    conn: &mut DbConnection,
    tenant: &TenantId,
    issuer: &str,
    subject: &str,
    user_id: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sso_identities::table
        .filter(sso_identities::tenant_id.eq(&tenant.0))
        .filter(sso_identities::user_id.eq(user_id))
        .filter(sso_identities::issuer.eq(issuer))
        .filter(sso_identities::subject.ne(subject))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `user_id` was created by a sign-in.
pub fn is_jit(
    conn: &mut DbConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sso_identities::table
        .filter(sso_identities::tenant_id.eq(&tenant.0))
        .filter(sso_identities::user_id.eq(user_id))
        .filter(sso_identities::jit.eq(true))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn settings(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<SettingsRow>, StoreError> {
    Ok(sso_settings::table
        .filter(sso_settings::tenant_id.eq(&tenant.0))
        .select(SettingsRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn upsert_settings(conn: &mut DbConnection, row: &SettingsRow) -> Result<(), StoreError> {
    let updated = diesel::update(sso_settings::table)
        .filter(sso_settings::tenant_id.eq(&row.tenant_id))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(sso_settings::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}
