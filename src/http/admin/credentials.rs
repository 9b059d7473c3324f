//! S4 Credentials: the SCIM endpoint and its tokens (create, rotate with an overlap,
//! complete or cancel the rotation, revoke). Token changes need the owner role.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome, Done};
use super::ui::{ConfirmForm, CsrfForm};
use crate::service::admin::AdminRole;
use crate::service::run::Tx;
use crate::service::tenants::{self, CreatedToken, RotationEnd, TokenAccess, TokenView};
use crate::service::{Scope, ServiceError};

/// A token as the screen shows it: the view, and its times and rotation for people.
pub struct TokenLine {
    pub token: TokenView,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
    /// While rotating: the hint of the token this one replaces.
    pub replaces: Option<String>,
}

impl TokenLine {
    pub fn of(all: Vec<TokenView>) -> Vec<TokenLine> {
        let mut lines: Vec<TokenLine> = all
            .iter()
            .map(|t| TokenLine {
                created: ui::when(&t.created_at),
                last_used: ui::when_or(t.last_used_at.as_deref(), "never"),
                revoked: t.revoked_at.as_deref().map(ui::when),
                replaces: t.replaces.as_ref().and_then(|old| {
                    all.iter()
                        .find(|o| &o.id == old && o.revoked_at.is_none())
                        .map(|o| o.hint.clone())
                }),
                token: t.clone(),
            })
            .collect();
        // Live tokens first, newest first within each part.
        lines.reverse();
        lines.sort_by_key(|l| l.revoked.is_some());
        lines
    }
}

/// A secret just created, shown on this response only.
pub struct Revealed {
    pub secret: String,
    pub note: &'static str,
}

#[derive(Template)]
#[template(path = "admin/credentials.html")]
struct Page {
    chrome: Chrome,
    base_url: String,
    tokens: Vec<TokenLine>,
    revealed: Option<Revealed>,
}

