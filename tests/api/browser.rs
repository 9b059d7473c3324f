//! A cookie-keeping HTTP client for the admin UI's tests, and signing in without an IdP.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::helpers::TestApp;

/// A user agent: a cookie jar per host:port, redirects followed by hand.
pub struct Browser {
    agent: ureq::Agent,
    pub jar: HashMap<String, BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub text: String,
}

pub fn host_of(url: &str) -> String {
    let u = oauth2::url::Url::parse(url).expect("url");
    format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    )
}

impl Browser {
    pub fn new() -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            jar: HashMap::new(),
        }
    }

    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&host_of(url))?.get(name).cloned()
    }

    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let host = host_of(url);
        let mut request = self.agent.request(method, url);
        if let Some(cookies) = self.jar.get(&host).filter(|c| !c.is_empty()) {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.set("Cookie", &header.join("; "));
        }
        for (k, v) in headers {
            request = request.set(k, v);
        }
        let result = match form {
            Some(fields) => request.send_form(fields),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        for set in response.all("set-cookie") {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let attributes = attributes.to_ascii_lowercase();
            let cookies = self.jar.entry(host.clone()).or_default();
            if attributes.contains("max-age=0") || attributes.contains("1970") || value.is_empty() {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response.header("location").map(|l| {
            oauth2::url::Url::parse(url)
                .unwrap()
                .join(l)
                .unwrap()
                .to_string()
        });
        Page {
            url: url.to_owned(),
            status,
            location,
            text: response.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, url: &str) -> Page {
        self.request("GET", url, None, &[])
    }

    /// GETs `url` and follows redirects to the final page.
    pub fn follow(&mut self, url: &str) -> Page {
        let mut page = self.get(url);
        for _ in 0..20 {
            match (&page.status, &page.location) {
                (300..=399, Some(next)) => {
                    let next = next.clone();
                    page = self.get(&next);
                }
                _ => return page,
            }
        }
        panic!("too many redirects from {url}")
    }
}

impl Browser {
    /// POSTs a form with this session's CSRF token, from roster's own origin.
    pub fn post_form(&mut self, url: &str, csrf: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        self.request("POST", url, Some(&all), &[])
    }

    /// A browser signed in to `tenant` as its owner, through a break-glass link.
    pub fn owner(app: &TestApp, tenant: &str) -> Self {
        let token = {
            let mut conn = app.store.connection().unwrap();
            roster::service::admin::create_login_link(&mut conn, tenant).unwrap()
        };
        let mut browser = Self::new();
        let page = browser.follow(&format!(
            "{}/admin/{tenant}/login-link/{token}",
            app.address
        ));
        assert_eq!(page.status, 200, "{}", page.text);
        browser
    }

    /// A browser signed in to `tenant` with a lesser admin role (`admin`, `viewer`):
    /// an owner's session, demoted in the database.
    pub fn with_role(app: &TestApp, tenant: &str, role: &str) -> Self {
        let browser = Self::owner(app, tenant);
        demote_all(app, role);
        browser
    }
}

/// Gives every admin session of the test database this role (`admin`, `viewer`).
pub fn demote_all(app: &TestApp, role: &str) {
    use diesel::prelude::*;
    use roster::store::admin::admin_sessions;
    let mut conn = app.store.connection().unwrap();
    diesel::update(admin_sessions::table)
        .set(admin_sessions::role.eq(role))
        .execute(&mut *conn)
        .unwrap();
}

impl Browser {
    /// The text of the element with this id (its first text, up to the next tag).
    pub fn text_of(page: &Page, id: &str) -> Option<String> {
        let at = page.text.find(&format!("id=\"{id}\""))?;
        let start = at + page.text[at..].find('>')? + 1;
        let end = start + page.text[start..].find('<')?;
        Some(page.text[start..end].trim().to_owned())
    }

    /// GETs an admin page until `ready` holds for its text (for what is written
    /// asynchronously, like the sync log), for up to 5 s.
    pub fn eventually(
        &mut self,
        app: &TestApp,
        tenant: &str,
        path: &str,
        ready: impl Fn(&str) -> bool,
    ) -> Page {
        for _ in 0..100 {
            let page = self.screen(app, tenant, path);
            if ready(&page.text) {
                return page;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("GET {path} never became ready")
    }

    /// GETs an admin page of `tenant` and insists on 200.
    pub fn screen(&mut self, app: &TestApp, tenant: &str, path: &str) -> Page {
        let page = self.get(&format!("{}/admin/{tenant}/{path}", app.address));
        assert_eq!(page.status, 200, "GET {path}: {}", page.text);
        page
    }
}

pub fn csrf_of(page: &Page) -> String {
    let at = page
        .text
        .find("name=\"csrf\" value=\"")
        .expect("csrf field")
        + 19;
    page.text[at..].split('"').next().unwrap().to_owned()
}
