//! The PATCH engine (RFC 7644 §3.5.2) over a resource's stored attributes.
//!
//! Identity-provider dialects are accepted without configuration: `op` in any case,
//! Entra's string booleans, value objects without a path (Okta's `{"active": false}`),
//! URN-qualified paths, and `remove` of `members` with a value list, which removes only
//! those members (JumpCloud and Entra mean it so; with no value it removes all).
//!
//! Group membership is not edited here: operations on `members` become
//! [`MemberChange`]s that the store applies row by row, so a change to a huge group costs
//! what it costs on a small one.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use super::error::{Invalid, ScimType};
use super::filter::{self, AttrPath, CompareOp, Filter, Literal, PatchPath};
use super::limits::MAX_OPERATIONS;
use super::resource::{self, coerce, member_ref, MemberRef};
use super::schema::{self, AttributeDef, Mutability, ResourceKind, PATCH_OP};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A change to a group's membership, applied in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<MemberRef>),
    Remove(Vec<String>),
    RemoveAll,
}

/// Parses a `PatchOp` request body.
pub fn parse_request(body: Value) -> Result<Vec<Operation>, Invalid> {
    let Value::Object(mut body) = body else {
        return Err(syntax("the request body must be a JSON object"));
    };
    // RFC 7644 §3.5.2: the body "MUST contain the "schemas" attribute with the URI
    // value of urn:ietf:params:scim:api:messages:2.0:PatchOp".
    if !lists_urn(get_ci(&body, "schemas"), PATCH_OP) {
        return Err(syntax(format!("'schemas' must contain {PATCH_OP}")));
    }
    let key = body
        .keys()
        .find(|k| k.eq_ignore_ascii_case("Operations"))
        .cloned();
    let Some(Value::Array(operations)) = key.and_then(|k| body.remove(&k)) else {
        return Err(syntax("'Operations' must be an array"));
    };
    // §3.5.2: "an array of one or more PATCH operations". An empty list breaks the
    // message's structure, as a missing one does: `invalidSyntax`, not `invalidValue`
    // (which is about the value of an attribute).
    if operations.is_empty() {
        return Err(syntax("'Operations' must hold at least one operation"));
    }
    // The handlers check this first (`limits::check_patch`); this keeps the engine
    // bounded for any other caller.
    if operations.len() > MAX_OPERATIONS {
        return Err(Invalid::new(
            ScimType::TooMany,
            format!("a PATCH request may carry at most {MAX_OPERATIONS} operations"),
        ));
    }
    operations.into_iter().map(parse_operation).collect()
}

fn parse_operation(operation: Value) -> Result<Operation, Invalid> {
    let Value::Object(mut operation) = operation else {
        return Err(syntax("each operation must be a JSON object"));
    };
    let op = match take_ci(&mut operation, "op") {
        Some(Value::String(op)) => match op.to_ascii_lowercase().as_str() {
            "add" => Op::Add,
            "remove" => Op::Remove,
            "replace" => Op::Replace,
            _ => return Err(syntax("'op' must be add, remove or replace")),
        },
        _ => return Err(syntax("each operation needs an 'op'")),
    };
    let path = match take_ci(&mut operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(
            filter::parse_path(p.trim())
                .map_err(|e| Invalid::new(ScimType::InvalidPath, e.to_string()))?,
        ),
        Some(_) => {
            return Err(Invalid::new(
                ScimType::InvalidPath,
                "'path' must be a string",
            ))
        }
    };
    let value = take_ci(&mut operation, "value");
    if op != Op::Remove && value.is_none() {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "add and replace need a 'value'",
        ));
    }
    if op == Op::Remove && path.is_none() {
        return Err(Invalid::new(ScimType::NoTarget, "remove needs a 'path'"));
    }
    Ok(Operation { op, path, value })
}

