//! Bulk requests (RFC 7644 §3.7): parsing, `bulkId` references and their order.
//!
//! An operation may name a resource another operation of the same request creates, as
//! `bulkId:<id>` in its path or anywhere in its data, before or after that operation in
//! the request. Operations run in an order where every reference is already resolved;
//! references that can never resolve (a cycle, an unknown or failed bulkId) fail that
//! operation with 409.

use std::collections::HashMap;

use serde_json::Value;

use super::error::{Invalid, ScimType};
use super::schema::{ResourceKind, BULK_REQUEST};

/// The most operations one request may carry (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;

const REFERENCE_PREFIX: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub kind: ResourceKind,
    /// The resource id (or `bulkId:x`) for PUT, PATCH and DELETE.
    pub id: Option<String>,
    pub data: Option<Value>,
    /// An ETag the resource must still have (`version`), as `If-Match`.
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Stop after this many errors (`failOnErrors`); `None` runs every operation.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a bulk request may carry at most {max} operations")]
    TooManyOperations { max: usize },
}

pub fn parse_request(body: Value) -> Result<Request, BulkError> {
    let Value::Object(mut body) = body else {
        return Err(syntax("the request body must be a JSON object").into());
    };
    if let Some(schemas) = take(&mut body, "schemas") {
        let listed = schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST))
            })
        });
        if !listed {
            return Err(syntax(format!("'schemas' must contain {BULK_REQUEST}")).into());
        }
    }
    let fail_on_errors = match take(&mut body, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            Invalid::new(
                ScimType::InvalidValue,
                "'failOnErrors' must be a positive integer",
            )
        })? as usize),
        Some(_) => {
            return Err(Invalid::new(
                ScimType::InvalidValue,
                "'failOnErrors' must be a positive integer",
            )
            .into())
        }
    };
    let Some(Value::Array(operations)) = take(&mut body, "Operations") else {
        return Err(syntax("'Operations' must be an array").into());
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(BulkError::TooManyOperations {
            max: MAX_OPERATIONS,
        });
    }
    let operations = operations
        .into_iter()
        .map(parse_operation)
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    for op in &operations {
        if let Some(id) = &op.bulk_id {
            if !seen.insert(id.as_str()) {
                return Err(Invalid::new(
                    ScimType::InvalidValue,
                    format!("bulkId '{id}' is used twice"),
                )
                .into());
            }
        }
    }
    Ok(Request {
        fail_on_errors,
        operations,
    })
}

fn parse_operation(operation: Value) -> Result<Operation, Invalid> {
    let Value::Object(mut operation) = operation else {
        return Err(syntax("each operation must be a JSON object"));
    };
    let method = match take(&mut operation, "method") {
        Some(Value::String(m)) => match m.to_ascii_uppercase().as_str() {
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return Err(syntax("'method' must be POST, PUT, PATCH or DELETE")),
        },
        _ => return Err(syntax("each operation needs a 'method'")),
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let bulk_id = text(take(&mut operation, "bulkId"));
    if method == Method::Post && bulk_id.is_none() {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "a POST operation needs a 'bulkId'",
        ));
    }
    let path = text(take(&mut operation, "path"))
        .ok_or_else(|| Invalid::new(ScimType::InvalidPath, "each operation needs a 'path'"))?;
    let (kind, id) = parse_path(&path)?;
    match (method, &id) {
        (Method::Post, Some(_)) => {
            return Err(Invalid::new(
                ScimType::InvalidPath,
                "POST goes to /Users or /Groups",
            ))
        }
        (Method::Put | Method::Patch | Method::Delete, None) => {
            return Err(Invalid::new(
                ScimType::InvalidPath,
                "PUT, PATCH and DELETE need /Users/{id} or /Groups/{id}",
            ));
        }
        _ => {}
    }
    let data = take(&mut operation, "data").filter(|d| !d.is_null());
    if method != Method::Delete && data.is_none() {
        return Err(Invalid::new(
            ScimType::InvalidSyntax,
            "POST, PUT and PATCH operations need 'data'",
        ));
    }
    Ok(Operation {
        method,
        bulk_id,
        kind,
        id,
        data,
        version: text(take(&mut operation, "version")),
    })
}

/// `/Users`, `/Groups/{id}` or `/Users/bulkId:q1`.
fn parse_path(path: &str) -> Result<(ResourceKind, Option<String>), Invalid> {
    let mut parts = path.trim_matches('/').splitn(2, '/');
    // Endpoint names match in any case, as on the URL.
    let kind = match parts.next() {
        Some(e) if e.eq_ignore_ascii_case("Users") => ResourceKind::User,
        Some(e) if e.eq_ignore_ascii_case("Groups") => ResourceKind::Group,
        _ => {
            return Err(Invalid::new(
                ScimType::InvalidPath,
                "an operation path must start with /Users or /Groups",
            ))
        }
    };
    let id = parts
        .next()
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned);
    if parts.next().is_some() {
        return Err(Invalid::new(
            ScimType::InvalidPath,
            "an operation path names at most one resource",
        ));
    }
    Ok((kind, id))
}

