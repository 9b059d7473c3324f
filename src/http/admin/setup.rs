//! S3 Setup wizard: the SCIM base URL, a token shown once, the identity provider's
//! steps, and a live indicator of the requests arriving.

use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::credentials::{create_token, NewTokenForm, Revealed};
use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome};
use crate::service::overview::{arrivals, last_request_at, Arrival};
use crate::service::stamp;

/// The indicator lists requests from this long before the wizard was opened, so an
/// admin who clicked Test Connection a moment early still sees it.
const LOOKBACK: Duration = Duration::from_secs(15 * 60);
const SHOWN: i64 = 20;

/// The identity providers the wizard has steps for.
const IDPS: &[(&str, &str)] = &[
    ("jumpcloud", "JumpCloud"),
    ("okta", "Okta"),
    ("entra", "Microsoft Entra ID"),
    ("generic", "Other SCIM client"),
];

/// The live part of the page, also served alone for polling.
pub struct Status {
    pub poll_url: String,
    pub arrivals: Vec<Arrival>,
    /// When the tenant's newest request arrived, if it ever received one: the step is
    /// then no longer waiting, even when nothing arrived since the wizard was opened.
    pub last_request: Option<String>,
    pub tenant: String,
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct Page {
    chrome: Chrome,
    idp: &'static str,
    idps: &'static [(&'static str, &'static str)],
    base_url: String,
    revealed: Option<Revealed>,
    status: Status,
}

#[derive(Template)]
#[template(path = "admin/setup_status.html")]
struct Fragment {
    status: Status,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    idp: Option<String>,
    since: Option<String>,
}

async fn status(admin: &Admin, since: Option<String>) -> Result<Status, AdminError> {
    // Only a stored-stamp shape is accepted back from the poll URL.
    let since = since
        .filter(|s| humantime::parse_rfc3339(s).is_ok())
        .unwrap_or_else(|| stamp(SystemTime::now() - LOOKBACK));
    let from = since.clone();
    let (arrivals, last_request) = admin
        .read(move |c, scope| {
            Ok((
                arrivals(c, &scope.tenant, &from, SHOWN)?,
                last_request_at(c, &scope.tenant)?,
            ))
        })
        .await?;
    Ok(Status {
        poll_url: format!(
            "/admin/{}/setup/status?since={}",
            admin.session.tenant,
            ui::encode(&since)
        ),
        arrivals,
        last_request: last_request.as_deref().map(ui::when),
        tenant: admin.session.tenant.clone(),
    })
}

async fn render(
    admin: &Admin,
    idp: Option<&str>,
    revealed: Option<Revealed>,
) -> Result<HttpResponse, AdminError> {
    let idp = IDPS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| Some(*k) == idp)
        .unwrap_or("jumpcloud");
    let page = Page {
        chrome: admin.chrome("setup"),
        idp,
        idps: IDPS,
        base_url: format!(
            "{}/scim/v2/{}",
            admin.state.public_url, admin.session.tenant
        ),
        revealed,
        status: status(admin, None).await?,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/setup?idp=jumpcloud`.
pub async fn show(admin: Admin, query: web::Query<SetupQuery>) -> Result<HttpResponse, AdminError> {
    render(&admin, query.idp.as_deref(), None).await
}

/// `POST /admin/{tenant}/setup/token`: step 2, the token shown once.
pub async fn token(
    admin: Admin,
    query: web::Query<SetupQuery>,
    form: web::Form<NewTokenForm>,
) -> Result<HttpResponse, AdminError> {
    let secret = create_token(&admin, &form).await?;
    let revealed = Revealed {
        secret,
        note: "Paste it into your identity provider now: roster keeps only its digest and \
               cannot show it again.",
    };
    render(&admin, query.idp.as_deref(), Some(revealed)).await
}

/// `GET /admin/{tenant}/setup/status?since=…`: the live indicator, as an HTML fragment.
pub async fn poll(admin: Admin, query: web::Query<SetupQuery>) -> Result<HttpResponse, AdminError> {
    let fragment = Fragment {
        status: status(&admin, query.since.clone()).await?,
    };
    html(StatusCode::OK, fragment.render()?)
}
