//! The cases, one module per RFC section or identity-provider profile, and the helpers
//! they share.

mod entra;
mod jumpcloud;
mod okta;
mod rfc7643;
mod rfc7644_2;
mod rfc7644_3_12;
mod rfc7644_3_14;
mod rfc7644_3_3;
mod rfc7644_3_4;
mod rfc7644_3_4_2_2;
mod rfc7644_3_5_1;
mod rfc7644_3_5_2;
mod rfc7644_3_6;
mod rfc7644_3_7;
mod rfc7644_3_8;
mod rfc7644_4;

use serde_json::{json, Value};

use crate::http::{enc, Resp};
use crate::runner::{fail, Case, Ctx, Verdict};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Every case, in the order they run: discovery first, then the RFC in section order,
/// then the profiles.
pub fn all() -> Vec<Case> {
    [
        rfc7644_4::cases(),
        rfc7644_2::cases(),
        rfc7644_3_3::cases(),
        rfc7644_3_4::cases(),
        rfc7644_3_5_1::cases(),
        rfc7644_3_5_2::cases(),
        rfc7644_3_6::cases(),
        rfc7644_3_7::cases(),
        rfc7644_3_8::cases(),
        rfc7644_3_12::cases(),
        rfc7644_3_14::cases(),
        rfc7643::cases(),
        jumpcloud::cases(),
        okta::cases(),
        entra::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Status checks that turn an unexpected answer into a failure naming the request.
pub trait Want: Sized {
    fn want_any(self, codes: &[u16], what: &str) -> Result<Resp, Verdict>;
    fn want(self, code: u16, what: &str) -> Result<Resp, Verdict> {
        self.want_any(&[code], what)
    }
}

impl Want for Resp {
    fn want_any(self, codes: &[u16], what: &str) -> Result<Resp, Verdict> {
        if codes.contains(&self.status) {
            Ok(self)
        } else {
            let expected: Vec<String> = codes.iter().map(u16::to_string).collect();
            fail(format!(
                "{what}: expected {}, got {}: {}",
                expected.join(" or "),
                self.status,
                self.snippet()
            ))
        }
    }
}

/// A SCIM error response (RFC 7644 §3.12) with this status and, if given, `scimType`.
pub fn want_error(
    r: &Resp,
    status: u16,
    scim_type: Option<&str>,
    what: &str,
) -> Result<(), Verdict> {
    if r.status != status {
        return fail(format!(
            "{what}: expected {status}{}, got {}: {}",
            scim_type.map(|t| format!(" {t}")).unwrap_or_default(),
            r.status,
            r.snippet()
        ));
    }
    if let Some(t) = scim_type {
        if r.body["scimType"] != t {
            return fail(format!(
                "{what}: status {status} but scimType {} (want \"{t}\")",
                r.body["scimType"]
            ));
        }
    }
    Ok(())
}

/// Whether a JSON list holds this string.
pub fn has_string(list: &Value, s: &str) -> bool {
    list.as_array().is_some_and(|a| a.iter().any(|v| v == s))
}

pub fn patch_body(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// A minimal user the way every IdP sends one.
pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap_or_default().to_owned()
}

/// An attribute by name, ignoring case (RFC 7643 §2.1: attribute names are
/// case-insensitive, so a server may answer `UserName`).
pub fn attr<'a>(v: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map_or(&NULL, |(_, v)| v)
}

/// The sorted `value`s of a group's `members`.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = attr(group, "members")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The sorted ids of a ListResponse's `Resources`.
pub fn resource_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["Resources"]
        .as_array()
        .map(|a| a.iter().map(id_of).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The `value` of the email of this `type`, if any.
pub fn email_of_type<'a>(user: &'a Value, kind: &str) -> Option<&'a str> {
    attr(user, "emails")
        .as_array()?
        .iter()
        .find(|e| e["type"] == kind)
        .and_then(|e| e["value"].as_str())
}