async fn render(admin: &Admin, revealed: Option<Revealed>) -> Result<HttpResponse, AdminError> {
    let slug = admin.session.tenant.clone();
    let tokens = admin.read(move |c, _| tenants::tokens(c, &slug)).await?;
    let page = Page {
        base_url: format!(
            "{}/scim/v2/{}",
            admin.state.public_url, admin.session.tenant
        ),
        chrome: admin.chrome("credentials"),
        tokens: TokenLine::of(tokens),
        revealed,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/credentials`.
pub async fn show(admin: Admin) -> Result<HttpResponse, AdminError> {
    render(&admin, None).await
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// The checkbox: present ("on") for a read-only token.
    #[serde(default)]
    read_only: Option<String>,
}

/// Runs a token change as the owner (all token changes need that role).
async fn as_owner<T, F>(
    admin: &Admin,
    csrf: &str,
    action: &'static str,
    run: F,
) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut Tx<'_>, &str, &Scope) -> Result<Done<T>, ServiceError> + Send + 'static,
{
    let slug = admin.session.tenant.clone();
    admin
        .act(csrf, AdminRole::Owner, action, move |c, scope| {
            run(c, &slug, scope)
        })
        .await
}

/// A token just made: its secret to show once; audited as its view, without it.
fn issued(created: CreatedToken) -> Done<String> {
    let after = serde_json::to_value(&created.view).ok();
    Done::new(created.secret, None, after)
}

/// Creates a token as the owner; the caller shows the secret once.
pub async fn create_token(admin: &Admin, form: &NewTokenForm) -> Result<String, AdminError> {
    let name = Some(form.name.trim().to_owned()).filter(|n| !n.is_empty());
    let access = if form.read_only.is_some() {
        TokenAccess::ReadOnly
    } else {
        TokenAccess::ReadWrite
    };
    let create = move |c: &mut Tx<'_>, slug: &str, scope: &Scope| {
        tenants::create_token_with(c, slug, name.as_deref(), access, &scope.actor).map(issued)
    };
    as_owner(admin, &form.csrf, "scim_token.created", create).await
}

/// `POST /admin/{tenant}/credentials/tokens`.
pub async fn create(
    admin: Admin,
    form: web::Form<NewTokenForm>,
) -> Result<HttpResponse, AdminError> {
    let secret = create_token(&admin, &form).await?;
    let revealed = Revealed {
        secret,
        note: "Copy this token now: roster keeps only its digest and cannot show it again.",
    };
    render(&admin, Some(revealed)).await
}

/// `POST /admin/{tenant}/credentials/tokens/{id}/rotate`: a successor that is valid
/// alongside the old token until the rotation is completed.
pub async fn rotate(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let rotate = move |c: &mut Tx<'_>, slug: &str, scope: &Scope| {
        tenants::rotate_token(c, slug, &id, &scope.actor).map(issued)
    };
    let secret = as_owner(&admin, &form.csrf, "scim_token.rotated", rotate).await?;
    let revealed = Revealed {
        secret,
        note: "Both tokens work until you complete the rotation. Put this one into your \
               identity provider, check that requests arrive with it, then complete.",
    };
    render(&admin, Some(revealed)).await
}

/// `POST …/tokens/{id}/complete` and `…/cancel`: ends the rotation whose successor is `id`.
pub async fn end_rotation(
    admin: Admin,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let (_, id, verb) = path.into_inner();
    let (end, action) = match verb.as_str() {
        "complete" => (RotationEnd::Complete, "scim_token.rotation_completed"),
        _ => (RotationEnd::Cancel, "scim_token.rotation_cancelled"),
    };
    let finish = move |c: &mut Tx<'_>, slug: &str, scope: &Scope| {
        let revoked = tenants::end_rotation(c, slug, &id, end, &scope.actor)?;
        let after = serde_json::json!({"successor": id, "revoked": revoked});
        Ok(Done::new((), None, Some(after)))
    };
    as_owner(&admin, &form.csrf, action, finish).await?;
    Ok(admin.see_other("credentials"))
}

/// `GET /admin/{tenant}/credentials/tokens/{id}/revoke`: what revoking the token
/// ends, and the form that does it.
pub async fn confirm_revoke(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    admin.session.require(AdminRole::Owner)?;
    let id = path.into_inner().1;
    let slug = admin.session.tenant.clone();
    let tokens = admin.read(move |c, _| tenants::tokens(c, &slug)).await?;
    let token = tokens
        .iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or(ServiceError::NotFound { kind: "token" })?;
    let live = tokens.iter().filter(|t| t.revoked_at.is_none()).count();
    let mut consequences = vec![format!(
        "Every SCIM request with this token is refused (401) from the moment you revoke          it. This cannot be undone."
    )];
    if live == 1 {
        consequences.push(
            "It is the tenant's only live token: your identity provider cannot sync until              you create a new token and paste it in. To switch tokens without a gap,              rotate instead."
                .into(),
        );
    } else if token.last_used_at.is_some() {
        consequences.push(
            "It has been used: make sure your identity provider holds another token first.".into(),
        );
    }
    ui::ConfirmPage {
        chrome: admin.chrome("credentials"),
        heading: format!("Revoke the token {}?", token.name),
        facts: vec![
            ("Name", token.name.clone()),
            ("Token", format!("{}…", token.hint)),
            ("Created", ui::when(&token.created_at)),
            (
                "Last used",
                ui::when_or(token.last_used_at.as_deref(), "never"),
            ),
        ],
        consequences,
        action: format!("credentials/tokens/{}/revoke", token.id),
        button: "Revoke the token",
        back: "credentials".into(),
    }
    .respond()
}

/// `POST /admin/{tenant}/credentials/tokens/{id}/revoke`: with `confirm=yes`, as the
/// confirmation page posts it; without, answered with that page.
pub async fn revoke(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    if !form.confirmed() {
        admin.check_form(&form.csrf, AdminRole::Owner)?;
        return Ok(admin.see_other(&format!("credentials/tokens/{id}/revoke")));
    }
    let revoke = move |c: &mut Tx<'_>, slug: &str, scope: &Scope| {
        tenants::revoke_token(c, slug, &id, &scope.actor)?;
        Ok(Done::new((), Some(serde_json::json!({"id": id})), None))
    };
    as_owner(&admin, &form.csrf, "scim_token.revoked", revoke).await?;
    Ok(admin.see_other("credentials"))
}
