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
use crate::service::webhooks::{self, EndpointChanges, NewEndpoint, SUCCEEDED};
use crate::service::{now, ServiceError};

/// Deliveries the endpoint page lists, newest first.
const DELIVERIES: i64 = 100;

/// An endpoint as the screens show it.
struct Endpoint {
    id: String,
    url: String,
    description: String,
    /// "all events" when the endpoint subscribes to everything.
    events: String,
    /// The subscription as the edit form takes it: space-separated, empty for all.
    event_types: String,
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
            event_types: types.join(" "),
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
    /// What the new-endpoint form shows: empty, or a refused form and why.
    form: NewEndpointForm,
    refused: Option<String>,
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
    /// When a pending delivery is tried next.
    next_attempt: String,
    /// Every attempt, oldest first: "#1 2026-… UTC → 500 (HTTP 500), 12 ms".
    attempt_log: Vec<String>,
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
            next_attempt: v["next_attempt_at"]
                .as_str()
                .map(ui::when)
                .unwrap_or_default(),
            attempt_log: v["attempt_log"]
                .as_array()
                .map(|log| log.iter().map(attempt_line).collect())
                .unwrap_or_default(),
            created_at: ui::when(&ui::text(&v["created_at"])),
            updated_at: ui::when(&ui::text(&v["updated_at"])),
        }
    }
}

/// What the audit log keeps of a delivery: which one, not the receiver's response
/// (a third party's body, which may echo anything back).
fn audited_delivery(d: &Value) -> Value {
    serde_json::json!({
        "id": d["id"],
        "endpoint_id": d["endpoint_id"],
        "event_id": d["event_id"],
        "event_type": d["event_type"],
        "state": d["state"],
    })
}

fn attempt_line(a: &Value) -> String {
    let outcome = match (ui::text(&a["status"]), ui::text(&a["error"])) {
        (status, error) if error.is_empty() => status,
        (status, error) if status.is_empty() => error,
        (status, error) => format!("{status} ({error})"),
    };
    format!(
        "#{} {} → {outcome}, {} ms",
        ui::text(&a["attempt"]),
        ui::when(&ui::text(&a["at"])),
        ui::text(&a["latency_ms"]),
    )
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
    /// What the edit form shows: the endpoint, or a refused edit and why.
    edit: NewEndpointForm,
    refused: Option<String>,
}

async fn list_page(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    created: Option<NewSecret>,
    refused: Option<(String, NewEndpointForm)>,
) -> Result<HttpResponse, AdminError> {
    let (status, refused, form) = match refused {
        Some((why, form)) => (StatusCode::BAD_REQUEST, Some(why), form),
        None => (StatusCode::OK, None, NewEndpointForm::default()),
    };
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
        form,
        refused,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/webhooks`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AdminError> {
    list_page(&req, &state, &session, None, None).await
}

async fn endpoint_page(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    id: String,
    rotated: Option<NewSecret>,
    refused: Option<(String, NewEndpointForm)>,
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
    let (status, refused, edit) = match refused {
        Some((why, form)) => (StatusCode::BAD_REQUEST, Some(why), form),
        None => (
            StatusCode::OK,
            None,
            NewEndpointForm {
                url: e.url.clone(),
                description: e.description.clone(),
                event_types: e.event_types.clone(),
                ..NewEndpointForm::default()
            },
        ),
    };
    let page = EndpointPage {
        base: chrome.href(&format!("webhooks/{}", e.id)),
        chrome,
        e,
        deliveries: deliveries
            .as_array()
            .map(|a| a.iter().map(Delivery::from).collect())
            .unwrap_or_default(),
        rotated,
        edit,
        refused,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/webhooks/{id}`: the endpoint and its delivery log.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    endpoint_page(&req, &state, &session, path.into_inner().1, None, None).await
}

#[derive(Deserialize, Default)]
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
    match create_endpoint(&req, &state, &session, &form).await {
        Ok(created) => list_page(&req, &state, &session, Some(created), None).await,
        // A URL or event type refused: the form again, filled in, with the reason.
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            let refused = Some((why.detail.clone(), form));
            list_page(&req, &state, &session, None, refused).await
        }
        Err(other) => Err(other),
    }
}

/// The form's event types: separated by spaces, commas or new lines.
fn event_types(field: &str) -> Vec<String> {
    field
        .split([' ', ',', '\n', '\r', '\t'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn create_endpoint(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    form: &NewEndpointForm,
) -> Result<NewSecret, AdminError> {
    let input = NewEndpoint {
        url: state
            .checked_webhook_url(form.url.trim().to_owned())
            .await?,
        description: form.description.trim().to_owned(),
        event_types: event_types(&form.event_types),
        enabled: true,
    };
    let (endpoint, secret) = ui::act(
        state,
        session,
        req,
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
    Ok(NewSecret {
        endpoint_id: ui::text(&endpoint["id"]),
        secret,
    })
}

/// `POST /admin/{tenant}/webhooks/{id}/edit`: URL, description and event types.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<NewEndpointForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let form = form.into_inner();
    // As for a new endpoint: no DNS lookups for forged or unauthorized forms.
    session.verify_post(&req, &form.csrf)?;
    session.require(AdminRole::Admin)?;
    match edit_endpoint(&req, &state, &session, &id, &form).await {
        Ok(()) => Ok(ui::see_other(&session, &format!("webhooks/{id}"))),
        Err(AdminError::Service(ServiceError::Invalid(why))) => {
            let refused = Some((why.detail.clone(), form));
            endpoint_page(&req, &state, &session, id, None, refused).await
        }
        Err(other) => Err(other),
    }
}

async fn edit_endpoint(
    req: &HttpRequest,
    state: &AppState,
    session: &AdminSession,
    id: &str,
    form: &NewEndpointForm,
) -> Result<(), AdminError> {
    let changes = EndpointChanges {
        url: Some(
            state
                .checked_webhook_url(form.url.trim().to_owned())
                .await?,
        ),
        description: Some(form.description.trim().to_owned()),
        event_types: Some(event_types(&form.event_types)),
        enabled: None,
    };
    let target = id.to_owned();
    ui::act(
        state,
        session,
        req,
        &form.csrf,
        AdminRole::Admin,
        "webhook.updated",
        move |c, scope| {
            let before = webhooks::get(c, &scope.tenant, &target)?;
            let after = webhooks::update(c, &scope.tenant, &target, changes, &now())?;
            Ok(Done::new((), Some(before), Some(after)))
        },
    )
    .await
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
    endpoint_page(&req, &state, &session, id, Some(rotated), None).await
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
            Ok(Done::new((), None, Some(audited_delivery(&delivery))))
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
            let after = audited_delivery(&delivery);
            Ok(Done::new(delivery, None, Some(after)))
        },
    )
    .await?;
    webhooks::WAKE.notify_one();
    let endpoint = ui::text(&delivery["endpoint_id"]);
    Ok(ui::see_other(&session, &format!("webhooks/{endpoint}")))
}
