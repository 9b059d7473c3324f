//! Group use cases. Membership lives in its own table and changes row by row.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::events;
use super::outbox::Outbox;
use super::roles::{self, Catalog};
use super::users::parse_attributes;
use super::{new_id, unique, ListPage, Plan, Rendered, Scope, ServiceError};
use crate::scim::etag::Preconditions;
use crate::scim::list::ListParams;
use crate::scim::patch::{self, MemberChange};
use crate::scim::resource::{self, fold, GroupColumns, MemberRef, MemberType, Meta};
use crate::scim::schema::ResourceKind;
use crate::scim::{limits, Invalid, ScimType};
use crate::store::groups::{self, GroupRow, MemberRow, Membership, NewMember};
use crate::store::roles::{self as role_store, Lock};
use crate::store::{read_transaction, users, write_transaction, DbConnection, TenantId};

const KIND: ResourceKind = ResourceKind::Group;
const NOT_FOUND: ServiceError = ServiceError::NotFound { kind: "Group" };

/// What a change to group `id` starts from, inside its transaction: the role catalog,
/// and the row, locked until the commit, once the request's preconditions hold.
fn locked(
    c: &mut DbConnection,
    scope: &Scope,
    id: &str,
    pre: &Preconditions,
) -> Result<(Catalog, GroupRow), ServiceError> {
    let catalog = Catalog::load(c, &scope.tenant, Lock::Share)?;
    let existing = groups::find_for_update(c, &scope.tenant, id)?.ok_or(NOT_FOUND)?;
    super::check_write(pre, existing.version)?;
    Ok((catalog, existing))
}

pub fn create(
    conn: &mut DbConnection,
    scope: &Scope,
    body: Value,
    now: &str,
) -> Result<Rendered, ServiceError> {
    let normalized = resource::normalize(KIND, body)?;
    let columns = resource::group_columns(&normalized.attributes)?;
    let row = to_row(
        scope,
        new_id(),
        columns,
        &normalized.attributes,
        1,
        now,
        now,
    );
    write_transaction(conn, |c| {
        groups::insert(c, &row).map_err(unique("displayName"))?;
        let mut added = Vec::new();
        if let Some(members) = &normalized.members {
            let typed = resolve_members(c, &scope.tenant, &row.id, members)?;
            added = groups::add_members(c, &scope.tenant, &row.id, &typed, now)?;
        }
        let mut outbox = Outbox::new(scope, now);
        outbox.emit("group.created", render_loaded(c, scope, &row, false)?.body);
        // A new group has no mappings (they are keyed on its id), so no roles change.
        emit_members(&mut outbox, &row, &added, &[]);
        outbox.commit(c)?;
        render_loaded(c, scope, &row, true)
    })
}

pub fn get(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    with_members: bool,
) -> Result<Rendered, ServiceError> {
    let row = groups::find(conn, &scope.tenant, id)?.ok_or(NOT_FOUND)?;
    render_loaded(conn, scope, &row, with_members)
}

/// PUT: replaces the attributes; a `members` array replaces the membership, while a
/// body without `members` leaves it alone (a rename must never wipe a group).
pub fn replace(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    body: Value,
    now: &str,
    pre: &Preconditions,
    with_members: bool,
) -> Result<Rendered, ServiceError> {
    let normalized = resource::normalize(KIND, body)?;
    let mut attributes = normalized.attributes;
    write_transaction(conn, |c| {
        let (catalog, existing) = locked(c, scope, id, pre)?;
        let old = parse_attributes(&existing.attributes)?;
        if !attributes.contains_key("externalId") {
            if let Some(value) = old.get("externalId") {
                attributes.insert("externalId".into(), value.clone());
            }
        }
        let mut changes = MemberChanges::default();
        if let Some(wanted) = &normalized.members {
            let current: HashSet<String> = groups::member_ids(c, &scope.tenant, id)?
                .into_iter()
                .collect();
            let wanted_set: HashSet<&String> = wanted.iter().map(|m| &m.id).collect();
            let gone: Vec<String> = current
                .iter()
                .filter(|m| !wanted_set.contains(m))
                .cloned()
                .collect();
            let new: Vec<MemberRef> = wanted
                .iter()
                .filter(|m| !current.contains(&m.id))
                .cloned()
                .collect();
            changes.removed = groups::remove_members(c, &scope.tenant, id, &gone)?;
            let typed = resolve_members(c, &scope.tenant, id, &new)?;
            changes.added = groups::add_members(c, &scope.tenant, id, &typed, now)?;
        }
        let row = save(c, scope, &catalog, existing, &old, attributes, changes, now)?;
        render_loaded(c, scope, &row, with_members)
    })
}