/// Applies `operations` to `attributes` in order. For a Group, operations on `members`
/// are returned as [`MemberChange`]s instead. Either every operation applies or the
/// caller keeps the original attributes (this works on the caller's copy).
pub fn apply(
    kind: ResourceKind,
    attributes: &mut Map<String, Value>,
    operations: &[Operation],
) -> Result<Vec<MemberChange>, Invalid> {
    let mut members = Vec::new();
    for operation in operations {
        match &operation.path {
            Some(path) => apply_path(
                kind,
                attributes,
                operation.op,
                path,
                operation.value.clone(),
                false,
                &mut members,
            )?,
            None => {
                let Some(Value::Object(fields)) = operation.value.clone() else {
                    return Err(Invalid::new(
                        ScimType::InvalidValue,
                        "without a 'path', 'value' must be a JSON object of attributes",
                    ));
                };
                for (key, value) in fields {
                    apply_key(kind, attributes, operation.op, &key, value, &mut members)?;
                }
            }
        }
    }
    Ok(members)
}

/// One attribute of a path-less value object: an attribute name, a URN-qualified name,
/// or an extension URN holding an object of extension attributes.
fn apply_key(
    kind: ResourceKind,
    attributes: &mut Map<String, Value>,
    op: Op,
    key: &str,
    value: Value,
    members: &mut Vec<MemberChange>,
) -> Result<(), Invalid> {
    // Server-owned attributes inside a value object are ignored, as in a PUT body: Okta
    // renames groups with `{"id": …, "displayName": …}`.
    if ["id", "meta", "schemas"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
    {
        return Ok(());
    }
    if let Some(urn) = kind
        .extensions()
        .iter()
        .find(|u| u.eq_ignore_ascii_case(key))
    {
        let Value::Object(fields) = value else {
            return Err(Invalid::new(
                ScimType::InvalidValue,
                format!("{urn} must be a JSON object"),
            ));
        };
        for (name, value) in fields {
            let path = PatchPath {
                attr: AttrPath {
                    urn: Some((*urn).to_owned()),
                    name,
                    sub_attr: None,
                },
                filter: None,
                sub_attr: None,
            };
            apply_path(kind, attributes, op, &path, Some(value), true, members)?;
        }
        return Ok(());
    }
    let path =
        filter::parse_path(key).map_err(|e| Invalid::new(ScimType::InvalidPath, e.to_string()))?;
    if op == Op::Replace && path.filter.is_none() && path.attr.sub_attr.is_none() {
        // A path-less replace of a complex attribute replaces it whole (RFC 7644
        // §3.5.2.3 applies merge semantics only to an explicit path).
        if let Some(def) =
            schema::find_attribute(kind, path.attr.urn.as_deref(), &path.attr.name, None)
        {
            if def.sub_attributes.is_empty() || def.multi_valued || is_members(kind, &path) {
                return apply_path(kind, attributes, op, &path, Some(value), true, members);
            }
            let container = container_mut(kind, attributes, path.attr.urn.as_deref())?;
            check_writable(def)?;
            remove_ci(container, def.name);
            if let Some(v) = coerce(def, value)? {
                container.insert(def.name.to_owned(), v);
            }
            prune_extension(attributes, path.attr.urn.as_deref());
            return Ok(());
        }
    }
    apply_path(kind, attributes, op, &path, Some(value), true, members)
}

/// A path naming a whole extension (`urn:…:enterprise:2.0:User`), which the path
/// grammar reads as URN `urn:…:2.0` plus attribute `User`.
fn whole_extension(kind: ResourceKind, path: &PatchPath) -> Option<&'static str> {
    if path.filter.is_some() || path.sub_attr.is_some() || path.attr.sub_attr.is_some() {
        return None;
    }
    let full = format!("{}:{}", path.attr.urn.as_deref()?, path.attr.name);
    kind.extensions()
        .iter()
        .copied()
        .find(|e| e.eq_ignore_ascii_case(&full))
}

