//! Users and Groups as JSON: normalising what clients send, and rendering what we return.
//!
//! Incoming bodies are normalised once: known attribute names take their canonical
//! spelling, values are checked against the schema (with the coercions identity
//! providers need, such as `"True"` for `true`), read-only and write-only attributes are
//! dropped, and `null` or `[]` mean "unassigned" (RFC 7643 §2.5). Unknown attributes and
//! extension URNs are kept as sent: roster never rejects what it merely does not index.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::{Invalid, ScimType};
use super::schema::{self, AttrType, AttributeDef, Mutability, ResourceKind};

/// A resource body after normalisation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Normalized {
    /// Everything stored as JSON: no `id`, `meta`, `schemas`, `groups`, `members` or
    /// `password`.
    pub attributes: Map<String, Value>,
    /// Group members when the body had a `members` array.
    pub members: Option<Vec<MemberRef>>,
}

/// Folds a case-insensitive value (userName, displayName) the same way on every backend.
pub fn fold(value: &str) -> String {
    value.to_lowercase()
}

/// The folded strings a user's `emails` holds, as the filter evaluator reaches them,
/// each with `bare`: false for an object's `value` (what `emails.value eq` compares),
/// true for what only a value filter (`emails[value eq …]`) compares: a bare string
/// element, or the `value` of an object nested in an element's `value`. `stored` is a
/// user's stored attributes (JSON text); anything unreadable has no emails.
pub fn email_values(stored: &str) -> Vec<(String, bool)> {
    let Ok(Value::Object(attributes)) = serde_json::from_str::<Value>(stored) else {
        return Vec::new();
    };
    let Some(emails) = attributes.get("emails") else {
        return Vec::new();
    };
    let elements = |v: &Value| match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    // The evaluator's lookup: the exact key first, then any key equal ignoring ASCII case.
    let value_of = |o: &Map<String, Value>| {
        o.get("value")
            .or_else(|| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                    .map(|(_, v)| v)
            })
            .cloned()
    };
    let mut out = Vec::new();
    for element in elements(emails) {
        match &element {
            Value::String(s) => out.push((fold(s), true)),
            Value::Object(o) => {
                for v in value_of(o).as_ref().map(elements).unwrap_or_default() {
                    match &v {
                        Value::String(s) => out.push((fold(s), false)),
                        Value::Object(inner) => {
                            if let Some(Value::String(s)) = value_of(inner) {
                                out.push((fold(&s), true));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Normalises a POST or PUT body of `kind`.
pub fn normalize(kind: ResourceKind, body: Value) -> Result<Normalized, Invalid> {
    let Value::Object(object) = body else {
        return Err(Invalid::new(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        ));
    };
    let mut members = None;
    let mut builder = Builder::new(kind);
    for (key, value) in object {
        let bare = match split_urn_attribute(kind, &key) {
            Some((urn, name)) if urn == kind.core_schema() => name,
            _ => &key,
        };
        if kind == ResourceKind::Group && bare.eq_ignore_ascii_case("members") {
            members = member_ids(value)?;
            continue;
        }
        builder.put_attribute(&key, value)?;
    }
    Ok(Normalized {
        attributes: builder.finish(),
        members,
    })
}

/// The attributes of a body being normalised. Attribute names match in any case, so
/// each object (the resource, or an extension's) keeps an index from the ASCII-folded
/// name to the key it is stored under: replacing `USERNAME` by `userName` is a lookup,
/// and a body of n attributes costs O(n log n), not a scan of the keys per attribute.
struct Builder {
    kind: ResourceKind,
    attributes: Map<String, Value>,
    /// Folded name → stored key, per holder (`None`: the resource; `Some`: an
    /// extension URN, whose object is `attributes[urn]`).
    keys: HashMap<Option<&'static str>, HashMap<String, String>>,
}

impl Builder {
    fn new(kind: ResourceKind) -> Self {
        Self {
            kind,
            attributes: Map::new(),
            keys: HashMap::new(),
        }
    }

    /// One attribute (`key` as a client spelled it, possibly URN-qualified), replacing
    /// what was there; `null` removes it.
    fn put_attribute(&mut self, key: &str, value: Value) -> Result<(), Invalid> {
        if is_ignored_top_level(key) {
            return Ok(());
        }
        if let Some(urn) = extension_urn(self.kind, key) {
            return self.put_extension(urn, value);
        }
        if let Some((urn, name)) = split_urn_attribute(self.kind, key) {
            if urn.eq_ignore_ascii_case(self.kind.core_schema()) {
                return self.put_attribute(name, value);
            }
            return self.put_in(Some(urn), name, value);
        }
        self.put_in(None, key, value)
    }

    /// A whole extension object replaces what the extension held.
    fn put_extension(&mut self, urn: &'static str, value: Value) -> Result<(), Invalid> {
        match value {
            Value::Null => {
                self.attributes.remove(urn);
                self.keys.remove(&Some(urn));
                Ok(())
            }
            Value::Object(fields) => {
                self.attributes.remove(urn);
                self.keys.remove(&Some(urn));
                for (name, value) in fields {
                    self.put_in(Some(urn), &name, value)?;
                }
                Ok(())
            }
            _ => Err(Invalid::new(
                ScimType::InvalidValue,
                format!("{urn} must be a JSON object"),
            )),
        }
    }

    fn put_in(
        &mut self,
        urn: Option<&'static str>,
        name: &str,
        value: Value,
    ) -> Result<(), Invalid> {
        let (key, value) = match schema::find_attribute(self.kind, urn, name, None) {
            // Unknown attributes are kept as sent (minus nulls) so nothing a client
            // stores is lost; they are simply not indexed.
            None => (name.to_owned(), Some(value).filter(|v| !is_unassigned(v))),
            Some(def) if !is_writable(def) => (def.name.to_owned(), None),
            Some(def) => (def.name.to_owned(), coerce(def, value)?),
        };
        let index = self.keys.entry(urn).or_default();
        let target = match urn {
            None => &mut self.attributes,
            Some(urn) => {
                let holder = self
                    .attributes
                    .entry(urn)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !holder.is_object() {
                    *holder = Value::Object(Map::new());
                }
                match holder {
                    Value::Object(o) => o,
                    _ => return Ok(()),
                }
            }
        };
        let folded = key.to_ascii_lowercase();
        if let Some(stored) = index.remove(&folded) {
            target.remove(&stored);
        }
        if let Some(value) = value {
            index.insert(folded, key.clone());
            target.insert(key, value);
        }
        Ok(())
    }

    /// The attributes, without extension objects left empty.
    fn finish(mut self) -> Map<String, Value> {
        for urn in self.keys.keys().flatten() {
            if self
                .attributes
                .get(*urn)
                .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
            {
                self.attributes.remove(*urn);
            }
        }
        self.attributes
    }
}

/// Attributes the server owns or never keeps: they are ignored on input (POST, PUT
/// and PATCH alike).
pub fn is_ignored_top_level(key: &str) -> bool {
    ["id", "meta", "schemas", "groups", "password"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// Whether a client may set this attribute at all (read-only ones are ignored on input).
pub fn is_writable(def: &AttributeDef) -> bool {
    !matches!(def.mutability, Mutability::ReadOnly) && def.name != "password"
}

/// Checks a value against its definition; `None` means unassigned.
pub fn coerce(def: &AttributeDef, value: Value) -> Result<Option<Value>, Invalid> {
    if !def.multi_valued {
        return coerce_single(def, value);
    }
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        // A lone value where a list belongs: accept it as a list of one.
        single => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(item) = coerce_single(def, item)? {
            out.push(item);
        }
    }
    keep_one_primary(&mut out);
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// RFC 7643 §2.4: at most one value is primary. New values come last (PATCH add
/// appends), and RFC 7644 §3.5.2.1 says the newly added primary wins.
pub fn keep_one_primary(items: &mut [Value]) {
    let is_primary = |v: &Value| v.get("primary").and_then(Value::as_bool) == Some(true);
    if let Some(last) = items.iter().rposition(is_primary) {
        for item in &mut items[..last] {
            if is_primary(item) {
                item["primary"] = Value::Bool(false);
            }
        }
    }
}

fn coerce_single(def: &AttributeDef, value: Value) -> Result<Option<Value>, Invalid> {
    let wrong = |expected: &str| {
        Invalid::new(
            ScimType::InvalidValue,
            format!("attribute '{}' must be {expected}", def.name),
        )
    };
    Ok(Some(match (def.attr_type, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(b),
        // Entra sends booleans as "True" / "False".
        (AttrType::Boolean, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(wrong("a boolean")),
        },
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        (AttrType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong("an integer"))?,
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, Value::Number(n)) => Value::Number(n),
        (AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| wrong("a number"))?,
        (AttrType::Decimal, _) => return Err(wrong("a number")),
        (AttrType::Complex, Value::Object(fields)) => {
            let mut out = Map::new();
            for (name, value) in fields {
                match def
                    .sub_attributes
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&name))
                {
                    Some(sub) if !is_writable(sub) => {}
                    Some(sub) => {
                        if let Some(v) = coerce(sub, value)? {
                            out.insert(sub.name.to_owned(), v);
                        }
                    }
                    None if is_unassigned(&value) => {}
                    None => {
                        out.insert(name, value);
                    }
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        // Entra sends `manager` as the manager's id alone: read it as `{"value": id}`.
        (AttrType::Complex, Value::String(id))
            if def.sub_attributes.iter().any(|s| s.name == "value") =>
        {
            let mut out = Map::new();
            out.insert("value".into(), Value::String(id));
            Value::Object(out)
        }
        (AttrType::Complex, _) => return Err(wrong("a JSON object")),
        // String-like types: tolerate numbers and booleans sent for strings.
        (_, Value::String(s)) => Value::String(s),
        (_, Value::Number(n)) => Value::String(n.to_string()),
        (_, Value::Bool(b)) => Value::String(b.to_string()),
        (_, _) => return Err(wrong("a string")),
    }))
}

/// RFC 7643 §2.5: `null` and `[]` mean "unassigned".
pub fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The extension URN `key` names exactly, if it is one of `kind`'s extensions.
fn extension_urn(kind: ResourceKind, key: &str) -> Option<&'static str> {
    kind.extensions()
        .iter()
        .copied()
        .find(|urn| urn.eq_ignore_ascii_case(key))
}

/// Splits `urn:…:User:employeeNumber` into a known schema URN and the attribute.
fn split_urn_attribute(kind: ResourceKind, key: &str) -> Option<(&'static str, &str)> {
    std::iter::once(kind.core_schema())
        .chain(kind.extensions().iter().copied())
        .find_map(|urn| {
            let rest = key.get(urn.len()..)?;
            let prefix = key.get(..urn.len())?;
            (prefix.eq_ignore_ascii_case(urn) && rest.starts_with(':') && rest.len() > 1)
                .then(|| (urn, &rest[1..]))
        })
}

fn member_ids(value: Value) -> Result<Option<Vec<MemberRef>>, Invalid> {
    let items = match value {
        // A null list is read as "not sent": it never wipes a group's members.
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(member_ref)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// One element of a Group's `members` as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub id: String,
    pub display: Option<String>,
}

/// What a group member is: its `type` sub-attribute, which the server derives (a
/// client's is ignored), and the text `group_members.member_type` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    User,
    Group,
}

impl MemberType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }
}

impl std::str::FromStr for MemberType {
    type Err = UnknownMemberType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "User" => Ok(Self::User),
            "Group" => Ok(Self::Group),
            other => Err(UnknownMemberType(other.to_owned())),
        }
    }
}

/// A stored member type other than the two roster writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a member type (User or Group)")]
pub struct UnknownMemberType(pub String);

/// Reads `{"value": "id", "display": "..."}`; other sub-attributes (`type`, `$ref`) are
/// derived by the server.
pub fn member_ref(item: Value) -> Result<MemberRef, Invalid> {
    let Value::Object(fields) = item else {
        return Err(bad_member());
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    match get("value") {
        Some(Value::String(id)) if !id.is_empty() => Ok(MemberRef {
            id: id.clone(),
            display: get("display").and_then(Value::as_str).map(str::to_owned),
        }),
        _ => Err(bad_member()),
    }
}

fn bad_member() -> Invalid {
    Invalid::new(
        ScimType::InvalidValue,
        "each member must be an object with a string 'value'",
    )
}

/// The indexed columns of a user, read from its normalised attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct UserColumns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
}

pub fn user_columns(attributes: &Map<String, Value>) -> Result<UserColumns, Invalid> {
    refuse_nul(attributes)?;
    let user_name = required_string(attributes, "userName")?;
    Ok(UserColumns {
        user_name,
        external_id: optional_string(attributes, "externalId"),
        display_name: optional_string(attributes, "displayName"),
        active: attributes
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupColumns {
    pub display_name: String,
    pub external_id: Option<String>,
}

pub fn group_columns(attributes: &Map<String, Value>) -> Result<GroupColumns, Invalid> {
    refuse_nul(attributes)?;
    Ok(GroupColumns {
        display_name: required_string(attributes, "displayName")?,
        external_id: optional_string(attributes, "externalId"),
    })
}

/// PostgreSQL text and `jsonb` cannot hold U+0000, so no backend stores it: one stored
/// NUL would break every JSON filter of its tenant on PostgreSQL.
fn refuse_nul(attributes: &Map<String, Value>) -> Result<(), Invalid> {
    fn has_nul(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
    if attributes
        .iter()
        .any(|(k, v)| k.contains('\0') || has_nul(v))
    {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "strings cannot contain the character U+0000",
        ));
    }
    Ok(())
}

fn required_string(attributes: &Map<String, Value>, name: &str) -> Result<String, Invalid> {
    match attributes.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(Invalid::new(
            ScimType::InvalidValue,
            format!("'{name}' is required and must be a non-empty string"),
        )),
    }
}

fn optional_string(attributes: &Map<String, Value>, name: &str) -> Option<String> {
    attributes
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// RFC 7643 §3.1 `meta`, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

impl Meta {
    /// The weak entity tag of this version (also the `ETag` header).
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// The weak entity tag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Renders a stored resource. `location` is the absolute URL of the resource; `linked`
/// is the computed multi-valued attribute (`groups` of a User, `members` of a Group).
pub fn render(
    kind: ResourceKind,
    id: &str,
    attributes: &Map<String, Value>,
    meta: &Meta,
    location: &str,
    linked: Option<Vec<Value>>,
) -> Value {
    let mut schemas = vec![Value::from(kind.core_schema())];
    schemas.extend(
        kind.extensions()
            .iter()
            .filter(|urn| attributes.contains_key(**urn))
            .map(|urn| Value::from(*urn)),
    );
    let mut out = Map::with_capacity(attributes.len() + 4);
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::from(id));
    for (k, v) in attributes {
        // Write-only values are never returned, whatever got stored before.
        if !k.eq_ignore_ascii_case("password") {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(linked) = linked.filter(|l| !l.is_empty()) {
        let name = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        out.insert(name.into(), Value::Array(linked));
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": kind.name(),
            "created": meta.created,
            "lastModified": meta.last_modified,
            "location": location,
            "version": meta.etag(),
        }),
    );
    Value::Object(out)
}

/// One element of a User's `groups` or a Group's `members`.
pub fn reference(id: &str, display: Option<&str>, ref_url: &str, kind: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("value".into(), Value::from(id));
    out.insert("$ref".into(), Value::from(ref_url));
    if let Some(display) = display {
        out.insert("display".into(), Value::from(display));
    }
    if let Some(kind) = kind {
        out.insert("type".into(), Value::from(kind));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;

    fn normalized(body: Value) -> Value {
        Value::Object(normalize(ResourceKind::User, body).unwrap().attributes)
    }

    #[test]
    fn names_in_any_case_replace_each_other_last_one_wins() {
        // Keys are read in the map's sorted order: "USERNAME" < "userName".
        let got = normalized(json!({"USERNAME": "a", "userName": "b", "Foo": 1, "foo": 2}));
        assert_eq!(got, json!({"userName": "b", "foo": 2}));
        let core = "urn:ietf:params:scim:schemas:core:2.0:User:userName";
        let got = normalized(json!({"userName": "a", core: "b", "TITLE": "t", "title": null}));
        assert_eq!(got, json!({"userName": "a"}));
    }

    #[test]
    fn extension_objects_and_qualified_names_merge() {
        let qualified = format!("{ENTERPRISE_USER_SCHEMA}:department");
        let got = normalized(json!({
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "1", "DEPARTMENT": "old"},
            qualified.clone(): "new",
        }));
        assert_eq!(
            got,
            json!({ENTERPRISE_USER_SCHEMA: {"employeeNumber": "1", "department": "new"}})
        );
        // A null extension removes it, and an extension left empty disappears.
        let got =
            normalized(json!({ENTERPRISE_USER_SCHEMA: {"department": null}, "userName": "u"}));
        assert_eq!(got, json!({"userName": "u"}));
        let got = normalized(json!({ENTERPRISE_USER_SCHEMA.to_uppercase(): null, qualified: "d"}));
        assert_eq!(got, json!({ENTERPRISE_USER_SCHEMA: {"department": "d"}}));
    }

    /// Found by `tests/api/body_fuzz.rs`: members under the core URN were stored as an
    /// attribute instead of becoming memberships.
    #[test]
    fn members_under_the_core_urn_are_members() {
        let body = json!({
            "displayName": "g",
            "urn:ietf:params:scim:schemas:core:2.0:Group:MEMBERS": [{"value": "m1"}],
        });
        let got = normalize(ResourceKind::Group, body).unwrap();
        assert_eq!(
            got.attributes,
            *json!({"displayName": "g"}).as_object().unwrap()
        );
        assert_eq!(got.members.unwrap()[0].id, "m1");
    }

    /// 100,000 unknown attributes: a scan of the keys per attribute took seconds in a
    /// release build; with the folded index it is a fraction of a second in debug.
    #[test]
    fn many_unknown_attributes_normalise_in_linear_time() {
        let body: Map<String, Value> = (0..100_000)
            .map(|i| (format!("attr{i}"), json!(i)))
            .collect();
        let got = normalize(ResourceKind::User, Value::Object(body)).unwrap();
        assert_eq!(got.attributes.len(), 100_000);
    }

    #[test]
    fn folding_is_unicode_lower_case_the_same_everywhere() {
        assert_eq!(fold("ÅSA@Example.COM"), "åsa@example.com");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), "σίσυφος");
        assert_eq!(fold("İ"), "i\u{307}");
    }

    #[test]
    fn emails_are_read_as_the_filter_evaluator_reaches_them() {
        let stored = json!({"emails": [
            {"value": "A@x.org", "primary": true},
            "Bare@x.org",
            {"VALUE": [{"value": "Nested@x.org"}]},
            42,
        ]})
        .to_string();
        assert_eq!(
            email_values(&stored),
            vec![
                ("a@x.org".to_owned(), false),
                ("bare@x.org".to_owned(), true),
                ("nested@x.org".to_owned(), true),
            ]
        );
        assert!(email_values("not json").is_empty());
        assert!(email_values(r#"{"userName":"u"}"#).is_empty());
    }

    #[test]
    fn server_owned_attributes_are_ignored_on_input() {
        let got = normalized(json!({
            "userName": "u", "ID": "x", "meta": {"version": "1"},
            "schemas": ["urn:other"], "groups": [{"value": "g"}], "password": "p",
        }));
        assert_eq!(got, json!({"userName": "u"}));
        for key in ["id", "Meta", "SCHEMAS", "groups", "password"] {
            assert!(is_ignored_top_level(key), "{key}");
        }
        assert!(!is_ignored_top_level("userName"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid_syntax() {
        for body in [json!([]), json!("u"), json!(null), json!(1)] {
            let e = normalize(ResourceKind::User, body).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidSyntax);
        }
    }

    #[test]
    fn the_last_primary_value_wins() {
        let mut items = vec![
            json!({"value": "a", "primary": true}),
            json!({"value": "b"}),
            json!({"value": "c", "primary": true}),
        ];
        keep_one_primary(&mut items);
        assert_eq!(items[0]["primary"], json!(false));
        assert_eq!(items[2]["primary"], json!(true));
        assert!(items[1].get("primary").is_none());
    }

    #[test]
    fn null_and_empty_lists_are_unassigned_and_nothing_else_is() {
        assert!(is_unassigned(&json!(null)));
        assert!(is_unassigned(&json!([])));
        for v in [json!(""), json!(0), json!(false), json!({}), json!([null])] {
            assert!(!is_unassigned(&v), "{v}");
        }
    }

    #[test]
    fn a_member_needs_a_non_empty_value_in_any_case() {
        let m = member_ref(json!({"VALUE": "u1", "Display": "Alice", "type": "User"})).unwrap();
        assert_eq!(
            m,
            MemberRef {
                id: "u1".into(),
                display: Some("Alice".into())
            }
        );
        for bad in [
            json!({"value": ""}),
            json!({"value": 1}),
            json!("u1"),
            json!({}),
        ] {
            assert_eq!(
                member_ref(bad.clone()).unwrap_err().scim_type,
                ScimType::InvalidValue,
                "{bad}"
            );
        }
        // A null member list is "not sent", never "remove them all".
        let got = normalize(
            ResourceKind::Group,
            json!({"displayName": "g", "members": null}),
        );
        assert!(got.unwrap().members.is_none());
    }

    #[test]
    fn member_types_read_back_as_written() {
        for t in [MemberType::User, MemberType::Group] {
            assert_eq!(t.as_str().parse(), Ok(t));
        }
        // Stored text is compared exactly, as it was written.
        assert!("user".parse::<MemberType>().is_err());
    }

    #[test]
    fn etags_are_weak_and_carry_the_version() {
        assert_eq!(etag(7), "W/\"7\"");
    }
}
