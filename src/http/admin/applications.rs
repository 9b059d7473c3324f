//! Applications: the apps that sign this organization's users in through roster
//! (OAuth clients), the sign-in rules (just-in-time provisioning, groups in tokens),
//! and the sign-in log. Owners change them; everyone else reads.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome, Done};
use crate::service::admin::AdminRole;
use crate::service::provider::{
    self, ClientView, Connection, NewClient, SignInEntry, SignInSettings,
};

/// How many sign-ins the screen lists.
const LOG_LENGTH: i64 = 50;

/// A client just registered: its secret, shown on this response only.
pub struct Revealed {
    pub client_id: String,
    pub secret: String,
}

/// A client as the table shows it.
pub struct ClientLine {
    pub client: ClientView,
    pub created: String,
    pub revoked: Option<String>,
}

/// A sign-in as the log shows it.
pub struct LogLine {
    pub entry: SignInEntry,
    pub when: String,
}

#[derive(Template)]
#[template(path = "admin/applications.html")]
struct Page {
    chrome: Chrome,
    issuer: String,
    callback: String,
    clients: Vec<ClientLine>,
    settings: SignInSettings,
    log: Vec<LogLine>,
    revealed: Option<Revealed>,
    /// Why the last form was refused, shown above it.
    error: Option<String>,
}

async fn render(
    admin: &Admin,
    revealed: Option<Revealed>,
    error: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let (clients, settings, log) = admin
        .read(|c, scope| {
            Ok((
                provider::clients(c, &scope.tenant)?,
                provider::sign_in_settings(c, &scope.tenant)?,
                provider::sign_in_log(c, &scope.tenant, LOG_LENGTH)?,
            ))
        })
        .await?;
    let issuer = provider::issuer(&admin.state.public_url, &admin.session.tenant);
    let page = Page {
        callback: format!("{issuer}/callback"),
        issuer,
        chrome: admin.chrome("applications"),
        clients: clients
            .into_iter()
            .map(|client| ClientLine {
                created: ui::when(&client.created_at),
                revoked: client.revoked_at.as_deref().map(ui::when),
                client,
            })
            .collect(),
        settings,
        log: log
            .into_iter()
            .map(|entry| LogLine {
                when: ui::when(&entry.at),
                entry,
            })
            .collect(),
        revealed,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/applications`.
pub async fn show(admin: Admin) -> Result<HttpResponse, AdminError> {
    render(&admin, None, None).await
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A refused form re-renders the screen with the reason; anything else is an error.
async fn or_refused(
    admin: &Admin,
    result: Result<HttpResponse, AdminError>,
) -> Result<HttpResponse, AdminError> {
    match result {
        Err(AdminError::Service(crate::service::ServiceError::Invalid(why))) => {
            render(admin, None, Some(why.detail.clone())).await
        }
        other => other,
    }
}

#[derive(Deserialize)]
pub struct NewClientForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// One a line.
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
}

/// `POST /admin/{tenant}/applications`: registers an application; shows its secret once.
pub async fn create(
    admin: Admin,
    form: web::Form<NewClientForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let input = NewClient {
        name: form.name,
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
    };
    let created = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "oauth_client.created",
            move |c, scope| {
                let created = provider::create_client(c, &scope.tenant, input)?;
                // Audited as its view: never the secret.
                let after = serde_json::to_value(&created.client).ok();
                Ok(Done::new(created, None, after))
            },
        )
        .await;
    let result = match created {
        Ok(created) => {
            render(
                &admin,
                Some(Revealed {
                    client_id: created.client.id,
                    secret: created.client_secret,
                }),
                None,
            )
            .await
        }
        Err(e) => Err(e),
    };
    or_refused(&admin, result).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/{tenant}/applications/{id}/revoke`.
pub async fn revoke(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, AdminError> {
    let (_, id) = path.into_inner();
    admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "oauth_client.revoked",
            move |c, scope| {
                provider::revoke_client(c, &scope.tenant, &id)?;
                Ok(Done::new(
                    (),
                    None,
                    Some(serde_json::json!({"client_id": id})),
                ))
            },
        )
        .await?;
    Ok(admin.see_other("applications"))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    /// Checkboxes: present when ticked.
    jit_enabled: Option<String>,
    groups_in_tokens: Option<String>,
    sync_groups: Option<String>,
    #[serde(default)]
    jit_domains: String,
    /// `oidc` or `saml`.
    #[serde(default)]
    connection: String,
}

/// `POST /admin/{tenant}/applications/settings`.
pub async fn settings(
    admin: Admin,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let input = SignInSettings {
        jit_enabled: form.jit_enabled.is_some(),
        jit_domains: lines(&form.jit_domains),
        groups_in_tokens: form.groups_in_tokens.is_some(),
        sync_groups: form.sync_groups.is_some(),
        connection: if form.connection == "saml" {
            Connection::Saml
        } else {
            Connection::Oidc
        },
    };
    let saved = admin
        .act(
            &form.csrf,
            AdminRole::Owner,
            "sso.settings_changed",
            move |c, scope| {
                let done = provider::set_sign_in_settings(c, &scope.tenant, input)?;
                Ok(Done::new((), done.before, done.after))
            },
        )
        .await
        .map(|()| admin.see_other("applications"));
    or_refused(&admin, saved).await
}
