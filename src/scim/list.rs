//! List queries (RFC 7644 §3.4.2): paging parameters, projection and `ListResponse`.

use serde_json::{Map, Value};

use super::error::{Invalid, ScimType};
use super::filter::{self, AttrPath, Filter};
use super::limits::MAX_ATTRIBUTES;
use super::paging::{self, CursorParam, Sort};
use super::schema::{ResourceKind, Returned, LIST_RESPONSE, SEARCH_REQUEST};

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

/// Parsed list parameters; `start_index` is 1-based and `count` already clamped.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub start_index: i64,
    pub count: i64,
    pub projection: Projection,
    pub sort: Option<Sort>,
    /// Set when the client pages by cursor (RFC 9865); `startIndex` is then absent.
    pub cursor: Option<CursorParam>,
}

/// Reads list parameters from query pairs (names case-insensitive). `count` above
/// `max_page_size` is clamped to it; a negative `count` means 0; `startIndex` below 1
/// means 1 (RFC 7644 §3.4.2.4).
pub fn parse_params(pairs: &[(String, String)], max_page_size: i64) -> Result<ListParams, Invalid> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str| -> Result<Option<i64>, Invalid> {
        get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    Invalid::new(
                        ScimType::InvalidValue,
                        format!("'{name}' must be an integer"),
                    )
                })
            })
            .transpose()
    };
    // An empty `filter=` is not "no filter": RFC 7644 §3.4.2.2 has no empty filter,
    // and reading it as one would list everything a client meant to narrow down.
    let filter = get("filter").map(filter::parse).transpose()?;
    let cursor = get("cursor").map(|c| CursorParam(c.to_owned()));
    if cursor.is_some() && get("startIndex").is_some() {
        // RFC 9865 §2: a request pages one way or the other.
        return Err(Invalid::new(
            ScimType::InvalidValue,
            "use either cursor or startIndex, not both",
        ));
    }
    Ok(ListParams {
        filter,
        sort: paging::parse_sort(get("sortBy"), get("sortOrder"))?,
        cursor,
        start_index: number("startIndex")?.unwrap_or(1).max(1),
        count: number("count")?
            .unwrap_or(max_page_size)
            .clamp(0, max_page_size),
        projection: parse_projection(get("attributes"), get("excludedAttributes"))?,
    })
}

/// RFC 7644 §3.4.3: a `POST .search` body "MUST be identified" by the `SearchRequest`
/// URN in `schemas`; anything else is `invalidSyntax`.
pub fn check_search_request(body: &Value) -> Result<(), Invalid> {
    let schemas = body.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
            .map(|(_, v)| v)
    });
    if !super::patch::lists_urn(schemas, SEARCH_REQUEST) {
        return Err(Invalid::new(
            ScimType::InvalidSyntax,
            format!("'schemas' must contain {SEARCH_REQUEST}"),
        ));
    }
    Ok(())
}

