//! Webhooks (spec §6.5 E3-E5): endpoints, the fan-out of committed events into
//! deliveries, and the deliveries as the API shows and redelivers them. The state
//! machine the worker drives is `delivery`'s; sending is `crate::webhooks::client`'s.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::events::{Actor, EventType, EVENT_TYPES};
use super::{invalid, new_id, stamp, ServiceError};
use crate::secrets::{KeyRing, SecretsError};
use crate::store::events::EventRow;
use crate::store::secrets::webhook_context;
use crate::store::webhooks::{self, AttemptRow, DeliveryRow, EndpointRow};
use crate::store::{write_transaction, DbConnection, StoreError, TenantId};
use crate::webhooks::guard::CheckedUrl;
use crate::webhooks::signature;

/// Woken when a commit enqueued deliveries, so the worker need not wait for its next
/// poll. Spurious wake-ups (another app in the process) only cost a query.
pub static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// How long a rotated-out secret keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// An endpoint is disabled only with at least this many failed deliveries (retries
/// exhausted) since its last success, besides failing for `webhook_disable_after_hours`.
pub const MIN_FAILED_DELIVERIES: i64 = 3;
/// The type of the event `POST /webhooks/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";

/// Where a delivery is: queued (and retried) until it succeeds or its retries run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Due at `next_attempt_at`, or being attempted.
    Pending,
    /// A 2xx arrived; it is not sent again.
    Succeeded,
    /// Retries ran out, or the endpoint answered 410 Gone; it can be redelivered.
    Dead,
}

impl DeliveryState {
    /// As stored in `webhook_deliveries.state`, and as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
        }
    }

    /// The stored text; only this module writes it, so anything else is not retried.
    fn stored(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "succeeded" => Self::Succeeded,
            _ => Self::Dead,
        }
    }
}

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        kind: "webhook endpoint",
    }
}

/// A new webhook endpoint, its URL checked by the guard.
#[derive(Debug)]
pub struct NewEndpoint {
    pub url: CheckedUrl,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// Changes to a webhook endpoint, a new URL checked by the guard; None leaves a field
/// as it is.
#[derive(Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<CheckedUrl>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Enabling clears the failure count, `failing_since` and the reason it was
    /// disabled.
    pub enabled: Option<bool>,
}

// The request bodies behind `NewEndpoint` and `EndpointChanges`, whose names they keep
// in the OpenAPI document: the URL is text until the API has the guard check it.

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewEndpoint)]
pub struct NewEndpointBody {
    /// https; must not resolve to a private, loopback, link-local or metadata address.
    #[schema(format = "uri")]
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to send; empty means all. A type roster does not send is refused
    /// (400, the detail lists the valid ones): see `EventType`.
    #[serde(default)]
    #[schema(value_type = Vec<EventType>)]
    pub event_types: Vec<String>,
    #[serde(default = "enabled_by_default")]
    #[schema(default = true)]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Changes to a webhook endpoint; an absent field stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EndpointChanges)]
pub struct EndpointChangesBody {
    /// https; checked as for a new endpoint.
    #[schema(format = "uri")]
    pub url: Option<String>,
    pub description: Option<String>,
    /// Event types to send; empty means all. A type roster does not send is refused
    /// (400, the detail lists the valid ones): see `EventType`.
    #[schema(value_type = Option<Vec<EventType>>)]
    pub event_types: Option<Vec<String>>,
    /// Enabling clears the failure count and the reason it was disabled.
    pub enabled: Option<bool>,
}

/// The filter as stored: sorted, deduplicated, space-separated; empty means all. Only
/// types roster emits ([`EVENT_TYPES`]) are accepted: a misspelt type would otherwise
/// subscribe to nothing, silently.
fn event_filter(types: &[String]) -> Result<String, ServiceError> {
    let mut types: Vec<&str> = types.iter().map(|t| t.trim()).collect();
    if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(t)) {
        // Echoed only when it looks like a type name; anything else is not repeated.
        let named = if bad.len() <= 64
            && bad
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        {
            format!("'{bad}'")
        } else {
            "an event type filter entry".to_owned()
        };
        return Err(invalid(format!(
            "{named} is not an event type roster sends; valid types: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    types.sort_unstable();
    types.dedup();
    Ok(types.join(" "))
}

fn new_secret() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Store(StoreError::Unavailable(Box::new(e))))?;
    Ok(signature::secret_from_bytes(&bytes))
}

/// A webhook endpoint, without its secrets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    /// Where messages are POSTed (https).
    #[schema(format = "uri")]
    pub url: String,
    pub description: String,
    /// Event types sent; empty means all.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why roster or an administrator disabled it (410 Gone, failing too long).
    pub disabled_reason: Option<String>,
    /// Failed deliveries (retries exhausted) since the last success; a success resets it.
    pub consecutive_failures: i64,
    /// The first failed attempt since the last success; null while healthy. roster
    /// disables an endpoint failing longer than `webhook_disable_after_hours` with at
    /// least 3 failed deliveries.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    /// Until then the rotated-out secret signs too.
    #[schema(format = DateTime)]
    pub previous_secret_expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&EndpointRow> for EndpointView {
    fn from(e: &EndpointRow) -> Self {
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e
                .event_types
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            consecutive_failures: e.consecutive_failures,
            failing_since: e.failing_since.clone(),
            // The expiry of a secret that is no longer kept means nothing.
            previous_secret_expires_at: e
                .previous_secret
                .as_ref()
                .and(e.previous_secret_expires_at.clone()),
            created_at: e.created_at.clone(),
            updated_at: e.updated_at.clone(),
        }
    }
}

impl EndpointView {
    /// The subscription in words: "all events", or the types separated by commas.
    pub fn events_label(&self) -> String {
        if self.event_types.is_empty() {
            "all events".to_owned()
        } else {
            self.event_types.join(", ")
        }
    }
}

/// An endpoint with its new signing secret: the only response that ever shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// whsec_… signing secret; shown only in this response.
    pub secret: String,
}

