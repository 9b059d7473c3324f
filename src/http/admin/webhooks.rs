//! S11 Webhooks: endpoints (create, enable or disable, rotate the secret, delete, send a
//! test event) and each endpoint's delivery log with redelivery. Every change is an
//! audited `ui::act`; a secret is shown once, in the response that made it.

use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::ui::{self, Chrome, Done};
use super::{html, AdminSession, CsrfForm};
use crate::http::error::AdminError;
use crate::http::state::AppState;
use crate::service::admin::AdminRole;
use crate::service::now;
use crate::service::webhooks::{self, EndpointChanges, NewEndpoint, SUCCEEDED};

/// Deliveries the endpoint page lists, newest first.
const DELIVERIES: i64 = 100;

/// An endpoint as the screens show it.
struct Endpoint {
    id: String,
    url: String,
    description: String,
    /// "all events" when the endpoint subscribes to everything.
    events: String,
    enabled: bool,
    disabled_reason: String,
    failures: i64,
    /// Until when the rotated-out secret still signs, if a rotation is under way.
    rotating_until: String,
}

impl From<&Value> for Endpoint {
    fn from(v: &Value) -> Self {
        let types: Vec<String> = v["event_types"]
            .as_array()
            .map(|a| a.iter().map(ui::text).collect())
            .unwrap_or_default();
        Self {
            id: ui::text(&v["id"]),
            url: ui::text(&v["url"]),
            description: ui::text(&v["description"]),
            events: if types.is_empty() {
                "all events".to_owned()
            } else {
                types.join(", ")
            },
            enabled: v["enabled"].as_bool().unwrap_or(false),
            disabled_reason: ui::text(&v["disabled_reason"]),
            failures: v["consecutive_failures"].as_i64().unwrap_or(0),
            rotating_until: v["previous_secret_expires_at"]
                .as_str()
                .map(ui::when)
                .unwrap_or_default(),
        }
    }
}

/// A secret just made: the only time it is shown.
struct NewSecret {
    endpoint_id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct ListPage {
    chrome: Chrome,
    endpoints: Vec<Endpoint>,
    created: Option<NewSecret>,
}

struct Delivery {
    id: String,
    event_type: String,
    state: String,
    attempts: i64,
    last_status: String,
    latency_ms: String,
    error: String,
    response: String,
    created_at: String,
    updated_at: String,
}

impl Delivery {
    fn badge(&self) -> &'static str {
        match self.state.as_str() {
            webhooks::SUCCEEDED => "good",
            webhooks::DEAD => "bad",
            _ => "warn",
        }
    }

    /// Succeeded deliveries are not sent again; the service refuses them too.
    fn can_redeliver(&self) -> bool {
        self.state != SUCCEEDED
    }
}

