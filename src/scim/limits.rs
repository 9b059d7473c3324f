//! How much one request may ask of the core, checked before any use case runs.
//!
//! Writes run inside the single writer (SQLite's, and a per-tenant one on PostgreSQL),
//! so the cost of one request is a wait for everyone else. The core is linear (or
//! n log n) in what it is given; these limits bound what it is given. The HTTP handlers
//! call [`check_resource`], [`check_patch`] and [`check_bulk`] on the parsed body before
//! the use case starts; [`check_growth`] runs after a PATCH has been applied, on what
//! would be stored.
//!
//! Exceeding a limit is 400 with `scimType` `tooMany`: RFC 7644 §3.12 defines it for a
//! request that asks more than the server is willing to process, and 413 is kept for
//! what the RFC reserves it for, bytes (`maxPayloadSize`) and Bulk's `maxOperations`
//! (§3.7.4). The detail names the limit and its value, never the offending input.

use serde_json::{Map, Value};

use super::bulk::{self, Method};
use super::error::{Invalid, ScimType};
use super::schema::ResourceKind;

/// Values of one multi-valued attribute (a User's `emails`, `phoneNumbers`, …), and
/// elements of any other JSON array in a resource body.
pub const MAX_VALUES: usize = 1_000;
/// Members in one POST or PUT of a Group, or in one PATCH operation on `members`.
/// Bigger groups are built by several PATCHes: membership is stored row by row.
pub const MAX_MEMBERS: usize = 10_000;
/// Operations of one PATCH request; each attribute of a path-less `value` object
/// counts as one operation (it is applied as one).
pub const MAX_OPERATIONS: usize = 1_000;
/// Attributes of a resource, counting each attribute inside an extension as one; also
/// the most members any JSON object of a body may have.
pub const MAX_ATTRIBUTES: usize = 200;
/// Nesting of a resource or PATCH body: the body object is level 1.
pub const MAX_DEPTH: usize = 16;

/// A POST or PUT body of `kind`.
pub fn check_resource(kind: ResourceKind, body: &Value) -> Result<(), Invalid> {
    let Value::Object(fields) = body else {
        // Not an object: normalisation refuses it with its own message.
        return Ok(());
    };
    check_attribute_count(fields)?;
    for (key, value) in fields {
        let limit = if kind == ResourceKind::Group && key.eq_ignore_ascii_case("members") {
            Limit::Members
        } else {
            Limit::Values
        };
        check_tree(value, 2, limit)?;
    }
    Ok(())
}

/// A PATCH body on a resource of `kind`.
pub fn check_patch(kind: ResourceKind, body: &Value) -> Result<(), Invalid> {
    let Value::Object(fields) = body else {
        return Ok(());
    };
    check_object_size(fields)?;
    let mut counted = 0usize;
    for (key, value) in fields {
        let Value::Array(operations) = value else {
            check_tree(value, 2, Limit::Values)?;
            continue;
        };
        if !key.eq_ignore_ascii_case("Operations") {
            check_tree(value, 2, Limit::Values)?;
            continue;
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(too_many_operations());
        }
        for operation in operations {
            counted += check_operation(kind, operation)?;
            if counted > MAX_OPERATIONS {
                return Err(too_many_operations());
            }
        }
    }
    Ok(())
}

/// Each operation's `data` of a Bulk request, as the request it stands for.
pub fn check_bulk(request: &bulk::Request) -> Result<(), Invalid> {
    for operation in &request.operations {
        let Some(data) = &operation.data else {
            continue;
        };
        match operation.method {
            Method::Post | Method::Put => check_resource(operation.kind, data)?,
            Method::Patch => check_patch(operation.kind, data)?,
            Method::Delete => {}
        }
    }
    Ok(())
}

