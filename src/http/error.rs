//! The one mapping from errors to HTTP (RFC 7644 §3.12 bodies).
//!
//! Policy: protocol rejections keep their `scimType` and a detail that never echoes
//! request data beyond an attribute name; database outages become 503 with
//! `Retry-After`; anything else is a 500 whose detail says nothing about internals
//! (the cause chain is logged once, by the access-log middleware).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::scim::schema::ERROR;
use crate::scim::{Invalid, ScimType};
use crate::service::{Failure, ServiceError};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Seconds a client should wait after a 503.
pub(crate) const RETRY_AFTER_SECS: &str = "2";

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

impl ApiError {
    fn scim_type(&self) -> Option<ScimType> {
        match self {
            ApiError::Service(ServiceError::Invalid(i)) => Some(i.scim_type),
            ApiError::Service(ServiceError::Uniqueness { .. }) => Some(ScimType::Uniqueness),
            ApiError::Service(ServiceError::InvalidSlug) => Some(ScimType::InvalidValue),
            ApiError::Service(e) => match e.failure() {
                Some(Failure::Duplicate) => Some(ScimType::Uniqueness),
                Some(Failure::InvalidInput) => Some(ScimType::InvalidValue),
                _ => None,
            },
            _ => None,
        }
    }

    /// What the client may read; internal failures are described generically.
    fn detail(&self) -> String {
        match self {
            ApiError::Service(ServiceError::Invalid(i)) => i.detail.clone(),
            ApiError::Service(e) => match e.failure() {
                Some(Failure::Duplicate) => "a resource with this value already exists".into(),
                Some(Failure::NotFound) => "resource not found".into(),
                Some(Failure::Unavailable) => UNAVAILABLE.into(),
                Some(Failure::InvalidInput | Failure::Internal) => "internal server error".into(),
                None => e.to_string(),
            },
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

/// What a client reads when the database is out of reach.
pub(crate) const UNAVAILABLE: &str = "the database is unavailable; retry later";

/// The status of a service error, for SCIM and admin pages alike.
pub(crate) fn service_status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) | ServiceError::Suspended(_) | ServiceError::ReadOnly(_) => {
            StatusCode::FORBIDDEN
        }
        ServiceError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ServiceError::UnresolvedReference(_) => StatusCode::CONFLICT,
        ServiceError::Invalid(i) if i.scim_type == ScimType::Sensitive => StatusCode::FORBIDDEN,
        ServiceError::Invalid(_) | ServiceError::InvalidSlug => StatusCode::BAD_REQUEST,
        ServiceError::NotFound { .. } | ServiceError::UnknownTenant(_) => StatusCode::NOT_FOUND,
        ServiceError::Gone(_) => StatusCode::GONE,
        ServiceError::Uniqueness { .. }
        | ServiceError::TenantExists(_)
        | ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Secrets(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Store(_) => match e.failure() {
            Some(Failure::NotFound) => StatusCode::NOT_FOUND,
            Some(Failure::InvalidInput) => StatusCode::BAD_REQUEST,
            Some(Failure::Duplicate) => StatusCode::CONFLICT,
            Some(Failure::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
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
        let e = ApiError::from(ServiceError::unavailable("down"));
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
        let e = ApiError::from(ServiceError::from(
            diesel::result::Error::QueryBuilderError("secret detail".into()),
        ));
        assert_eq!(e.status_code(), 500);
        assert_eq!(body(&e)["detail"], "internal server error");
    }
}