/// Creates an endpoint; returns it and its secret, which is shown this once.
pub fn create(
    conn: &mut DbConnection,
    tenant: &TenantId,
    input: NewEndpoint,
    now: &str,
    keys: &KeyRing,
) -> Result<EndpointWithSecret, ServiceError> {
    let secret = new_secret()?;
    let id = new_id();
    let row = EndpointRow {
        secret: keys.seal(&secret, &webhook_context(&id)),
        id,
        tenant_id: tenant.0.clone(),
        url: input.url.to_string(),
        description: input.description,
        event_types: event_filter(&input.event_types)?,
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: input.enabled,
        disabled_reason: None,
        consecutive_failures: 0,
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        failing_since: None,
    };
    write_transaction(conn, |c| webhooks::insert_endpoint(c, &row))?;
    Ok(EndpointWithSecret {
        endpoint: EndpointView::from(&row),
        secret,
    })
}

pub fn list(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<EndpointView>, ServiceError> {
    Ok(webhooks::list_endpoints(conn, tenant)?
        .iter()
        .map(EndpointView::from)
        .collect())
}

pub fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
) -> Result<EndpointView, ServiceError> {
    let row = webhooks::find_endpoint(conn, tenant, id)?.ok_or_else(not_found)?;
    Ok(EndpointView::from(&row))
}

/// Applies changes. Enabling an endpoint clears its failure count and the reason it was
/// disabled.
pub fn update(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    changes: EndpointChanges,
    now: &str,
) -> Result<EndpointView, ServiceError> {
    write_transaction(conn, |c| {
        let mut row = webhooks::find_endpoint_for_update(c, tenant, id)?.ok_or_else(not_found)?;
        if let Some(url) = changes.url {
            row.url = url.to_string();
        }
        if let Some(description) = changes.description {
            row.description = description;
        }
        if let Some(types) = &changes.event_types {
            row.event_types = event_filter(types)?;
        }
        if let Some(enabled) = changes.enabled {
            if enabled && !row.enabled {
                row.consecutive_failures = 0;
                row.failing_since = None;
                row.disabled_reason = None;
            } else if !enabled && row.enabled {
                row.disabled_reason = Some("disabled by an administrator".into());
            }
            row.enabled = enabled;
        }
        row.updated_at = now.to_owned();
        webhooks::save_endpoint(c, &row)?;
        if row.enabled {
            WAKE.notify_one();
        }
        Ok(EndpointView::from(&row))
    })
}