pub fn parse_projection(
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Projection, Invalid> {
    Ok(Projection {
        attributes: parse_attribute_list(attributes)?,
        excluded: parse_attribute_list(excluded)?,
    })
}

/// A projection costs each resource one look-up per listed path, so the list is
/// bounded like a resource's attributes.
fn parse_attribute_list(list: Option<&str>) -> Result<Vec<AttrPath>, Invalid> {
    let names: Vec<&str> = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names.len() > MAX_ATTRIBUTES {
        return Err(Invalid::new(
            ScimType::TooMany,
            format!("an attribute list may name at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    names
        .into_iter()
        .map(|name| {
            let path = filter::parse_path(name).map_err(|e| {
                Invalid::new(ScimType::InvalidValue, format!("bad attribute name: {e}"))
            })?;
            if path.filter.is_some() {
                return Err(Invalid::new(
                    ScimType::InvalidValue,
                    "attribute lists take names, not filters",
                ));
            }
            Ok(path.attr)
        })
        .collect()
}

/// Returned whatever the projection says: `schemas` (not an attribute, but what makes
/// the body readable) besides the attributes the schema marks `returned: always`.
const ALWAYS: &[&str] = &["schemas"];

impl Projection {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether `name` (a top-level core attribute) will appear in the output; lets the
    /// caller skip loading `members` or `groups` nobody asked for.
    pub fn wants(&self, name: &str) -> bool {
        let named = |paths: &[AttrPath]| {
            paths
                .iter()
                .any(|p| p.name.eq_ignore_ascii_case(name) && p.urn.is_none())
        };
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !self
            .excluded
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name) && p.urn.is_none() && p.sub_attr.is_none())
    }

    /// Applies the projection to a rendered resource, honouring each attribute's
    /// `returned` (RFC 7643 §7): `always` survives any projection, `never` never
    /// appears, `request` appears only when `attributes` names it.
    pub fn apply(&self, kind: ResourceKind, resource: Value) -> Value {
        self.apply_with(kind, resource, &|name| {
            super::schema::find_attribute(kind, None, name, None).map(|d| d.returned)
        })
    }

    /// [`Projection::apply`] with `returned_of` saying how a top-level attribute is
    /// returned (None: unknown to the schema, so `default`).
    fn apply_with(
        &self,
        kind: ResourceKind,
        resource: Value,
        returned_of: &dyn Fn(&str) -> Option<Returned>,
    ) -> Value {
        let Value::Object(mut object) = resource else {
            return resource;
        };
        let always = |key: &str| {
            ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(key))
                || returned_of(key) == Some(Returned::Always)
        };
        object.retain(|key, _| returned_of(key) != Some(Returned::Never));
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for (key, value) in &object {
                if always(key) {
                    kept.insert(key.clone(), value.clone());
                }
            }
            for path in &self.attributes {
                copy_path(kind, &object, &mut kept, path);
            }
            return Value::Object(kept);
        }
        object.retain(|key, _| always(key) || returned_of(key) != Some(Returned::Request));
        for path in &self.excluded {
            if path.urn.is_none() && always(&path.name) {
                continue;
            }
            remove_path(kind, &mut object, path);
        }
        Value::Object(object)
    }
}

/// Where a path points: the key of the object holding it (None for the resource
/// itself) and the attribute name within.
fn locate(kind: ResourceKind, path: &AttrPath) -> (Option<String>, &str) {
    match &path.urn {
        Some(urn) if urn.eq_ignore_ascii_case(kind.core_schema()) => (None, &path.name),
        Some(urn) => {
            let full = format!("{urn}:{}", path.name);
            // A whole extension (`urn:…:enterprise:2.0:User`) parses as urn + "User".
            if kind
                .extensions()
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&full))
            {
                return (None, "");
            }
            (Some(urn.clone()), &path.name)
        }
        None => (None, &path.name),
    }
}

fn whole_extension(kind: ResourceKind, path: &AttrPath) -> Option<&'static str> {
    let urn = path.urn.as_ref()?;
    let full = format!("{urn}:{}", path.name);
    kind.extensions()
        .iter()
        .copied()
        .find(|e| e.eq_ignore_ascii_case(&full))
}

/// The key of `map` equal to `name` ignoring ASCII case; the exact spelling, which
/// stored resources use for every known attribute, is found without a scan.
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn copy_path(
    kind: ResourceKind,
    from: &Map<String, Value>,
    into: &mut Map<String, Value>,
    path: &AttrPath,
) {
    if let Some(ext) = whole_extension(kind, path) {
        if let Some(v) = from.get(ext) {
            into.insert(ext.to_owned(), v.clone());
        }
        return;
    }
    let (holder, name) = locate(kind, path);
    let (source, target) = match holder {
        None => (Some(from), into),
        Some(urn) => {
            let Some(key) = key_ci(from, &urn) else {
                return;
            };
            let source = from.get(&key).and_then(Value::as_object);
            let entry = into.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(target) = entry else { return };
            (source, target)
        }
    };
    let Some(source) = source else { return };
    let Some(key) = key_ci(source, name) else {
        return;
    };
    let value = &source[&key];
    let Some(sub) = &path.sub_attr else {
        target.insert(key, value.clone());
        return;
    };
    let pick = |v: &Value| -> Option<Value> {
        let o = v.as_object()?;
        let k = key_ci(o, sub)?;
        let mut m = Map::new();
        m.insert(k.clone(), o[&k].clone());
        Some(Value::Object(m))
    };
    match value {
        Value::Array(items) => {
            let existing = target.remove(&key).and_then(|v| match v {
                Value::Array(a) => Some(a),
                _ => None,
            });
            let mut out: Vec<Value> =
                existing.unwrap_or_else(|| vec![Value::Object(Map::new()); items.len()]);
            for (slot, item) in out.iter_mut().zip(items) {
                if let (Value::Object(slot), Some(Value::Object(picked))) = (slot, pick(item)) {
                    slot.extend(picked);
                }
            }
            out.retain(|v| v.as_object().is_some_and(|o| !o.is_empty()));
            if !out.is_empty() {
                target.insert(key, Value::Array(out));
            }
        }
        other => {
            if let Some(Value::Object(picked)) = pick(other) {
                let slot = target
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(slot) = slot {
                    slot.extend(picked);
                }
            }
        }
    }
}