fn is_members(kind: ResourceKind, path: &PatchPath) -> bool {
    kind == ResourceKind::Group
        && path.attr.name.eq_ignore_ascii_case("members")
        && path
            .attr
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()))
}

/// `from_value_object`: the path is a key of a path-less value object (Entra's dotted
/// and filtered keys), where a value that does not exist yet is created.
fn apply_path(
    kind: ResourceKind,
    attributes: &mut Map<String, Value>,
    op: Op,
    path: &PatchPath,
    value: Option<Value>,
    from_value_object: bool,
    members: &mut Vec<MemberChange>,
) -> Result<(), Invalid> {
    if is_members(kind, path) {
        members.extend(member_changes(op, path, value)?);
        return Ok(());
    }
    if let Some(urn) = whole_extension(kind, path) {
        return match (op, value) {
            (Op::Remove, _) => {
                attributes.remove(urn);
                Ok(())
            }
            (_, Some(value)) => apply_key(kind, attributes, op, urn, value, members),
            (_, None) => Ok(()),
        };
    }
    let urn = path.attr.urn.as_deref();
    let name = path.attr.name.as_str();
    let def = schema::find_attribute(kind, urn, name, None);
    let at_top = urn.is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()));
    if def.is_none() && at_top && resource::is_ignored_top_level(name) {
        // What a POST ignores (`schemas`, a Group's `password` or `groups`) is ignored
        // here too: stored, it would shadow what the server renders.
        return Ok(());
    }
    if let Some(def) = def {
        check_writable(def)?;
        check_immutable(def, attributes, urn, op)?;
        if !resource::is_writable(def) {
            // A password (write-only): accepted, never kept.
            return Ok(());
        }
    } else if urn.is_some_and(|u| !is_known_urn(kind, u)) {
        return Err(Invalid::new(
            ScimType::InvalidPath,
            format!("unknown schema in path '{}'", path.attr),
        ));
    }
    let sub = path.sub_attr.as_deref().or(path.attr.sub_attr.as_deref());
    let sub_def = match (def, sub) {
        (Some(def), Some(sub)) => {
            let found = def
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(sub));
            if let Some(found) = found {
                check_writable(found)?;
            } else if !def.sub_attributes.is_empty() {
                return Err(Invalid::new(
                    ScimType::InvalidPath,
                    format!("'{}' has no sub-attribute '{sub}'", def.name),
                ));
            }
            found
        }
        _ => None,
    };
    let container = container_mut(kind, attributes, urn)?;
    let canonical = def.map_or(name, |d| d.name).to_owned();
    let target = Target {
        kind,
        urn,
        def,
        name: &canonical,
        sub,
        sub_def,
        create_missing: op == Op::Add || from_value_object,
    };
    match (&path.filter, sub) {
        (None, None) => target.whole(container, op, value)?,
        (None, Some(sub)) => target.sub_attribute(container, op, sub, value)?,
        (Some(filter), _) => target.filtered(container, op, filter, value)?,
    }
    prune_extension(attributes, urn);
    Ok(())
}

struct Target<'a> {
    kind: ResourceKind,
    urn: Option<&'a str>,
    def: Option<&'static AttributeDef>,
    name: &'a str,
    sub: Option<&'a str>,
    sub_def: Option<&'static AttributeDef>,
    /// Whether a value filter that matches nothing creates the value: for `add`, and for
    /// path-less value objects. A `replace` with an explicit path answers `noTarget`
    /// (RFC 7644 §3.5.2.3).
    create_missing: bool,
}