pub fn delete(conn: &mut DbConnection, tenant: &TenantId, id: &str) -> Result<(), ServiceError> {
    if write_transaction(conn, |c| webhooks::delete_endpoint(c, tenant, id))? {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// A new secret, shown once; the old one keeps signing for [`ROTATION_OVERLAP`].
pub fn rotate_secret(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &str,
    now: SystemTime,
    keys: &KeyRing,
) -> Result<EndpointWithSecret, ServiceError> {
    let secret = new_secret()?;
    write_transaction(conn, |c| {
        let mut row = webhooks::find_endpoint_for_update(c, tenant, id)?.ok_or_else(not_found)?;
        // Both columns are sealed in the endpoint's context, so the old one moves as it is.
        let sealed = keys.seal(&secret, &webhook_context(&row.id));
        row.previous_secret = Some(std::mem::replace(&mut row.secret, sealed));
        row.previous_secret_expires_at = Some(stamp(now + ROTATION_OVERLAP));
        row.updated_at = stamp(now);
        webhooks::save_endpoint(c, &row)?;
        Ok(EndpointWithSecret {
            endpoint: EndpointView::from(&row),
            secret: secret.clone(),
        })
    })
}

/// The secrets that sign a message at `now`: the current one, and the previous one
/// while its overlap lasts.
pub fn signing_secrets(
    e: &EndpointRow,
    now: &str,
    keys: &KeyRing,
) -> Result<Vec<String>, SecretsError> {
    let context = webhook_context(&e.id);
    let mut secrets = vec![keys.open(&e.secret, &context)?];
    if let (Some(previous), Some(until)) = (&e.previous_secret, &e.previous_secret_expires_at) {
        if until.as_str() > now {
            secrets.push(keys.open(previous, &context)?);
        }
    }
    Ok(secrets)
}

fn delivery_row(tenant: &TenantId, endpoint: &str, event: (&str, &str), now: &str) -> DeliveryRow {
    DeliveryRow {
        id: format!("whd_{}", uuid::Uuid::new_v4().simple()),
        tenant_id: tenant.0.clone(),
        endpoint_id: endpoint.to_owned(),
        event_id: event.0.to_owned(),
        event_type: event.1.to_owned(),
        payload: None,
        state: DeliveryState::Pending.as_str().into(),
        attempts: 0,
        next_attempt_at: now.to_owned(),
        claimed_until: None,
        last_status: None,
        last_error: None,
        last_latency_ms: None,
        last_response: None,
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
    }
}

/// Queues the events for the tenant's enabled endpoints whose filter matches, in the
/// transaction that writes the events: a delivery exists exactly when its event does.
pub fn fan_out(
    conn: &mut DbConnection,
    tenant: &TenantId,
    events: &[EventRow],
) -> Result<(), ServiceError> {
    let endpoints = webhooks::enabled_filters(conn, tenant)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = super::now();
    let rows: Vec<DeliveryRow> = events
        .iter()
        .flat_map(|event| {
            endpoints
                .iter()
                .filter(|(_, filter)| {
                    filter.is_empty() || filter.split(' ').any(|t| t == event.event_type)
                })
                .map(|(endpoint, _)| {
                    delivery_row(tenant, endpoint, (&event.id, &event.event_type), &now)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if !rows.is_empty() {
        webhooks::insert_deliveries(conn, &rows)?;
        WAKE.notify_one();
    }
    Ok(())
}

/// Queues a `webhook.test` message for one endpoint. It is not a tenant event (it has
/// no sequence and is not in the feed): the delivery row carries its body.
pub fn send_test(
    conn: &mut DbConnection,
    tenant: &TenantId,
    actor: &Actor,
    id: &str,
    now: &str,
) -> Result<DeliveryView, ServiceError> {
    let row = write_transaction(conn, |c| {
        let endpoint = webhooks::find_endpoint(c, tenant, id)?.ok_or_else(not_found)?;
        if !endpoint.enabled {
            return Err(ServiceError::Conflict(
                "the endpoint is disabled; enable it first".into(),
            ));
        }
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let mut row = delivery_row(tenant, &endpoint.id, (&event_id, TEST_EVENT), now);
        row.payload = Some(
            json!({
                "id": event_id,
                "type": TEST_EVENT,
                "tenant_id": tenant.0,
                "sequence": null,
                "occurred_at": now,
                "actor": actor,
                "correlation_id": "",
                "data": {"endpoint_id": endpoint.id, "url": endpoint.url},
            })
            .to_string(),
        );
        webhooks::insert_deliveries(c, std::slice::from_ref(&row))?;
        Ok(row)
    })?;
    WAKE.notify_one();
    Ok(DeliveryView::new(&row, &[]))
}

/// One message to one endpoint, with its attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    /// Sent as webhook-id on every attempt.
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    /// Attempts since it was queued (or last redelivered).
    pub attempts: i64,
    /// When a pending delivery is tried next; null once it succeeded or died.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    /// The HTTP status of the last attempt, if a response arrived.
    pub last_status: Option<i64>,
    /// Why the last attempt had no acceptable response.
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    /// First 2 KB of the last response body.
    pub last_response: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Every attempt, oldest first (empty in the answer to a test or a redelivery).
    pub attempt_log: Vec<AttemptView>,
}

impl DeliveryView {
    fn new(d: &DeliveryRow, log: &[AttemptRow]) -> Self {
        let state = DeliveryState::stored(&d.state);
        Self {
            id: d.id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            state,
            attempts: d.attempts,
            next_attempt_at: (state == DeliveryState::Pending).then(|| d.next_attempt_at.clone()),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            last_latency_ms: d.last_latency_ms,
            last_response: d.last_response.clone(),
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
            attempt_log: log.iter().map(AttemptView::from).collect(),
        }
    }

    /// The last response body, unless there was none or it was empty.
    pub fn response(&self) -> Option<&str> {
        self.last_response.as_deref().filter(|r| !r.is_empty())
    }

    /// Succeeded deliveries are not sent again; [`redeliver`] refuses them.
    pub fn can_redeliver(&self) -> bool {
        self.state != DeliveryState::Succeeded
    }
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt; numbers run on across redeliveries.
    pub attempt: i64,
    #[schema(format = DateTime)]
    pub at: String,
    /// The HTTP status, if a response arrived.
    pub status: Option<i64>,
    /// Why there was no acceptable response (timeout, refused address, …).
    pub error: Option<String>,
    pub latency_ms: i64,
}

impl AttemptView {
    /// What the attempt came to in words: the status, the error, or both.
    pub fn outcome(&self) -> String {
        match (self.status, &self.error) {
            (Some(status), Some(error)) => format!("{status} ({error})"),
            (Some(status), None) => status.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => String::new(),
        }
    }
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        Self {
            attempt: a.attempt,
            at: a.at.clone(),
            status: a.status,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
        }
    }
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub data: Vec<DeliveryView>,
}

/// An endpoint's deliveries, newest first, each with its attempt log.
pub fn deliveries(
    conn: &mut DbConnection,
    tenant: &TenantId,
    endpoint: &str,
    limit: i64,
) -> Result<DeliveryPage, ServiceError> {
    crate::store::read_transaction(conn, |c| {
        webhooks::find_endpoint(c, tenant, endpoint)?.ok_or_else(not_found)?;
        let rows = webhooks::deliveries(c, tenant, endpoint, limit)?;
        let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
        let log = webhooks::attempts(c, tenant, &ids)?;
        let data = rows
            .iter()
            .map(|d| {
                let own: Vec<AttemptRow> = log
                    .iter()
                    .filter(|a| a.delivery_id == d.id)
                    .cloned()
                    .collect();
                DeliveryView::new(d, &own)
            })
            .collect();
        Ok(DeliveryPage { data })
    })
}

/// Puts a failed or dead-lettered delivery back in the queue, due now, with a fresh
/// retry schedule (its attempt log is kept).
pub fn redeliver(
    conn: &mut DbConnection,
    tenant: &TenantId,
    delivery_id: &str,
    now: &str,
) -> Result<DeliveryView, ServiceError> {
    let row = write_transaction(conn, |c| {
        let mut d =
            webhooks::find_delivery(c, tenant, delivery_id)?.ok_or(ServiceError::NotFound {
                kind: "webhook delivery",
            })?;
        if DeliveryState::stored(&d.state) == DeliveryState::Succeeded {
            return Err(ServiceError::Conflict(
                "the delivery succeeded; only failed or dead ones are redelivered".into(),
            ));
        }
        if d.claimed_until.as_deref().is_some_and(|u| u > now) {
            return Err(ServiceError::Conflict(
                "the delivery is being attempted right now".into(),
            ));
        }
        d.state = DeliveryState::Pending.as_str().into();
        d.attempts = 0;
        d.next_attempt_at = now.to_owned();
        d.claimed_until = None;
        d.updated_at = now.to_owned();
        webhooks::save_delivery(c, &d)?;
        Ok(d)
    })?;
    WAKE.notify_one();
    Ok(DeliveryView::new(&row, &[]))
}

/// Deletes events older than `cutoff` and succeeded deliveries last touched before it,
/// in batches, each its own transaction; returns how many of each.
pub fn prune_batch(
    conn: &mut DbConnection,
    cutoff: &str,
    batch: i64,
) -> Result<(usize, usize), ServiceError> {
    write_transaction(conn, |c| {
        let events = crate::store::events::prune(c, cutoff, batch)?;
        let deliveries = webhooks::prune_succeeded(c, cutoff, batch)?;
        Ok((events, deliveries))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's JSON, pinned: a renamed or re-nested field breaks receivers' code.
    #[test]
    fn views_serialize_as_the_api_has_always_answered() {
        let mut row = EndpointRow {
            id: "whe_1".into(),
            tenant_id: "t".into(),
            url: "https://example.com/hook".into(),
            description: "d".into(),
            event_types: "group.deleted user.created".into(),
            secret: "whsec_new".into(),
            previous_secret: None,
            previous_secret_expires_at: Some("2026-01-02T00:00:00Z".into()),
            enabled: false,
            disabled_reason: Some("410".into()),
            consecutive_failures: 3,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:01Z".into(),
            failing_since: Some("2026-01-01T00:00:02Z".into()),
        };
        let created = EndpointWithSecret {
            endpoint: EndpointView::from(&row),
            secret: row.secret.clone(),
        };
        assert_eq!(
            serde_json::to_value(&created).unwrap(),
            json!({
                "id": "whe_1", "url": "https://example.com/hook", "description": "d",
                "event_types": ["group.deleted", "user.created"], "enabled": false,
                "disabled_reason": "410", "consecutive_failures": 3,
                "failing_since": "2026-01-01T00:00:02Z",
                // No previous secret kept, so no expiry to speak of.
                "previous_secret_expires_at": null,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z",
                "secret": "whsec_new",
            })
        );
        row.previous_secret = Some("whsec_old".into());
        row.event_types = String::new();
        let view = serde_json::to_value(EndpointView::from(&row)).unwrap();
        assert_eq!(view["previous_secret_expires_at"], "2026-01-02T00:00:00Z");
        assert_eq!(view["event_types"], json!([]));

        let mut d = delivery_row(
            &TenantId("t".into()),
            "whe_1",
            ("evt_1", "user.created"),
            "now",
        );
        d.state = DeliveryState::Dead.as_str().into();
        d.attempts = 2;
        d.last_status = Some(500);
        let log = [AttemptRow {
            delivery_id: d.id.clone(),
            attempt: 1,
            at: "then".into(),
            status: None,
            error: Some("timeout".into()),
            latency_ms: 7,
            tenant_id: "t".into(),
        }];
        assert_eq!(
            serde_json::to_value(DeliveryView::new(&d, &log)).unwrap(),
            json!({
                "id": d.id, "endpoint_id": "whe_1", "event_id": "evt_1",
                "event_type": "user.created", "state": "dead", "attempts": 2,
                // Only a pending delivery has a next attempt.
                "next_attempt_at": null,
                "last_status": 500, "last_error": null, "last_latency_ms": null,
                "last_response": null, "created_at": "now", "updated_at": "now",
                "attempt_log": [
                    {"attempt": 1, "at": "then", "status": null, "error": "timeout", "latency_ms": 7},
                ],
            })
        );
    }

    #[test]
    fn event_filters_are_normalized_and_checked() {
        let types = vec!["user.created".to_owned(), " group.deleted ".to_owned()];
        assert_eq!(event_filter(&types).unwrap(), "group.deleted user.created");
        assert_eq!(event_filter(&[]).unwrap(), "");
        assert!(event_filter(&["User Created".to_owned()]).is_err());
        let unknown = event_filter(&["user.renamed".to_owned()]).unwrap_err();
        assert!(
            unknown.to_string().contains("user.roles_changed"),
            "{unknown}"
        );
        assert!(event_filter(&["webhook.test".to_owned()]).is_err());
    }
}
