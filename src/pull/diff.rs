//! The diff of one pull: what would make roster's directory what JumpCloud says, as an
//! ordered list of changes, computed before anything is applied.
//!
//! Matching, strongest first: the link a previous run recorded, then `externalId`
//! (JumpCloud's SCIM push sends the object id there), then `userName` and the primary
//! e-mail (case-insensitive). Only resources that came from JumpCloud (linked, or
//! carrying a JumpCloud id as `externalId`) are ever deactivated or deleted for being
//! missing: users from another source (an admin, a just-in-time sign-in) are not
//! JumpCloud's to remove.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::jumpcloud::{canonical_user, digest, patch_operations, RemoteGroup, RemoteUser};
use crate::scim::resource::fold;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, PATCH_OP, USER_SCHEMA};

/// Members per membership change: one write each, bounded whatever the group's size.
pub const MEMBERS_PER_CHANGE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    User,
    Group,
    Membership,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Deactivate,
    Reactivate,
    Delete,
    Add,
    Remove,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Membership => "membership",
        }
    }
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Deactivate => "deactivate",
            Op::Reactivate => "reactivate",
            Op::Delete => "delete",
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

/// Which side changed since roster and JumpCloud last agreed on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Newer {
    Jumpcloud,
    Roster,
    Both,
    /// They never agreed while roster was watching (no earlier run saw this pair match).
    Unknown,
}

impl Newer {
    pub fn as_str(self) -> &'static str {
        match self {
            Newer::Jumpcloud => "jumpcloud",
            Newer::Roster => "roster",
            Newer::Both => "both",
            Newer::Unknown => "unknown",
        }
    }
}

/// One change of a diff. `remote_id` names the JumpCloud object (for a membership
/// change, the group); `resource_id` is roster's, unless the run creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub op: Op,
    pub remote_id: String,
    pub resource_id: Option<String>,
    pub label: String,
    /// What the change writes: a SCIM body (create), PATCH operations (update), or the
    /// members (`add`: JumpCloud user ids; `remove`: roster user ids).
    pub body: Value,
    pub newer: Option<Newer>,
}

/// A roster user, as the diff needs it.
#[derive(Debug, Clone)]
pub struct LocalUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    /// The managed attributes only.
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct LocalGroup {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// Roster user ids.
    pub members: BTreeSet<String>,
}

/// A link from an earlier run: the JumpCloud object's roster resource, and the digest
/// of what they both said when they last agreed (empty: never).
#[derive(Debug, Clone)]
pub struct Link {
    pub resource_id: String,
    pub digest: String,
}

#[derive(Debug, Clone, Default)]
pub struct Links {
    pub users: HashMap<String, Link>,
    pub groups: HashMap<String, Link>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Deactivate,
    Delete,
}

impl Missing {
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Deactivate => "deactivate",
            Missing::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "deactivate" => Some(Self::Deactivate),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// A user whose roles may change with the diff: what it will be afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// None: the run creates the user.
    pub local_id: Option<String>,
    pub label: String,
    /// None: the run deletes the user.
    pub active_after: Option<bool>,
    /// Its existing roster groups afterwards (a group the run creates has no mapping yet).
    pub groups_after: BTreeSet<String>,
}

/// A link to record now, because the two sides match (and, with a digest, agree).
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub kind: Kind,
    pub remote_id: String,
    pub resource_id: String,
    pub digest: String,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// JumpCloud users left out, with why (two sharing one userName).
    pub skipped: Vec<(String, String)>,
    pub agreements: Vec<Agreement>,
    pub subjects: Vec<Subject>,
}

pub struct Inputs<'a> {
    pub remote_users: &'a [RemoteUser],
    pub remote_groups: &'a [RemoteGroup],
    pub users: &'a [LocalUser],
    pub groups: &'a [LocalGroup],
    pub links: &'a Links,
    pub missing: Missing,
}

/// Whether `id` looks like a JumpCloud object id (24 hex digits): what its SCIM push
/// sends as `externalId`.
pub fn is_jumpcloud_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn newer(link: Option<&Link>, remote: &str, local: &str) -> Newer {
    match link.filter(|l| !l.digest.is_empty()) {
        None => Newer::Unknown,
        Some(l) if l.digest == remote => Newer::Roster,
        Some(l) if l.digest == local => Newer::Jumpcloud,
        Some(_) => Newer::Both,
    }
}

