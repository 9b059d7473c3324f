//! `roster-bench sso`: sign-ins through an OpenID Provider as applications make them,
//! from concurrent clients: the whole browser round trip to a code (authorize, the
//! upstream identity provider, the callback), the code exchange, and `userinfo`. Run
//! against roster (whose sign-ins go upstream to the local oidc-provider) and against
//! that oidc-provider itself as the peer, with the HTTP floor (`/healthz`) in the same
//! run (see `sso.sh`).

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{run_phase, run_phases, Phase};

/// An OpenID Provider and a client registered with it.
pub struct Op {
    pub label: String,
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// Cookies by host:port, as a browser keeps them (path and expiry ignored: one
/// sign-in's jar lives for that sign-in only).
#[derive(Default)]
struct Jar(HashMap<String, HashMap<String, String>>);

fn host_of(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Jar {
    fn header(&self, url: &url::Url) -> Option<String> {
        let cookies = self.0.get(&host_of(url))?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn store(&mut self, url: &url::Url, response: &ureq::Response) {
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let jar = self.0.entry(host_of(url)).or_default();
                if v.is_empty() {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().to_owned(), v.to_owned());
                }
            }
        }
    }
}

fn pkce(i: usize) -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("bench verifier {i}")));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An HTML form as a browser submits it: its action and its hidden fields, with
/// `account` in an `email` field if it has one (the SAML IdP's sign-in form).
fn form_of(html: &str, account: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let value = &tag[at..at + tag[at..].find('"')?];
        Some(
            value
                .replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&amp;", "&"),
        )
    };
    let form = &html[html.find("<form")?..];
    let action = attr(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>')?];
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        if name == "email" {
            fields.push((name, account.to_owned()));
        } else if let Some(value) = attr(tag, "value") {
            fields.push((name, value));
        }
    }
    Some((action, fields))
}

/// Follows the browser from the authorization request to the client's redirect URI,
/// through redirects and, with a SAML IdP, its sign-in form and the auto-posted
/// response; the code.
fn code(agent: &ureq::Agent, op: &Op, account: &str, challenge: &str) -> Result<String, String> {
    let mut url = url::Url::parse(&op.authorize).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &op.client_id)
        .append_pair("redirect_uri", &op.redirect_uri)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "bench")
        .append_pair("nonce", "bench")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", account);
    let mut jar = Jar::default();
    let mut post: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let mut request = agent.request(if post.is_some() { "POST" } else { "GET" }, url.as_str());
        if let Some(cookie) = jar.header(&url) {
            request = request.set("cookie", &cookie);
        }
        let sent = match post.take() {
            Some(fields) => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                request.send_form(&pairs)
            }
            None => request.call(),
        };
        let response = match sent {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                return Err(format!(
                    "{status} at {url}: {}",
                    r.into_string().unwrap_or_default()
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        jar.store(&url, &response);
        let Some(location) = response.header("location").map(str::to_owned) else {
            let status = response.status();
            let html = response.into_string().map_err(|e| e.to_string())?;
            let (action, fields) = form_of(&html, account)
                .ok_or_else(|| format!("{status} at {url} without a redirect or a form"))?;
            url = url.join(&action).map_err(|e| e.to_string())?;
            post = Some(fields);
            continue;
        };
        let next = url.join(&location).map_err(|e| e.to_string())?;
        if next.as_str().starts_with(&op.redirect_uri) {
            let query: HashMap<_, _> = next.query_pairs().into_owned().collect();
            return query
                .get("code")
                .cloned()
                .ok_or_else(|| format!("no code: {next}"));
        }
        url = next;
    }
    Err("too many redirects".into())
}

fn exchange(agent: &ureq::Agent, op: &Op, code: &str, verifier: &str) -> Result<String, String> {
    let basic = STANDARD.encode(format!("{}:{}", op.client_id, op.client_secret));
    let body: Value = agent
        .post(&op.token)
        .set("authorization", &format!("Basic {basic}"))
        .send_form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &op.redirect_uri),
            ("code_verifier", verifier),
        ])
        .map_err(|e| match e {
            ureq::Error::Status(status, r) => {
                format!("{status}: {}", r.into_string().unwrap_or_default())
            }
            other => other.to_string(),
        })?
        .into_json()
        .map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no access token: {body}"))
}

fn userinfo(agent: &ureq::Agent, op: &Op, token: &str) -> Result<(), String> {
    agent
        .get(&op.userinfo)
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The phases of one provider, each at `concurrency` clients: `sign_ins` round trips to
/// a code, then the exchange of those codes (within their minute), then `lookups`
/// userinfo calls with one access token.
pub fn run(
    op: &Op,
    account: &str,
    sign_ins: usize,
    lookups: usize,
    concurrency: usize,
) -> Vec<Phase> {
    let no_redirects = || {
        ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(30))
            .build()
    };
    let codes = std::sync::Mutex::new(Vec::with_capacity(sign_ins));
    let mut phases = run_phases(
        &["sign_in_to_code"],
        sign_ins,
        concurrency,
        |_| no_redirects(),
        |_, i, own, tally| {
            let (verifier, challenge) = pkce(i);
            if let Some(code) = tally.time(0, || code(own, op, account, &challenge)) {
                codes.lock().unwrap().push((code, verifier));
            }
        },
    );
    let codes = codes.into_inner().unwrap();
    phases.push(run_phase("token", codes.len(), concurrency, |agent, i| {
        let (code, verifier) = &codes[i];
        exchange(agent, op, code, verifier).map(drop)
    }));
    let agent = no_redirects();
    let (verifier, challenge) = pkce(usize::MAX);
    let token = code(&agent, op, account, &challenge)
        .and_then(|code| exchange(&agent, op, &code, &verifier))
        .unwrap_or_else(|e| panic!("{}: no access token for userinfo: {e}", op.label));
    phases.push(run_phase("userinfo", lookups, concurrency, |agent, _| {
        userinfo(agent, op, &token)
    }));
    phases
}

/// The SAML IdP's own share of a sign-in: `count` submissions of its sign-in form for
/// one AuthnRequest (each answered with a freshly signed response), at `concurrency`
/// clients: the limit a SAML round trip through roster cannot beat.
pub fn saml_idp(op: &Op, account: &str, count: usize, concurrency: usize) -> Phase {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let (_, challenge) = pkce(0);
    let mut url = url::Url::parse(&op.authorize).expect("the authorization URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &op.client_id)
        .append_pair("redirect_uri", &op.redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let to_idp = agent.get(url.as_str()).call().expect("authorize");
    let idp = url
        .join(to_idp.header("location").expect("a redirect to the IdP"))
        .expect("the IdP's URL");
    let html = agent
        .get(idp.as_str())
        .call()
        .expect("the IdP's form")
        .into_string()
        .unwrap();
    let (action, fields) = form_of(&html, account).expect("the IdP's sign-in form");
    let target = idp.join(&action).expect("the form's action");
    run_phase("saml_idp_response", count, concurrency, |agent, _| {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = agent
            .post(target.as_str())
            .send_form(&pairs)
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())?;
        body.contains("SAMLResponse")
            .then_some(())
            .ok_or_else(|| "no SAMLResponse".to_owned())
    })
}
