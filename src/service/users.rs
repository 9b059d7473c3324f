//! User use cases.

use serde_json::{Map, Value};

use super::events;
use super::outbox::Outbox;
use super::roles::{self, Catalog};
use super::{new_id, unique, ListPage, Plan, Rendered, Scope, ServiceError};
use crate::scim::etag::Preconditions;
use crate::scim::list::ListParams;
use crate::scim::resource::{self, fold, Meta, UserColumns};
use crate::scim::schema::ResourceKind;
use crate::scim::{limits, patch, Invalid, ScimType};
use crate::store::roles::{Lock, SubjectRow};
use crate::store::users::{self, MembershipRef, UserRow};
use crate::store::{write_transaction, DbConnection};

const KIND: ResourceKind = ResourceKind::User;

pub fn create(
    conn: &mut DbConnection,
    scope: &Scope,
    body: Value,
    now: &str,
) -> Result<Rendered, ServiceError> {
    let attributes = resource::normalize(KIND, body)?.attributes;
    let columns = resource::user_columns(&attributes)?;
    let row = to_row(scope, new_id(), columns, &attributes, 1, now, now);
    write_transaction(conn, |c| {
        let catalog = Catalog::load(c, &scope.tenant, Lock::Share)?;
        users::insert(c, &row).map_err(unique("userName"))?;
        let rendered = render(scope, &row, Some(&[]));
        let mut outbox = Outbox::new(scope, now);
        outbox.emit("user.created", rendered.body.clone());
        roles::user_written(c, &mut outbox, &scope.tenant, &catalog, &row.id, now)?;
        outbox.commit(c)?;
        Ok(rendered)
    })
}

pub fn get(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    with_groups: bool,
) -> Result<Rendered, ServiceError> {
    let row = users::find(conn, &scope.tenant, id)?.ok_or(NOT_FOUND)?;
    let groups = if with_groups {
        Some(users::groups_of(
            conn,
            &scope.tenant,
            std::slice::from_ref(&row.id),
        )?)
    } else {
        None
    };
    Ok(render(scope, &row, groups.as_deref()))
}

/// PUT: replaces the attributes the client manages. Identity keys a client left out
/// (`externalId`, `emails`: JumpCloud's minimal PUT sends `"emails": null`) are kept.
pub fn replace(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    body: Value,
    now: &str,
    pre: &Preconditions,
) -> Result<Rendered, ServiceError> {
    let mut attributes = resource::normalize(KIND, body)?.attributes;
    write_transaction(conn, |c| {
        let (catalog, existing) = locked(c, scope, id, pre)?;
        let old = parse_attributes(&existing.attributes)?;
        for kept in ["externalId", "emails"] {
            if !attributes.contains_key(kept) {
                if let Some(value) = old.get(kept) {
                    attributes.insert(kept.to_owned(), value.clone());
                }
            }
        }
        save(c, scope, &catalog, existing, &old, attributes, now)
    })
}

pub fn patch(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    body: Value,
    now: &str,
    pre: &Preconditions,
) -> Result<Rendered, ServiceError> {
    let operations = patch::parse_request(body)?;
    write_transaction(conn, |c| {
        let (catalog, existing) = locked(c, scope, id, pre)?;
        let old = parse_attributes(&existing.attributes)?;
        let mut attributes = old.clone();
        patch::apply(KIND, &mut attributes, &operations)?;
        limits::check_growth(&old, &attributes)?;
        save(c, scope, &catalog, existing, &old, attributes, now)
    })
}

/// Writes `attributes` over `existing`, bumping the version, emitting one event and
/// recomputing roles only on an effective change (M11).
fn save(
    conn: &mut DbConnection,
    scope: &Scope,
    catalog: &Catalog,
    existing: UserRow,
    old: &Map<String, Value>,
    attributes: Map<String, Value>,
    now: &str,
) -> Result<Rendered, ServiceError> {
    if &attributes == old {
        let groups = users::groups_of(conn, &scope.tenant, std::slice::from_ref(&existing.id))?;
        return Ok(render(scope, &existing, Some(&groups)));
    }
    // The stored form follows the client (`active` added or dropped shows in the
    // response), but only an effective change is an event (M11).
    let effective = !same_resource(old, &attributes);
    let columns = resource::user_columns(&attributes)?;
    let was_active = existing.active;
    let row = to_row(
        scope,
        existing.id,
        columns,
        &attributes,
        existing.version + 1,
        &existing.created_at,
        now,
    );
    users::update(conn, &row).map_err(unique("userName"))?;
    let groups = users::groups_of(conn, &scope.tenant, std::slice::from_ref(&row.id))?;
    let rendered = render(scope, &row, Some(&groups));
    // One event per change: a flip of `active` names the change, whatever else moved.
    let event_type = match (was_active, row.active) {
        (true, false) => "user.deactivated",
        (false, true) => "user.reactivated",
        _ => "user.updated",
    };
    let mut outbox = Outbox::new(scope, now);
    if effective {
        outbox.emit_change(
            event_type,
            rendered.body.clone(),
            events::previous_attributes(old, &attributes),
        );
    }
    if was_active && !row.active {
        super::admin::end_sessions_of_user(conn, &row)?;
    }
    if was_active != row.active {
        roles::user_written(conn, &mut outbox, &scope.tenant, catalog, &row.id, now)?;
    }
    outbox.commit(conn)?;
    Ok(rendered)
}