/// Computes the diff. Deterministic: the same inputs give the same changes in the same
/// order (users and groups in JumpCloud id order).
pub fn plan(input: &Inputs<'_>) -> Plan {
    let mut out = Plan::default();
    let local_users: HashMap<&str, &LocalUser> =
        input.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let by_external: HashMap<&str, &LocalUser> = input
        .users
        .iter()
        .filter_map(|u| Some((u.external_id.as_deref()?, u)))
        .collect();
    let by_name: HashMap<String, &LocalUser> = input
        .users
        .iter()
        .map(|u| (fold(&u.user_name), u))
        .collect();
    let by_email: HashMap<String, &LocalUser> = input
        .users
        .iter()
        .filter_map(|u| Some((fold(u.email.as_deref()?), u)))
        .collect();

    // Two JumpCloud users with one userName cannot both exist in roster: both are
    // left as they are, and the run says so.
    let mut name_count: HashMap<String, usize> = HashMap::new();
    for u in input.remote_users {
        *name_count.entry(fold(u.user_name())).or_default() += 1;
    }
    let mut remote_users: Vec<&RemoteUser> = input.remote_users.iter().collect();
    remote_users.sort_by(|a, b| a.id.cmp(&b.id));

    let mut claimed: HashSet<&str> = HashSet::new();
    // JumpCloud user id → roster user id, for every matched user.
    let mut user_ids: HashMap<&str, &str> = HashMap::new();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut deactivations = Vec::new();
    let mut deletes = Vec::new();
    // Roster id → active afterwards, for the users whose roles may change.
    let mut active_after: HashMap<String, Option<bool>> = HashMap::new();
    let mut created: HashSet<String> = HashSet::new();

    // Strong matches first, for everyone: a weak match (by name or e-mail) never takes
    // a user that another JumpCloud user is linked to.
    let mut strong: HashMap<&str, &LocalUser> = HashMap::new();
    for remote in &remote_users {
        let local = input
            .links
            .users
            .get(&remote.id)
            .and_then(|l| local_users.get(l.resource_id.as_str()))
            .or_else(|| by_external.get(remote.id.as_str()))
            .copied();
        if let Some(local) = local.filter(|l| claimed.insert(l.id.as_str())) {
            strong.insert(&remote.id, local);
        }
    }
    for remote in remote_users {
        let duplicate = name_count[&fold(remote.user_name())] > 1;
        let link = input.links.users.get(&remote.id);
        let is_strong = strong.contains_key(remote.id.as_str());
        let found = strong.get(remote.id.as_str()).copied().or_else(|| {
            if duplicate {
                return None;
            }
            by_name
                .get(&fold(remote.user_name()))
                .or_else(|| {
                    let email = remote.attributes.get("emails")?[0].get("value")?.as_str()?;
                    by_email.get(&fold(email))
                })
                .copied()
                .filter(|l| !claimed.contains(l.id.as_str()))
        });
        if duplicate {
            out.skipped.push((
                remote.id.clone(),
                format!("another JumpCloud user has userName {}", remote.user_name()),
            ));
        }
        let Some(local) = found else {
            if duplicate {
                continue;
            }
            let newer = link.map(|_| Newer::Roster).unwrap_or(Newer::Jumpcloud);
            let mut body = remote.attributes.clone();
            let mut schemas = vec![json!(USER_SCHEMA)];
            if body.contains_key(ENTERPRISE_USER_SCHEMA) {
                schemas.push(json!(ENTERPRISE_USER_SCHEMA));
            }
            body.insert("schemas".into(), Value::Array(schemas));
            created.insert(remote.id.clone());
            creates.push(Change {
                kind: Kind::User,
                op: Op::Create,
                remote_id: remote.id.clone(),
                resource_id: None,
                label: remote.user_name().to_owned(),
                body: Value::Object(body),
                newer: Some(newer),
            });
            continue;
        };
        claimed.insert(&local.id);
        user_ids.insert(&remote.id, &local.id);
        if duplicate {
            continue;
        }
        let remote_digest = digest(&canonical_user(&remote.attributes));
        let local_digest = digest(&canonical_user(&local.attributes));
        // A dry run links only strong matches; a weak one is linked when a change to it
        // is applied (an admin accepted that it is JumpCloud's).
        if remote_digest == local_digest {
            if is_strong
                && link.is_none_or(|l| l.digest != remote_digest || l.resource_id != local.id)
            {
                out.agreements.push(Agreement {
                    kind: Kind::User,
                    remote_id: remote.id.clone(),
                    resource_id: local.id.clone(),
                    digest: remote_digest,
                });
            }
            continue;
        }
        if is_strong && link.is_none_or(|l| l.resource_id != local.id) {
            // Matched for the first time: link it, agreement unknown.
            out.agreements.push(Agreement {
                kind: Kind::User,
                remote_id: remote.id.clone(),
                resource_id: local.id.clone(),
                digest: String::new(),
            });
        }
        let operations = patch_operations(&local.attributes, &remote.attributes);
        let op = match (local.active, remote.active()) {
            (true, false) => Op::Deactivate,
            (false, true) => Op::Reactivate,
            _ => Op::Update,
        };
        if op != Op::Update {
            active_after.insert(local.id.clone(), Some(remote.active()));
        }
        let change = Change {
            kind: Kind::User,
            op,
            remote_id: remote.id.clone(),
            resource_id: Some(local.id.clone()),
            label: remote.user_name().to_owned(),
            body: json!({"schemas": [PATCH_OP], "Operations": operations}),
            newer: Some(newer(link, &remote_digest, &local_digest)),
        };
        if op == Op::Deactivate {
            deactivations.push(change);
        } else {
            updates.push(change);
        }
    }

    // Users JumpCloud no longer has (or no longer in scope).
    let linked: HashMap<&str, &str> = input
        .links
        .users
        .iter()
        .map(|(remote, l)| (l.resource_id.as_str(), remote.as_str()))
        .collect();
    for local in input.users {
        if claimed.contains(local.id.as_str()) {
            continue;
        }
        let remote_id = linked
            .get(local.id.as_str())
            .copied()
            .or(local.external_id.as_deref().filter(|e| is_jumpcloud_id(e)));
        let Some(remote_id) = remote_id else { continue };
        let (op, body) = match input.missing {
            Missing::Deactivate if !local.active => continue,
            Missing::Deactivate => (
                Op::Deactivate,
                json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "active", "value": false}]}),
            ),
            Missing::Delete => (Op::Delete, json!({})),
        };
        active_after.insert(local.id.clone(), (op == Op::Deactivate).then_some(false));
        let change = Change {
            kind: Kind::User,
            op,
            remote_id: remote_id.to_owned(),
            resource_id: Some(local.id.clone()),
            label: local.user_name.clone(),
            body,
            newer: Some(Newer::Jumpcloud),
        };
        if op == Op::Delete {
            deletes.push(change);
        } else {
            deactivations.push(change);
        }
    }

    // Groups.
    let local_groups: HashMap<&str, &LocalGroup> =
        input.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let group_by_external: HashMap<&str, &LocalGroup> = input
        .groups
        .iter()
        .filter_map(|g| Some((g.external_id.as_deref()?, g)))
        .collect();
    let group_by_name: HashMap<String, &LocalGroup> =
        input.groups.iter().map(|g| (fold(&g.name), g)).collect();
    let local_to_remote: HashMap<&str, &str> = user_ids.iter().map(|(r, l)| (*l, *r)).collect();
    // roster users that are JumpCloud's though JumpCloud no longer lists them.
    let jumpcloud_users: HashSet<&str> = input
        .users
        .iter()
        .filter(|u| {
            linked.contains_key(u.id.as_str())
                || u.external_id.as_deref().is_some_and(is_jumpcloud_id)
        })
        .map(|u| u.id.as_str())
        .collect();
    let mut group_changes = Vec::new();
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    let mut group_deletes = Vec::new();
    let mut claimed_groups: HashSet<&str> = HashSet::new();
    // Roster user id → existing groups gained and lost.
    let mut joined: HashMap<String, BTreeSet<String>> = HashMap::new();
    // JumpCloud id of a user the run creates → existing groups it joins.
    let mut created_joins: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut left: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut remote_groups: Vec<&RemoteGroup> = input.remote_groups.iter().collect();
    remote_groups.sort_by(|a, b| a.id.cmp(&b.id));
    for remote in remote_groups {
        let link = input.links.groups.get(&remote.id);
        let local = link
            .and_then(|l| local_groups.get(l.resource_id.as_str()))
            .or_else(|| group_by_external.get(remote.id.as_str()))
            .or_else(|| group_by_name.get(&fold(&remote.name)))
            .copied()
            .filter(|g| !claimed_groups.contains(g.id.as_str()));
        let remote_digest = group_digest(&remote.name);
        let desired: BTreeSet<&str> = remote.members.iter().map(String::as_str).collect();
        let (to_add, to_remove): (Vec<String>, Vec<String>) = match local {
            None => {
                group_changes.push(Change {
                    kind: Kind::Group,
                    op: Op::Create,
                    remote_id: remote.id.clone(),
                    resource_id: None,
                    label: remote.name.clone(),
                    body: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                 "displayName": remote.name, "externalId": remote.id}),
                    newer: Some(link.map(|_| Newer::Roster).unwrap_or(Newer::Jumpcloud)),
                });
                let adds = desired
                    .iter()
                    .filter(|r| user_ids.contains_key(*r) || created.contains(**r))
                    .map(|r| r.to_string())
                    .collect();
                (adds, Vec::new())
            }
            Some(local) => {
                claimed_groups.insert(&local.id);
                let local_digest = group_digest(&local.name);
                let mut ops = Vec::new();
                if local.name != remote.name {
                    ops.push(json!({"op": "replace", "path": "displayName", "value": remote.name}));
                }
                if local.external_id.as_deref() != Some(remote.id.as_str()) {
                    ops.push(json!({"op": "replace", "path": "externalId", "value": remote.id}));
                }
                if ops.is_empty() {
                    if link.is_none_or(|l| l.digest != remote_digest || l.resource_id != local.id) {
                        out.agreements.push(Agreement {
                            kind: Kind::Group,
                            remote_id: remote.id.clone(),
                            resource_id: local.id.clone(),
                            digest: remote_digest.clone(),
                        });
                    }
                } else {
                    if link.is_none_or(|l| l.resource_id != local.id) {
                        out.agreements.push(Agreement {
                            kind: Kind::Group,
                            remote_id: remote.id.clone(),
                            resource_id: local.id.clone(),
                            digest: String::new(),
                        });
                    }
                    group_changes.push(Change {
                        kind: Kind::Group,
                        op: Op::Update,
                        remote_id: remote.id.clone(),
                        resource_id: Some(local.id.clone()),
                        label: remote.name.clone(),
                        body: json!({"schemas": [PATCH_OP], "Operations": ops}),
                        newer: Some(newer(link, &remote_digest, &local_digest)),
                    });
                }
                let adds: Vec<String> = desired
                    .iter()
                    .filter(|r| match user_ids.get(*r) {
                        Some(l) => !local.members.contains(*l),
                        None => created.contains(**r),
                    })
                    .map(|r| r.to_string())
                    .collect();
                let removes: Vec<String> = local
                    .members
                    .iter()
                    // Only JumpCloud's users leave: a member from another source (an
                    // admin, a sign-in) is not JumpCloud's to remove.
                    .filter(|l| match local_to_remote.get(l.as_str()) {
                        Some(r) => !desired.contains(r),
                        None => jumpcloud_users.contains(l.as_str()),
                    })
                    .cloned()
                    .collect();
                for r in &adds {
                    let entry = match user_ids.get(r.as_str()) {
                        Some(l) => joined.entry(l.to_string()),
                        None => created_joins.entry(r.clone()),
                    };
                    entry.or_default().insert(local.id.clone());
                }
                for l in &removes {
                    left.entry(l.clone()).or_default().insert(local.id.clone());
                }
                (adds, removes)
            }
        };
        let group_id = local.map(|g| g.id.clone());
        for (members, op, into) in [
            (to_add, Op::Add, &mut adds),
            (to_remove, Op::Remove, &mut removes),
        ] {
            for chunk in members.chunks(MEMBERS_PER_CHANGE) {
                into.push(Change {
                    kind: Kind::Membership,
                    op,
                    remote_id: remote.id.clone(),
                    resource_id: group_id.clone(),
                    label: format!("{} ({} members)", remote.name, chunk.len()),
                    body: json!({"members": chunk}),
                    newer: None,
                });
            }
        }
    }
    let linked_groups: HashMap<&str, &str> = input
        .links
        .groups
        .iter()
        .map(|(remote, l)| (l.resource_id.as_str(), remote.as_str()))
        .collect();
    for local in input.groups {
        if claimed_groups.contains(local.id.as_str()) {
            continue;
        }
        let remote_id = linked_groups
            .get(local.id.as_str())
            .copied()
            .or(local.external_id.as_deref().filter(|e| is_jumpcloud_id(e)));
        let Some(remote_id) = remote_id else { continue };
        for member in &local.members {
            left.entry(member.clone())
                .or_default()
                .insert(local.id.clone());
        }
        group_deletes.push(Change {
            kind: Kind::Group,
            op: Op::Delete,
            remote_id: remote_id.to_owned(),
            resource_id: Some(local.id.clone()),
            label: local.name.clone(),
            body: json!({}),
            newer: Some(Newer::Jumpcloud),
        });
    }

    // Whose roles may change: new users, users whose activity or groups change.
    let groups_of: HashMap<&str, BTreeSet<String>> = {
        let mut m: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for g in input.groups {
            for u in &g.members {
                m.entry(u.as_str()).or_default().insert(g.id.clone());
            }
        }
        m
    };
    let mut touched: BTreeSet<String> = active_after.keys().cloned().collect();
    touched.extend(joined.keys().cloned());
    touched.extend(left.keys().cloned());
    for id in touched {
        let Some(user) = local_users.get(id.as_str()) else {
            continue;
        };
        let mut groups = groups_of.get(id.as_str()).cloned().unwrap_or_default();
        groups.extend(joined.get(&id).into_iter().flatten().cloned());
        for g in left.get(&id).into_iter().flatten() {
            groups.remove(g);
        }
        out.subjects.push(Subject {
            local_id: Some(id.clone()),
            label: user.user_name.clone(),
            active_after: active_after.get(&id).copied().unwrap_or(Some(user.active)),
            groups_after: groups,
        });
    }
    for change in &creates {
        out.subjects.push(Subject {
            local_id: None,
            label: change.label.clone(),
            active_after: Some(
                change
                    .body
                    .get("active")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            ),
            groups_after: created_joins.remove(&change.remote_id).unwrap_or_default(),
        });
    }

    out.changes = group_changes
        .into_iter()
        .chain(creates)
        .chain(updates)
        .chain(adds)
        .chain(removes)
        .chain(deactivations)
        .chain(deletes)
        .chain(group_deletes)
        .collect();
    out
}

