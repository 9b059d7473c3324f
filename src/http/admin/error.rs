//! The admin UI's errors, shown as HTML pages rather than SCIM bodies; statuses follow
//! the same mapping as the API's (`http::error`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::{html, MessagePage};
use crate::http::error::{service_status, RETRY_AFTER_SECS, UNAVAILABLE};
use crate::service::{Failure, ServiceError};

/// Errors of the admin UI, shown as HTML pages rather than SCIM bodies. A missing
/// session on a page is not an error page but a redirect to the login.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("sign in first")]
    LoginRequired {
        tenant: String,
        /// The page to come back to (GET requests only).
        return_to: Option<String>,
    },
    #[error("admin login is not configured for tenant '{tenant}'")]
    NotConfigured { tenant: String },
    #[error("sign-in failed: {0}")]
    LoginFailed(String),
    #[error(transparent)]
    Oidc(#[from] crate::auth::oidc::OidcError),
    #[error("none of your groups grants access to roster's admin UI")]
    NoAdminGroup { groups: Vec<String> },
    #[error("your account is deactivated in this tenant's directory")]
    InactiveUser,
    #[error("this login link is unknown, already used or expired")]
    LoginLinkInvalid,
    #[error("this needs the {} role", needed.as_str())]
    RoleTooLow {
        needed: crate::service::admin::AdminRole,
    },
    #[error("the form is stale or came from another site; reload the page and try again")]
    Csrf,
    #[error("too many failed sign-ins from this address; wait a minute and try again")]
    TooManyAttempts,
    #[error("the server is busy")]
    Blocking,
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AdminError::NotConfigured { .. } => StatusCode::NOT_FOUND,
            AdminError::LoginFailed(_) => StatusCode::BAD_REQUEST,
            AdminError::Oidc(crate::auth::oidc::OidcError::InvalidToken(_)) => {
                StatusCode::UNAUTHORIZED
            }
            AdminError::Oidc(_) => StatusCode::BAD_GATEWAY,
            AdminError::NoAdminGroup { .. }
            | AdminError::InactiveUser
            | AdminError::LoginLinkInvalid
            | AdminError::RoleTooLow { .. }
            | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Blocking | AdminError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Service(e) => service_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AdminError::LoginRequired { tenant, return_to } = self {
            let mut location = format!("/admin/{tenant}/login");
            if let Some(path) = return_to {
                location.push_str("?return_to=");
                location.push_str(&super::ui::encode(path));
            }
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let (title, items_label, items, link) = match self {
            AdminError::NoAdminGroup { groups } => (
                "Access denied",
                "Groups your identity provider sent:",
                if groups.is_empty() {
                    vec!["(none)".to_owned()]
                } else {
                    groups.clone()
                },
                None,
            ),
            AdminError::InactiveUser | AdminError::RoleTooLow { .. } | AdminError::Csrf => {
                ("Access denied", "", vec![], None)
            }
            AdminError::NotConfigured { .. } => ("Sign-in not set up", "", vec![], None),
            AdminError::LoginFailed(_)
            | AdminError::Oidc(_)
            | AdminError::LoginLinkInvalid
            | AdminError::TooManyAttempts => ("Sign-in failed", "", vec![], None),
            _ => ("Something went wrong", "", vec![], None),
        };
        let message = match (self, status.is_server_error()) {
            (AdminError::NoAdminGroup { .. }, _) => format!(
                "{self}. Ask your administrator to map one of them to owner, admin or viewer \
                 (roster admin oidc set --map-group NAME=ROLE)."
            ),
            (AdminError::NotConfigured { .. }, _) => format!(
                "{self}. Set it up with `roster admin oidc set`, or sign in with a one-time \
                 link from `roster admin login-link`."
            ),
            (AdminError::Service(e), _) if e.failure() == Some(Failure::Unavailable) => {
                UNAVAILABLE.to_owned()
            }
            (_, true) => "internal server error".to_owned(),
            _ => self.to_string(),
        };
        // Error texts start lower-case (they are also log lines); a page's sentence does not.
        let mut chars = message.chars();
        let message = chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or(message);
        let page = MessagePage {
            title,
            message,
            is_error: true,
            items_label,
            items,
            link,
            link_text: "",
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>error</title><p>error".to_owned());
        let mut response = html(status, body).unwrap_or_else(|_| HttpResponse::new(status));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}
