//! `/Bulk` (RFC 7644 §3.7): each operation is its own use case and transaction, in an
//! order that resolves `bulkId` references.

use std::collections::HashMap;

use super::{groups, users, Scope, ServiceError};
use crate::scim::bulk::{execution_order, Method, Operation, Request};
use crate::scim::etag::Preconditions;
use crate::scim::schema::ResourceKind;
use crate::store::DbConnection;

/// The outcome of one operation, reported in request order.
pub struct OperationOutcome {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub result: Result<Done, ServiceError>,
}

/// A successful operation: its status, and the resource's location and version.
pub struct Done {
    pub status: u16,
    pub location: Option<String>,
    pub version: Option<String>,
}

/// Runs a bulk request. Operations after the `failOnErrors`-th error are not run and
/// are left out of the result.
pub fn execute(
    conn: &mut DbConnection,
    scope: &Scope,
    request: Request,
    now: &str,
) -> Vec<OperationOutcome> {
    let (order, stuck) = execution_order(&request.operations);
    let mut outcomes: Vec<Option<OperationOutcome>> =
        request.operations.iter().map(|_| None).collect();
    let mut created: HashMap<String, String> = HashMap::new();
    let mut errors = 0;
    let mut operations: Vec<Option<Operation>> = request.operations.into_iter().map(Some).collect();
    for index in order.into_iter().chain(stuck) {
        if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let Some(mut op) = operations[index].take() else {
            continue;
        };
        let result = match op.resolve(&created) {
            Err(reference) => Err(ServiceError::UnresolvedReference(reference)),
            Ok(()) => run(conn, scope, &op, now),
        };
        if let (Ok(done), Some(bulk_id)) = (&result, &op.bulk_id) {
            if let Some(id) = done.location.as_deref().and_then(|l| l.rsplit('/').next()) {
                created.insert(bulk_id.clone(), id.to_owned());
            }
        }
        errors += usize::from(result.is_err());
        outcomes[index] = Some(OperationOutcome {
            method: op.method,
            bulk_id: op.bulk_id,
            result,
        });
    }
    outcomes.into_iter().flatten().collect()
}

fn run(
    conn: &mut DbConnection,
    scope: &Scope,
    op: &Operation,
    now: &str,
) -> Result<Done, ServiceError> {
    let pre = Preconditions::parse(op.version.as_deref(), None);
    let id = op.id.as_deref().unwrap_or_default();
    let data = || op.data.clone().unwrap_or_default();
    let method = match op.method {
        Method::Post => {
            let rendered = match op.kind {
                ResourceKind::User => users::create(conn, scope, data(), now)?,
                ResourceKind::Group => groups::create(conn, scope, data(), now)?,
            };
            return Ok(Done {
                status: 201,
                location: Some(rendered.location),
                version: Some(rendered.etag),
            });
        }
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    };
    // Under the deprovisioning guard, as the same request outside /Bulk would be.
    let body = if op.method == Method::Delete {
        serde_json::Value::Null
    } else {
        data()
    };
    let Some(rendered) =
        super::guard::scim(conn, scope, method, op.kind, id, body, &pre, now)?.value()
    else {
        return Ok(Done {
            status: 204,
            location: Some(scope.location(op.kind.endpoint().trim_start_matches('/'), id)),
            version: None,
        });
    };
    Ok(Done {
        status: 200,
        location: Some(rendered.location),
        version: Some(rendered.etag),
    })
}
