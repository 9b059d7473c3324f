//! The admin's users and groups browsers (S5, S6): pages of rows with what the admin
//! reads next to them (roles, groups, member counts, mappings), and the detail views.

use std::collections::HashMap;

use serde_json::Value;

use super::{roles, users, Scope, ServiceError};
use crate::store::directory::{self, RoleFilter};
/// The browsers' filters, and where their counts stop.
pub use crate::store::directory::{GroupFilter, UserFilter, COUNT_CAP};
use crate::store::events::{self, EventRow};
use crate::store::groups::{GroupRow, MemberRow};
use crate::store::roles::{MappingRow, RoleRow};
use crate::store::users::{MembershipRef, UserRow};
use crate::store::{DbConnection, TenantId};

/// Rows a browser page shows.
pub const PAGE_SIZE: i64 = 50;
/// Members and timeline entries a detail page shows.
pub const DETAIL_ROWS: i64 = 100;

pub struct UserItem {
    pub row: UserRow,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// The keyset position of the next page, when there is one.
    pub next_after: Option<String>,
}

/// The role filter as the admin picks it: a role slug, or `none`.
pub fn role_filter(
    conn: &mut DbConnection,
    tenant: &TenantId,
    slug: Option<&str>,
) -> Result<Option<RoleFilter>, ServiceError> {
    Ok(match slug {
        None | Some("") => None,
        Some("none") => Some(RoleFilter::None),
        Some(slug) => {
            let roles = crate::store::roles::list_roles(conn, tenant)?;
            let id = roles
                .into_iter()
                .find(|r| r.slug == slug)
                .map(|r| r.id)
                .ok_or_else(roles::not_found_role)?;
            Some(RoleFilter::Holds(id))
        }
    })
}