impl Target<'_> {
    fn coerce(&self, value: Value) -> Result<Option<Value>, Invalid> {
        match self.def {
            Some(def) => coerce(def, value),
            // Unknown attributes are kept as sent, except what means unassigned.
            None => Ok(Some(value).filter(|v| !resource::is_unassigned(v))),
        }
    }

    fn coerce_sub(&self, value: Value) -> Result<Option<Value>, Invalid> {
        match self.sub_def {
            Some(def) => coerce(def, value),
            None => Ok(Some(value).filter(|v| !resource::is_unassigned(v))),
        }
    }

    fn multi_valued(&self) -> bool {
        self.def.is_some_and(|d| d.multi_valued)
    }

    /// `add`, `replace` or `remove` of a whole attribute.
    fn whole(
        &self,
        container: &mut Map<String, Value>,
        op: Op,
        value: Option<Value>,
    ) -> Result<(), Invalid> {
        let current = remove_ci(container, self.name);
        let value = value.unwrap_or(Value::Null);
        let next = match op {
            Op::Remove if self.multi_valued() && !value.is_null() => {
                // Remove only the listed values (the Azure / JumpCloud reading).
                let drop = self.coerce(value)?.map(into_items).unwrap_or_default();
                let drop: HashSet<ValueKey<'_>> = drop.iter().map(ValueKey::of).collect();
                current
                    .map(|c| {
                        into_items(c)
                            .into_iter()
                            .filter(|item| !drop.contains(&ValueKey::of(item)))
                            .collect::<Vec<_>>()
                    })
                    .filter(|items| !items.is_empty())
                    .map(Value::Array)
            }
            Op::Remove => None,
            Op::Add if self.multi_valued() => {
                let mut items = current.map(into_items).unwrap_or_default();
                let new = self.coerce(value)?.map(into_items).unwrap_or_default();
                append_distinct(&mut items, new);
                resource::keep_one_primary(&mut items);
                Some(Value::Array(items)).filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            }
            Op::Add | Op::Replace => match (current, self.coerce(value)?) {
                // Complex singular attributes merge sub-attributes (RFC 7644 §3.5.2.1/3).
                (Some(Value::Object(mut old)), Some(Value::Object(new)))
                    if !self.multi_valued() =>
                {
                    for (k, v) in new {
                        remove_ci(&mut old, &k);
                        old.insert(k, v);
                    }
                    Some(Value::Object(old))
                }
                (_, new) => new,
            },
        };
        if let Some(next) = next {
            container.insert(self.name.to_owned(), next);
        }
        Ok(())
    }

    /// `name.givenName`, or `emails.value` across every element of a multi-valued one.
    fn sub_attribute(
        &self,
        container: &mut Map<String, Value>,
        op: Op,
        sub: &str,
        value: Option<Value>,
    ) -> Result<(), Invalid> {
        let new = match (op, value) {
            (Op::Remove, _) | (_, None) => None,
            (_, Some(v)) => self.coerce_sub(v)?,
        };
        if self.multi_valued() {
            let Some(Value::Array(items)) = get_ci_mut(container, self.name) else {
                return if op == Op::Remove {
                    Ok(())
                } else {
                    Err(Invalid::new(
                        ScimType::NoTarget,
                        format!("'{}' has no values", self.name),
                    ))
                };
            };
            for item in items.iter_mut() {
                if let Value::Object(fields) = item {
                    set_or_remove(fields, sub, new.clone());
                }
            }
            drop_empty_elements(container, self.name);
            return Ok(());
        }
        let mut object = match remove_ci(container, self.name) {
            Some(Value::Object(o)) => o,
            Some(_) if op == Op::Remove => Map::new(),
            Some(_) => {
                return Err(Invalid::new(
                    ScimType::InvalidPath,
                    format!("'{}' is not complex", self.name),
                ));
            }
            None => Map::new(),
        };
        set_or_remove(&mut object, sub, new);
        if !object.is_empty() {
            container.insert(self.name.to_owned(), Value::Object(object));
        }
        Ok(())
    }

    /// `emails[type eq "work"]` or `emails[type eq "work"].value`.
    fn filtered(
        &self,
        container: &mut Map<String, Value>,
        op: Op,
        filter: &Filter,
        value: Option<Value>,
    ) -> Result<(), Invalid> {
        if self.def.is_some_and(|d| !d.multi_valued) {
            return Err(Invalid::new(
                ScimType::InvalidPath,
                format!(
                    "'{}' is single-valued: a value filter does not apply",
                    self.name
                ),
            ));
        }
        let (kind, urn, name) = (self.kind, self.urn, self.name.to_owned());
        let case_exact = move |p: &AttrPath| schema::is_case_exact(kind, urn, &name, Some(&p.name));
        let mut items = remove_ci(container, self.name)
            .map(into_items)
            .unwrap_or_default();
        let matched: Vec<usize> = (0..items.len())
            .filter(|&i| filter::matches(filter, &items[i], &case_exact))
            .collect();
        match op {
            Op::Remove => {
                for &i in matched.iter().rev() {
                    match (self.sub, &mut items[i]) {
                        (Some(sub), Value::Object(fields)) => set_or_remove(fields, sub, None),
                        _ => {
                            items.remove(i);
                        }
                    }
                }
                // An element whose last sub-attribute went is no value at all.
                items.retain(|i| !i.as_object().is_some_and(Map::is_empty));
            }
            Op::Add | Op::Replace if matched.is_empty() => {
                // Entra and Okta address a typed value that may not exist yet, e.g.
                // `emails[type eq "work"].value`: create it from the filter's equalities.
                let created = if self.create_missing {
                    element_from_filter(filter)
                } else {
                    None
                };
                let Some(mut element) = created else {
                    return Err(Invalid::new(
                        ScimType::NoTarget,
                        format!("no value of '{}' matches the filter", self.name),
                    ));
                };
                let value = value.unwrap_or(Value::Null);
                match self.sub {
                    Some(sub) => set_or_remove(&mut element, sub, self.coerce_sub(value)?),
                    None => merge_into(&mut element, value),
                }
                let element = self
                    .coerce(Value::Array(vec![Value::Object(element)]))?
                    .map(into_items)
                    .unwrap_or_default();
                items.extend(element);
            }
            Op::Add | Op::Replace => {
                let value = value.unwrap_or(Value::Null);
                let sub_value = match self.sub {
                    Some(_) => self.coerce_sub(value.clone())?,
                    None => None,
                };
                for &i in &matched {
                    match (self.sub, &mut items[i]) {
                        (Some(sub), Value::Object(fields)) => {
                            set_or_remove(fields, sub, sub_value.clone())
                        }
                        (None, item) if op == Op::Add => merge_into_value(item, value.clone()),
                        (None, item) => *item = value.clone(),
                        (Some(_), _) => {}
                    }
                }
                let coerced = self.coerce(Value::Array(std::mem::take(&mut items)))?;
                items = coerced.map(into_items).unwrap_or_default();
            }
        }
        if !items.is_empty() {
            container.insert(self.name.to_owned(), Value::Array(items));
        }
        Ok(())
    }
}