/// A group's comparable form is its name.
pub fn group_digest(name: &str) -> String {
    let mut m = Map::new();
    m.insert("displayName".into(), Value::String(name.to_owned()));
    digest(&m)
}

#[cfg(test)]
mod tests {
    use super::super::jumpcloud::{user, UserNameFrom};
    use super::*;

    fn remote(i: u32, active: bool) -> RemoteUser {
        let state = if active { "ACTIVATED" } else { "SUSPENDED" };
        user(
            &json!({"id": format!("{i:024x}"), "email": format!("u{i}@acme.test"),
                    "firstname": "U", "lastname": format!("{i}"), "state": state}),
            UserNameFrom::Email,
        )
        .unwrap()
    }

    fn local_of(r: &RemoteUser, id: &str) -> LocalUser {
        LocalUser {
            id: id.into(),
            user_name: r.user_name().into(),
            external_id: Some(r.id.clone()),
            email: Some(r.user_name().into()),
            active: r.active(),
            attributes: r.attributes.clone(),
        }
    }

    fn ops(plan: &Plan) -> Vec<(Kind, Op, String)> {
        plan.changes
            .iter()
            .map(|c| (c.kind, c.op, c.label.clone()))
            .collect()
    }

    #[test]
    fn a_first_pull_creates_groups_then_users_then_memberships() {
        let users = vec![remote(1, true), remote(2, false)];
        let groups = vec![RemoteGroup {
            id: format!("{:024x}", 100),
            name: "Eng".into(),
            members: vec![users[0].id.clone(), users[1].id.clone(), "unknown".into()],
        }];
        let plan = plan(&Inputs {
            remote_users: &users,
            remote_groups: &groups,
            users: &[],
            groups: &[],
            links: &Links::default(),
            missing: Missing::Deactivate,
        });
        assert_eq!(
            ops(&plan),
            vec![
                (Kind::Group, Op::Create, "Eng".into()),
                (Kind::User, Op::Create, "u1@acme.test".into()),
                (Kind::User, Op::Create, "u2@acme.test".into()),
                (Kind::Membership, Op::Add, "Eng (2 members)".into()),
            ]
        );
        assert_eq!(plan.changes[2].body["active"], json!(false));
        assert_eq!(plan.subjects.len(), 2);
    }

