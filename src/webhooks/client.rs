//! The outbound HTTP client of webhooks: sends one signed delivery and reads a capped
//! piece of the answer. Blocking (ureq); the worker runs it off the async runtime.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use super::{guard, signature};
use crate::service::delivery::{AttemptOutcome, Claim};

/// A receiver gets this long to connect, answer and send its body.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Kept from each response, for the deliveries view.
const KEEP_RESPONSE_BYTES: usize = 2048;
/// Read at most this much of a response before hanging up.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The outbound client: bounded timeouts, no redirects (a redirect could point
/// anywhere), and a resolver that applies the SSRF rules to every connection.
pub fn agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirects(0)
        .user_agent(concat!("roster-webhooks/", env!("CARGO_PKG_VERSION")))
        .resolver(move |netloc: &str| {
            guard::resolve(netloc, allow_private)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))
        })
        .build()
}

/// Sends one signed message (blocking).
pub fn send(agent: &ureq::Agent, claim: &Claim, body: &str) -> AttemptOutcome {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let secrets: Vec<&str> = claim.secrets.iter().map(String::as_str).collect();
    let signature = match signature::header(&secrets, &claim.webhook_id, timestamp, body.as_bytes())
    {
        Ok(s) => s,
        Err(e) => {
            return AttemptOutcome {
                error: Some(e.to_string()),
                ..AttemptOutcome::default()
            }
        }
    };
    let started = Instant::now();
    let result = agent
        .post(&claim.url)
        .set("content-type", "application/json")
        .set("webhook-id", &claim.webhook_id)
        .set("webhook-timestamp", &timestamp.to_string())
        .set("webhook-signature", &signature)
        .send_string(body);
    let (status, response, error) = match result {
        Ok(r) => {
            let status = r.status();
            let error = (!(200..300).contains(&status))
                .then(|| format!("HTTP {status} (redirects are not followed)"));
            (Some(status), read_capped(r), error)
        }
        Err(ureq::Error::Status(status, r)) => {
            (Some(status), read_capped(r), Some(format!("HTTP {status}")))
        }
        Err(ureq::Error::Transport(t)) => (None, None, Some(t.to_string())),
    };
    AttemptOutcome {
        status,
        error,
        latency_ms: started.elapsed().as_millis() as i64,
        response,
    }
}

/// The first 2 KB of a body, reading no more than 64 KB of it.
fn read_capped(response: ureq::Response) -> Option<String> {
    let mut bytes = Vec::new();
    let _ = response
        .into_reader()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut bytes);
    bytes.truncate(KEEP_RESPONSE_BYTES);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    // A cut through a multi-byte character leaves one replacement character; drop it.
    if bytes.len() == KEEP_RESPONSE_BYTES && text.ends_with('\u{fffd}') {
        text.pop();
    }
    Some(text)
}