fn remove_path(kind: ResourceKind, object: &mut Map<String, Value>, path: &AttrPath) {
    if let Some(ext) = whole_extension(kind, path) {
        object.remove(ext);
        return;
    }
    let (holder, name) = locate(kind, path);
    let target = match holder {
        None => object,
        Some(urn) => {
            let Some(key) = key_ci(object, &urn) else {
                return;
            };
            match object.get_mut(&key) {
                Some(Value::Object(o)) => o,
                _ => return,
            }
        }
    };
    let Some(key) = key_ci(target, name) else {
        return;
    };
    let Some(sub) = &path.sub_attr else {
        target.remove(&key);
        return;
    };
    let strip = |v: &mut Value| {
        if let Value::Object(o) = v {
            if let Some(k) = key_ci(o, sub) {
                o.remove(&k);
            }
        }
    };
    match target.get_mut(&key) {
        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
        Some(other) => strip(other),
        None => {}
    }
}

/// RFC 7644 §3.4.2 `ListResponse`.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// Cursors around a cursor-paged page (RFC 9865 §2.2); either may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursors {
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// RFC 9865 `ListResponse` of a cursor-paged request: no `startIndex`; `nextCursor`
/// when more results follow, `previousCursor` when some precede.
pub fn cursor_list_response(total: i64, resources: Vec<Value>, cursors: &Cursors) -> Value {
    let mut body = serde_json::json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let Some(next) = &cursors.next {
        body["nextCursor"] = next.clone().into();
    }
    if let Some(previous) = &cursors.previous {
        body["previousCursor"] = previous.clone().into();
    }
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn projection(attributes: &str, excluded: &str) -> Projection {
        parse_projection(Some(attributes), Some(excluded)).unwrap()
    }

    /// A schema where `secret` is `returned: request` and `pin` is `returned: never`.
    fn returned_of(name: &str) -> Option<Returned> {
        match name {
            "id" => Some(Returned::Always),
            "secret" => Some(Returned::Request),
            "pin" => Some(Returned::Never),
            "userName" => Some(Returned::Default),
            _ => None,
        }
    }

    fn apply(p: &Projection) -> Value {
        let resource = json!({
            "schemas": ["s"], "id": "1", "userName": "u", "secret": "s", "pin": "0", "x": 1
        });
        p.apply_with(ResourceKind::User, resource, &returned_of)
    }

    #[test]
    fn returned_always_never_request_and_default() {
        assert_eq!(
            apply(&Projection::default()),
            json!({"schemas": ["s"], "id": "1", "userName": "u", "x": 1})
        );
        assert_eq!(
            apply(&projection("secret,pin", "")),
            json!({"schemas": ["s"], "id": "1", "secret": "s"})
        );
        assert_eq!(
            apply(&projection("", "id,schemas,userName,secret")),
            json!({"schemas": ["s"], "id": "1", "x": 1})
        );
    }

    #[test]
    fn password_is_never_returned_and_id_always_is_by_the_real_schema() {
        let user = json!({"schemas": ["s"], "id": "1", "userName": "u", "password": "p"});
        let asked = projection("password,userName", "");
        assert_eq!(
            asked.apply(ResourceKind::User, user.clone()),
            json!({"schemas": ["s"], "id": "1", "userName": "u"})
        );
        let excluded = projection("", "id,userName");
        assert_eq!(
            excluded.apply(ResourceKind::User, user),
            json!({"schemas": ["s"], "id": "1"})
        );
    }

    #[test]
    fn attribute_lists_are_bounded() {
        let names: Vec<String> = (0..MAX_ATTRIBUTES).map(|i| format!("a{i}")).collect();
        let at = names.join(",");
        assert_eq!(
            parse_projection(Some(&at), None).unwrap().attributes.len(),
            MAX_ATTRIBUTES
        );
        let over = format!("{at},one_more");
        for result in [
            parse_projection(Some(&over), None),
            parse_projection(None, Some(&over)),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.scim_type, ScimType::TooMany);
            assert!(err.detail.contains("200"), "{err}");
        }
    }

    #[test]
    fn an_empty_or_blank_filter_is_an_invalid_filter() {
        for blank in ["", " ", "\t \n"] {
            let pairs = vec![("filter".to_owned(), blank.to_owned())];
            let err = parse_params(&pairs, 100).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidFilter, "{blank:?}");
        }
        // No `filter` at all is no filter.
        assert_eq!(parse_params(&[], 100).unwrap().filter, None);
    }

    #[test]
    fn a_search_request_names_its_schema() {
        let urn = SEARCH_REQUEST;
        for ok in [
            json!({"schemas": [urn]}),
            json!({"SCHEMAS": [urn.to_uppercase()], "filter": "x pr"}),
            json!({"schemas": ["urn:other", urn]}),
        ] {
            assert_eq!(check_search_request(&ok), Ok(()), "{ok}");
        }
        for bad in [
            json!({}),
            json!({"schemas": []}),
            json!({"schemas": urn}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
            json!([urn]),
        ] {
            let err = check_search_request(&bad).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidSyntax, "{bad}");
        }
    }
}
