//! Events (spec §6.5): who causes them, the envelope they are stored and sent as, and
//! the ordered feed. They are collected and written by `outbox`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ServiceError;
use crate::store::events::{self, EventRow};
use crate::store::{DbConnection, TenantId};

/// Who caused a change. The id comes first so the fields serialize in sorted order,
/// as the stored envelopes have them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    /// The SCIM token's id, the admin's `sub` or API key id, `cli`, or `roster`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ActorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An identity provider, through a SCIM token (the id is the token's).
    Scim,
    /// An administrator or application, through an API key or the CLI.
    Admin,
    /// roster itself (background recompute).
    System,
    /// A user's first sign-in through the tenant's identity provider, which created
    /// the user (just-in-time provisioning); the id is the provider's issuer and subject.
    Jit,
    /// A directory pull from the tenant's directory API (the id is `jumpcloud`), under
    /// a sync run (the event's correlation id).
    Directory,
}

impl ActorKind {
    /// The source a resource records as its last writer.
    pub fn source(self) -> &'static str {
        match self {
            ActorKind::Scim => "scim",
            ActorKind::Admin => "api",
            ActorKind::System => "system",
            ActorKind::Jit => "jit",
            ActorKind::Directory => "directory",
        }
    }
}

impl Actor {
    /// The command line, run by whoever operates roster.
    pub fn cli() -> Self {
        Actor {
            kind: ActorKind::Admin,
            id: "cli".into(),
        }
    }

    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: "roster".into(),
        }
    }
}

/// Every event type roster emits into a tenant's feed, in the README's order. A webhook
/// endpoint's filter may name only these (`webhook.test` is not a feed event: a test
/// message goes to its endpoint whatever the filter).
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
    "user.roles_changed",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
    "role.created",
    "role.updated",
    "role.deleted",
    "role_mapping.changed",
    "connection.activated",
    "connection.token_created",
    "connection.token_rotated",
    "connection.token_revoked",
    "webhook_endpoint.failing",
    "webhook_endpoint.disabled",
    "directory.deprovisioning_held",
    "directory.deprovisioning_released",
    "directory.deprovisioning_discarded",
];

/// An event type, for the OpenAPI document: a string, one of [`EVENT_TYPES`].
pub struct EventType;

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A type of event roster sends"))
            .enum_values(Some(EVENT_TYPES.iter().copied()))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

/// One event as a use case emitted it, before it is numbered.
pub(super) struct Draft {
    pub(super) event_type: &'static str,
    pub(super) data: Value,
    pub(super) previous: Option<Value>,
}

/// The stored row of an event: its envelope as text, with its sequence number.
pub(super) fn event_row(
    tenant: &TenantId,
    actor: &Actor,
    correlation_id: &str,
    now: &str,
    sequence: i64,
    draft: Draft,
) -> EventRow {
    // Time-ordered (UUIDv7): the unique index on event ids then grows at its end, where
    // random ids (v4) rewrote a page of it for nearly every event once the table was
    // large (a mapping applied to 100k users writes 100k events).
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    // The actor as a JSON value serializes with sorted keys, as every object here.
    let actor = serde_json::to_value(actor).unwrap_or(Value::Null);
    let body = Envelope {
        actor: &actor,
        correlation_id,
        data: &draft.data,
        id: &id,
        occurred_at: now,
        previous_attributes: draft.previous.as_ref(),
        sequence,
        tenant_id: &tenant.0,
        event_type: draft.event_type,
    };
    EventRow {
        subject_id: subject_of(draft.event_type, &draft.data),
        related_id: related_of(draft.event_type, &draft.data),
        tenant_id: tenant.0.clone(),
        sequence,
        body: serde_json::to_string(&body).unwrap_or_default(),
        id,
        event_type: draft.event_type.to_owned(),
        occurred_at: now.to_owned(),
    }
}

/// An event as the feed and webhooks send it. Serialized straight from here rather
/// than through a `Value` (a mapping applied to 100k users writes 100k of them); the
/// fields are in the order a `Value`'s sorted keys would have, so the text is the same.
#[derive(Serialize)]
struct Envelope<'a> {
    actor: &'a Value,
    correlation_id: &'a str,
    data: &'a Value,
    id: &'a str,
    occurred_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attributes: Option<&'a Value>,
    sequence: i64,
    tenant_id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
}

/// The user or group an event is about: membership and role changes belong to the
/// user's timeline, other user and group events to their resource's.
fn subject_of(event_type: &str, data: &Value) -> Option<String> {
    let id = match event_type {
        "group.member_added" | "group.member_removed" => &data["member"]["id"],
        "user.roles_changed" => &data["user"]["id"],
        t if t.starts_with("user.") || t.starts_with("group.") => &data["id"],
        _ => return None,
    };
    id.as_str().map(str::to_owned)
}

/// The other resource an event is about: a membership event belongs to its group's
/// timeline too.
fn related_of(event_type: &str, data: &Value) -> Option<String> {
    match event_type {
        "group.member_added" | "group.member_removed" => {
            data["group"]["id"].as_str().map(str::to_owned)
        }
        _ => None,
    }
}