    #[test]
    fn an_unchanged_directory_is_no_change_and_links_what_matches() {
        let users = vec![remote(1, true)];
        let locals = vec![local_of(&users[0], "a")];
        let plan = plan(&Inputs {
            remote_users: &users,
            remote_groups: &[],
            users: &locals,
            groups: &[],
            links: &Links::default(),
            missing: Missing::Deactivate,
        });
        assert!(plan.changes.is_empty());
        assert_eq!(plan.agreements.len(), 1);
        assert_eq!(plan.agreements[0].resource_id, "a");
    }

    #[test]
    fn missing_users_from_jumpcloud_are_deactivated_and_others_are_left_alone() {
        let gone = remote(9, true);
        let mut jit = local_of(&remote(8, true), "jit");
        jit.external_id = None;
        let locals = vec![local_of(&gone, "gone"), jit];
        let plan = plan(&Inputs {
            remote_users: &[],
            remote_groups: &[],
            users: &locals,
            groups: &[],
            links: &Links::default(),
            missing: Missing::Deactivate,
        });
        assert_eq!(
            ops(&plan),
            vec![(Kind::User, Op::Deactivate, "u9@acme.test".into())]
        );
        assert_eq!(plan.subjects[0].active_after, Some(false));
    }

    #[test]
    fn drift_says_which_side_changed_since_they_last_agreed() {
        let before = remote(1, true);
        let agreed = digest(&canonical_user(&before.attributes));
        let mut links = Links::default();
        links.users.insert(
            before.id.clone(),
            Link {
                resource_id: "a".into(),
                digest: agreed.clone(),
            },
        );
        // JumpCloud changed the title; roster did not.
        let mut changed = before.clone();
        changed.attributes.insert("title".into(), json!("CTO"));
        let locals = [local_of(&before, "a")];
        let run = |remote: &RemoteUser, local: &LocalUser| {
            plan(&Inputs {
                remote_users: std::slice::from_ref(remote),
                remote_groups: &[],
                users: std::slice::from_ref(local),
                groups: &[],
                links: &links,
                missing: Missing::Deactivate,
            })
        };
        assert_eq!(
            run(&changed, &locals[0]).changes[0].newer,
            Some(Newer::Jumpcloud)
        );
        // roster changed (a push), JumpCloud did not.
        let mut pushed = locals[0].clone();
        pushed.attributes.insert("title".into(), json!("Intern"));
        assert_eq!(run(&before, &pushed).changes[0].newer, Some(Newer::Roster));
        assert_eq!(run(&changed, &pushed).changes[0].newer, Some(Newer::Both));
    }

