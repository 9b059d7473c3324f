//! S11 Webhooks: endpoints (create, enable or disable, rotate the secret, delete, send a
//! test event) and each endpoint's delivery log with redelivery. Every change is an
//! audited `ui::act`; a secret is shown once, in the response that made it.

use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome, Done};
use super::ui::{ConfirmForm, CsrfForm};
use crate::service::admin::AdminRole;
use crate::service::webhooks::{
    self, DeliveryState, DeliveryView, EndpointChanges, EndpointView, EndpointWithSecret,
    NewEndpoint,
};
use crate::service::{now, ServiceError};

/// Deliveries the endpoint page lists, newest first.
const DELIVERIES: i64 = 100;

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct ListPage {
    chrome: Chrome,
    endpoints: Vec<EndpointView>,
    /// A secret just made: the only time it is shown.
    created: Option<EndpointWithSecret>,
    /// What the new-endpoint form shows: empty, or a refused form and why.
    form: NewEndpointForm,
    refused: Option<String>,
}

/// A view as an audit row's before or after.
fn audited(view: &impl Serialize) -> Option<Value> {
    // Views are plain data: serializing them does not fail.
    serde_json::to_value(view).ok()
}

/// What the audit log keeps of a delivery: which one, not the receiver's response
/// (a third party's body, which may echo anything back).
#[derive(Serialize)]
struct AuditedDelivery<'a> {
    id: &'a str,
    endpoint_id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    state: DeliveryState,
}