fn member_changes(
    op: Op,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<Vec<MemberChange>, Invalid> {
    let refs = |value: Option<Value>| -> Result<Vec<MemberRef>, Invalid> {
        match value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.into_iter().map(member_ref).collect(),
            Some(single) => Ok(vec![member_ref(single)?]),
        }
    };
    let ids = |value: Option<Value>| -> Result<Vec<String>, Invalid> {
        Ok(refs(value)?.into_iter().map(|m| m.id).collect())
    };
    match (op, &path.filter) {
        (Op::Add, None) => Ok(vec![MemberChange::Add(refs(value)?)]),
        (Op::Replace, None) => Ok(vec![
            MemberChange::RemoveAll,
            MemberChange::Add(refs(value)?),
        ]),
        (Op::Remove, None) => match value {
            None | Some(Value::Null) => Ok(vec![MemberChange::RemoveAll]),
            some => Ok(vec![MemberChange::Remove(ids(some)?)]),
        },
        (Op::Remove, Some(filter)) => filter_member_ids(filter)
            .map(|ids| vec![MemberChange::Remove(ids)])
            .ok_or_else(|| {
                Invalid::new(
                    ScimType::InvalidFilter,
                    "a members filter must be value eq \"id\" (or several joined by or)",
                )
            }),
        (_, Some(_)) => Err(Invalid::new(
            ScimType::InvalidPath,
            "add and replace on members take a value list, not a filter",
        )),
    }
}