pub fn patch(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    body: Value,
    now: &str,
    pre: &Preconditions,
    with_members: bool,
) -> Result<Rendered, ServiceError> {
    let operations = patch::parse_request(body)?;
    write_transaction(conn, |c| {
        let (catalog, existing) = locked(c, scope, id, pre)?;
        let old = parse_attributes(&existing.attributes)?;
        let mut attributes = old.clone();
        let mut changes = MemberChanges::default();
        let member_changes = patch::apply(KIND, &mut attributes, &operations)?;
        limits::check_growth(&old, &attributes)?;
        for change in member_changes {
            match change {
                MemberChange::Add(refs) => {
                    let typed = resolve_members(c, &scope.tenant, id, &refs)?;
                    changes
                        .added
                        .extend(groups::add_members(c, &scope.tenant, id, &typed, now)?);
                }
                MemberChange::Remove(ids) => {
                    changes
                        .removed
                        .extend(groups::remove_members(c, &scope.tenant, id, &ids)?)
                }
                MemberChange::RemoveAll => {
                    changes
                        .removed
                        .extend(groups::remove_all_members(c, &scope.tenant, id)?)
                }
            };
        }
        let row = save(c, scope, &catalog, existing, &old, attributes, changes, now)?;
        render_loaded(c, scope, &row, with_members)
    })
}

/// The memberships one request added and removed, in order.
#[derive(Default)]
struct MemberChanges {
    added: Vec<Membership>,
    removed: Vec<Membership>,
}

/// Writes the group if anything changed, emits its events and recomputes the roles
/// of the users whose membership changed (M11: nothing changed, nothing emitted).
#[allow(clippy::too_many_arguments)]
fn save(
    conn: &mut DbConnection,
    scope: &Scope,
    catalog: &Catalog,
    existing: GroupRow,
    old: &Map<String, Value>,
    attributes: Map<String, Value>,
    changes: MemberChanges,
    now: &str,
) -> Result<GroupRow, ServiceError> {
    let attributes_changed = &attributes != old;
    if !attributes_changed && changes.added.is_empty() && changes.removed.is_empty() {
        return Ok(existing);
    }
    let columns = resource::group_columns(&attributes)?;
    let renamed = columns.display_name != existing.display_name;
    let row = to_row(
        scope,
        existing.id,
        columns,
        &attributes,
        existing.version + 1,
        &existing.created_at,
        now,
    );
    groups::update(conn, &row).map_err(unique("displayName"))?;
    let mut outbox = Outbox::new(scope, now);
    if attributes_changed {
        // M2: a rename changes what is shown, never what is granted.
        if renamed {
            role_store::rename_group(conn, &scope.tenant, &row.id, &row.display_name)?;
        }
        outbox.emit_change(
            "group.updated",
            render_loaded(conn, scope, &row, false)?.body,
            events::previous_attributes(old, &attributes),
        );
    }
    emit_members(&mut outbox, &row, &changes.added, &changes.removed);
    let users = user_ids(changes.added.iter().chain(&changes.removed))?;
    roles::members_changed(
        conn,
        &mut outbox,
        &scope.tenant,
        catalog,
        &row.id,
        users,
        now,
    )?;
    outbox.commit(conn)?;
    Ok(row)
}

