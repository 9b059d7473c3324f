//! The one mapping from errors to HTTP (RFC 7644 §3.12 bodies).
//!
//! Policy: protocol rejections keep their `scimType` and a detail that never echoes
//! request data beyond an attribute name; database outages become 503 with
//! `Retry-After`; anything else is a 500 whose detail says nothing about internals
//! (the cause chain is logged once, by the access-log middleware).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde_json::json;

use crate::scim::schema::ERROR;
use crate::scim::{Invalid, ScimType};
use crate::service::ServiceError;
use crate::store::StoreError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECS: &str = "2";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("a valid bearer token for this tenant is required")]
    Unauthenticated,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type must be application/scim+json or application/json")]
    UnsupportedMediaType,
    #[error("the method is not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("no such endpoint")]
    UnknownEndpoint,
    #[error("{0} is not supported by this server")]
    NotImplemented(&'static str),
    #[error("a bulk request may carry at most {max} operations")]
    TooManyOperations { max: usize },
    /// A rate limit (see `http::guard`); `Retry-After` says when to come back.
    #[error("{what}; retry after {retry_after} s")]
    RateLimited {
        what: &'static str,
        retry_after: u64,
    },
    #[error("the request body did not arrive within {secs} s")]
    BodyTimeout { secs: u64 },
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Service(ServiceError::Invalid(e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Service(ServiceError::Store(e))
    }
}

impl ApiError {
    fn scim_type(&self) -> Option<ScimType> {
        match self {
            ApiError::Service(ServiceError::Invalid(i)) => Some(i.scim_type),
            ApiError::Service(
                ServiceError::Uniqueness { .. }
                | ServiceError::Store(StoreError::UniqueViolation(_)),
            ) => Some(ScimType::Uniqueness),
            ApiError::Service(
                ServiceError::InvalidSlug | ServiceError::Store(StoreError::InvalidInput(_)),
            ) => Some(ScimType::InvalidValue),
            _ => None,
        }
    }

    /// What the client may read; internal failures are described generically.
    fn detail(&self) -> String {
        match self {
            ApiError::Service(ServiceError::Invalid(i)) => i.detail.clone(),
            ApiError::Service(ServiceError::Store(StoreError::UniqueViolation(_))) => {
                "a resource with this value already exists".into()
            }
            ApiError::Service(ServiceError::Store(StoreError::NotFound)) => {
                "resource not found".into()
            }
            ApiError::Service(ServiceError::Store(StoreError::Unavailable(_))) => {
                "the database is unavailable; retry later".into()
            }
            ApiError::Service(ServiceError::Store(_)) => "internal server error".into(),
            other => other.to_string(),
        }
    }
}

impl ApiError {
    /// The RFC 7644 §3.12 error body (also used inside bulk responses).
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status_code().as_u16().to_string(),
            "detail": self.detail(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = scim_type.as_str().into();
        }
        body
    }
}

/// The status of a service error, for SCIM and admin pages alike.
fn service_status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ServiceError::UnresolvedReference(_) => StatusCode::CONFLICT,
        ServiceError::Invalid(i) if i.scim_type == ScimType::Sensitive => StatusCode::FORBIDDEN,
        ServiceError::Invalid(_) | ServiceError::InvalidSlug => StatusCode::BAD_REQUEST,
        ServiceError::NotFound { .. } | ServiceError::UnknownTenant(_) => StatusCode::NOT_FOUND,
        ServiceError::Uniqueness { .. }
        | ServiceError::TenantExists(_)
        | ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
        ServiceError::Store(StoreError::InvalidInput(_)) => StatusCode::BAD_REQUEST,
        ServiceError::Store(StoreError::UniqueViolation(_)) => StatusCode::CONFLICT,
        ServiceError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Service(e) => service_status(e),
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyOperations { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnknownEndpoint => StatusCode::NOT_FOUND,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = self.body();
        let mut response = HttpResponse::build(status);
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        ));
        match status {
            StatusCode::UNAUTHORIZED => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"roster\""),
                ));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                ));
            }
            _ => {}
        }
        if let ApiError::RateLimited { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        response.body(body.to_string())
    }
}

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
    Oidc(#[from] crate::oidc::OidcError),
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
    #[error("the server is busy")]
    Blocking,
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Service(ServiceError::Store(e))
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AdminError::NotConfigured { .. } => StatusCode::NOT_FOUND,
            AdminError::LoginFailed(_) => StatusCode::BAD_REQUEST,
            AdminError::Oidc(crate::oidc::OidcError::InvalidToken(_)) => StatusCode::UNAUTHORIZED,
            AdminError::Oidc(_) => StatusCode::BAD_GATEWAY,
            AdminError::NoAdminGroup { .. }
            | AdminError::InactiveUser
            | AdminError::LoginLinkInvalid
            | AdminError::RoleTooLow { .. }
            | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::Blocking | AdminError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Service(e) => service_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        use super::admin::{html, MessagePage};
        let status = self.status_code();
        if let AdminError::LoginRequired { tenant, return_to } = self {
            let mut location = format!("/admin/{tenant}/login");
            if let Some(path) = return_to {
                location.push_str("?return_to=");
                location.push_str(&super::admin::ui::encode(path));
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
            AdminError::LoginFailed(_) | AdminError::Oidc(_) | AdminError::LoginLinkInvalid => {
                ("Sign-in failed", "", vec![], None)
            }
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
            (AdminError::Service(ServiceError::Store(StoreError::Unavailable(_))), _) => {
                "the database is unavailable; retry later".to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn invalid_filter_is_400_with_its_scim_type() {
        let e = ApiError::from(Invalid::new(ScimType::InvalidFilter, "bad"));
        assert_eq!(e.status_code(), 400);
        let b = body(&e);
        assert_eq!(b["status"], "400");
        assert_eq!(b["scimType"], "invalidFilter");
        assert_eq!(b["schemas"][0], ERROR);
    }

    #[test]
    fn uniqueness_is_409() {
        let e = ApiError::Service(ServiceError::Uniqueness {
            attribute: "userName",
        });
        assert_eq!(e.status_code(), 409);
        assert_eq!(body(&e)["scimType"], "uniqueness");
    }

    #[test]
    fn an_unavailable_database_is_503_with_retry_after() {
        let e = ApiError::from(StoreError::Unavailable("down".into()));
        let response = e.error_response();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn unauthenticated_is_401_with_a_bearer_challenge() {
        let response = ApiError::Unauthenticated.error_response();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::from(StoreError::BadUrl("secret detail".into()));
        assert_eq!(e.status_code(), 500);
        assert_eq!(body(&e)["detail"], "internal server error");
    }
}