/// The ids named by `value eq "a" or value eq "b"`.
fn filter_member_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(id),
        } if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = filter_member_ids(a)?;
            ids.extend(filter_member_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// `{type: "work"}` from `type eq "work"` (and conjunctions of such equalities).
fn element_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub_attr.is_none() => {
            let value = match value {
                Literal::String(s) => Value::from(s.clone()),
                Literal::Bool(b) => Value::from(*b),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Null => return None,
            };
            let mut element = Map::new();
            element.insert(path.name.clone(), value);
            Some(element)
        }
        Filter::And(a, b) => {
            let mut element = element_from_filter(a)?;
            element.extend(element_from_filter(b)?);
            Some(element)
        }
        _ => None,
    }
}

fn check_writable(def: &AttributeDef) -> Result<(), Invalid> {
    if matches!(def.mutability, Mutability::ReadOnly) {
        return Err(Invalid::new(
            ScimType::Mutability,
            format!("attribute '{}' is read-only", def.name),
        ));
    }
    Ok(())
}

/// RFC 7643 §2.2 `immutable`: may be set once, never changed or removed.
fn check_immutable(
    def: &AttributeDef,
    attributes: &Map<String, Value>,
    urn: Option<&str>,
    op: Op,
) -> Result<(), Invalid> {
    if !matches!(def.mutability, Mutability::Immutable) {
        return Ok(());
    }
    let holder = match urn.and_then(|u| attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(u)))
    {
        Some((_, Value::Object(ext))) => ext,
        Some(_) => return Ok(()),
        None => attributes,
    };
    let is_set = holder
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(def.name) && !v.is_null());
    if is_set && (op != Op::Add || !def.multi_valued) {
        return Err(Invalid::new(
            ScimType::Mutability,
            format!("attribute '{}' is immutable", def.name),
        ));
    }
    Ok(())
}

fn is_known_urn(kind: ResourceKind, urn: &str) -> bool {
    urn.eq_ignore_ascii_case(kind.core_schema())
        || kind
            .extensions()
            .iter()
            .any(|u| u.eq_ignore_ascii_case(urn))
}

/// The object a path's attribute lives in: the resource, or an extension's object.
fn container_mut<'a>(
    kind: ResourceKind,
    attributes: &'a mut Map<String, Value>,
    urn: Option<&str>,
) -> Result<&'a mut Map<String, Value>, Invalid> {
    let Some(ext) = urn.and_then(|u| kind.extensions().iter().find(|e| e.eq_ignore_ascii_case(u)))
    else {
        return Ok(attributes);
    };
    if !matches!(attributes.get(*ext), Some(Value::Object(_))) {
        attributes.insert((*ext).to_owned(), Value::Object(Map::new()));
    }
    match attributes.get_mut(*ext) {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(Invalid::new(
            ScimType::InvalidPath,
            "extension is not an object",
        )),
    }
}

/// Drops an extension object left empty by a change.
fn prune_extension(attributes: &mut Map<String, Value>, urn: Option<&str>) {
    if let Some(urn) = urn {
        let empty = attributes
            .get(urn)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if empty {
            attributes.remove(urn);
        }
    }
    let empty_keys: Vec<String> = attributes
        .iter()
        .filter(|(k, v)| k.starts_with("urn:") && v.as_object().is_some_and(Map::is_empty))
        .map(|(k, _)| k.clone())
        .collect();
    for k in empty_keys {
        attributes.remove(&k);
    }
}