impl Operation {
    /// The bulkIds this operation refers to, in its path and data.
    pub fn references(&self) -> Vec<String> {
        let mut refs = Vec::new();
        if let Some(r) = self
            .id
            .as_deref()
            .and_then(|id| id.strip_prefix(REFERENCE_PREFIX))
        {
            refs.push(r.to_owned());
        }
        if let Some(data) = &self.data {
            collect_references(data, &mut refs);
        }
        refs
    }

    /// Replaces every `bulkId:x` with the id `x` created; an unresolved reference is
    /// returned as the error.
    pub fn resolve(&mut self, created: &HashMap<String, String>) -> Result<(), String> {
        if let Some(id) = &mut self.id {
            substitute_string(id, created)?;
        }
        if let Some(data) = &mut self.data {
            substitute(data, created)?;
        }
        Ok(())
    }
}

fn collect_references(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix(REFERENCE_PREFIX) {
                refs.push(r.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, refs)),
        Value::Object(fields) => fields.values().for_each(|v| collect_references(v, refs)),
        _ => {}
    }
}

fn substitute(value: &mut Value, created: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => substitute_string(s, created),
        Value::Array(items) => items.iter_mut().try_for_each(|v| substitute(v, created)),
        Value::Object(fields) => fields.values_mut().try_for_each(|v| substitute(v, created)),
        _ => Ok(()),
    }
}

fn substitute_string(s: &mut String, created: &HashMap<String, String>) -> Result<(), String> {
    if let Some(r) = s.strip_prefix(REFERENCE_PREFIX) {
        let id = created.get(r).ok_or_else(|| r.to_owned())?;
        *s = id.clone();
    }
    Ok(())
}

/// An order to run the operations in: each after the POSTs whose bulkIds it references.
/// Operations left out can never run: their references form a cycle or name a bulkId no
/// POST defines.
pub fn execution_order(operations: &[Operation]) -> (Vec<usize>, Vec<usize>) {
    let defined: HashMap<&str, usize> = operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == Method::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let deps: Vec<Vec<usize>> = operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            op.references()
                .iter()
                // An unknown bulkId is a dependency on an operation that never runs.
                .map(|r| defined.get(r.as_str()).copied().unwrap_or(usize::MAX))
                .filter(|d| *d != i)
                .collect()
        })
        .collect();
    let mut done = vec![false; operations.len()];
    let mut order = Vec::with_capacity(operations.len());
    // Repeated passes keep request order among independent operations; at most n passes.
    loop {
        let before = order.len();
        for i in 0..operations.len() {
            if !done[i]
                && deps[i]
                    .iter()
                    .all(|d| done.get(*d).copied().unwrap_or(false))
            {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            break;
        }
    }
    let stuck = (0..operations.len()).filter(|i| !done[*i]).collect();
    (order, stuck)
}

fn take(map: &mut serde_json::Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    map.remove(&key)
}

fn syntax(detail: impl Into<String>) -> Invalid {
    Invalid::new(ScimType::InvalidSyntax, detail)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(ops: Value) -> Request {
        parse_request(json!({"schemas": [BULK_REQUEST], "Operations": ops})).unwrap()
    }

    #[test]
    fn forward_references_run_after_the_post_they_name() {
        let r = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}},
        ]));
        assert_eq!(execution_order(&r.operations), (vec![1, 0], vec![]));
    }

    #[test]
    fn cycles_and_unknown_references_never_run() {
        let r = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:nope"},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "c"}},
        ]));
        assert_eq!(execution_order(&r.operations), (vec![3], vec![0, 1, 2]));
    }

    #[test]
    fn references_are_substituted_in_path_and_data() {
        let mut op = request(json!([{"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]}}]))
            .operations
            .remove(0);
        let created = HashMap::from([
            ("g".to_owned(), "G1".to_owned()),
            ("u".to_owned(), "U1".to_owned()),
        ]);
        op.resolve(&created).unwrap();
        assert_eq!(op.id.as_deref(), Some("G1"));
        assert_eq!(op.data.unwrap()["Operations"][0]["value"][0]["value"], "U1");
    }

    #[test]
    fn malformed_requests_are_rejected() {
        let bad = |ops: Value| parse_request(json!({"Operations": ops})).unwrap_err();
        assert!(matches!(
            bad(json!([{"method": "GET", "path": "/Users"}])),
            BulkError::Invalid(_)
        ));
        assert!(matches!(
            bad(json!([{"method": "POST", "path": "/Users", "data": {}}])),
            BulkError::Invalid(_)
        ));
        assert!(matches!(
            bad(json!([{"method": "DELETE", "path": "/Users"}])),
            BulkError::Invalid(_)
        ));
        assert!(matches!(
            bad(json!([{"method": "PUT", "path": "/Widgets/1", "data": {}}])),
            BulkError::Invalid(_)
        ));
        let many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        assert_eq!(
            bad(Value::Array(many)),
            BulkError::TooManyOperations {
                max: MAX_OPERATIONS
            }
        );
        let twice = json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "b"}},
        ]);
        assert!(matches!(bad(twice), BulkError::Invalid(_)));
    }
}