impl From<&Value> for Delivery {
    fn from(v: &Value) -> Self {
        Self {
            id: ui::text(&v["id"]),
            event_type: ui::text(&v["event_type"]),
            state: ui::text(&v["state"]),
            attempts: v["attempts"].as_i64().unwrap_or(0),
            last_status: ui::text(&v["last_status"]),
            latency_ms: ui::text(&v["last_latency_ms"]),
            error: ui::text(&v["last_error"]),
            response: ui::text(&v["last_response"]),
            created_at: ui::when(&ui::text(&v["created_at"])),
            updated_at: ui::when(&ui::text(&v["updated_at"])),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct EndpointPage {
    chrome: Chrome,
    e: Endpoint,
    /// `/admin/{tenant}/webhooks/{id}`, which the endpoint's forms post under.
    base: String,
    deliveries: Vec<Delivery>,
    rotated: Option<NewSecret>,
}

async fn list_page(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    created: Option<NewSecret>,
) -> Result<HttpResponse, AdminError> {
    let list = ui::read(state, session, req, |c, scope| {
        webhooks::list(c, &scope.tenant)
    })
    .await?;
    let page = ListPage {
        chrome: session.chrome("webhooks"),
        endpoints: list
            .as_array()
            .map(|a| a.iter().map(Endpoint::from).collect())
            .unwrap_or_default(),
        created,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/webhooks`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    list_page(&req, &state, &session, None).await
}

async fn endpoint_page(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    id: String,
    rotated: Option<NewSecret>,
) -> Result<HttpResponse, AdminError> {
    let (endpoint, deliveries) = ui::read(state, session, req, move |c, scope| {
        Ok((
            webhooks::get(c, &scope.tenant, &id)?,
            webhooks::deliveries(c, &scope.tenant, &id, DELIVERIES)?,
        ))
    })
    .await?;
    let chrome = session.chrome("webhooks");
    let e = Endpoint::from(&endpoint);
    let page = EndpointPage {
        base: chrome.href(&format!("webhooks/{}", e.id)),
        chrome,
        e,
        deliveries: deliveries
            .as_array()
            .map(|a| a.iter().map(Delivery::from).collect())
            .unwrap_or_default(),
        rotated,
    };
    html(StatusCode::OK, page.render()?)
}

/// `GET /admin/{tenant}/webhooks/{id}`: the endpoint and its delivery log.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    endpoint_page(&req, &state, &session, path.into_inner().1, None).await
}

#[derive(Deserialize)]
pub struct NewEndpointForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    /// Separated by spaces or commas; empty subscribes to all events.
    #[serde(default)]
    event_types: String,
}

/// `POST /admin/{tenant}/webhooks`: answers with the list and the new secret, once.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    form: web::Form<NewEndpointForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    // Checked before the URL too: resolving it is work a forged form must not cause.
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    let input = NewEndpoint {
        url: state
            .checked_webhook_url(form.url.trim().to_owned())
            .await?,
        description: form.description.trim().to_owned(),
        event_types: form
            .event_types
            .split([' ', ',', '\n', '\r', '\t'])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        enabled: true,
    };
    let (endpoint, secret) = ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.created",
        move |c, scope| {
            let (endpoint, secret) = webhooks::create(c, &scope.tenant, input, &now())?;
            // The audit row gets the endpoint, which carries no secret.
            Ok(Done::new((endpoint.clone(), secret), None, Some(endpoint)))
        },
    )
    .await?;
    let created = NewSecret {
        endpoint_id: ui::text(&endpoint["id"]),
        secret,
    };
    list_page(&req, &state, &session, Some(created)).await
}

async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    id: String,
    csrf: &str,
    enabled: bool,
) -> Result<HttpResponse, AdminError> {
    let target = id.clone();
    ui::act(
        &state,
        &session,
        &req,
        csrf,
        AdminRole::Admin,
        "webhook.updated",
        move |c, scope| {
            let before = webhooks::get(c, &scope.tenant, &target)?;
            let changes = EndpointChanges {
                enabled: Some(enabled),
                ..EndpointChanges::default()
            };
            let after = webhooks::update(c, &scope.tenant, &target, changes, &now())?;
            Ok(Done::new((), Some(before), Some(after)))
        },
    )
    .await?;
    Ok(ui::see_other(&session, &format!("webhooks/{id}")))
}

/// `POST /admin/{tenant}/webhooks/{id}/enable`: also clears the failure count.
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    set_enabled(req, state, session, path.into_inner().1, &form.csrf, true).await
}

/// `POST /admin/{tenant}/webhooks/{id}/disable`.
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    set_enabled(req, state, session, path.into_inner().1, &form.csrf, false).await
}

/// `POST /admin/{tenant}/webhooks/{id}/delete`: the endpoint and its deliveries.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.deleted",
        move |c, scope| {
            let before = webhooks::get(c, &scope.tenant, &id)?;
            webhooks::delete(c, &scope.tenant, &id)?;
            Ok(Done::new((), Some(before), None))
        },
    )
    .await?;
    Ok(ui::see_other(&session, "webhooks"))
}

/// `POST /admin/{tenant}/webhooks/{id}/rotate-secret`: answers with the endpoint page
/// and the new secret, once; the old one keeps signing for a day.
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let target = id.clone();
    let secret = ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.secret_rotated",
        move |c, scope| {
            let (endpoint, secret) =
                webhooks::rotate_secret(c, &scope.tenant, &target, SystemTime::now())?;
            Ok(Done::new(secret, None, Some(endpoint)))
        },
    )
    .await?;
    let rotated = NewSecret {
        endpoint_id: id.clone(),
        secret,
    };
    endpoint_page(&req, &state, &session, id, Some(rotated)).await
}

/// `POST /admin/{tenant}/webhooks/{id}/test`: queues a `webhook.test` message.
pub async fn send_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let target = id.clone();
    ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.test_sent",
        move |c, scope| {
            let delivery = webhooks::send_test(c, &scope.tenant, &scope.actor, &target, &now())?;
            Ok(Done::new((), None, Some(delivery)))
        },
    )
    .await?;
    // The service woke the worker inside this (then uncommitted) transaction; wake it
    // again now that the delivery is visible, rather than wait for its next poll.
    webhooks::WAKE.notify_one();
    Ok(ui::see_other(&session, &format!("webhooks/{id}")))
}

/// `POST /admin/{tenant}/webhooks/deliveries/{delivery_id}/redeliver`: back in the
/// queue, due now.
pub async fn redeliver(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let delivery_id = path.into_inner().1;
    let delivery = ui::act(
        &state,
        &session,
        &req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.redelivered",
        move |c, scope| {
            let delivery = webhooks::redeliver(c, &scope.tenant, &delivery_id, &now())?;
            Ok(Done::new(delivery.clone(), None, Some(delivery)))
        },
    )
    .await?;
    webhooks::WAKE.notify_one();
    let endpoint = ui::text(&delivery["endpoint_id"]);
    Ok(ui::see_other(&session, &format!("webhooks/{endpoint}")))
}
