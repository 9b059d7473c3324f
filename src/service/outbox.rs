//! The outbox: the events of a use case, collected while it runs and written at its
//! end in the same transaction (numbered, and fanned out to webhook deliveries), so an
//! event exists exactly when its change was committed.

// Not in events.rs: the write fans out through webhooks.rs, which uses events.rs, so it sits above both.

use serde_json::Value;

use super::events::{event_row, Actor, Draft, EVENT_TYPES};
use super::{Scope, ServiceError};
use crate::store::events;
use crate::store::{DbConnection, TenantId};

/// Every emitted type is listed in [`EVENT_TYPES`], which webhook filters are checked
/// against: a type missing there could never be subscribed to (tests run debug builds).
fn known(event_type: &str) {
    debug_assert!(
        EVENT_TYPES.contains(&event_type),
        "event type {event_type} is not in EVENT_TYPES"
    );
}

/// The events of one transaction, not yet numbered.
pub struct Outbox {
    tenant: TenantId,
    actor: Actor,
    correlation_id: String,
    now: String,
    drafts: Vec<Draft>,
}

impl Outbox {
    pub fn new(scope: &Scope, now: &str) -> Self {
        Self::for_tenant(&scope.tenant, &scope.actor, &scope.correlation_id, now)
    }

    pub fn for_tenant(tenant: &TenantId, actor: &Actor, correlation_id: &str, now: &str) -> Self {
        Outbox {
            tenant: tenant.clone(),
            actor: actor.clone(),
            correlation_id: correlation_id.to_owned(),
            now: now.to_owned(),
            drafts: Vec::new(),
        }
    }

    pub fn emit(&mut self, event_type: &'static str, data: Value) {
        known(event_type);
        self.drafts.push(Draft {
            event_type,
            data,
            previous: None,
        });
    }

    /// An update event with the previous values of what changed.
    pub fn emit_change(&mut self, event_type: &'static str, data: Value, previous: Value) {
        known(event_type);
        self.drafts.push(Draft {
            event_type,
            data,
            previous: Some(previous),
        });
    }

    /// How many events are waiting; a position for [`Outbox::emit_at`].
    pub fn len(&self) -> usize {
        self.drafts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.drafts.is_empty()
    }

    /// Emits an event before those emitted since `len()` returned `index`: a cause whose
    /// data is known only after its effects were computed still comes first.
    pub fn emit_at(&mut self, index: usize, event_type: &'static str, data: Value) {
        known(event_type);
        let index = index.min(self.drafts.len());
        self.drafts.insert(
            index,
            Draft {
                event_type,
                data,
                previous: None,
            },
        );
    }

    /// Numbers and writes the events. In a group commit they are written at the batch's
    /// end with the other writes' events (see [`write_outboxes`]): one sequence
    /// reservation per tenant, held only from there to the commit. Outside one (the
    /// CLI), at once; call it last in the transaction then, since the sequence it takes
    /// is held until commit.
    pub fn commit(self, conn: &mut DbConnection) -> Result<(), ServiceError> {
        if self.drafts.is_empty() {
            return Ok(());
        }
        super::guard::tally(self.drafts.iter().map(|d| (d.event_type, &d.data)));
        match crate::store::flush_before_commit("events", Box::new(self), write_outboxes) {
            Ok(()) => Ok(()),
            Err(item) => match item.downcast::<Outbox>() {
                Ok(outbox) => write(conn, vec![*outbox]),
                Err(_) => unreachable!("flush_before_commit hands back the outbox"),
            },
        }
    }
}

/// Writes the outboxes a batch's use cases left, in their order: per tenant, one
/// reservation of consecutive sequence numbers, one insert, one webhook fan-out.
fn write_outboxes(
    conn: &mut DbConnection,
    items: Vec<Box<dyn std::any::Any>>,
) -> Result<(), crate::store::StoreError> {
    let outboxes: Vec<Outbox> = items
        .into_iter()
        .filter_map(|item| item.downcast::<Outbox>().ok().map(|o| *o))
        .collect();
    write(conn, outboxes).map_err(|e| match e {
        ServiceError::Store(e) => e,
        other => crate::store::StoreError::Unavailable(other.to_string().into()),
    })
}

/// Numbers and writes outboxes, tenant by tenant in id order: each reservation locks
/// its tenant's sequence to the commit, and batches running side by side (see
/// `store::pipeline`) must take those locks in one order or deadlock.
fn write(conn: &mut DbConnection, outboxes: Vec<Outbox>) -> Result<(), ServiceError> {
    let mut tenants: Vec<(TenantId, Vec<Outbox>)> = Vec::new();
    for outbox in outboxes {
        match tenants.iter_mut().find(|(t, _)| *t == outbox.tenant) {
            Some((_, group)) => group.push(outbox),
            None => tenants.push((outbox.tenant.clone(), vec![outbox])),
        }
    }
    tenants.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
    for (tenant, group) in tenants {
        let count: usize = group.iter().map(|o| o.drafts.len()).sum();
        let mut sequence = events::reserve(conn, &tenant, count as i64)?;
        let mut rows = Vec::with_capacity(count);
        for outbox in group {
            for draft in outbox.drafts {
                rows.push(event_row(
                    &outbox.tenant,
                    &outbox.actor,
                    &outbox.correlation_id,
                    &outbox.now,
                    sequence,
                    draft,
                ));
                sequence += 1;
            }
        }
        events::insert(conn, &rows)?;
        super::webhooks::fan_out(conn, &tenant, &rows)?;
    }
    Ok(())
}
