//! RFC 7644 §3.7: bulk operations (only when the ServiceProviderConfig says
//! `bulk.supported`).

use serde_json::{json, Value};

use super::{has_string, id_of, member_ids, user_body, Want, BULK_REQUEST, BULK_RESPONSE, GROUP};
use crate::case;
use crate::ensure;
use crate::runner::{fail, skip, Case, CaseResult, Ctx, Profile::Rfc, Verdict};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-3.7", [Bulk], rfc7644_3_7_bulk_id_references_resolve),
        case!(Rfc, "rfc7644-3.7", [Bulk, Patch], rfc7644_3_7_each_operation_gets_its_status),
        case!(Rfc, "rfc7644-3.7.3", [Bulk], rfc7644_3_7_3_fail_on_errors_stops_processing),
        case!(Rfc, "rfc7644-3.7.4", [Bulk], rfc7644_3_7_4_more_than_max_operations_is_413),
        case!(Rfc, "rfc7644-3.7.4", [Bulk], rfc7644_3_7_4_more_than_max_payload_size_is_413),
    ]
}

/// An operation's `status`: RFC 7644 writes it as a string ("201"); a number is read too.
fn status_of(op: &Value) -> Option<u16> {
    match &op["status"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// Sends a BulkRequest and returns the response's `Operations` (200 expected).
fn bulk(
    ctx: &mut Ctx,
    operations: Value,
    fail_on_errors: Option<u32>,
) -> Result<Vec<Value>, Verdict> {
    let mut body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    let r = ctx.http.post("/Bulk", &body)?.want(200, "POST /Bulk")?;
    ensure!(
        has_string(&r.body["schemas"], BULK_RESPONSE),
        "schemas lacks the BulkResponse URN: {}",
        r.body["schemas"]
    );
    let ops = r.body["Operations"].as_array().cloned().unwrap_or_default();
    // Track whatever got created, so cleanup finds it even if the case fails.
    for op in &ops {
        if op["method"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("POST"))
            && status_of(op) == Some(201)
        {
            if let Some(path) = local_path(op) {
                ctx.track(path);
            }
        }
    }
    Ok(ops)
}

/// `/Users/{id}` from an operation's absolute `location`.
fn local_path(op: &Value) -> Option<String> {
    let location = op["location"].as_str()?;
    let at = location
        .rfind("/Users/")
        .or_else(|| location.rfind("/Groups/"))?;
    Some(location[at..].to_owned())
}

/// §3.7.2: "bulkId:<id>" in one operation's data refers to the resource another
/// operation of the same request creates.
fn rfc7644_3_7_bulk_id_references_resolve(ctx: &mut Ctx) -> CaseResult {
    let user_name = ctx.user_name();
    let group_name = ctx.group_name();
    let ops = bulk(
        ctx,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body(&user_name)},
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                "schemas": [GROUP], "displayName": group_name,
                "members": [{"value": "bulkId:u1", "type": "User"}]}}
        ]),
        None,
    )?;
    let find = |bulk_id: &str| ops.iter().find(|o| o["bulkId"] == bulk_id).cloned();
    let (Some(user), Some(group)) = (find("u1"), find("g1")) else {
        return fail(format!("the response lacks bulkIds u1/g1: {ops:?}"));
    };
    for op in [&user, &group] {
        ensure!(
            status_of(op) == Some(201),
            "operation {} answered {}",
            op["bulkId"],
            op["status"]
        );
    }
    let (Some(user_path), Some(group_path)) = (local_path(&user), local_path(&group)) else {
        return fail("201 operations without a location");
    };
    let group = ctx.fetch(&group_path)?;
    let user_id = user_path.rsplit('/').next().unwrap_or_default().to_owned();
    ensure!(
        member_ids(&group) == vec![user_id],
        "the group's members are {:?}, want the user bulkId:u1 created",
        member_ids(&group)
    );
    Ok(())
}