pub fn delete(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    pre: &Preconditions,
) -> Result<(), ServiceError> {
    let now = super::now();
    write_transaction(conn, |c| {
        let (catalog, existing) = locked(c, scope, id, pre)?;
        let mut outbox = Outbox::new(scope, &now);
        // The last state is the tombstone consumers keep (M7).
        outbox.emit("user.deleted", render(scope, &existing, None).body);
        let subject = SubjectRow {
            id: existing.id.clone(),
            user_name: existing.user_name.clone(),
            active: existing.active,
        };
        roles::user_deleted(c, &mut outbox, &scope.tenant, &catalog, &subject)?;
        super::admin::end_sessions_of_user(c, &existing)?;
        users::delete(c, &scope.tenant, id)?;
        outbox.commit(c)?;
        Ok(())
    })
}

pub fn list(
    conn: &mut DbConnection,
    scope: &Scope,
    params: &ListParams,
    with_groups: bool,
) -> Result<ListPage, ServiceError> {
    let filter = super::sql_filter(KIND, params, conn, scope)?;
    let plan = Plan::new(KIND, params, conn)?;
    let page = users::list(
        conn,
        &scope.tenant,
        filter.as_ref(),
        plan.order(),
        plan.window(),
    )?;
    let (total, rows, cursors) = plan.finish(page, |r| &r.id);
    let groups = if with_groups && !rows.is_empty() {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        Some(users::groups_of(conn, &scope.tenant, &ids)?)
    } else {
        None
    };
    let resources = rows
        .iter()
        .map(|row| render(scope, row, groups.as_deref()).body)
        .collect();
    Ok(ListPage {
        total,
        resources,
        cursors,
    })
}

const NOT_FOUND: ServiceError = ServiceError::NotFound { kind: "User" };

/// What a change to user `id` starts from, inside its transaction: the role catalog,
/// and the row, locked until the commit, once the request's preconditions hold.
fn locked(
    c: &mut DbConnection,
    scope: &Scope,
    id: &str,
    pre: &Preconditions,
) -> Result<(Catalog, UserRow), ServiceError> {
    let catalog = Catalog::load(c, &scope.tenant, Lock::Share)?;
    let existing = users::find_for_update(c, &scope.tenant, id)?.ok_or(NOT_FOUND)?;
    super::check_write(pre, existing.version)?;
    Ok((catalog, existing))
}

fn to_row(
    scope: &Scope,
    id: String,
    columns: UserColumns,
    attributes: &Map<String, Value>,
    version: i64,
    created: &str,
    now: &str,
) -> UserRow {
    UserRow {
        tenant_id: scope.tenant.0.clone(),
        id,
        user_name_folded: fold(&columns.user_name),
        user_name: columns.user_name,
        external_id: columns.external_id,
        display_name: columns.display_name,
        active: columns.active,
        attributes: Value::Object(attributes.clone()).to_string(),
        version,
        created_at: created.to_owned(),
        updated_at: now.to_owned(),
        written_by: scope.actor.kind.source().to_owned(),
    }
}

/// Whether two attribute sets describe the same user: `active` absent means true, so
/// an IdP confirming `active: true` changes nothing (M11).
fn same_resource(old: &Map<String, Value>, new: &Map<String, Value>) -> bool {
    let with_default = |m: &Map<String, Value>| {
        let mut m = m.clone();
        m.entry("active").or_insert(Value::Bool(true));
        m
    };
    old == new || with_default(old) == with_default(new)
}

pub(super) fn parse_attributes(stored: &str) -> Result<Map<String, Value>, ServiceError> {
    match serde_json::from_str(stored) {
        Ok(Value::Object(map)) => Ok(map),
        // Only a damaged row gets here; say so rather than guess.
        _ => Err(ServiceError::Invalid(Invalid::new(
            ScimType::InvalidValue,
            "stored resource is not a JSON object",
        ))),
    }
}

/// Renders a row; `groups` (memberships of possibly many users) is filtered to this one.
fn render(scope: &Scope, row: &UserRow, groups: Option<&[MembershipRef]>) -> Rendered {
    let attributes = parse_attributes(&row.attributes).unwrap_or_default();
    let meta = Meta {
        created: row.created_at.clone(),
        last_modified: row.updated_at.clone(),
        version: row.version,
    };
    let location = scope.location("Users", &row.id);
    let linked = groups.map(|groups| {
        groups
            .iter()
            .filter(|m| m.member_id == row.id)
            .map(|m| {
                resource::reference(
                    &m.group_id,
                    Some(&m.display_name),
                    &scope.location("Groups", &m.group_id),
                    Some("direct"),
                )
            })
            .collect()
    });
    let body = resource::render(KIND, &row.id, &attributes, &meta, &location, linked);
    Rendered {
        body,
        etag: meta.etag(),
        location,
    }
}
