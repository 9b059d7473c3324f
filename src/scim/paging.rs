//! Sorting (RFC 7644 §3.4.2.3) and cursor paging (RFC 9865): the parameters, and the
//! opaque cursor roster hands out.
//!
//! A cursor is base64url (no padding) of a small JSON object: the position (the last or
//! first row's sort key and id, and the direction) and a fingerprint of the query (the
//! endpoint, filter and sort). It holds no secret and grants nothing: the tenant comes
//! from the token, so a forged cursor can only name a position in the caller's own
//! list. A cursor that does not decode, or that belongs to another query, is 400
//! `invalidCursor`. Cursors do not expire: a position stays meaningful for ever.

use serde_json::{json, Value};

use super::error::{Invalid, ScimType};
use super::filter::{self, AttrPath, Filter};

/// RFC 7644 §3.4.2.3 `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// `sortBy` and `sortOrder`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub by: AttrPath,
    pub order: SortOrder,
}

/// Where a cursor page starts: after (or, walking back, before) the row with this sort
/// key and id. `key` is `None` when the list is in id order or the row had no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: Option<String>,
    pub id: String,
    pub backward: bool,
}

/// A `cursor` parameter as sent: empty for the first page, else an encoded position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorParam(pub String);

/// Reads `sortBy` and `sortOrder` (RFC 7644 §3.4.2.3: ascending by default; the order
/// alone means nothing). Whether the attribute can be sorted on is the store's call.
pub fn parse_sort(
    sort_by: Option<&str>,
    sort_order: Option<&str>,
) -> Result<Option<Sort>, Invalid> {
    let order = match sort_order.map(str::trim).filter(|s| !s.is_empty()) {
        None => SortOrder::Ascending,
        Some(o) if o.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
        Some(o) if o.eq_ignore_ascii_case("descending") => SortOrder::Descending,
        Some(_) => {
            return Err(Invalid::new(
                ScimType::InvalidValue,
                "sortOrder must be 'ascending' or 'descending'",
            ))
        }
    };
    let Some(by) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let path = filter::parse_path(by)
        .map_err(|e| Invalid::new(ScimType::InvalidValue, format!("bad sortBy: {e}")))?;
    if path.filter.is_some() {
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "sortBy takes an attribute name, not a filter",
        ));
    }
    Ok(Some(Sort {
        by: path.attr,
        order,
    }))
}

/// What a cursor is bound to: the endpoint (`Users`, `Groups`), the filter and the
/// sort, in canonical text. A stable 64-bit FNV-1a hash keeps cursors short.
pub fn fingerprint(endpoint: &str, filter: Option<&Filter>, sort: Option<&Sort>) -> String {
    let mut text = format!("{endpoint}\n");
    if let Some(f) = filter {
        text.push_str(&f.to_string());
    }
    text.push('\n');
    if let Some(s) = sort {
        text.push_str(&s.by.to_string().to_ascii_lowercase());
        text.push_str(match s.order {
            SortOrder::Ascending => " a",
            SortOrder::Descending => " d",
        });
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The cursor for `position` in the query with this fingerprint.
pub fn encode(fingerprint: &str, position: &Position) -> String {
    let body = json!({
        "q": fingerprint,
        "k": position.key,
        "i": position.id,
        "b": position.backward,
    });
    base64url(body.to_string().as_bytes())
}

impl CursorParam {
    /// The position this cursor names, `None` for the first page; 400 `invalidCursor`
    /// when it does not decode or was issued for another query.
    pub fn position(&self, fingerprint: &str) -> Result<Option<Position>, Invalid> {
        let text = self.0.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let invalid = || {
            Invalid::new(
                ScimType::InvalidCursor,
                "the cursor is not one this server issued for this query",
            )
        };
        let bytes = unbase64url(text).ok_or_else(invalid)?;
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(invalid());
        };
        if body.get("q").and_then(Value::as_str) != Some(fingerprint) {
            return Err(invalid());
        }
        let key = match body.get("k") {
            Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            _ => return Err(invalid()),
        };
        let id = body.get("i").and_then(Value::as_str).ok_or_else(invalid)?;
        let backward = body.get("b").and_then(Value::as_bool).ok_or_else(invalid)?;
        Ok(Some(Position {
            key,
            id: id.to_owned(),
            backward,
        }))
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 §5 base64url without padding.
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn unbase64url(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| ALPHABET.iter().position(|a| *a == c).map(|d| d as u32);
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= digit(*c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97)).collect();
            let text = base64url(&bytes);
            assert!(!text.contains('='));
            assert_eq!(unbase64url(&text), Some(bytes));
        }
        assert_eq!(base64url(b"roster"), "cm9zdGVy");
        assert_eq!(unbase64url("a"), None);
        assert_eq!(unbase64url("a+b/"), None);
    }

    #[test]
    fn a_cursor_names_its_position_only_in_its_own_query() {
        let f = filter::parse(r#"userName sw "a""#).unwrap();
        let sort = parse_sort(Some("name.familyName"), Some("DESCENDING"))
            .unwrap()
            .unwrap();
        let q = fingerprint("Users", Some(&f), Some(&sort));
        let at = Position {
            key: Some("o'malley".into()),
            id: "2819c223".into(),
            backward: false,
        };
        let cursor = CursorParam(encode(&q, &at));
        assert_eq!(cursor.position(&q), Ok(Some(at)));
        for other in [
            fingerprint("Groups", Some(&f), Some(&sort)),
            fingerprint("Users", None, Some(&sort)),
            fingerprint("Users", Some(&f), None),
        ] {
            let err = cursor.position(&other).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidCursor);
        }
        assert_eq!(CursorParam(" ".into()).position(&q), Ok(None));
        for junk in ["x", "!!!!", "e30", "bnVsbA", &base64url(br#"{"q":"x"}"#)] {
            let err = CursorParam(junk.into()).position(&q).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidCursor, "{junk}");
        }
    }

    #[test]
    fn sort_parameters() {
        assert_eq!(parse_sort(None, Some("descending")), Ok(None));
        let s = parse_sort(Some("userName"), None).unwrap().unwrap();
        assert_eq!(
            (s.by.name.as_str(), s.order),
            ("userName", SortOrder::Ascending)
        );
        assert!(parse_sort(Some("userName"), Some("up")).is_err());
        assert!(parse_sort(Some(r#"emails[type eq "work"]"#), None).is_err());
        assert!(parse_sort(Some("a b"), None).is_err());
    }
}
