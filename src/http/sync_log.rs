//! What the sync log keeps of a SCIM request, as the access-log middleware captures
//! it: redacted bodies cut at a limit, and the resource a path names. The queue and
//! the writer that saves entries are `jobs::sync_log`.

use serde_json::Value;

/// Bodies are kept up to this many bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Secrets never reach the log: values of keys that name a password, secret or token.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                if ["password", "secret", "token"]
                    .iter()
                    .any(|s| key.contains(s))
                {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A body as the log keeps it: redacted JSON (or the raw text if it is not JSON), cut at
/// [`BODY_LIMIT`].
pub fn keep_body(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let mut text = match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    if text.len() > BODY_LIMIT {
        let mut cut = BODY_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…(truncated)");
    }
    Some(text)
}

/// `(resource type, id)` named by a SCIM path, e.g. `/scim/v2/acme/Users/42`.
pub fn resource_of(path: &str) -> (Option<String>, Option<String>) {
    let mut parts = path.trim_start_matches("/scim/v2/").split('/').skip(1);
    let kind = parts.next().filter(|k| *k == "Users" || *k == "Groups");
    let id = parts
        .next()
        .filter(|id| !id.starts_with('.') && !id.is_empty());
    (
        kind.map(|k| k.trim_end_matches('s').to_owned()),
        kind.and(id).map(str::to_owned),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_and_tokens_are_redacted_at_any_depth() {
        let mut v = json!({"userName": "a", "password": "hunter2",
                           "Operations": [{"op": "replace", "value": {"Password": "x", "accessToken": "y"}}]});
        redact(&mut v);
        assert_eq!(v["password"], "[redacted]");
        assert_eq!(v["Operations"][0]["value"]["Password"], "[redacted]");
        assert_eq!(v["Operations"][0]["value"]["accessToken"], "[redacted]");
        assert_eq!(v["userName"], "a");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let long = format!("\"{}\"", "é".repeat(BODY_LIMIT));
        let kept = keep_body(long.as_bytes()).unwrap();
        assert!(kept.ends_with("…(truncated)"));
        assert!(kept.len() <= BODY_LIMIT + "…(truncated)".len());
    }

    #[test]
    fn paths_name_their_resource() {
        assert_eq!(
            resource_of("/scim/v2/acme/Users/42"),
            (Some("User".into()), Some("42".into()))
        );
        assert_eq!(
            resource_of("/scim/v2/acme/Groups"),
            (Some("Group".into()), None)
        );
        assert_eq!(
            resource_of("/scim/v2/acme/Users/.search"),
            (Some("User".into()), None)
        );
        assert_eq!(
            resource_of("/scim/v2/acme/ServiceProviderConfig"),
            (None, None)
        );
    }
}
