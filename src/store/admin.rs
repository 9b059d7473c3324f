//! Admin UI login: OIDC settings, sessions, break-glass links, the audit log and
//! server-wide settings. The tables are declared here, beside their only queries.

use diesel::prelude::*;

use super::conn::DbConnection;
use super::error::StoreError;
use super::TenantId;

diesel::table! {
    server_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    oidc_configs (tenant_id) {
        tenant_id -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret -> Nullable<Text>,
        groups_claim -> Text,
        expected_jc_org -> Nullable<Text>,
        group_roles -> Text,
        created_at -> Text,
        updated_at -> Text,
        scopes -> Text,
    }
}

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        tenant_id -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        role -> Text,
        scim_user_id -> Nullable<Text>,
        csrf_token -> Text,
        created_at -> Text,
        last_seen_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    admin_login_links (token_hash) {
        token_hash -> Text,
        tenant_id -> Text,
        created_at -> Text,
        expires_at -> Text,
        used_at -> Nullable<Text>,
    }
}

diesel::table! {
    admin_audit_log (id) {
        id -> Text,
        tenant_id -> Text,
        actor -> Text,
        action -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        at -> Text,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = oidc_configs)]
#[diesel(treat_none_as_null = true)]
pub struct OidcConfigRow {
    pub tenant_id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub groups_claim: String,
    pub expected_jc_org: Option<String>,
    pub group_roles: String,
    pub created_at: String,
    pub updated_at: String,
    /// Space-separated.
    pub scopes: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub tenant_id: String,
    pub subject: String,
    pub email: Option<String>,
    pub role: String,
    pub scim_user_id: Option<String>,
    pub csrf_token: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_login_links)]
pub struct LoginLinkRow {
    pub token_hash: String,
    pub tenant_id: String,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_audit_log)]
pub struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub actor: String,
    pub action: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: String,
}

pub fn setting(conn: &mut DbConnection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(server_settings::table
        .filter(server_settings::key.eq(key))
        .select(server_settings::value)
        .get_result(conn)
        .optional()?)
}