fn emit_members(
    outbox: &mut Outbox,
    group: &GroupRow,
    added: &[Membership],
    removed: &[Membership],
) {
    let data = |m: &Membership| {
        json!({
            "group": {"id": group.id, "displayName": group.display_name},
            "member": {"id": m.member_id, "type": m.member_type},
        })
    };
    for m in added {
        outbox.emit("group.member_added", data(m));
    }
    for m in removed {
        outbox.emit("group.member_removed", data(m));
    }
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
        outbox.emit(
            "group.deleted",
            render_loaded(c, scope, &existing, false)?.body,
        );
        let members = groups::remove_all_members(c, &scope.tenant, id)?;
        groups::delete(c, &scope.tenant, id)?;
        let users = user_ids(&members)?;
        roles::group_deleted(c, &mut outbox, &scope.tenant, &catalog, id, users, &now)?;
        outbox.commit(c)?;
        Ok(())
    })
}

pub fn list(
    conn: &mut DbConnection,
    scope: &Scope,
    params: &ListParams,
    with_members: bool,
) -> Result<ListPage, ServiceError> {
    let filter = super::sql_filter(KIND, params, conn, scope)?;
    let plan = Plan::new(KIND, params, conn)?;
    let page = groups::list(
        conn,
        &scope.tenant,
        filter.as_ref(),
        plan.order(),
        plan.window(),
    )?;
    let (total, rows, cursors) = plan.finish(page, |r| &r.id);
    let mut resources = Vec::with_capacity(rows.len());
    for row in &rows {
        resources.push(render_loaded(conn, scope, row, with_members)?.body);
    }
    Ok(ListPage {
        total,
        resources,
        cursors,
    })
}

/// Checks that every member is a user or group of this tenant (ids of other tenants
/// are simply not found) and returns each with its type. A repeated id counts once.
fn resolve_members(
    conn: &mut DbConnection,
    tenant: &TenantId,
    group_id: &str,
    refs: &[MemberRef],
) -> Result<Vec<NewMember>, ServiceError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let mut unique: Vec<&MemberRef> = Vec::with_capacity(refs.len());
    let mut seen = HashSet::new();
    for member in refs {
        if seen.insert(member.id.as_str()) {
            unique.push(member);
        }
    }
    if seen.contains(group_id) {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "a group cannot be a member of itself",
        )
        .into());
    }
    let ids: Vec<String> = unique.iter().map(|m| m.id.clone()).collect();
    let user_ids: HashSet<String> = users::existing_ids(conn, tenant, &ids)?
        .into_iter()
        .collect();
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !user_ids.contains(*id))
        .cloned()
        .collect();
    let group_ids: HashSet<String> = groups::existing_ids(conn, tenant, &rest)?
        .into_iter()
        .collect();
    unique
        .into_iter()
        .map(|member| {
            let member_type = if user_ids.contains(&member.id) {
                MemberType::User
            } else if group_ids.contains(&member.id) {
                MemberType::Group
            } else {
                return Err(Invalid::new(
                    ScimType::InvalidValue,
                    format!(
                        "member '{}' is not a user or group of this tenant",
                        member.id
                    ),
                )
                .into());
            };
            Ok(NewMember {
                member_id: member.id.clone(),
                member_type: member_type.as_str(),
                display: member.display.clone(),
            })
        })
        .collect()
}

fn to_row(
    scope: &Scope,
    id: String,
    columns: GroupColumns,
    attributes: &Map<String, Value>,
    version: i64,
    created: &str,
    now: &str,
) -> GroupRow {
    GroupRow {
        tenant_id: scope.tenant.0.clone(),
        id,
        display_name_folded: fold(&columns.display_name),
        display_name: columns.display_name,
        external_id: columns.external_id,
        attributes: Value::Object(attributes.clone()).to_string(),
        version,
        created_at: created.to_owned(),
        updated_at: now.to_owned(),
        written_by: scope.actor.kind.source().to_owned(),
    }
}