/// What a PATCH would store, against what was stored: the change may not take the
/// resource past [`MAX_ATTRIBUTES`], nor a multi-valued attribute past [`MAX_VALUES`].
/// A resource stored before these limits existed may keep what it has, not grow it.
pub fn check_growth(old: &Map<String, Value>, new: &Map<String, Value>) -> Result<(), Invalid> {
    let count = attribute_count(new);
    if count > MAX_ATTRIBUTES && count > attribute_count(old) {
        return Err(too_many_attributes());
    }
    let arrays = |map: &Map<String, Value>| -> Vec<(Option<String>, String, usize)> {
        let mut out = Vec::new();
        for (key, value) in map {
            match value {
                Value::Array(items) => out.push((None, key.clone(), items.len())),
                Value::Object(ext) if is_urn(key) => {
                    for (name, value) in ext {
                        if let Value::Array(items) = value {
                            out.push((Some(key.clone()), name.clone(), items.len()));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    };
    let before = |holder: &Option<String>, name: &str| -> usize {
        let map = match holder {
            None => Some(old),
            Some(urn) => old.get(urn).and_then(Value::as_object),
        };
        map.and_then(|m| m.get(name))
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    for (holder, name, len) in arrays(new) {
        if len > MAX_VALUES && len > before(&holder, &name) {
            return Err(too_many_values());
        }
    }
    Ok(())
}

/// Checks one PATCH operation; returns how many operations it counts as.
fn check_operation(kind: ResourceKind, operation: &Value) -> Result<usize, Invalid> {
    let Value::Object(fields) = operation else {
        return Ok(1);
    };
    check_object_size(fields)?;
    let path = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("path"))
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let mut counted = 1;
    for (key, value) in fields {
        if !key.eq_ignore_ascii_case("value") {
            check_tree(value, 4, Limit::Values)?;
            continue;
        }
        match (path, value) {
            (Some(path), _) => {
                let limit = if kind == ResourceKind::Group && names_members(path) {
                    Limit::Members
                } else {
                    Limit::Values
                };
                check_tree(value, 4, limit)?;
            }
            // A path-less value object: its attributes are applied one by one.
            (None, Value::Object(attributes)) => {
                check_attribute_count(attributes)?;
                counted = attribute_count(attributes).max(1);
                for (name, value) in attributes {
                    let limit =
                        if kind == ResourceKind::Group && name.eq_ignore_ascii_case("members") {
                            Limit::Members
                        } else {
                            Limit::Values
                        };
                    check_tree(value, 5, limit)?;
                }
            }
            (None, value) => check_tree(value, 4, Limit::Values)?,
        }
    }
    Ok(counted)
}

/// Whether a PATCH path addresses a Group's `members` (with or without a filter or
/// the core schema URN).
fn names_members(path: &str) -> bool {
    const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group:";
    let path = match path.get(..GROUP_URN.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(GROUP_URN) => &path[GROUP_URN.len()..],
        _ => path,
    };
    let name_end = path
        .find(|c: char| c == '[' || c == '.' || c.is_whitespace())
        .unwrap_or(path.len());
    path[..name_end].eq_ignore_ascii_case("members")
}

/// How long the arrays directly in a value may be.
#[derive(Clone, Copy)]
enum Limit {
    Values,
    Members,
}

/// Walks `value` (found at nesting level `depth`) without recursion: depth, object
/// sizes and array lengths. Only `value` itself may be a members list.
fn check_tree(value: &Value, depth: usize, top: Limit) -> Result<(), Invalid> {
    let mut stack = vec![(value, depth, top)];
    while let Some((value, depth, limit)) = stack.pop() {
        match value {
            Value::Object(fields) => {
                check_depth(depth)?;
                check_object_size(fields)?;
                stack.extend(fields.values().map(|v| (v, depth + 1, Limit::Values)));
            }
            Value::Array(items) => {
                check_depth(depth)?;
                match limit {
                    Limit::Members if items.len() > MAX_MEMBERS => {
                        return Err(Invalid::new(
                            ScimType::TooMany,
                            format!(
                                "one request may add or set at most {MAX_MEMBERS} members; \
                                 add more with further PATCH requests"
                            ),
                        ));
                    }
                    Limit::Values if items.len() > MAX_VALUES => return Err(too_many_values()),
                    _ => {}
                }
                stack.extend(items.iter().map(|v| (v, depth + 1, Limit::Values)));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_depth(depth: usize) -> Result<(), Invalid> {
    if depth > MAX_DEPTH {
        return Err(Invalid::new(
            ScimType::TooMany,
            format!("JSON may nest at most {MAX_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

fn check_object_size(fields: &Map<String, Value>) -> Result<(), Invalid> {
    if fields.len() > MAX_ATTRIBUTES {
        return Err(Invalid::new(
            ScimType::TooMany,
            format!("a JSON object may have at most {MAX_ATTRIBUTES} members"),
        ));
    }
    Ok(())
}

fn check_attribute_count(fields: &Map<String, Value>) -> Result<(), Invalid> {
    check_object_size(fields)?;
    if attribute_count(fields) > MAX_ATTRIBUTES {
        return Err(too_many_attributes());
    }
    Ok(())
}

/// Top-level attributes, with an extension object counted as the attributes in it.
fn attribute_count(fields: &Map<String, Value>) -> usize {
    fields
        .iter()
        .map(|(key, value)| match value {
            Value::Object(ext) if is_urn(key) => ext.len(),
            _ => 1,
        })
        .sum()
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

fn too_many_values() -> Invalid {
    Invalid::new(
        ScimType::TooMany,
        format!("an attribute may have at most {MAX_VALUES} values"),
    )
}

fn too_many_attributes() -> Invalid {
    Invalid::new(
        ScimType::TooMany,
        format!(
            "a resource may have at most {MAX_ATTRIBUTES} attributes, counting those of extensions"
        ),
    )
}

fn too_many_operations() -> Invalid {
    Invalid::new(
        ScimType::TooMany,
        format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations, counting each \
             attribute of a value object without a path as one"
        ),
    )
}

#[cfg(test)]
mod tests;
