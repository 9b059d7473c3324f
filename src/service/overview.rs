//! The admin overview (S2): connection health, counts and warnings for one tenant.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::directory::Names;
use super::stamp;
use super::ServiceError;
use crate::store::overview::{self, Counts};
use crate::store::sync_log::LogRow;
use crate::store::{DbConnection, TenantId};

/// A group the IdP has not written for this long is flagged stale (M13).
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
/// The window of "errors in the last 24 h".
pub const ERROR_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Break-glass logins this recent are shown as a warning (A10).
pub const BREAK_GLASS_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Overview {
    pub counts: Counts,
    pub last_request: Option<LogRow>,
}

pub fn overview(conn: &mut DbConnection, tenant: &TenantId) -> Result<Overview, ServiceError> {
    let now = SystemTime::now();
    let counts = overview::counts(
        conn,
        tenant,
        &stamp(now - STALE_AFTER),
        &stamp(now - ERROR_WINDOW),
        &stamp(now - BREAK_GLASS_WINDOW),
    )?;
    let last_request = overview::last_request(conn, tenant)?;
    Ok(Overview {
        counts,
        last_request,
    })
}

/// The stamp before which a group counts as stale.
pub fn stale_cutoff() -> String {
    stamp(SystemTime::now() - STALE_AFTER)
}

/// One SCIM request as the setup wizard's live indicator shows it (S3 step 4).
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    /// What the IdP did, in the admin's words ("created a user", "looked up a user by
    /// userName before creating it").
    pub action: String,
    /// The user's `userName` or the group's `displayName` (when it still exists), or the
    /// value a filtered look-up asked for.
    pub name: Option<String>,
    /// `users/{id}` or `groups/{id}` under the admin UI, when it still exists.
    pub link: Option<String>,
    /// Between the action and the name: ": ", or " " when the name ends the sentence
    /// ("added alice@example.com to Engineering").
    pub joiner: &'static str,
    /// Created or touched, then deleted again: JumpCloud's Activate leaves no trace
    /// but these rows (its test user and test group).
    pub test_artifact: bool,
}

