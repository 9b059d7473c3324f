//! JumpCloud's directory objects as its API returns them (`shared/research/
//! jumpcloud-api-saml.md` §1.4–§1.5), and their SCIM form: the attributes a pull
//! manages, in the shape JumpCloud's own SCIM push sends (`jumpcloud.md` §3.1).
//!
//! Fields are read leniently: any may be absent, `null` or of an unexpected type, which
//! reads as absent. Only the id is required.

use serde_json::{json, Map, Value};

use crate::scim::schema::ENTERPRISE_USER_SCHEMA;

/// Which JumpCloud field becomes `userName`. JumpCloud's SCIM push sent the e-mail in
/// the captured create, so that is the default: a tenant with both agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserNameFrom {
    Email,
    Username,
}

impl UserNameFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(Self::Email),
            "username" => Some(Self::Username),
            _ => None,
        }
    }
}

/// A user as a pull sees it: its JumpCloud id and its SCIM attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteUser {
    pub id: String,
    pub attributes: Map<String, Value>,
}

impl RemoteUser {
    pub fn user_name(&self) -> &str {
        self.attributes
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn active(&self) -> bool {
        self.attributes
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }
}

/// A user group: its id, name and the JumpCloud ids of its user members.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteGroup {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// JumpCloud's built-in dynamic group of every user, suspended ones included: a role
/// mapped to it would go to everyone, so a pull leaves it out unless named in scope.
pub const ALL_USERS_GROUP: &str = "All Users";

fn text(object: &Value, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(object: &Value, key: &str) -> Option<bool> {
    object.get(key)?.as_bool()
}

/// The object's id: v1 users carry both `_id` and `id`, v2 objects `id`.
pub fn object_id(object: &Value) -> Option<String> {
    text(object, "id").or_else(|| text(object, "_id"))
}

/// Whether a JumpCloud user is active. `state` is the lifecycle (STAGED users have not
/// started, SUSPENDED ones are off); older payloads lack it, and then `suspended`
/// decides. An expired password is inactive, as JumpCloud's SCIM push has it
/// (`!suspended && !passwordExpired`), so pull and push agree. `activated` (a password
/// was set) and `account_locked` (failed logins) are not lifecycle and are ignored.
pub fn is_active(user: &Value) -> bool {
    let by_state = match user.get("state").and_then(Value::as_str) {
        Some(state) => state == "ACTIVATED",
        None => true,
    };
    by_state
        && flag(user, "suspended") != Some(true)
        && flag(user, "password_expired") != Some(true)
}

/// Maps one `SystemUser` to its SCIM attributes; `None` without an id or any name.
pub fn user(object: &Value, user_name_from: UserNameFrom) -> Option<RemoteUser> {
    let id = object_id(object)?;
    let email = text(object, "email");
    let username = text(object, "username");
    let user_name = match user_name_from {
        UserNameFrom::Email => email.clone().or(username),
        UserNameFrom::Username => username.or(email.clone()),
    }?;
    let mut a = Map::new();
    a.insert("userName".into(), json!(user_name));
    a.insert("externalId".into(), json!(id));
    a.insert("active".into(), json!(is_active(object)));
    let display = text(object, "displayname");
    if let Some(display) = display {
        a.insert("displayName".into(), json!(display));
    }
    let mut name = Map::new();
    for (from, to) in [
        ("firstname", "givenName"),
        ("lastname", "familyName"),
        ("middlename", "middleName"),
    ] {
        if let Some(v) = text(object, from) {
            name.insert(to.into(), json!(v));
        }
    }
    if !name.is_empty() {
        a.insert("name".into(), Value::Object(name));
    }
    if let Some(email) = email {
        a.insert(
            "emails".into(),
            json!([{"value": email, "type": "work", "primary": true}]),
        );
    }
    if let Some(title) = text(object, "jobTitle") {
        a.insert("title".into(), json!(title));
    }
    if let Some(kind) = text(object, "employeeType") {
        a.insert("userType".into(), json!(kind));
    }
    let phones: Vec<Value> = list(object, "phoneNumbers")
        .filter_map(|p| {
            let number = text(p, "number")?;
            let kind = text(p, "type").unwrap_or_else(|| "work".into());
            Some(json!({"value": number, "type": kind}))
        })
        .collect();
    if !phones.is_empty() {
        a.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let addresses: Vec<Value> = list(object, "addresses")
        .filter_map(|p| {
            let mut out = Map::new();
            for (from, to) in [
                ("type", "type"),
                ("streetAddress", "streetAddress"),
                ("locality", "locality"),
                ("region", "region"),
                ("postalCode", "postalCode"),
                ("country", "country"),
            ] {
                if let Some(v) = text(p, from) {
                    out.insert(to.into(), json!(v));
                }
            }
            (out.len() > usize::from(out.contains_key("type"))).then_some(Value::Object(out))
        })
        .collect();
    if !addresses.is_empty() {
        a.insert("addresses".into(), Value::Array(addresses));
    }
    let mut enterprise = Map::new();
    for (from, to) in [
        ("employeeIdentifier", "employeeNumber"),
        ("department", "department"),
        ("costCenter", "costCenter"),
        ("company", "organization"),
    ] {
        if let Some(v) = text(object, from) {
            enterprise.insert(to.into(), json!(v));
        }
    }
    if !enterprise.is_empty() {
        a.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(enterprise));
    }
    Some(RemoteUser { id, attributes: a })
}

fn list<'a>(object: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    object
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The user ids among a group's `/members` edges (`{to: {id, type}}`).
pub fn member_ids(edges: &[Value]) -> impl Iterator<Item = String> + '_ {
    edges.iter().filter_map(|edge| {
        let to = edge.get("to")?;
        (to.get("type").and_then(Value::as_str) == Some("user"))
            .then(|| object_id(to))
            .flatten()
    })
}

/// The top-level attributes a pull writes, and compares to find drift; the rest of a
/// user (what SCIM pushed beyond them) is left alone.
pub const MANAGED: &[&str] = &[
    "userName",
    "externalId",
    "active",
    "displayName",
    "name",
    "emails",
    "title",
    "userType",
    "phoneNumbers",
    "addresses",
    ENTERPRISE_USER_SCHEMA,
];

/// The sub-attributes compared and written one by one, so that a pushed
/// `name.formatted` or enterprise `manager` survives a pull.
pub fn sub_attributes(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "name" => Some(&["givenName", "familyName", "middleName"]),
        k if k == ENTERPRISE_USER_SCHEMA => {
            Some(&["employeeNumber", "department", "costCenter", "organization"])
        }
        _ => None,
    }
}