    #[test]
    fn two_jumpcloud_users_with_one_user_name_are_skipped() {
        let a = remote(1, true);
        let mut b = remote(2, true);
        b.attributes
            .insert("userName".into(), json!("U1@acme.test"));
        let plan = plan(&Inputs {
            remote_users: &[a, b],
            remote_groups: &[],
            users: &[],
            groups: &[],
            links: &Links::default(),
            missing: Missing::Deactivate,
        });
        assert!(plan.changes.is_empty());
        assert_eq!(plan.skipped.len(), 2);
    }

    #[test]
    fn membership_changes_are_bounded_and_removals_name_roster_ids() {
        let users: Vec<RemoteUser> = (0..2500).map(|i| remote(i, true)).collect();
        let locals: Vec<LocalUser> = users
            .iter()
            .map(|u| local_of(u, &format!("l{}", u.id)))
            .collect();
        let gid = format!("{:024x}", 999_999);
        let group = LocalGroup {
            id: "g".into(),
            name: "Big".into(),
            external_id: Some(gid.clone()),
            members: locals[..10].iter().map(|l| l.id.clone()).collect(),
        };
        let remote_group = RemoteGroup {
            id: gid,
            name: "Big".into(),
            members: users[5..].iter().map(|u| u.id.clone()).collect(),
        };
        let plan = plan(&Inputs {
            remote_users: &users,
            remote_groups: &[remote_group],
            users: &locals,
            groups: &[group],
            links: &Links::default(),
            missing: Missing::Deactivate,
        });
        let sizes: Vec<(Op, usize)> = plan
            .changes
            .iter()
            .map(|c| (c.op, c.body["members"].as_array().unwrap().len()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (Op::Add, 1000),
                (Op::Add, 1000),
                (Op::Add, 490),
                (Op::Remove, 5)
            ]
        );
        assert!(plan.changes[3].body["members"][0]
            .as_str()
            .unwrap()
            .starts_with('l'));
    }
}