pub fn browse_users(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &UserFilter,
    after: Option<&str>,
) -> Result<Listing<UserItem>, ServiceError> {
    let (rows, more, total) = directory::users_page(conn, tenant, filter, after, PAGE_SIZE)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let slugs: HashMap<String, String> = crate::store::roles::list_roles(conn, tenant)?
        .into_iter()
        .map(|r| (r.id, r.slug))
        .collect();
    let mut roles_of: HashMap<String, Vec<String>> = HashMap::new();
    for g in crate::store::roles::grants_of(conn, tenant, &ids)? {
        let held = roles_of.entry(g.user_id).or_default();
        let slug = slugs.get(&g.role_id).cloned().unwrap_or(g.role_id);
        if !held.contains(&slug) {
            held.push(slug);
        }
    }
    let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
    for m in crate::store::users::groups_of(conn, tenant, &ids)? {
        groups_of
            .entry(m.member_id)
            .or_default()
            .push(m.display_name);
    }
    let next_after = more
        .then(|| rows.last().map(|r| r.user_name_folded.clone()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|row| UserItem {
            email: primary_email(&row.attributes),
            roles: roles_of.remove(&row.id).unwrap_or_default(),
            groups: groups_of.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect();
    Ok(Listing {
        items,
        total,
        next_after,
    })
}

/// The primary email, else the first.
fn primary_email(attributes: &str) -> Option<String> {
    let v: Value = serde_json::from_str(attributes).ok()?;
    let emails = v.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e["primary"] == Value::Bool(true))
        .or_else(|| emails.first())
        .and_then(|e| e["value"].as_str())
        .map(str::to_owned)
}

/// The slugs of the tenant's roles, in priority order (the users browser's role filter).
pub fn role_slugs(conn: &mut DbConnection, tenant: &TenantId) -> Result<Vec<String>, ServiceError> {
    Ok(crate::store::roles::list_roles(conn, tenant)?
        .into_iter()
        .map(|r| r.slug)
        .collect())
}

/// Users' `userName`s and groups' `displayName`s by id: what the screens show in place
/// of an id. An id of a deleted resource has no name.
#[derive(Debug, Default)]
pub struct Names {
    pub users: HashMap<String, String>,
    pub groups: HashMap<String, String>,
}

impl Names {
    pub fn load(
        conn: &mut DbConnection,
        tenant: &TenantId,
        user_ids: &[String],
        group_ids: &[String],
    ) -> Result<Self, ServiceError> {
        Ok(Names {
            users: crate::store::users::names_of(conn, tenant, user_ids)?
                .into_iter()
                .collect(),
            groups: crate::store::groups::names_of(conn, tenant, group_ids)?
                .into_iter()
                .collect(),
        })
    }

    /// The user's name, else its id.
    pub fn user(&self, id: &str) -> String {
        self.users.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// A member's name (a member is a user or a nested group), else its id.
    pub fn member(&self, id: &str) -> String {
        self.users
            .get(id)
            .or_else(|| self.groups.get(id))
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }
}

/// One event of a user's or group's timeline, in words.
pub struct TimelineEntry {
    /// When it happened (RFC 3339).
    pub at: String,
    pub event_type: String,
    pub actor: String,
    pub summary: String,
}

impl TimelineEntry {
    /// The rows in words; the members of membership events are named by `userName`
    /// (or a nested group's `displayName`), looked up once for the page.
    fn load(
        conn: &mut DbConnection,
        tenant: &TenantId,
        rows: &[EventRow],
    ) -> Result<Vec<Self>, ServiceError> {
        let members: Vec<String> = rows
            .iter()
            .filter(|r| r.event_type.starts_with("group.member_"))
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter_map(|b| b["data"]["member"]["id"].as_str().map(str::to_owned))
            .collect();
        let names = Names::load(conn, tenant, &members, &members)?;
        let tokens = token_names(conn, tenant)?;
        Ok(Self::of(rows, &tokens, &names))
    }

    fn of(rows: &[EventRow], token_names: &HashMap<String, String>, names: &Names) -> Vec<Self> {
        rows.iter()
            .map(|row| {
                let body: Value = serde_json::from_str(&row.body).unwrap_or_default();
                let (kind, id) = (text(&body["actor"]["kind"]), text(&body["actor"]["id"]));
                let actor = match token_names.get(&id) {
                    Some(name) => format!("{kind} token {name}"),
                    None => format!("{kind} {id}"),
                };
                TimelineEntry {
                    at: row.occurred_at.clone(),
                    event_type: row.event_type.clone(),
                    actor: actor.trim().to_owned(),
                    summary: summary(&row.event_type, &body, names),
                }
            })
            .collect()
    }
}

/// What changed, in a line.
fn summary(event_type: &str, body: &Value, names: &Names) -> String {
    let data = &body["data"];
    let list = |v: &Value| -> String {
        v.as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    match event_type {
        "user.roles_changed" => {
            let (added, removed) = (list(&data["added"]), list(&data["removed"]));
            match (added.is_empty(), removed.is_empty()) {
                (false, false) => format!("+{added} −{removed}"),
                (false, true) => format!("+{added}"),
                (true, false) => format!("−{removed}"),
                (true, true) => String::new(),
            }
        }
        "group.member_added" => format!(
            "added {} to {}",
            names.member(&text(&data["member"]["id"])),
            text(&data["group"]["displayName"])
        ),
        "group.member_removed" => format!(
            "removed {} from {}",
            names.member(&text(&data["member"]["id"])),
            text(&data["group"]["displayName"])
        ),
        _ => match body["previous_attributes"].as_object() {
            Some(previous) if !previous.is_empty() => format!(
                "changed {}",
                previous.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            _ => String::new(),
        },
    }
}

/// A JSON string field, or "" (a timeline shows nothing for a missing value).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Token ids with their names: events name the SCIM token that acted by id.
pub fn token_names(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<HashMap<String, String>, ServiceError> {
    Ok(crate::store::tokens::list(conn, tenant)?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}

pub struct UserDetail {
    pub raw: Value,
    pub groups: Vec<MembershipRef>,
    /// Roles with reasons, and the suspended ones.
    pub effective: roles::EffectiveRoles,
    pub timeline: Vec<TimelineEntry>,
    /// Created by a sign-in through roster (just-in-time), not pushed by SCIM.
    pub jit: bool,
}

pub fn user_detail(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
) -> Result<UserDetail, ServiceError> {
    let raw = users::get(conn, scope, id, true)?.body;
    let groups = crate::store::users::groups_of(conn, &scope.tenant, &[id.to_owned()])?;
    let effective = roles::effective(conn, &scope.tenant, id)?;
    let timeline = events::of_subject(conn, &scope.tenant, id, DETAIL_ROWS)?;
    Ok(UserDetail {
        raw,
        groups,
        effective,
        timeline: TimelineEntry::load(conn, &scope.tenant, &timeline)?,
        jit: crate::store::oauth::is_jit(conn, &scope.tenant, id)?,
    })
}

pub struct GroupItem {
    pub row: GroupRow,
    pub members: i64,
    pub roles: Vec<String>,
    /// A mapping of a deleted group with this group's name was orphaned (M8): the IdP
    /// likely deleted and re-created the group, which then needs mapping again.
    pub orphaned: bool,
}

pub fn browse_groups(
    conn: &mut DbConnection,
    tenant: &TenantId,
    filter: &GroupFilter,
    after: Option<&str>,
) -> Result<Listing<GroupItem>, ServiceError> {
    let (rows, more) = directory::groups_page(conn, tenant, filter, after, PAGE_SIZE)?;
    let total = directory::groups_count(conn, tenant, filter)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts: HashMap<String, i64> = directory::member_counts(conn, tenant, &ids)?
        .into_iter()
        .collect();
    let (roles, mappings) = catalog(conn, tenant)?;
    let next_after = more
        .then(|| rows.last().map(|r| r.display_name_folded.clone()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|row| {
            let mine: Vec<&MappingRow> = mappings.iter().filter(|m| m.group_id == row.id).collect();
            GroupItem {
                members: counts.get(&row.id).copied().unwrap_or(0),
                roles: mine
                    .iter()
                    .filter(|m| m.state == "active")
                    .map(|m| slug_of(&roles, &m.role_id))
                    .collect(),
                orphaned: orphaned_by_name(&mappings, &row),
                row,
            }
        })
        .collect();
    Ok(Listing {
        items,
        total,
        next_after,
    })
}

/// Whether an orphaned mapping was made for a group of this name (names compare folded).
fn orphaned_by_name(mappings: &[MappingRow], group: &GroupRow) -> bool {
    mappings.iter().any(|m| {
        m.state == "orphaned"
            && (m.group_id == group.id
                || crate::scim::resource::fold(&m.group_display_name) == group.display_name_folded)
    })
}

fn catalog(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<(Vec<RoleRow>, Vec<MappingRow>), ServiceError> {
    Ok((
        crate::store::roles::list_roles(conn, tenant)?,
        crate::store::roles::list_mappings(conn, tenant)?,
    ))
}

fn slug_of(roles: &[RoleRow], id: &str) -> String {
    roles
        .iter()
        .find(|r| r.id == id)
        .map_or_else(|| id.to_owned(), |r| r.slug.clone())
}

pub struct GroupDetail {
    pub row: GroupRow,
    /// The group as SCIM serves it, without members (those are paged below).
    pub raw: Value,
    pub members: Vec<MemberRow>,
    pub member_count: i64,
    /// (role slug, mapping state, mapping id).
    pub mappings: Vec<(String, String, String)>,
    pub timeline: Vec<TimelineEntry>,
}

pub fn group_detail(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
) -> Result<GroupDetail, ServiceError> {
    let tenant = &scope.tenant;
    let row = crate::store::groups::find(conn, tenant, id)?
        .ok_or(ServiceError::NotFound { kind: "Group" })?;
    let raw = super::groups::get(conn, scope, id, false)?.body;
    let members = crate::store::groups::members_page(conn, tenant, id, None, Some(DETAIL_ROWS))?;
    let member_count = directory::member_counts(conn, tenant, &[id.to_owned()])?
        .first()
        .map_or(0, |(_, n)| *n);
    let (roles, mappings) = catalog(conn, tenant)?;
    let mappings = mappings
        .into_iter()
        .filter(|m| m.group_id == id)
        .map(|m| (slug_of(&roles, &m.role_id), m.state, m.id))
        .collect();
    // The group's own events and its members' arrivals and departures.
    let timeline = events::of_subject(conn, tenant, id, DETAIL_ROWS)?;
    Ok(GroupDetail {
        row,
        raw,
        members,
        member_count,
        mappings,
        timeline: TimelineEntry::load(conn, tenant, &timeline)?,
    })
}