fn render_loaded(
    conn: &mut DbConnection,
    scope: &Scope,
    row: &GroupRow,
    with_members: bool,
) -> Result<Rendered, ServiceError> {
    let members = if with_members {
        let rows = groups::members_of(conn, &scope.tenant, &row.id)?;
        Some(
            rows.iter()
                .map(|m| member_json(scope, m))
                .collect::<Result<_, _>>()?,
        )
    } else {
        None
    };
    let attributes = parse_attributes(&row.attributes)?;
    let meta = Meta {
        created: row.created_at.clone(),
        last_modified: row.updated_at.clone(),
        version: row.version,
    };
    let location = scope.location("Groups", &row.id);
    let body = resource::render(KIND, &row.id, &attributes, &meta, &location, members);
    Ok(Rendered {
        body,
        etag: meta.etag(),
        location,
    })
}

/// One element of `members`.
fn member_json(scope: &Scope, m: &MemberRow) -> Result<Value, ServiceError> {
    let member_type = stored_type(&m.member_type)?;
    let endpoint = match member_type {
        MemberType::User => "Users",
        MemberType::Group => "Groups",
    };
    Ok(resource::reference(
        &m.member_id,
        m.display.as_deref(),
        &scope.location(endpoint, &m.member_id),
        Some(member_type.as_str()),
    ))
}

/// A member type as stored; only `User` and `Group` are written, so anything else is a
/// damaged row.
fn stored_type(text: &str) -> Result<MemberType, ServiceError> {
    text.parse()
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)).into())
}

/// The ids of the members that are users: roles are granted to users only.
fn user_ids<'a>(
    members: impl IntoIterator<Item = &'a Membership>,
) -> Result<Vec<String>, ServiceError> {
    let mut users = Vec::new();
    for m in members {
        if stored_type(&m.member_type)? == MemberType::User {
            users.push(m.member_id.clone());
        }
    }
    Ok(users)
}

/// Members per streamed chunk.
const STREAM_PAGE: i64 = 1000;

/// Reads a group and writes it as JSON text in pieces, members a page at a time from
/// one snapshot, so a 100k-member group never sits in memory whole. `on_head` sees the
/// group without members first (for status and `ETag`) and may stop there by returning
/// false; `on_chunk` returning false means the client went away.
pub fn get_streaming(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    on_head: impl FnOnce(&Rendered) -> bool,
    mut on_chunk: impl FnMut(String) -> bool,
) -> Result<(), ServiceError> {
    read_transaction(conn, |c| {
        let row = groups::find(c, &scope.tenant, id)?.ok_or(NOT_FOUND)?;
        let head = render_loaded(c, scope, &row, false)?;
        if !on_head(&head) {
            return Ok(());
        }
        let text = head.body.to_string();
        // The rendered head is a JSON object: reopen it to append `members`.
        let open = text.strip_suffix('}').unwrap_or(&text);
        let mut after: Option<String> = None;
        let mut first = true;
        loop {
            let page =
                groups::members_page(c, &scope.tenant, id, after.as_deref(), Some(STREAM_PAGE))?;
            if page.is_empty() {
                break;
            }
            let mut chunk = if first {
                format!("{open},\"members\":[")
            } else {
                ",".to_owned()
            };
            first = false;
            let elements = page
                .iter()
                .map(|m| member_json(scope, m).map(|v| v.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            chunk.push_str(&elements.join(","));
            if !on_chunk(chunk) {
                return Ok(());
            }
            if (page.len() as i64) < STREAM_PAGE {
                break;
            }
            after = page.last().map(|m| m.member_id.clone());
        }
        on_chunk(if first { text.clone() } else { "]}".to_owned() });
        Ok(())
    })
}

/// Most groups a picker lists; beyond that a tenant is better served by search.
pub const PICKER_LIMIT: i64 = 5_000;

/// Groups as (id, display name), by name, for pickers (the mapping editor's draft).
pub fn names(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Vec<(String, String)>, ServiceError> {
    Ok(groups::names(conn, tenant, PICKER_LIMIT)?)
}