/// An RFC 3339 date-time as seconds since the epoch, to compare timestamps written in
/// different precisions or offsets.
pub fn datetime(s: &str) -> Option<f64> {
    let (date, rest) = s.split_once(['T', 't'])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0.0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1.0 } else { 1.0 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            t,
            sign * (oh.parse::<f64>().ok()? * 3600.0 + om.parse::<f64>().ok()? * 60.0),
        )
    };
    let mut t = time.split(':');
    let (h, min, sec): (f64, f64, f64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + sec - offset)
}

/// Helpers that create, read and change resources, failing the case with context.
impl Ctx {
    /// A unique `userName` for this run: `scimconf-<run>-<n>@example.com`.
    pub fn user_name(&mut self) -> String {
        self.unique("@example.com")
    }

    pub fn group_name(&mut self) -> String {
        self.unique(" group")
    }

    /// POSTs a user, expects 201 with an id, and tracks it for cleanup.
    pub fn create_user(&mut self, body: &Value) -> Result<Value, Verdict> {
        self.create("/Users", body)
    }

    pub fn create_group(&mut self, body: &Value) -> Result<Value, Verdict> {
        self.create("/Groups", body)
    }

    fn create(&mut self, endpoint: &str, body: &Value) -> Result<Value, Verdict> {
        let r = self
            .http
            .post(endpoint, body)?
            .want(201, &format!("POST {endpoint}"))?;
        let id = id_of(&r.body);
        if id.is_empty() {
            return fail(format!(
                "POST {endpoint}: 201 without an id: {}",
                r.snippet()
            ));
        }
        self.track(format!("{endpoint}/{id}"));
        Ok(r.body)
    }

    /// A fresh user with the default body.
    pub fn new_user(&mut self) -> Result<Value, Verdict> {
        let name = self.user_name();
        self.create_user(&user_body(&name))
    }

    /// A fresh group with these members.
    pub fn new_group(&mut self, members: &[&str]) -> Result<Value, Verdict> {
        let name = self.group_name();
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        self.create_group(&json!({"schemas": [GROUP], "displayName": name, "members": members}))
    }

    /// GET that must answer 200; returns the body.
    pub fn fetch(&mut self, target: &str) -> Result<Value, Verdict> {
        Ok(self
            .http
            .get(target)?
            .want(200, &format!("GET {target}"))?
            .body)
    }

    /// PATCHes, accepts 200 or 204 (RFC 7644 §3.5.2), and returns the resource as a
    /// fresh GET shows it, so that both answers are judged on the stored state.
    pub fn patch_ok(&mut self, target: &str, operations: Value) -> Result<Value, Verdict> {
        let r = self
            .http
            .patch(target, &patch_body(operations))?
            .want_any(&[200, 204], &format!("PATCH {target}"))?;
        if r.status == 200 && !r.body.is_object() {
            return fail(format!("PATCH {target}: 200 without a resource body"));
        }
        self.fetch(target)
    }

    /// A ListResponse for `endpoint?filter=…` (plus any extra query), expecting 200.
    pub fn query(&mut self, endpoint: &str, filter: &str, extra: &str) -> Result<Value, Verdict> {
        let target = format!("{endpoint}?filter={}{extra}", enc(filter));
        let r = self
            .http
            .get(&target)?
            .want(200, &format!("GET {endpoint}?filter={filter}"))?;
        Ok(r.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_compare_across_formats() {
        let a = datetime("2026-11-24T17:14:06.140Z").unwrap();
        let b = datetime("2026-11-24T18:14:06.140+01:00").unwrap();
        assert!((a - b).abs() < 1e-6);
        assert_eq!(datetime("1970-01-01T00:00:00Z"), Some(0.0));
        assert!(
            datetime("2026-03-01T00:00:00Z").unwrap() > datetime("2026-02-28T23:59:59Z").unwrap()
        );
        assert_eq!(datetime("yesterday"), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            enc("userName eq \"a+b@x\""),
            "userName%20eq%20%22a%2Bb%40x%22"
        );
    }
}
