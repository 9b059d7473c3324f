//! The admin audit log's writer: every admin action, in the UI, the API or the CLI,
//! leaves one row in the same transaction as the change. Both the admin use cases and
//! the tenant lifecycle write here, so it depends on neither.

use serde_json::Value;

use super::{new_id, now};
use crate::store::admin::{self, AuditRow};
use crate::store::{DbConnection, StoreError, TenantId};

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Appends one row to the tenant's admin audit log.
pub fn audit(
    conn: &mut DbConnection,
    tenant: &TenantId,
    actor: &str,
    action: &str,
    before: Option<Value>,
    after: Option<Value>,
    ctx: &AuditContext,
) -> Result<(), StoreError> {
    admin::insert_audit(
        conn,
        &AuditRow {
            id: new_id(),
            tenant_id: tenant.0.clone(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            before_json: before.map(|v| v.to_string()),
            after_json: after.map(|v| v.to_string()),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            at: now(),
        },
    )
}