/// The comparable form of one managed attribute, from a pull or from what roster
/// stored: case and formatting that SCIM does not distinguish are folded, so a pushed
/// `tel:+1-555-0100` equals a pulled `+1 555 0100`. `Null` means absent.
pub fn canonical(key: &str, value: Option<&Value>) -> Value {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Value::Null;
    };
    let folded = |v: &Value| {
        v.as_str()
            .map(|s| Value::String(s.trim().to_lowercase()))
            .unwrap_or(Value::Null)
    };
    let trimmed = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Value::String(s.trim().to_owned()),
        Some(Value::Bool(b)) => Value::Bool(*b),
        _ => Value::Null,
    };
    match key {
        "userName" => folded(value),
        "active" => Value::Bool(value.as_bool().unwrap_or(true)),
        "emails" => {
            // The primary (else the first) address is the one a pull manages.
            let items = value.as_array().cloned().unwrap_or_default();
            let primary = items
                .iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
                .or(items.first());
            primary
                .and_then(|e| e.get("value"))
                .map(folded)
                .unwrap_or(Value::Null)
        }
        "phoneNumbers" => {
            let mut digits: Vec<String> = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("value")?.as_str())
                .map(|v| v.chars().filter(|c| c.is_ascii_digit()).collect::<String>())
                .filter(|d| !d.is_empty())
                .collect();
            digits.sort();
            if digits.is_empty() {
                Value::Null
            } else {
                json!(digits)
            }
        }
        "addresses" => {
            let mut items: Vec<Value> = value
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let fields = [
                        "type",
                        "streetAddress",
                        "locality",
                        "region",
                        "postalCode",
                        "country",
                    ];
                    let kept: Map<String, Value> = fields
                        .iter()
                        .map(|f| (f.to_string(), trimmed(a.get(*f))))
                        .filter(|(_, v)| !v.is_null())
                        .collect();
                    Value::Object(kept)
                })
                .filter(|a| a.as_object().is_some_and(|m| m.keys().any(|k| k != "type")))
                .collect();
            items.sort_by_key(|a| a.to_string());
            if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            }
        }
        k => match sub_attributes(k) {
            Some(subs) => {
                let kept: Map<String, Value> = subs
                    .iter()
                    .map(|s| (s.to_string(), trimmed(value.get(*s))))
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                if kept.is_empty() {
                    Value::Null
                } else {
                    Value::Object(kept)
                }
            }
            None => trimmed(Some(value)),
        },
    }
}

