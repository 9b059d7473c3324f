//! S2 Overview: connection health, counts and warnings.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::error::AdminError;
use super::html;
use super::ui::{self, Admin, Chrome};
use crate::service::overview::{overview, Overview};

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct Page {
    chrome: Chrome,
    o: Overview,
    last_at: String,
    /// The tenant's SCIM rate limit, in words.
    rate_limit: String,
    /// Its requests answered 429 since this process started.
    rate_limited: u64,
    warnings: Vec<(&'static str, String, String)>,
}

/// `GET /admin/{tenant}/`.
pub async fn show(admin: Admin) -> Result<HttpResponse, AdminError> {
    let o = admin.read(|c, scope| overview(c, &scope.tenant)).await?;
    let chrome = admin.chrome("");
    let c = &o.counts;
    let mut warnings = Vec::new();
    let mut warn = |show: bool, text: String, path: &str| {
        if show {
            warnings.push(("warn", text, chrome.href(path)));
        }
    };
    warn(
        c.live_tokens == 0,
        "No SCIM token: create one in the setup wizard".into(),
        "setup",
    );
    warn(
        c.unused_tokens > 0,
        format!("{} SCIM token(s) never used", c.unused_tokens),
        "credentials",
    );
    warn(
        c.orphaned_mappings > 0,
        format!(
            "{} mapping(s) orphaned: their group was deleted",
            c.orphaned_mappings
        ),
        "mappings",
    );
    warn(
        c.stale_groups > 0,
        format!(
            "{} group(s) stale: not touched by the IdP in 30 days",
            c.stale_groups
        ),
        "groups?stale=1",
    );
    warn(
        c.failing_webhooks > 0,
        format!(
            "{} webhook endpoint(s) failing delivery",
            c.failing_webhooks
        ),
        "webhooks",
    );
    warn(
        c.break_glass_logins > 0,
        format!(
            "{} break-glass login(s) in the last 7 days",
            c.break_glass_logins
        ),
        "audit?action=login.break_glass",
    );
    warn(
        c.errors_since > 0,
        format!("{} failed SCIM request(s) in the last 24 h", c.errors_since),
        "sync-log?result=failure",
    );
    let rate_limited = admin.state.limiters.refusals_of(&admin.session.tenant);
    warn(
        rate_limited > 0,
        format!("{rate_limited} request(s) answered 429 (rate limits) since roster started"),
        "sync-log",
    );
    let page = Page {
        rate_limit: admin.state.limiters.describe(),
        rate_limited,
        last_at: ui::when_or(o.last_request.as_ref().map(|r| r.at.as_str()), "never"),
        chrome,
        o,
        warnings,
    };
    html(StatusCode::OK, page.render()?)
}
