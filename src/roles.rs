//! Group-to-role resolution (research/roles-admin-sso.md §6.2–§6.3), as pure functions:
//! recompute from the inputs every time, never patch the previous answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// How a user's candidate roles become effective roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every role mapped from any of the user's groups (M3).
    Union,
    /// Only the candidate role with the lowest priority number (M4).
    HighestPriority,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Union => "union",
            Mode::HighestPriority => "highest_priority",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "union" => Some(Mode::Union),
            "highest_priority" => Some(Mode::HighestPriority),
            _ => None,
        }
    }
}

/// A tenant's resolution settings, with every role's priority.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub mode: Mode,
    pub default_role: Option<String>,
    pub allow_manual_grants: bool,
    /// Role id → priority (lower wins).
    pub priorities: HashMap<String, i64>,
}

/// Why a user holds a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Group {
        group_id: String,
        mapping_id: String,
    },
    Default,
    Manual {
        granted_by: String,
    },
}

impl Source {
    /// The stored `(source, source_ref)` pair.
    pub fn key(&self) -> (&'static str, &str) {
        match self {
            Source::Group { group_id, .. } => ("group", group_id),
            Source::Default => ("default", ""),
            Source::Manual { granted_by } => ("manual", granted_by),
        }
    }
}

/// One role held for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant {
    pub role_id: String,
    pub source: Source,
}

impl Grant {
    pub fn from_group(role_id: &str, group_id: &str, mapping_id: &str) -> Self {
        Grant {
            role_id: role_id.to_owned(),
            source: Source::Group {
                group_id: group_id.to_owned(),
                mapping_id: mapping_id.to_owned(),
            },
        }
    }
}

/// What resolution needs to know about one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub active: bool,
    /// Roles from active mappings of the user's groups.
    pub mapped: Vec<Grant>,
    /// Grants an admin added by hand; they count only while the tenant allows them.
    pub manual: Vec<Grant>,
}

/// The effective grants: none for an inactive user (M6), otherwise [`computed`].
pub fn resolve(policy: &Policy, subject: &Subject) -> Vec<Grant> {
    if subject.active {
        computed(policy, subject)
    } else {
        Vec::new()
    }
}

/// The grants a user would hold if active: what an inactive user's roles are
/// "suspended" at, for display.
pub fn computed(policy: &Policy, subject: &Subject) -> Vec<Grant> {
    let mut candidates: Vec<Grant> = subject
        .mapped
        .iter()
        .filter(|g| matches!(g.source, Source::Group { .. }))
        .cloned()
        .collect();
    if policy.allow_manual_grants {
        candidates.extend(subject.manual.iter().cloned());
    }
    // A role that no longer exists grants nothing.
    candidates.retain(|g| policy.priorities.contains_key(&g.role_id));
    if policy.mode == Mode::HighestPriority {
        let best = candidates
            .iter()
            .map(|g| (policy.priorities[&g.role_id], g.role_id.clone()))
            .min();
        if let Some((_, best)) = best {
            candidates.retain(|g| g.role_id == best);
        }
    }
    if candidates.is_empty() {
        if let Some(default) = &policy.default_role {
            if policy.priorities.contains_key(default) {
                candidates.push(Grant {
                    role_id: default.clone(),
                    source: Source::Default,
                });
            }
        }
    }
    candidates.sort();
    candidates.dedup();
    candidates
}

/// The distinct roles among `grants`, sorted.
pub fn roles_of(grants: &[Grant]) -> BTreeSet<String> {
    grants.iter().map(|g| g.role_id.clone()).collect()
}

/// A change of a user's role set; reasons alone changing is not one (M11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
}

impl RoleChange {
    pub fn between(before: &[Grant], after: &[Grant]) -> Option<Self> {
        let (before, after) = (roles_of(before), roles_of(after));
        (before != after).then_some(RoleChange { before, after })
    }

    pub fn added(&self) -> impl Iterator<Item = &String> {
        self.after.difference(&self.before)
    }

    pub fn removed(&self) -> impl Iterator<Item = &String> {
        self.before.difference(&self.after)
    }
}

/// How many names a preview lists per role and direction.
pub const SAMPLE_SIZE: usize = 100;

/// What a change-set does to one role: users who gain it and users who lose it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleImpact {
    pub added: u64,
    pub removed: u64,
    pub added_users: Vec<String>,
    pub removed_users: Vec<String>,
}

/// The impact of a change-set, per role id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    pub users_affected: u64,
    pub roles: BTreeMap<String, RoleImpact>,
}