/// Every managed attribute's comparable form, keyed by name.
pub fn canonical_user(attributes: &Map<String, Value>) -> Map<String, Value> {
    MANAGED
        .iter()
        .map(|k| (k.to_string(), canonical(k, attributes.get(*k))))
        .collect()
}

/// A short digest of a comparable form: equal digests, equal users.
pub fn digest(canonical: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(Value::Object(canonical.clone()).to_string().as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The SCIM PATCH operations that make `current` hold `desired`'s managed values,
/// leaving every other attribute as it is.
pub fn patch_operations(current: &Map<String, Value>, desired: &Map<String, Value>) -> Vec<Value> {
    let mut ops = Vec::new();
    for key in MANAGED.iter().copied() {
        if canonical(key, current.get(key)) == canonical(key, desired.get(key)) {
            continue;
        }
        match (sub_attributes(key), desired.get(key)) {
            (Some(subs), wanted) => {
                for sub in subs {
                    let want = wanted.and_then(|w| w.get(*sub));
                    let have = current.get(key).and_then(|c| c.get(*sub));
                    if trimmed_eq(want, have) {
                        continue;
                    }
                    let path = if key == ENTERPRISE_USER_SCHEMA {
                        format!("{key}:{sub}")
                    } else {
                        format!("{key}.{sub}")
                    };
                    ops.push(match want {
                        Some(v) => json!({"op": "replace", "path": path, "value": v}),
                        None => json!({"op": "remove", "path": path}),
                    });
                }
            }
            (None, Some(v)) => ops.push(json!({"op": "replace", "path": key, "value": v})),
            (None, None) => ops.push(json!({"op": "remove", "path": key})),
        }
    }
    ops
}

fn trimmed_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Value {
        json!({"_id": "64f0c1a2b3c4d5e6f7a8b901", "id": "64f0c1a2b3c4d5e6f7a8b901",
               "username": "ada", "email": "ada@acme.com", "alternateEmail": null,
               "firstname": "Ada", "middlename": "", "lastname": "Lovelace",
               "displayname": "Ada Lovelace", "jobTitle": "Engineer", "department": "R&D",
               "costCenter": "", "company": "Acme", "employeeIdentifier": "E-1001",
               "employeeType": "FTE", "state": "ACTIVATED", "activated": true,
               "suspended": false, "account_locked": false, "password_expired": false,
               "phoneNumbers": [{"id": "65a", "type": "work", "number": "+1 555 0100"}],
               "addresses": [], "attributes": [{"name": "team", "value": "core"}]})
    }

    #[test]
    fn a_jumpcloud_user_maps_to_the_attributes_its_scim_push_sends() {
        let u = user(&ada(), UserNameFrom::Email).unwrap();
        assert_eq!(u.id, "64f0c1a2b3c4d5e6f7a8b901");
        assert_eq!(
            Value::Object(u.attributes),
            json!({
                "userName": "ada@acme.com", "externalId": "64f0c1a2b3c4d5e6f7a8b901",
                "active": true, "displayName": "Ada Lovelace",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@acme.com", "type": "work", "primary": true}],
                "title": "Engineer", "userType": "FTE",
                "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "E-1001", "department": "R&D",
                                         "organization": "Acme"}
            })
        );
        let by_username = user(&ada(), UserNameFrom::Username).unwrap();
        assert_eq!(by_username.user_name(), "ada");
    }

    #[test]
    fn active_follows_state_then_suspended_and_an_expired_password() {
        let with = |patch: Value| {
            let mut u = ada();
            for (k, v) in patch.as_object().unwrap() {
                u[k] = v.clone();
            }
            is_active(&u)
        };
        assert!(with(json!({})));
        assert!(with(json!({"activated": false, "account_locked": true})));
        assert!(!with(json!({"state": "SUSPENDED", "suspended": true})));
        assert!(!with(json!({"state": "STAGED"})));
        assert!(!with(json!({"password_expired": true})));
        assert!(with(json!({"state": null})));
        assert!(!with(json!({"state": null, "suspended": true})));
    }

    #[test]
    fn odd_values_read_as_absent_and_a_user_without_id_or_name_is_skipped() {
        let odd = json!({"id": "1", "email": null, "username": "  ", "firstname": 7});
        assert!(user(&odd, UserNameFrom::Email).is_none());
        let numeric = json!({"_id": "2", "username": "x", "firstname": 7, "suspended": "no"});
        let u = user(&numeric, UserNameFrom::Email).unwrap();
        assert_eq!(u.user_name(), "x");
        assert_eq!(u.attributes["name"], json!({"givenName": "7"}));
        assert!(u.active());
    }

    #[test]
    fn formatting_scim_ignores_is_not_drift() {
        let pulled = user(&ada(), UserNameFrom::Email).unwrap().attributes;
        let mut pushed = pulled.clone();
        pushed.insert("userName".into(), json!("ADA@acme.com"));
        pushed.insert(
            "phoneNumbers".into(),
            json!([{"value": "tel:+1-555-0100", "type": "work", "primary": true}]),
        );
        pushed.insert(
            "name".into(),
            json!({"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada L"}),
        );
        pushed.insert("locale".into(), json!("en-US"));
        assert_eq!(canonical_user(&pulled), canonical_user(&pushed));
        assert_eq!(
            digest(&canonical_user(&pulled)),
            digest(&canonical_user(&pushed))
        );
        assert!(patch_operations(&pushed, &pulled).is_empty());
    }

    #[test]
    fn patch_operations_touch_only_what_differs() {
        let pulled = user(&ada(), UserNameFrom::Email).unwrap().attributes;
        let mut stored = pulled.clone();
        stored.insert("title".into(), json!("Intern"));
        stored.insert(
            "name".into(),
            json!({"givenName": "Ada", "familyName": "Byron", "formatted": "Ada B"}),
        );
        stored.remove("userType");
        stored.insert("nickName".into(), json!("A"));
        let ops = patch_operations(&stored, &pulled);
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "name.familyName", "value": "Lovelace"}),
                json!({"op": "replace", "path": "title", "value": "Engineer"}),
                json!({"op": "replace", "path": "userType", "value": "FTE"}),
            ]
        );
        let mut gone = pulled.clone();
        gone.remove("title");
        assert_eq!(
            patch_operations(&pulled, &gone),
            vec![json!({"op": "remove", "path": "title"})]
        );
    }

    #[test]
    fn members_are_the_user_edges() {
        let edges = vec![
            json!({"attributes": null, "to": {"attributes": null, "id": "u1", "type": "user"}}),
            json!({"to": {"id": "g1", "type": "user_group"}}),
            json!({"to": null}),
        ];
        assert_eq!(member_ids(&edges).collect::<Vec<_>>(), vec!["u1"]);
    }
}