/// When the tenant's newest SCIM request arrived, if it ever received one.
pub fn last_request_at(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<Option<String>, ServiceError> {
    Ok(overview::last_request(conn, tenant)?.map(|r| r.at))
}

/// The newest SCIM requests at or after `since`, newest first (at most `limit`).
pub fn arrivals(
    conn: &mut DbConnection,
    tenant: &TenantId,
    since: &str,
    limit: i64,
) -> Result<Vec<Arrival>, ServiceError> {
    let rows: Vec<LogRow> = crate::store::sync_log::page(
        conn,
        tenant,
        &crate::store::sync_log::Query {
            limit,
            ..Default::default()
        },
    )?
    .into_iter()
    .filter(|r| r.at.as_str() >= since)
    .collect();
    // Every id the rows name (resources, and members a PATCH adds or removes), looked
    // up at once.
    let mut ids: Vec<String> = rows.iter().filter_map(|r| r.resource_id.clone()).collect();
    let changes: Vec<MemberChanges> = rows.iter().map(MemberChanges::of).collect();
    for c in &changes {
        ids.extend(c.added.iter().chain(&c.removed).cloned());
    }
    let names = Names::load(conn, tenant, &ids, &ids)?;
    let mut out = Vec::new();
    for (row, changes) in rows.into_iter().zip(changes) {
        let kind = row.resource_type.as_deref();
        let id = row.resource_id.as_deref();
        let (name, link) = match (kind, id) {
            (Some("User"), Some(id)) => (names.users.get(id).cloned(), Some(format!("users/{id}"))),
            (Some("Group"), Some(id)) => {
                (names.groups.get(id).cloned(), Some(format!("groups/{id}")))
            }
            _ => (None, None),
        };
        let exists = name.is_some();
        let (action, asked) = describe(&row, &changes, &names);
        let joiner = if row.status < 400 && !changes.is_empty() {
            " "
        } else {
            ": "
        };
        out.push(Arrival {
            action,
            joiner,
            test_artifact: id.is_some() && !exists,
            link: link.filter(|_| exists),
            name: name.or(asked),
            at: row.at,
            method: row.method,
            path: row.path,
            status: row.status,
        });
    }
    Ok(out)
}

/// The members a group PATCH added and removed, as its (logged) body says.
#[derive(Debug, Default, PartialEq)]
struct MemberChanges {
    added: Vec<String>,
    removed: Vec<String>,
}

impl MemberChanges {
    fn of(row: &LogRow) -> Self {
        let mut changes = MemberChanges::default();
        if row.method != "PATCH" || row.resource_type.as_deref() != Some("Group") {
            return changes;
        }
        let Some(body) = row
            .request_body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
        else {
            return changes;
        };
        let ops = body
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
            .and_then(|(_, v)| v.as_array())
            .cloned()
            .unwrap_or_default();
        let values = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|m| m["value"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        for op in &ops {
            let verb = op["op"].as_str().unwrap_or("").to_ascii_lowercase();
            let path = op["path"].as_str().unwrap_or("");
            let lower = path.to_ascii_lowercase();
            match (verb.as_str(), lower.as_str()) {
                ("add", "members") => changes.added.extend(values(&op["value"])),
                // Without a path the value holds the attributes: `{"members": [...]}`.
                ("add", "") => changes.added.extend(values(&op["value"]["members"])),
                ("remove", "members") => changes.removed.extend(values(&op["value"])),
                // `members[value eq "…"]`, as Okta and JumpCloud remove one member.
                ("remove", p) if p.starts_with("members[") => {
                    if let Some(id) = path.split('"').nth(1) {
                        changes.removed.push(id.to_owned());
                    }
                }
                _ => {}
            }
        }
        changes
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The members of `ids` by name, the first three, then how many more.
fn listed(ids: &[String], names: &Names) -> String {
    let mut shown: Vec<String> = ids.iter().take(3).map(|id| names.member(id)).collect();
    if ids.len() > 3 {
        shown.push(format!("{} more", ids.len() - 3));
    }
    shown.join(", ")
}

/// The value a filter of the form `attribute eq "value"` asks for.
fn equality(filter: &str) -> Option<(String, String)> {
    let (attribute, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim_start().split_once(char::is_whitespace)?;
    let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    op.eq_ignore_ascii_case("eq")
        .then(|| (attribute.to_owned(), value.replace("\\\"", "\"")))
}

/// What a request did, in words, and the value a look-up asked for.
fn describe(row: &LogRow, changes: &MemberChanges, names: &Names) -> (String, Option<String>) {
    let kind = row.resource_type.as_deref();
    let has_id = row.resource_id.is_some();
    if row.status >= 400 {
        return ("failed".into(), None);
    }
    let query = row.path.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
    };
    let noun = match kind {
        Some("User") => "user",
        Some("Group") => "group",
        _ => "resource",
    };
    let said = |s: &str| (s.to_owned(), None);
    match (row.method.as_str(), kind, has_id) {
        ("GET", Some(_), false) => match param("filter") {
            // Before creating a user or group, an IdP asks whether it exists already.
            Some(filter) => match equality(&filter) {
                Some((attribute, value)) => (
                    format!("looked up a {noun} by {attribute} (does it exist before a create?)"),
                    Some(value),
                ),
                None => (format!("searched {noun}s: {filter}"), None),
            },
            // An unfiltered page, as JumpCloud's Test Connection reads (`count=1`).
            None if param("count").is_some() => said(&format!("listed {noun}s (Test Connection)")),
            None => said(&format!("listed {noun}s")),
        },
        ("GET", _, _) => said("read"),
        ("POST", Some(_), _) => said(&format!("created a {noun}")),
        ("PATCH", Some("Group"), _) if !changes.is_empty() => {
            let added = (!changes.added.is_empty())
                .then(|| format!("added {}", listed(&changes.added, names)));
            let removed = (!changes.removed.is_empty())
                .then(|| format!("removed {}", listed(&changes.removed, names)));
            let verbs: Vec<String> = added.into_iter().chain(removed).collect();
            let to = if changes.added.is_empty() {
                "from"
            } else {
                "to"
            };
            (format!("{} {to}", verbs.join(" and ")), None)
        }
        ("PUT" | "PATCH", Some(_), _) => said(&format!("updated a {noun}")),
        ("DELETE", Some(_), _) => said(&format!("deleted a {noun}")),
        _ => said("called"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, path: &str, kind: &str, id: Option<&str>, body: Option<&str>) -> LogRow {
        LogRow {
            tenant_id: "t".into(),
            id: "r".into(),
            at: "2026-12-07T00:00:00Z".into(),
            method: method.into(),
            path: path.into(),
            status: 200,
            latency_us: 1,
            result: "success".into(),
            detail: None,
            resource_type: Some(kind.into()),
            resource_id: id.map(str::to_owned),
            request_body: body.map(str::to_owned),
            response_body: None,
        }
    }

    fn words(r: &LogRow) -> (String, Option<String>) {
        let mut names = Names::default();
        names.users.insert("u1".into(), "alice@example.com".into());
        describe(r, &MemberChanges::of(r), &names)
    }

    #[test]
    fn a_filtered_lookup_is_an_existence_check_and_a_counted_list_a_test_connection() {
        let lookup = row(
            "GET",
            "/scim/v2/acme/Users?filter=userName%20eq%20%22jdoe%40acme.example%22",
            "User",
            None,
            None,
        );
        assert_eq!(
            words(&lookup),
            (
                "looked up a user by userName (does it exist before a create?)".into(),
                Some("jdoe@acme.example".into())
            )
        );
        let test = row(
            "GET",
            "/scim/v2/acme/Users?startIndex=1&count=1",
            "User",
            None,
            None,
        );
        assert_eq!(words(&test).0, "listed users (Test Connection)");
        let plain = row("GET", "/scim/v2/acme/Groups", "Group", None, None);
        assert_eq!(words(&plain).0, "listed groups");
    }

    #[test]
    fn member_patches_name_the_members() {
        let add = row(
            "PATCH",
            "/scim/v2/acme/Groups/g1",
            "Group",
            Some("g1"),
            Some(r#"{"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}"#),
        );
        assert_eq!(words(&add).0, "added alice@example.com to");
        let remove = row(
            "PATCH",
            "/scim/v2/acme/Groups/g1",
            "Group",
            Some("g1"),
            Some(r#"{"Operations":[{"op":"Remove","path":"members[value eq \"u9\"]"}]}"#),
        );
        assert_eq!(words(&remove).0, "removed u9 from");
        let rename = row(
            "PATCH",
            "/scim/v2/acme/Groups/g1",
            "Group",
            Some("g1"),
            Some(r#"{"Operations":[{"op":"replace","path":"displayName","value":"X"}]}"#),
        );
        assert_eq!(words(&rename).0, "updated a group");
    }
}
