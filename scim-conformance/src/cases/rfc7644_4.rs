//! RFC 7644 §4 (and RFC 7643 §5–§7): the discovery endpoints a client reads before it
//! provisions anything.

use serde_json::Value;

use super::{attr, has_string, ENTERPRISE, GROUP, USER};
use crate::case;
use crate::ensure;
use crate::runner::{fail, Case, CaseResult, Ctx, Feature, Profile::Rfc};

#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        case!(Rfc, "rfc7644-4", [], rfc7644_4_service_provider_config_has_every_required_field),
        case!(Rfc, "rfc7644-4", [], rfc7644_4_resource_types_list_user_and_group),
        case!(Rfc, "rfc7644-4", [], rfc7644_4_resource_type_by_id),
        case!(Rfc, "rfc7644-4", [], rfc7644_4_schemas_describe_user_and_group),
        case!(Rfc, "rfc7644-4", [], rfc7644_4_schema_by_id),
    ]
}

/// RFC 7643 §5: `patch`, `bulk`, `filter`, `changePassword`, `sort`, `etag` and
/// `authenticationSchemes` are all REQUIRED; `bulk` and `filter` carry their limits.
fn rfc7644_4_service_provider_config_has_every_required_field(ctx: &mut Ctx) -> CaseResult {
    if let Some(why) = &ctx.caps.unreadable {
        return fail(why.clone());
    }
    let c = ctx.caps.config.clone();
    ensure!(
        has_string(
            &c["schemas"],
            "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
        ),
        "schemas lacks the ServiceProviderConfig URN: {}",
        c["schemas"]
    );
    for feature in Feature::ALL {
        ensure!(
            c[feature.key()]["supported"].is_boolean(),
            "{}.supported is not a boolean: {}",
            feature.key(),
            c[feature.key()]
        );
    }
    if c["bulk"]["supported"] == true {
        ensure!(
            c["bulk"]["maxOperations"].is_u64() && c["bulk"]["maxPayloadSize"].is_u64(),
            "bulk is supported but maxOperations/maxPayloadSize are missing: {}",
            c["bulk"]
        );
    }
    if c["filter"]["supported"] == true {
        ensure!(
            c["filter"]["maxResults"].is_u64(),
            "filter is supported but maxResults is missing: {}",
            c["filter"]
        );
    }
    let schemes = c["authenticationSchemes"].as_array();
    ensure!(
        schemes.is_some_and(|s| s.iter().all(|s| s["type"].is_string()
            && s["name"].is_string()
            && s["description"].is_string())),
        "authenticationSchemes must be a list of {{type, name, description}}: {}",
        c["authenticationSchemes"]
    );
    Ok(())
}

/// The ResourceTypes list, as a ListResponse or a bare array (both are seen in the wild
/// and RFC 7644 §4 does not pin the envelope down).
fn resource_types(ctx: &mut Ctx) -> Result<Vec<Value>, crate::runner::Verdict> {
    let body = ctx.fetch("/ResourceTypes")?;
    Ok(match &body {
        Value::Array(a) => a.clone(),
        _ => body["Resources"].as_array().cloned().unwrap_or_default(),
    })
}

/// RFC 7643 §6: each resource type names its `endpoint` and core `schema`.
fn rfc7644_4_resource_types_list_user_and_group(ctx: &mut Ctx) -> CaseResult {
    let types = resource_types(ctx)?;
    for (name, endpoint, schema) in [("User", "/Users", USER), ("Group", "/Groups", GROUP)] {
        let Some(t) = types.iter().find(|t| t["name"] == name) else {
            return fail(format!("no ResourceType named {name}"));
        };
        ensure!(
            t["endpoint"]
                .as_str()
                .is_some_and(|e| e.trim_end_matches('/').ends_with(endpoint)),
            "{name}.endpoint is {}, want {endpoint}",
            t["endpoint"]
        );
        ensure!(
            t["schema"] == schema,
            "{name}.schema is {}, want {schema}",
            t["schema"]
        );
    }
    Ok(())
}

fn rfc7644_4_resource_type_by_id(ctx: &mut Ctx) -> CaseResult {
    let t = ctx.fetch("/ResourceTypes/User")?;
    ensure!(
        t["schema"] == USER,
        "GET /ResourceTypes/User: schema is {}",
        t["schema"]
    );
    Ok(())
}

/// RFC 7643 §7: the core schemas list their attributes; `userName` is required.
fn rfc7644_4_schemas_describe_user_and_group(ctx: &mut Ctx) -> CaseResult {
    let body = ctx.fetch("/Schemas")?;
    let schemas = match &body {
        Value::Array(a) => a.clone(),
        _ => body["Resources"].as_array().cloned().unwrap_or_default(),
    };
    for urn in [USER, GROUP] {
        let Some(s) = schemas.iter().find(|s| s["id"] == urn) else {
            return fail(format!("GET /Schemas lacks {urn}"));
        };
        ensure!(
            s["attributes"].as_array().is_some_and(|a| !a.is_empty()),
            "{urn} has no attributes"
        );
    }
    let user = schemas.iter().find(|s| s["id"] == USER).expect("checked");
    let user_name = user["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|a| attr(a, "name") == "userName"));
    ensure!(
        user_name.is_some_and(|u| u["required"] == true),
        "the User schema does not describe userName as required: {:?}",
        user_name
    );
    // The enterprise extension is optional, but if it is advertised it is described.
    let advertised = resource_types(ctx)?.iter().any(|t| {
        t["schemaExtensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["schema"] == ENTERPRISE))
    });
    if advertised {
        ensure!(
            schemas.iter().any(|s| s["id"] == ENTERPRISE),
            "ResourceType User lists the enterprise extension, but /Schemas does not describe it"
        );
    }
    Ok(())
}

fn rfc7644_4_schema_by_id(ctx: &mut Ctx) -> CaseResult {
    let s = ctx.fetch(&format!("/Schemas/{USER}"))?;
    ensure!(s["id"] == USER, "GET /Schemas/{USER}: id is {}", s["id"]);
    Ok(())
}
