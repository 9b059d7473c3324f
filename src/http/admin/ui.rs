//! What every admin screen shares: the page chrome, running a use case as the signed-in
//! admin (reads on one snapshot; writes in one transaction with their audit row), and
//! small formatting helpers for templates.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::Value;

use super::session::audit_context;
use super::{app_state, AdminError, AdminSession};
use crate::http::auth::correlation_id;
use crate::http::state::AppState;
use crate::service::admin::{actor_name, audited, AdminRole, Auditor};
pub use crate::service::admin::{snapshot, Done};
use crate::service::events::{Actor, ActorKind};
use crate::service::run::Tx;
use crate::service::{Scope, ServiceError};

/// A form that carries nothing but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// A form that destroys something: its CSRF token and the confirmation that the
/// confirmation page ([`ConfirmPage`]) adds. Without it, the form is answered with
/// that page.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// The step before an action that cannot be undone: what it acts on, what follows,
/// and a form that posts `confirm=yes` with the CSRF token. Plain HTML: it works
/// without JavaScript, as every screen does.
#[derive(askama::Template)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub heading: String,
    pub facts: Vec<(&'static str, String)>,
    pub consequences: Vec<String>,
    /// Where the form posts, under the tenant.
    pub action: String,
    pub button: &'static str,
    /// Where Cancel leads, under the tenant.
    pub back: String,
}

impl ConfirmPage {
    pub fn respond(&self) -> Result<HttpResponse, AdminError> {
        use askama::Template;
        super::html(actix_web::http::StatusCode::OK, self.render()?)
    }
}

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
    ("applications", "Applications"),
    ("directory-sync", "Directory sync"),
    ("held", "Held changes"),
    ("sso", "Admin SSO"),
];

/// The tabs only owners see.
const OWNER_TABS: &[&str] = &["sso"];

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
    /// Changes the deprovisioning guard holds (a banner on every screen).
    pub held: i64,
}

impl Chrome {
    /// The tabs this admin may open.
    pub fn tabs(&self) -> Vec<(&'static str, &'static str)> {
        TABS.iter()
            .filter(|(path, _)| self.can_own || !OWNER_TABS.contains(path))
            .copied()
            .collect()
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
            held: 0,
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

/// What every admin screen's handler starts from: the request, the application's state
/// and the signed-in admin of the tenant in the path. Extraction fails as the session
/// does (to the login page, or 403).
pub struct Admin {
    pub req: HttpRequest,
    pub state: web::Data<AppState>,
    pub session: AdminSession,
    /// Changes the deprovisioning guard holds for an owner.
    pub held: i64,
}

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AdminSession::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req);
            let session = session.await?;
            let tenant = session.tenant_id.clone();
            // Best effort: a screen still shows if this count cannot be read.
            let held = state
                .service
                .run(move |c| crate::service::guard::pending_count(c, &tenant))
                .await
                .unwrap_or(0);
            Ok(Admin {
                state,
                session,
                req,
                held,
            })
        })
    }
}

impl Admin {
    /// Runs a read-only use case on one snapshot of the tenant.
    pub async fn read<T, F>(&self, use_case: F) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &Scope) -> Result<T, ServiceError> + Send + 'static,
    {
        let scope = self.session.scope(&self.state, &self.req);
        Ok(self
            .state
            .service
            .read(move |c| use_case(c, &scope))
            .await?)
    }

    /// Checks a form of admins holding at least `needed`: its CSRF token, then the role.
    pub fn check_form(&self, csrf: &str, needed: AdminRole) -> Result<(), AdminError> {
        self.session.verify_post(&self.req, csrf)?;
        self.session.require(needed)
    }

    /// Runs a form's use case for an admin holding at least `needed`: checks the form,
    /// then runs the use case and writes its audit row in one transaction, in the
    /// tenant's turn of the group commit.
    pub async fn act<T, F>(
        &self,
        csrf: &str,
        needed: AdminRole,
        action: &'static str,
        use_case: F,
    ) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &Scope) -> Result<Done<T>, ServiceError> + Send + 'static,
    {
        self.check_form(csrf, needed)?;
        self.record(needed, action, use_case).await
    }

    /// [`Admin::act`] for a request that is not a form, whose forgery is ruled out
    /// otherwise (the OIDC callback, by the sealed login state it must match).
    pub async fn record<T, F>(
        &self,
        needed: AdminRole,
        action: &'static str,
        use_case: F,
    ) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &Scope) -> Result<Done<T>, ServiceError> + Send + 'static,
    {
        self.session.require(needed)?;
        let scope = self.session.scope(&self.state, &self.req);
        let auditor = Auditor {
            actor: actor_name(&self.session.subject, self.session.email.as_deref()),
            action,
            ctx: audit_context(&self.req),
        };
        Ok(self
            .state
            .service
            .write(&self.session.tenant, move |c| {
                audited(c, &scope, &auditor, use_case)
            })
            .await?)
    }

    /// The frame of a screen under tab `active`.
    pub fn chrome(&self, active: &'static str) -> Chrome {
        Chrome {
            held: self.held,
            ..self.session.chrome(active)
        }
    }

    /// After a form: back to a page of this tenant (POST, redirect, GET).
    pub fn see_other(&self, path: &str) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/admin/{}/{path}", self.session.tenant),
            ))
            .finish()
    }
}

/// The admin UI's one script: progressive enhancement only (copy buttons, the setup
/// wizard's live indicator); every screen works without it.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(include_str!("../../../templates/admin/admin.js"))
}

/// roster's icon (also the logo each page draws inline): served by roster itself, so
/// the pages' `default-src 'self'` allows it and nothing is fetched elsewhere.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        // Opened on its own, the image may run nothing and load nothing.
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(include_str!("../../../templates/admin/logo.svg"))
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
