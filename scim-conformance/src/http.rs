//! A small blocking HTTP client for one SCIM base URL. Every status is a response, never
//! an error: the cases judge statuses themselves. Only transport failures are errors.

use std::time::Duration;

use serde_json::Value;

pub const SCIM_JSON: &str = "application/scim+json";

pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

pub struct Resp {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub text: String,
    /// The body parsed as JSON, or `Null` when it is empty or not JSON.
    pub body: Value,
}

/// One request; `Client::send` runs it.
pub struct Req<'a> {
    method: &'a str,
    /// Relative to the base URL (`/Users?…`), or absolute (`http://…`).
    target: String,
    body: Option<String>,
    content_type: &'a str,
    auth: Option<String>,
    headers: Vec<(&'a str, String)>,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            body: None,
            content_type: SCIM_JSON,
            auth: None,
            headers: Vec::new(),
        }
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    /// A body sent as is, for malformed-JSON cases.
    pub fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    pub fn content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = content_type;
        self
    }

    /// Overrides the `Authorization` header; an empty string sends none.
    pub fn auth(mut self, value: impl Into<String>) -> Self {
        self.auth = Some(value.into());
        self
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl Client {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                // A redirect is an answer worth judging, not something to follow.
                .redirects(0)
                .build(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn send(&self, req: Req<'_>) -> Result<Resp, String> {
        let url = if req.target.starts_with("http://") || req.target.starts_with("https://") {
            req.target.clone()
        } else {
            format!("{}{}", self.base, req.target)
        };
        let mut r = self
            .agent
            .request(req.method, &url)
            .set("Accept", SCIM_JSON);
        // No token (a server without authentication): no header rather than "Bearer ".
        let auth = req.auth.unwrap_or_else(|| match self.token.as_str() {
            "" => String::new(),
            token => format!("Bearer {token}"),
        });
        if !auth.is_empty() {
            r = r.set("Authorization", &auth);
        }
        for (name, value) in &req.headers {
            r = r.set(name, value);
        }
        let result = match &req.body {
            Some(body) => r.set("Content-Type", req.content_type).send_string(body),
            None => r.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => {
                return Err(format!(
                    "{} {}: transport error: {t}",
                    req.method, req.target
                ))
            }
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                let value = response.header(&name)?.to_owned();
                Some((name.to_ascii_lowercase(), value))
            })
            .collect();
        let text = response
            .into_string()
            .map_err(|e| format!("{} {}: reading the body: {e}", req.method, req.target))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            body,
        })
    }

    pub fn get(&self, target: &str) -> Result<Resp, String> {
        self.send(Req::new("GET", target))
    }

    pub fn post(&self, target: &str, body: &Value) -> Result<Resp, String> {
        self.send(Req::new("POST", target).json(body))
    }

    pub fn put(&self, target: &str, body: &Value) -> Result<Resp, String> {
        self.send(Req::new("PUT", target).json(body))
    }

    pub fn patch(&self, target: &str, body: &Value) -> Result<Resp, String> {
        self.send(Req::new("PATCH", target).json(body))
    }

    pub fn delete(&self, target: &str) -> Result<Resp, String> {
        self.send(Req::new("DELETE", target))
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The start of the body, on one line, for failure reasons.
    pub fn snippet(&self) -> String {
        let one_line: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut s: String = one_line.chars().take(200).collect();
        if one_line.chars().count() > 200 {
            s.push('…');
        }
        s
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
