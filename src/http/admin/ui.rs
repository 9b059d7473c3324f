//! What every admin screen shares: the page chrome, running a use case as the signed-in
//! admin (reads on one snapshot; writes in one transaction with their audit row), and
//! small formatting helpers for templates.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::{audit_context, AdminSession};
use crate::http::auth::correlation_id;
use crate::http::error::AdminError;
use crate::http::state::AppState;
use crate::service::admin::{actor_name, audit, AdminRole};
use crate::service::events::{Actor, ActorKind};
use crate::service::{Scope, ServiceError};
use crate::store::{read_transaction, write_transaction, DbConnection};

/// The screens in the navigation bar, in order: (path under the tenant, label).
pub const TABS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("setup", "Setup"),
    ("credentials", "Credentials"),
    ("users", "Users"),
    ("groups", "Groups"),
    ("roles", "Roles"),
    ("mappings", "Mappings"),
    ("sync-log", "Sync log"),
    ("webhooks", "Webhooks"),
    ("audit", "Audit log"),
];

/// The frame around every screen: who is signed in, the tabs, the logout form.
pub struct Chrome {
    pub tenant: String,
    pub who: String,
    pub role: &'static str,
    pub csrf: String,
    /// The tab this screen belongs to (a path of `TABS`).
    pub active: &'static str,
    /// Admins and owners see the forms that change things; viewers do not.
    pub can_write: bool,
    pub can_own: bool,
}

impl Chrome {
    pub fn tabs(&self) -> &'static [(&'static str, &'static str)] {
        TABS
    }

    /// `/admin/{tenant}/{path}`.
    pub fn href(&self, path: &str) -> String {
        format!("/admin/{}/{path}", self.tenant)
    }
}

impl AdminSession {
    pub fn chrome(&self, active: &'static str) -> Chrome {
        Chrome {
            tenant: self.tenant.clone(),
            who: self.email.clone().unwrap_or_else(|| self.subject.clone()),
            role: self.role.as_str(),
            csrf: self.csrf_token().to_owned(),
            active,
            can_write: self.role >= AdminRole::Admin,
            can_own: self.role >= AdminRole::Owner,
        }
    }

    /// The admin as the service layer sees an actor: events name them by `sub`.
    pub fn scope(&self, state: &AppState, req: &HttpRequest) -> Scope {
        Scope {
            tenant: self.tenant_id.clone(),
            base_url: format!("{}/scim/v2/{}", state.public_url, self.tenant),
            actor: Actor {
                kind: ActorKind::Admin,
                id: self.subject.clone(),
            },
            correlation_id: correlation_id(req),
        }
    }
}

/// Runs a read-only use case on one snapshot of the tenant.
pub async fn read<T, F>(
    state: &AppState,
    session: &AdminSession,
    req: &HttpRequest,
    use_case: F,
) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Scope) -> Result<T, ServiceError> + Send + 'static,
{
    let scope = session.scope(state, req);
    Ok(state
        .store
        .run(move |c| read_transaction(c, |c| use_case(c, &scope)))
        .await?)
}

/// What an admin action changed, for its audit row.
pub struct Done<T> {
    pub value: T,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl<T> Done<T> {
    pub fn new(value: T, before: Option<Value>, after: Option<Value>) -> Self {
        Self {
            value,
            before,
            after,
        }
    }
}

/// Runs a form's use case for an admin holding at least `needed`: checks the CSRF
/// token, then runs the use case and writes its audit row in one transaction.
pub async fn act<T, F>(
    state: &AppState,
    session: &AdminSession,
    req: &HttpRequest,
    csrf: &str,
    needed: AdminRole,
    action: &'static str,
    use_case: F,
) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Scope) -> Result<Done<T>, ServiceError> + Send + 'static,
{
    session.verify_post(req, csrf)?;
    session.require(needed)?;
    let scope = session.scope(state, req);
    let ctx = audit_context(req);
    let actor = actor_name(&session.subject, session.email.as_deref());
    let key = session.tenant.clone();
    Ok(state
        .store
        .write_for(&key, move |c| {
            write_transaction(c, |c| {
                let done = use_case(c, &scope)?;
                audit(
                    c,
                    &scope.tenant,
                    &actor,
                    action,
                    done.before,
                    done.after,
                    &ctx,
                )?;
                Ok::<_, ServiceError>(done.value)
            })
        })
        .await?)
}

/// After a form: back to a page of this tenant (POST, redirect, GET).
pub fn see_other(session: &AdminSession, path: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/admin/{}/{path}", session.tenant),
        ))
        .finish()
}

/// The admin UI's one script: progressive enhancement only (copy buttons, the setup
/// wizard's live indicator); every screen works without it.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(include_str!("../../../templates/admin/admin.js"))
}

/// A JSON string field, or "" (templates show nothing for a missing value).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A stored RFC 3339 time as the screens show it: `2026-11-24 21:50:03 UTC`.
pub fn when(stamp: &str) -> String {
    match (stamp.get(..10), stamp.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        // Not a stored stamp (or not ASCII where one would be): shown as it is.
        _ => stamp.to_owned(),
    }
}

/// `when` for an optional time, with the word to show when there is none.
pub fn when_or(stamp: Option<&str>, none: &str) -> String {
    stamp.map_or_else(|| none.to_owned(), when)
}

/// Percent-encodes a query value; `/` stays readable (RFC 3986 allows it in a query),
/// so a `return_to` path reads as a path.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Pretty JSON for the raw views.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_to_the_second_in_utc() {
        assert_eq!(when("2026-11-24T21:50:03.123Z"), "2026-11-24 21:50:03 UTC");
        assert_eq!(when_or(None, "never"), "never");
        assert_eq!(
            when("2026-11-2ä"),
            "2026-11-2ä",
            "no panic off a char boundary"
        );
    }
}