impl Impact {
    /// Records one user's change; users are fed in a stable order (by id) so the
    /// samples are the same in a preview and in the apply that follows it.
    pub fn record(&mut self, user_name: &str, change: &RoleChange) {
        self.users_affected += 1;
        for role in change.added() {
            let entry = self.roles.entry(role.clone()).or_default();
            entry.added += 1;
            if entry.added_users.len() < SAMPLE_SIZE {
                entry.added_users.push(user_name.to_owned());
            }
        }
        for role in change.removed() {
            let entry = self.roles.entry(role.clone()).or_default();
            entry.removed += 1;
            if entry.removed_users.len() < SAMPLE_SIZE {
                entry.removed_users.push(user_name.to_owned());
            }
        }
    }

    /// Privileged roles that hold users now and would hold none afterwards (M15).
    pub fn locked_out<'a>(
        &self,
        holders: &HashMap<String, u64>,
        privileged: impl IntoIterator<Item = &'a String>,
    ) -> Vec<String> {
        privileged
            .into_iter()
            .filter(|role| {
                let now = holders.get(*role).copied().unwrap_or(0);
                let delta = self.roles.get(*role).cloned().unwrap_or_default();
                now > 0 && (now + delta.added).saturating_sub(delta.removed) == 0
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: Mode, default: Option<&str>, manual: bool) -> Policy {
        Policy {
            mode,
            default_role: default.map(str::to_owned),
            allow_manual_grants: manual,
            priorities: [("owner", 1), ("admin", 2), ("member", 3), ("viewer", 4)]
                .into_iter()
                .map(|(r, p)| (r.to_owned(), p))
                .collect(),
        }
    }

    fn group(role: &str, group: &str) -> Grant {
        Grant::from_group(role, group, &format!("m-{group}-{role}"))
    }

    fn manual(role: &str) -> Grant {
        Grant {
            role_id: role.to_owned(),
            source: Source::Manual {
                granted_by: "alice".into(),
            },
        }
    }

    fn subject(active: bool, mapped: Vec<Grant>, manual: Vec<Grant>) -> Subject {
        Subject {
            active,
            mapped,
            manual,
        }
    }

    fn roles(grants: &[Grant]) -> Vec<String> {
        roles_of(grants).into_iter().collect()
    }

    /// T1: §6.3 as a table, for both modes.
    #[test]
    fn resolution_follows_the_spec_table() {
        use Mode::*;
        let eng_admin = group("admin", "eng");
        let ops_member = group("member", "ops");
        let ops_admin = group("admin", "ops");
        let cases: Vec<(&str, Policy, Subject, Vec<&str>)> = vec![
            (
                "union of two groups",
                policy(Union, None, false),
                subject(true, vec![eng_admin.clone(), ops_member.clone()], vec![]),
                vec!["admin", "member"],
            ),
            (
                "highest priority of two groups",
                policy(HighestPriority, None, false),
                subject(true, vec![eng_admin.clone(), ops_member.clone()], vec![]),
                vec!["admin"],
            ),
            (
                "no groups and no default",
                policy(Union, None, false),
                subject(true, vec![], vec![]),
                vec![],
            ),
            (
                "no groups falls back to the default",
                policy(Union, Some("viewer"), false),
                subject(true, vec![], vec![]),
                vec!["viewer"],
            ),
            (
                "no groups, default, highest priority",
                policy(HighestPriority, Some("viewer"), false),
                subject(true, vec![], vec![]),
                vec!["viewer"],
            ),
            (
                "mapped roles replace the default",
                policy(Union, Some("viewer"), false),
                subject(true, vec![ops_member.clone()], vec![]),
                vec!["member"],
            ),
            (
                "inactive users hold nothing",
                policy(Union, Some("viewer"), false),
                subject(false, vec![eng_admin.clone()], vec![]),
                vec![],
            ),
            (
                "inactive, highest priority",
                policy(HighestPriority, Some("viewer"), true),
                subject(false, vec![eng_admin.clone()], vec![manual("owner")]),
                vec![],
            ),
            (
                "manual grants are ignored while off",
                policy(Union, None, false),
                subject(true, vec![ops_member.clone()], vec![manual("owner")]),
                vec!["member"],
            ),
            (
                "manual grants add in union mode",
                policy(Union, None, true),
                subject(true, vec![ops_member.clone()], vec![manual("owner")]),
                vec!["member", "owner"],
            ),
            (
                "manual grants compete in priority mode",
                policy(HighestPriority, None, true),
                subject(true, vec![ops_member.clone()], vec![manual("owner")]),
                vec!["owner"],
            ),
            (
                "a lower manual grant loses in priority mode",
                policy(HighestPriority, None, true),
                subject(true, vec![eng_admin.clone()], vec![manual("viewer")]),
                vec!["admin"],
            ),
            (
                "a manual grant replaces the default",
                policy(Union, Some("viewer"), true),
                subject(true, vec![], vec![manual("member")]),
                vec!["member"],
            ),
            (
                "a mapping to a deleted role grants nothing",
                policy(Union, Some("viewer"), false),
                subject(true, vec![group("ghost", "eng")], vec![]),
                vec!["viewer"],
            ),
            (
                "one role from two groups",
                policy(Union, None, false),
                subject(true, vec![eng_admin.clone(), ops_admin.clone()], vec![]),
                vec!["admin"],
            ),
        ];
        for (name, policy, subject, expected) in cases {
            assert_eq!(roles(&resolve(&policy, &subject)), expected, "{name}");
        }
    }

    #[test]
    fn a_role_from_two_groups_keeps_both_reasons() {
        let grants = resolve(
            &policy(Mode::HighestPriority, None, false),
            &subject(
                true,
                vec![
                    group("admin", "eng"),
                    group("admin", "ops"),
                    group("member", "x"),
                ],
                vec![],
            ),
        );
        assert_eq!(grants.len(), 2);
        assert!(grants.iter().all(|g| g.role_id == "admin"));
    }

    #[test]
    fn suspended_roles_are_what_an_inactive_user_would_hold() {
        let p = policy(Mode::Union, Some("viewer"), false);
        let s = subject(false, vec![group("admin", "eng")], vec![]);
        assert!(resolve(&p, &s).is_empty());
        assert_eq!(roles(&computed(&p, &s)), vec!["admin"]);
    }

    #[test]
    fn a_change_of_reasons_alone_is_not_a_role_change() {
        let before = vec![group("admin", "eng")];
        let after = vec![group("admin", "ops")];
        assert_eq!(RoleChange::between(&before, &after), None);
        let change = RoleChange::between(&before, &[group("member", "ops")]).unwrap();
        assert_eq!(change.added().collect::<Vec<_>>(), vec!["member"]);
        assert_eq!(change.removed().collect::<Vec<_>>(), vec!["admin"]);
    }

    #[test]
    fn impact_counts_every_user_and_samples_the_first_hundred() {
        let mut impact = Impact::default();
        let change = RoleChange {
            before: BTreeSet::new(),
            after: ["admin".to_owned()].into(),
        };
        for i in 0..150 {
            impact.record(&format!("u{i:03}"), &change);
        }
        let admin = &impact.roles["admin"];
        assert_eq!(
            (impact.users_affected, admin.added, admin.removed),
            (150, 150, 0)
        );
        assert_eq!(admin.added_users.len(), SAMPLE_SIZE);
        assert_eq!(admin.added_users[0], "u000");
    }

    /// T8: the lockout guard sees a privileged role emptied, and only that.
    #[test]
    fn the_lockout_guard_refuses_to_empty_a_privileged_role() {
        let mut impact = Impact::default();
        let lose_owner = RoleChange {
            before: ["owner".to_owned()].into(),
            after: BTreeSet::new(),
        };
        impact.record("a", &lose_owner);
        let owner = "owner".to_owned();
        let holders: HashMap<String, u64> = [("owner".to_owned(), 1)].into();
        assert_eq!(impact.locked_out(&holders, [&owner]), vec!["owner"]);
        let holders: HashMap<String, u64> = [("owner".to_owned(), 2)].into();
        assert!(impact.locked_out(&holders, [&owner]).is_empty());
        let empty: HashMap<String, u64> = HashMap::new();
        assert!(impact.locked_out(&empty, [&owner]).is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn grant_strategy() -> impl Strategy<Value = Grant> {
            (
                prop::sample::select(vec!["owner", "admin", "member", "viewer", "ghost"]),
                0..4u8,
            )
                .prop_map(|(role, g)| group(role, &format!("g{g}")))
        }

        proptest! {
            /// T2: resolving again from the same inputs changes nothing.
            #[test]
            fn resolution_is_deterministic_and_idempotent(
                mapped in prop::collection::vec(grant_strategy(), 0..6),
                manual_roles in prop::collection::vec(prop::sample::select(vec!["owner", "viewer"]), 0..2),
                active: bool,
                priority_mode: bool,
                allow_manual: bool,
                default in prop::option::of(prop::sample::select(vec!["viewer", "member"])),
            ) {
                let mode = if priority_mode { Mode::HighestPriority } else { Mode::Union };
                let p = policy(mode, default, allow_manual);
                let mut reversed = mapped.clone();
                reversed.reverse();
                let manual: Vec<Grant> = manual_roles.iter().map(|r| super::manual(r)).collect();
                let first = resolve(&p, &subject(active, mapped.clone(), manual.clone()));
                let second = resolve(&p, &subject(active, reversed, manual.clone()));
                prop_assert_eq!(&first, &second);
                prop_assert_eq!(RoleChange::between(&first, &second), None);
                if mode == Mode::HighestPriority {
                    prop_assert!(roles_of(&first).len() <= 1);
                }
                if !active {
                    prop_assert!(first.is_empty());
                }
            }
        }
    }
}
