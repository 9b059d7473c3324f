//! S5 Users and S6 Groups: search, filters, keyset paging, and the detail pages (raw
//! SCIM JSON, groups or members, effective roles with reasons, a timeline).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome};
use crate::service::directory::{
    self, browse_groups, browse_users, group_detail, user_detail, GroupDetail, GroupFilter,
    GroupItem, Listing, TimelineEntry, UserFilter, UserItem, COUNT_CAP,
};

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    active: Option<String>,
    role: Option<String>,
    group: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    q: String,
    active: String,
    role: String,
    group: String,
    role_slugs: Vec<String>,
    listing: Listing<UserItem>,
    next: Option<String>,
    cap: i64,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `GET /admin/{tenant}/users?q=&active=&role=&group=&after=`.
pub async fn users(
    admin: Admin,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AdminError> {
    let q = query.into_inner();
    let (search, role, group, after) = (
        non_empty(&q.q),
        non_empty(&q.role),
        non_empty(&q.group),
        non_empty(&q.after),
    );
    let active = match q.active.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let (s, r, g, a) = (search.clone(), role.clone(), group.clone(), after.clone());
    let (listing, role_slugs) = admin
        .read(move |c, scope| {
            let filter = UserFilter {
                search: s,
                active,
                role: directory::role_filter(c, &scope.tenant, r.as_deref())?,
                group: g,
            };
            let listing = browse_users(c, &scope.tenant, &filter, a.as_deref())?;
            let slugs = directory::role_slugs(c, &scope.tenant)?;
            Ok((listing, slugs))
        })
        .await?;
    let chrome = admin.chrome("users");
    let keep = format!(
        "q={}&active={}&role={}&group={}",
        ui::encode(search.as_deref().unwrap_or("")),
        active.map_or("", |a| if a { "true" } else { "false" }),
        ui::encode(role.as_deref().unwrap_or("")),
        ui::encode(group.as_deref().unwrap_or("")),
    );
    let next = listing
        .next_after
        .as_ref()
        .map(|after| chrome.href(&format!("users?{keep}&after={}", ui::encode(after))));
    let page = UsersPage {
        chrome,
        q: search.unwrap_or_default(),
        active: q.active.unwrap_or_default(),
        role: role.unwrap_or_default(),
        group: group.unwrap_or_default(),
        role_slugs,
        listing,
        next,
        cap: COUNT_CAP,
    };
    html(StatusCode::OK, page.render()?)
}

/// A role held, with why.
#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    chrome: Chrome,
    id: String,
    user_name: String,
    display_name: String,
    active: bool,
    external_id: String,
    /// Each address with its type and whether it is the primary one.
    emails: Vec<EmailView>,
    title: String,
    department: String,
    created: String,
    updated: String,
    groups: Vec<(String, String)>,
    roles: Vec<crate::service::roles::HeldRole>,
    suspended: Vec<crate::service::roles::HeldRole>,
    mode: String,
    raw: String,
    timeline: Vec<TimelineEntry>,
    /// Created at a sign-in through roster (just-in-time provisioning).
    jit: bool,
}

/// One of a user's e-mail addresses.
struct EmailView {
    value: String,
    kind: String,
    primary: bool,
}

/// The enterprise extension's schema, whose `department` the user page shows.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn emails_of(raw: &Value) -> Vec<EmailView> {
    raw["emails"]
        .as_array()
        .map(|emails| {
            emails
                .iter()
                .map(|e| EmailView {
                    value: ui::text(&e["value"]),
                    kind: ui::text(&e["type"]),
                    primary: e["primary"] == Value::Bool(true),
                })
                .filter(|e| !e.value.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /admin/{tenant}/users/{id}`.
pub async fn user(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let d = admin
        .read(move |c, scope| user_detail(c, scope, &id))
        .await?;
    let raw = &d.raw;
    let page = UserPage {
        chrome: admin.chrome("users"),
        id: ui::text(&raw["id"]),
        user_name: ui::text(&raw["userName"]),
        display_name: ui::text(&raw["displayName"]),
        active: raw["active"] != Value::Bool(false),
        external_id: ui::text(&raw["externalId"]),
        emails: emails_of(raw),
        title: ui::text(&raw["title"]),
        department: ui::text(&raw[ENTERPRISE]["department"]),
        created: ui::when(&ui::text(&raw["meta"]["created"])),
        updated: ui::when(&ui::text(&raw["meta"]["lastModified"])),
        groups: d
            .groups
            .iter()
            .map(|g| (g.group_id.clone(), g.display_name.clone()))
            .collect(),
        roles: d.effective.roles,
        suspended: d.effective.suspended,
        mode: d.effective.mode,
        raw: ui::pretty(raw),
        timeline: d.timeline,
        jit: d.jit,
    };
    html(StatusCode::OK, page.render()?)
}

#[derive(Deserialize, Default)]
pub struct GroupsQuery {
    q: Option<String>,
    mapped: Option<String>,
    stale: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    chrome: Chrome,
    q: String,
    mapped: String,
    stale: bool,
    stale_cutoff: String,
    listing: Listing<GroupItem>,
    next: Option<String>,
    cap: i64,
}

/// `GET /admin/{tenant}/groups?q=&mapped=&stale=&after=`.
pub async fn groups(
    admin: Admin,
    query: web::Query<GroupsQuery>,
) -> Result<HttpResponse, AdminError> {
    let q = query.into_inner();
    let search = non_empty(&q.q);
    let mapped = match q.mapped.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let stale = q.stale.as_deref() == Some("1");
    let stale_cutoff = crate::service::overview::stale_cutoff();
    let filter = GroupFilter {
        search: search.clone(),
        mapped,
        stale_before: stale.then(|| stale_cutoff.clone()),
    };
    let after = non_empty(&q.after);
    let listing = admin
        .read(move |c, scope| browse_groups(c, &scope.tenant, &filter, after.as_deref()))
        .await?;
    let chrome = admin.chrome("groups");
    let keep = format!(
        "q={}&mapped={}&stale={}",
        ui::encode(search.as_deref().unwrap_or("")),
        q.mapped.as_deref().map(ui::encode).unwrap_or_default(),
        if stale { "1" } else { "" }
    );
    let next = listing
        .next_after
        .as_ref()
        .map(|after| chrome.href(&format!("groups?{keep}&after={}", ui::encode(after))));
    let page = GroupsPage {
        chrome,
        q: search.unwrap_or_default(),
        mapped: q.mapped.unwrap_or_default(),
        stale,
        stale_cutoff,
        listing,
        next,
        cap: COUNT_CAP,
    };
    html(StatusCode::OK, page.render()?)
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    chrome: Chrome,
    d: GroupDetail,
    created: String,
    updated: String,
    stale: bool,
    raw: String,
    timeline: Vec<TimelineEntry>,
}

/// `GET /admin/{tenant}/groups/{id}`.
pub async fn group(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner().1;
    let mut d = admin
        .read(move |c, scope| group_detail(c, scope, &id))
        .await?;
    let page = GroupPage {
        chrome: admin.chrome("groups"),
        created: ui::when(&d.row.created_at),
        updated: ui::when(&d.row.updated_at),
        stale: d.row.updated_at < crate::service::overview::stale_cutoff(),
        raw: ui::pretty(&d.raw),
        timeline: std::mem::take(&mut d.timeline),
        d,
    };
    html(StatusCode::OK, page.render()?)
}