/// The previous values of the top-level attributes that differ between `old` and
/// `new` (`null` for ones that were absent).
pub fn previous_attributes(old: &Map<String, Value>, new: &Map<String, Value>) -> Value {
    let mut previous = Map::new();
    for (key, value) in old {
        if new.get(key) != Some(value) {
            previous.insert(key.clone(), value.clone());
        }
    }
    for key in new.keys() {
        if !old.contains_key(key) {
            previous.insert(key.clone(), Value::Null);
        }
    }
    Value::Object(previous)
}

/// An event as the feed gives it: the envelope webhooks sign, read back. The fields are
/// in [`Envelope`]'s order, so it serializes to the stored text.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub actor: Actor,
    /// The request that caused it (empty for the CLI and background work).
    pub correlation_id: String,
    /// The payload. Its shape depends on `type` (a user, a membership, a token…), so
    /// it stays untyped here.
    #[schema(value_type = Object)]
    pub data: Value,
    pub id: String,
    /// When the change was committed (RFC 3339, UTC).
    pub occurred_at: String,
    /// On updates: the previous values of the attributes that changed (`null` for
    /// ones that were absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub previous_attributes: Option<Value>,
    /// The tenant's event number: consecutive, without gaps.
    pub sequence: i64,
    pub tenant_id: String,
    /// E.g. `user.created`, `group.member_added`.
    #[serde(rename = "type")]
    pub event_type: String,
}

/// The ordered feed: up to `limit` events after `after`.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<Event>, ServiceError> {
    events::page(conn, tenant, after, limit, types)?
        .into_iter()
        .map(|row| {
            // Written by `event_row` from an `Envelope`: a body that does not read back
            // is a damaged row, not something to pass on as `null`.
            serde_json::from_str(&row.body)
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)).into())
        })
        .collect()
}

/// Whether events after `after` have been deleted past their retention, so that a feed
/// read from there would skip them. A consumer that has read everything (`after` is the
/// last sequence) is never behind, however old the events it read.
pub fn pruned_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: i64,
) -> Result<bool, ServiceError> {
    if after >= events::last_sequence(conn, tenant)? {
        return Ok(false);
    }
    // Sequences are gapless and only retention deletes events, oldest first: the
    // events after `after` are all there exactly when the oldest kept one follows it.
    Ok(match events::first_retained(conn, tenant)? {
        Some(first) => first > after + 1,
        None => true,
    })
}

/// The answer to a consumer whose place in the feed is no longer retained.
pub fn gone(after: i64) -> ServiceError {
    ServiceError::Gone(format!(
        "events after sequence {after} are no longer retained; bootstrap again from \
         GET /snapshot, then follow /events?after=<its sequence>"
    ))
}

/// The feed from `after`, read on one snapshot; 410 ([`gone`]) rather than a page that
/// silently skips pruned events.
pub fn read(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<Event>, ServiceError> {
    crate::store::read_transaction(conn, |c| {
        if pruned_after(c, tenant, after)? {
            return Err(gone(after));
        }
        page(c, tenant, after, limit, types)
    })
}

/// [`page`] as plain JSON values, for callers that only pass events on.
pub fn feed(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<Value>, ServiceError> {
    Ok(page(conn, tenant, after, limit, types)?
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_envelope_serializes_as_the_value_it_replaced() {
        let actor = Actor {
            kind: ActorKind::Scim,
            id: "tok_1".into(),
        };
        let data = json!({"user": {"id": "u1", "userName": "Ünï"}, "added": ["b", "a"]});
        for previous in [None, Some(json!({"displayName": null, "title": "x"}))] {
            let mut value = json!({
                "id": "evt_1",
                "type": "user.updated",
                "tenant_id": "t1",
                "sequence": 42,
                "occurred_at": "2026-01-01T00:00:00.000Z",
                "actor": actor,
                "correlation_id": "req-1",
                "data": data,
            });
            if let Some(previous) = &previous {
                value["previous_attributes"] = previous.clone();
            }
            let actor = serde_json::to_value(&actor).unwrap();
            let envelope = Envelope {
                actor: &actor,
                correlation_id: "req-1",
                data: &data,
                id: "evt_1",
                occurred_at: "2026-01-01T00:00:00.000Z",
                previous_attributes: previous.as_ref(),
                sequence: 42,
                tenant_id: "t1",
                event_type: "user.updated",
            };
            let text = serde_json::to_string(&envelope).unwrap();
            assert_eq!(text, value.to_string());
            let event: Event = serde_json::from_str(&text).unwrap();
            assert_eq!(
                serde_json::to_string(&event).unwrap(),
                text,
                "the feed's view"
            );
        }
    }

    #[test]
    fn previous_attributes_name_changed_added_and_removed_keys() {
        let old = json!({"displayName": "Eng", "externalId": "x", "gone": 1});
        let new = json!({"displayName": "Engineering", "externalId": "x", "added": true});
        let previous = previous_attributes(old.as_object().unwrap(), new.as_object().unwrap());
        assert_eq!(
            previous,
            json!({"displayName": "Eng", "gone": 1, "added": null})
        );
    }
}