/// Inserts the setting; false when another process stored one first.
pub fn insert_setting(conn: &mut DbConnection, key: &str, value: &str) -> Result<bool, StoreError> {
    let inserted = diesel::insert_into(server_settings::table)
        .values((
            server_settings::key.eq(key),
            server_settings::value.eq(value),
        ))
        .execute(conn);
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        Err(StoreError::UniqueViolation(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn oidc_config(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<OidcConfigRow>, StoreError> {
    Ok(oidc_configs::table
        .filter(oidc_configs::tenant_id.eq(&tenant.0))
        .select(OidcConfigRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn upsert_oidc_config(conn: &mut DbConnection, row: &OidcConfigRow) -> Result<(), StoreError> {
    let updated =
        diesel::update(oidc_configs::table.filter(oidc_configs::tenant_id.eq(&row.tenant_id)))
            .set(row)
            .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(oidc_configs::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(admin_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The session with this digest in the tenant, if it has not expired at `now`
/// (absolute end after `now`, last activity after `idle_cutoff`).
pub fn live_session(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id_hash: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(admin_sessions::table
        .filter(admin_sessions::id_hash.eq(id_hash))
        .filter(admin_sessions::tenant_id.eq(&tenant.0))
        .filter(admin_sessions::expires_at.gt(now))
        .filter(admin_sessions::last_seen_at.gt(idle_cutoff))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn touch_session(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id_hash: &str,
    now: &str,
) -> Result<(), StoreError> {
    diesel::update(
        admin_sessions::table
            .filter(admin_sessions::tenant_id.eq(&tenant.0))
            .filter(admin_sessions::id_hash.eq(id_hash)),
    )
    .set(admin_sessions::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Deletes the tenant's session with this digest; returns it if there was one.
pub fn delete_session(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id_hash: &str,
) -> Result<Option<SessionRow>, StoreError> {
    let found = admin_sessions::table
        .filter(admin_sessions::id_hash.eq(id_hash))
        .filter(admin_sessions::tenant_id.eq(&tenant.0))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?;
    if found.is_some() {
        diesel::delete(
            admin_sessions::table
                .filter(admin_sessions::tenant_id.eq(&tenant.0))
                .filter(admin_sessions::id_hash.eq(id_hash)),
        )
        .execute(conn)?;
    }
    Ok(found)
}

/// Deletes the tenant's sessions linked to this SCIM user or opened by one of these
/// subjects or e-mail addresses (folded); returns the subjects whose sessions ended.
pub fn delete_sessions_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    scim_user_id: &str,
    subjects: &[String],
    emails_folded: &[String],
) -> Result<Vec<String>, StoreError> {
    let candidates: Vec<SessionRow> = admin_sessions::table
        .filter(admin_sessions::tenant_id.eq(&tenant.0))
        .select(SessionRow::as_select())
        .load(conn)?;
    let mut ended = Vec::new();
    for s in candidates {
        let hit = s.scim_user_id.as_deref() == Some(scim_user_id)
            || subjects.contains(&s.subject)
            || s.email
                .as_deref()
                .is_some_and(|e| emails_folded.contains(&crate::scim::resource::fold(e)));
        if hit {
            delete_session(conn, tenant, &s.id_hash)?;
            ended.push(s.subject);
        }
    }
    Ok(ended)
}

pub fn insert_login_link(conn: &mut DbConnection, row: &LoginLinkRow) -> Result<(), StoreError> {
    diesel::insert_into(admin_login_links::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Marks the link used if it is unused and unexpired at `now`; false otherwise. The
/// conditional update makes a link single-use even under concurrent clicks.
pub fn consume_login_link(
    conn: &mut DbConnection,
    tenant: &TenantId,
    token_hash: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        admin_login_links::table
            .filter(admin_login_links::token_hash.eq(token_hash))
            .filter(admin_login_links::tenant_id.eq(&tenant.0))
            .filter(admin_login_links::used_at.is_null())
            .filter(admin_login_links::expires_at.gt(now)),
    )
    .set(admin_login_links::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn insert_audit(conn: &mut DbConnection, row: &AuditRow) -> Result<(), StoreError> {
    diesel::insert_into(admin_audit_log::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn audit_log(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    audit_page(
        conn,
        tenant,
        &AuditQuery {
            limit,
            ..AuditQuery::default()
        },
    )
}

/// What the audit log screen filters on.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Rows strictly older than this `(at, id)`, for paging backwards in time.
    pub before: Option<(String, String)>,
    pub limit: i64,
    /// One action exactly (`login.break_glass`).
    pub action: Option<String>,
}

/// The newest rows first.
pub fn audit_page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    q: &AuditQuery,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut query = admin_audit_log::table
        .filter(admin_audit_log::tenant_id.eq(&tenant.0))
        .order((admin_audit_log::at.desc(), admin_audit_log::id.desc()))
        .limit(q.limit)
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some((at, id)) = &q.before {
        query = query.filter(
            admin_audit_log::at.lt(at.clone()).or(admin_audit_log::at
                .eq(at.clone())
                .and(admin_audit_log::id.lt(id.clone()))),
        );
    }
    if let Some(action) = &q.action {
        query = query.filter(admin_audit_log::action.eq(action.clone()));
    }
    Ok(query.load(conn)?)
}

/// The tenant's newest sign-ins through roster and their refusals (the sign-in log).
pub fn sign_ins(
    conn: &mut DbConnection,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(admin_audit_log::table
        .filter(admin_audit_log::tenant_id.eq(&tenant.0))
        .filter(admin_audit_log::action.eq_any(["sso.sign_in", "sso.sign_in_refused"]))
        .order((admin_audit_log::at.desc(), admin_audit_log::id.desc()))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// The actions the tenant's audit log holds, for the screen's filter.
pub fn audit_actions(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<String>, StoreError> {
    Ok(admin_audit_log::table
        .filter(admin_audit_log::tenant_id.eq(&tenant.0))
        .select(admin_audit_log::action)
        .distinct()
        .order(admin_audit_log::action)
        .load(conn)?)
}