/// Each operation reports its own `status`; "When indicating a response with an HTTP
/// status other than a 200-series response, the response body MUST be included."
fn rfc7644_3_7_each_operation_gets_its_status(ctx: &mut Ctx) -> CaseResult {
    let existing = ctx.new_user()?;
    let path = format!("/Users/{}", id_of(&existing));
    let missing = format!("/Users/{}", uuid::Uuid::new_v4());
    let new_name = ctx.user_name();
    let ops = bulk(
        ctx,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "n1", "data": user_body(&new_name)},
            {"method": "PATCH", "path": path, "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Bulk"}]}},
            {"method": "DELETE", "path": missing}
        ]),
        None,
    )?;
    ensure!(ops.len() == 3, "{} results for 3 operations", ops.len());
    let by_method = |m: &str| {
        ops.iter()
            .find(|o| {
                o["method"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(m))
            })
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (post, patch, delete) = (by_method("POST"), by_method("PATCH"), by_method("DELETE"));
    ensure!(
        status_of(&post) == Some(201),
        "POST answered {}",
        post["status"]
    );
    ensure!(
        matches!(status_of(&patch), Some(200 | 204)),
        "PATCH answered {}",
        patch["status"]
    );
    ensure!(
        status_of(&delete) == Some(404),
        "DELETE of an unknown id answered {}",
        delete["status"]
    );
    ensure!(
        delete["response"].is_object(),
        "the failed operation carries no response body: {delete}"
    );
    let stored = ctx.fetch(&path)?;
    ensure!(
        super::attr(&stored, "displayName") == "Bulk",
        "the PATCH did not apply"
    );
    Ok(())
}

/// "failOnErrors: An integer specifying the number of errors that the service provider
/// will accept before the operation is terminated": with 1 and two failing operations,
/// the second never runs, whatever the order chosen.
fn rfc7644_3_7_3_fail_on_errors_stops_processing(ctx: &mut Ctx) -> CaseResult {
    let invalid = json!({"schemas": [super::USER], "displayName": "no userName"});
    let ops = bulk(
        ctx,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "bad1", "data": invalid},
            {"method": "POST", "path": "/Users", "bulkId": "bad2", "data": invalid}
        ]),
        Some(1),
    )?;
    ensure!(
        ops.len() == 1,
        "failOnErrors=1: {} results, want 1 (processing must stop)",
        ops.len()
    );
    ensure!(
        status_of(&ops[0]).is_some_and(|s| s >= 400),
        "the failed operation answered {}",
        ops[0]["status"]
    );
    Ok(())
}

/// "If either limit is exceeded, the service provider MUST return HTTP response code
/// 413 (Payload Too Large)."
fn rfc7644_3_7_4_more_than_max_operations_is_413(ctx: &mut Ctx) -> CaseResult {
    let bulk_config = &ctx.caps.config["bulk"];
    let Some(max) = bulk_config["maxOperations"].as_u64() else {
        return skip("bulk.maxOperations not advertised");
    };
    if max > 10_000 {
        return skip(format!("bulk.maxOperations is {max}; too many to send"));
    }
    // Deletes of ids that do not exist: harmless even if a server ran them.
    let operations: Vec<Value> = (0..=max)
        .map(|_| json!({"method": "DELETE", "path": format!("/Users/{}", uuid::Uuid::new_v4())}))
        .collect();
    let body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    if let Some(max_bytes) = bulk_config["maxPayloadSize"].as_u64() {
        if body.to_string().len() as u64 > max_bytes {
            return skip(
                "maxOperations+1 operations exceed maxPayloadSize; cannot isolate the limit",
            );
        }
    }
    let r = ctx.http.post("/Bulk", &body)?;
    ensure!(
        r.status == 413,
        "{} operations (maxOperations {max}) answered {}",
        max + 1,
        r.status
    );
    Ok(())
}

/// The other limit of §3.7.4: a body above `maxPayloadSize` is 413, whatever it holds.
fn rfc7644_3_7_4_more_than_max_payload_size_is_413(ctx: &mut Ctx) -> CaseResult {
    let Some(max) = ctx.caps.config["bulk"]["maxPayloadSize"].as_u64() else {
        return skip("bulk.maxPayloadSize not advertised");
    };
    if max > 16 << 20 {
        return skip(format!(
            "bulk.maxPayloadSize is {max} bytes; too large to send"
        ));
    }
    // One harmless operation, padded past the limit.
    let padding = "x".repeat(max as usize + 1);
    let body = json!({"schemas": [BULK_REQUEST], "Operations": [
        {"method": "DELETE", "path": format!("/Users/{}", uuid::Uuid::new_v4()), "data": {"padding": padding}}
    ]});
    let r = ctx.http.post("/Bulk", &body)?;
    ensure!(
        r.status == 413,
        "a {}-byte BulkRequest (maxPayloadSize {max}) answered {}",
        body.to_string().len(),
        r.status
    );
    Ok(())
}