impl<'a> From<&'a DeliveryView> for AuditedDelivery<'a> {
    fn from(d: &'a DeliveryView) -> Self {
        Self {
            id: &d.id,
            endpoint_id: &d.endpoint_id,
            event_id: &d.event_id,
            event_type: &d.event_type,
            state: d.state,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct EndpointPage {
    chrome: Chrome,
    e: EndpointView,
    /// `/admin/{tenant}/webhooks/{id}`, which the endpoint's forms post under.
    base: String,
    deliveries: Vec<DeliveryView>,
    /// The new secret after a rotation, shown this once.
    rotated: Option<EndpointWithSecret>,
    /// What the edit form shows: the endpoint, or a refused edit and why.
    edit: NewEndpointForm,
    refused: Option<String>,
}

/// A page's status, refusal and form: 400 with a refused form, or 200 with `blank`.
fn form_state(
    refused: Option<(String, NewEndpointForm)>,
    blank: impl FnOnce() -> NewEndpointForm,
) -> (StatusCode, Option<String>, NewEndpointForm) {
    match refused {
        Some((why, form)) => (StatusCode::BAD_REQUEST, Some(why), form),
        None => (StatusCode::OK, None, blank()),
    }
}

async fn list_page(
    admin: &Admin,
    created: Option<EndpointWithSecret>,
    refused: Option<(String, NewEndpointForm)>,
) -> Result<HttpResponse, AdminError> {
    let (status, refused, form) = form_state(refused, NewEndpointForm::default);
    let endpoints = admin
        .read(|c, scope| webhooks::list(c, &scope.tenant))
        .await?;
    let page = ListPage {
        chrome: admin.chrome("webhooks"),
        endpoints,
        created,
        form,
        refused,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/webhooks`.
pub async fn list(admin: Admin) -> Result<HttpResponse, AdminError> {
    list_page(&admin, None, None).await
}

async fn endpoint_page(
    admin: &Admin,
    id: String,
    rotated: Option<EndpointWithSecret>,
    refused: Option<(String, NewEndpointForm)>,
) -> Result<HttpResponse, AdminError> {
    let (e, deliveries) = admin
        .read(move |c, scope| {
            Ok((
                webhooks::get(c, &scope.tenant, &id)?,
                webhooks::deliveries(c, &scope.tenant, &id, DELIVERIES)?,
            ))
        })
        .await?;
    let chrome = admin.chrome("webhooks");
    let (status, refused, edit) = form_state(refused, || NewEndpointForm {
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.event_types.join(" "),
        ..NewEndpointForm::default()
    });
    let page = EndpointPage {
        base: chrome.href(&format!("webhooks/{}", e.id)),
        chrome,
        e,
        deliveries: deliveries.data,
        rotated,
        edit,
        refused,
    };
    html(status, page.render()?)
}

/// `GET /admin/{tenant}/webhooks/{id}`: the endpoint and its delivery log.
pub async fn show(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    endpoint_page(&admin, path.into_inner().1, None, None).await
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

/// A URL or event type the service refused, as the reason to show with the form
/// again (`Ok(Err(why))`); other errors stay errors.
fn refusal<T>(outcome: Result<T, AdminError>) -> Result<Result<T, String>, AdminError> {
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(AdminError::Service(ServiceError::Invalid(why))) => Ok(Err(why.detail.clone())),
        Err(other) => Err(other),
    }
}

/// `POST /admin/{tenant}/webhooks`: answers with the list and the new secret, once.
pub async fn create(
    admin: Admin,
    form: web::Form<NewEndpointForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    // Checked before the URL too: resolving it is work a forged form must not cause.
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    match refusal(create_endpoint(&admin, &form).await)? {
        Ok(created) => list_page(&admin, Some(created), None).await,
        // The form again, filled in, with the reason.
        Err(why) => list_page(&admin, None, Some((why, form))).await,
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
    admin: &Admin,
    form: &NewEndpointForm,
) -> Result<EndpointWithSecret, AdminError> {
    let input = NewEndpoint {
        url: admin
            .state
            .checked_webhook_url(form.url.trim().to_owned())
            .await?,
        description: form.description.trim().to_owned(),
        event_types: event_types(&form.event_types),
        enabled: true,
    };
    let keys = admin.state.secrets.clone();
    admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "webhook.created",
            move |c, scope| {
                let created = webhooks::create(c, &scope.tenant, input, &now(), &keys)?;
                // The audit row gets the endpoint, which carries no secret.
                let after = audited(&created.endpoint);
                Ok(Done::new(created, None, after))
            },
        )
        .await
}

/// `POST /admin/{tenant}/webhooks/{id}/edit`: URL, description and event types.
pub async fn edit(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<NewEndpointForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let form = form.into_inner();
    // As for a new endpoint: no DNS lookups for forged or unauthorized forms.
    admin.check_form(&form.csrf, AdminRole::Admin)?;
    match refusal(edit_endpoint(&admin, &id, &form).await)? {
        Ok(()) => Ok(admin.see_other(&format!("webhooks/{id}"))),
        Err(why) => endpoint_page(&admin, id, None, Some((why, form))).await,
    }
}

async fn edit_endpoint(admin: &Admin, id: &str, form: &NewEndpointForm) -> Result<(), AdminError> {
    let changes = EndpointChanges {
        url: Some(
            admin
                .state
                .checked_webhook_url(form.url.trim().to_owned())
                .await?,
        ),
        description: Some(form.description.trim().to_owned()),
        event_types: Some(event_types(&form.event_types)),
        enabled: None,
    };
    change(admin, &form.csrf, id, Some(changes)).await
}

/// Applies `changes` to an endpoint, or deletes it (None); the audit row has the
/// endpoint before and after.
async fn change(
    admin: &Admin,
    csrf: &str,
    id: &str,
    changes: Option<EndpointChanges>,
) -> Result<(), AdminError> {
    let action = if changes.is_some() {
        "webhook.updated"
    } else {
        "webhook.deleted"
    };
    let id = id.to_owned();
    admin
        .act(csrf, AdminRole::Admin, action, move |c, scope| {
            let tenant = &scope.tenant;
            let before = webhooks::get(c, tenant, &id)?;
            let after = match changes {
                Some(changes) => Some(webhooks::update(c, tenant, &id, changes, &now())?),
                None => {
                    webhooks::delete(c, tenant, &id)?;
                    None
                }
            };
            Ok(Done::new(
                (),
                audited(&before),
                after.as_ref().and_then(audited),
            ))
        })
        .await
}

async fn set_enabled(
    admin: &Admin,
    id: String,
    csrf: &str,
    enabled: bool,
) -> Result<HttpResponse, AdminError> {
    let changes = EndpointChanges {
        enabled: Some(enabled),
        ..EndpointChanges::default()
    };
    change(admin, csrf, &id, Some(changes)).await?;
    Ok(admin.see_other(&format!("webhooks/{id}")))
}

/// `POST /admin/{tenant}/webhooks/{id}/enable`: also clears the failure count.
pub async fn enable(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    set_enabled(&admin, path.into_inner().1, &form.csrf, true).await
}

/// `POST /admin/{tenant}/webhooks/{id}/disable`.
pub async fn disable(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    set_enabled(&admin, path.into_inner().1, &form.csrf, false).await
}

/// `GET /admin/{tenant}/webhooks/{id}/delete`: what deleting the endpoint ends, and
/// the form that does it.
pub async fn confirm_delete(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    admin.session.require(AdminRole::Admin)?;
    let id = path.into_inner().1;
    let e = admin
        .read(move |c, scope| webhooks::get(c, &scope.tenant, &id))
        .await?;
    ui::ConfirmPage {
        chrome: admin.chrome("webhooks"),
        heading: "Delete this webhook endpoint?".into(),
        facts: vec![
            ("URL", e.url.clone()),
            ("Description", e.description.clone()),
            ("Events", e.events_label()),
        ],
        consequences: vec![
            "roster stops sending events to this URL at once, and its delivery log is              deleted with it. This cannot be undone; to pause deliveries, disable the              endpoint instead."
                .into(),
        ],
        action: format!("webhooks/{}/delete", e.id),
        button: "Delete the endpoint",
        back: format!("webhooks/{}", e.id),
    }
    .respond()
}

/// `POST /admin/{tenant}/webhooks/{id}/delete`: the endpoint and its deliveries, with
/// `confirm=yes` as the confirmation page posts it; without, answered with that page.
pub async fn delete(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    if !form.confirmed() {
        admin.check_form(&form.csrf, AdminRole::Admin)?;
        return Ok(admin.see_other(&format!("webhooks/{id}/delete")));
    }
    change(&admin, &form.csrf, &id, None).await?;
    Ok(admin.see_other("webhooks"))
}

/// `POST /admin/{tenant}/webhooks/{id}/rotate-secret`: answers with the endpoint page
/// and the new secret, once; the old one keeps signing for a day.
pub async fn rotate_secret(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let target = id.clone();
    let keys = admin.state.secrets.clone();
    let rotated = admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "webhook.secret_rotated",
            move |c, scope| {
                let now = SystemTime::now();
                let rotated = webhooks::rotate_secret(c, &scope.tenant, &target, now, &keys)?;
                let after = audited(&rotated.endpoint);
                Ok(Done::new(rotated, None, after))
            },
        )
        .await?;
    endpoint_page(&admin, id, Some(rotated), None).await
}

/// `POST /admin/{tenant}/webhooks/{id}/test`: queues a `webhook.test` message.
pub async fn send_test(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let target = id.clone();
    admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "webhook.test_sent",
            move |c, scope| {
                let delivery =
                    webhooks::send_test(c, &scope.tenant, &scope.actor, &target, &now())?;
                Ok(Done::new(
                    (),
                    None,
                    audited(&AuditedDelivery::from(&delivery)),
                ))
            },
        )
        .await?;
    // The service woke the worker inside this (then uncommitted) transaction; wake it
    // again now that the delivery is visible, rather than wait for its next poll.
    webhooks::WAKE.notify_one();
    Ok(admin.see_other(&format!("webhooks/{id}")))
}

/// `POST /admin/{tenant}/webhooks/deliveries/{delivery_id}/redeliver`: back in the
/// queue, due now.
pub async fn redeliver(
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    let delivery_id = path.into_inner().1;
    let delivery = admin
        .act(
            &form.csrf,
            AdminRole::Admin,
            "webhook.redelivered",
            move |c, scope| {
                let delivery = webhooks::redeliver(c, &scope.tenant, &delivery_id, &now())?;
                let after = audited(&AuditedDelivery::from(&delivery));
                Ok(Done::new(delivery, None, after))
            },
        )
        .await?;
    webhooks::WAKE.notify_one();
    Ok(admin.see_other(&format!("webhooks/{}", delivery.endpoint_id)))
}