fn set_or_remove(fields: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    let existing = fields.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    let name = existing.clone().unwrap_or_else(|| key.to_owned());
    if let Some(existing) = existing {
        fields.remove(&existing);
    }
    if let Some(value) = value {
        fields.insert(name, value);
    }
}

fn drop_empty_elements(container: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Array(items)) = container.get_mut(name) {
        items.retain(|i| !i.as_object().is_some_and(Map::is_empty));
        if items.is_empty() {
            container.remove(name);
        }
    }
}

fn merge_into(element: &mut Map<String, Value>, value: Value) {
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            set_or_remove(element, &k, Some(v));
        }
    }
}

fn merge_into_value(item: &mut Value, value: Value) {
    match item {
        Value::Object(fields) => merge_into(fields, value),
        other => *other = value,
    }
}

fn into_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

/// What identifies a value of a multi-valued attribute: two values are the same when
/// their `value`s are equal (or, without a `value`, when they are equal as JSON). It
/// hashes, so adding or removing n values among m costs O(n + m), not O(n × m).
#[derive(Clone, Copy)]
struct ValueKey<'a> {
    has_value: bool,
    json: &'a Value,
}

impl<'a> ValueKey<'a> {
    fn of(item: &'a Value) -> Self {
        match item.get("value") {
            Some(json) => Self {
                has_value: true,
                json,
            },
            None => Self {
                has_value: false,
                json: item,
            },
        }
    }
}

impl PartialEq for ValueKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.has_value == other.has_value && self.json == other.json
    }
}

impl Eq for ValueKey<'_> {}

impl Hash for ValueKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.has_value.hash(state);
        hash_json(self.json, state);
    }
}

/// A hash consistent with `Value`'s equality: object keys are visited in the map's
/// (sorted) order, and numbers that compare equal hash alike (`-0.0` and `0.0`).
fn hash_json<H: Hasher>(value: &Value, state: &mut H) {
    match value {
        Value::Null => state.write_u8(0),
        Value::Bool(b) => {
            state.write_u8(1);
            b.hash(state);
        }
        Value::Number(n) => {
            state.write_u8(2);
            if let Some(u) = n.as_u64() {
                state.write_u8(0);
                u.hash(state);
            } else if let Some(i) = n.as_i64() {
                state.write_u8(1);
                i.hash(state);
            } else {
                state.write_u8(2);
                let f = n.as_f64().unwrap_or_default();
                (if f == 0.0 { 0.0f64 } else { f }).to_bits().hash(state);
            }
        }
        Value::String(s) => {
            state.write_u8(3);
            s.hash(state);
        }
        Value::Array(items) => {
            state.write_u8(4);
            items.len().hash(state);
            for item in items {
                hash_json(item, state);
            }
        }
        Value::Object(fields) => {
            state.write_u8(5);
            fields.len().hash(state);
            for (k, v) in fields {
                k.hash(state);
                hash_json(v, state);
            }
        }
    }
}

/// Appends the values of `new` that `items` does not hold yet (nor an earlier value
/// of `new`), in order.
fn append_distinct(items: &mut Vec<Value>, new: Vec<Value>) {
    let keep: Vec<bool> = {
        let mut seen: HashSet<ValueKey<'_>> = items.iter().map(ValueKey::of).collect();
        new.iter()
            .map(|item| seen.insert(ValueKey::of(item)))
            .collect()
    };
    items.extend(
        new.into_iter()
            .zip(keep)
            .filter_map(|(item, keep)| keep.then_some(item)),
    );
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    map.remove(&key)
}

fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    map.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn take_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    remove_ci(map, name)
}

/// Whether a `schemas` value is an array listing `urn` (in any case).
pub fn lists_urn(schemas: Option<&Value>, urn: &str) -> bool {
    schemas.and_then(Value::as_array).is_some_and(|s| {
        s.iter()
            .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)))
    })
}

fn syntax(detail: impl Into<String>) -> Invalid {
    Invalid::new(ScimType::InvalidSyntax, detail)
}

#[cfg(test)]
mod tests;
