//! SCIM request bodies and responses (`application/scim+json`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::Value;

use crate::http::error::{ApiError, SCIM_CONTENT_TYPE};
use crate::http::state::AppState;
use crate::scim::{Invalid, ScimType};
use crate::service::Rendered;

/// The raw request body, kept in the request's extensions for the sync log.
pub struct RequestBody(pub web::Bytes);

/// A JSON request body: content type checked, size bounded while reading, parsed.
pub struct ScimBody(pub Value);

impl FromRequest for ScimBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let (limit, timeout) = req
            .app_data::<web::Data<AppState>>()
            .map_or((1 << 20, Duration::from_secs(10)), |s| {
                (s.limits.max_body_bytes, s.body_timeout)
            });
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().map(is_json_media_type).unwrap_or(false))
            // Some clients send no content type; the body still has to be JSON.
            .unwrap_or(true);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            // A body trickling in (slowloris) or announcing a huge chunk it never sends
            // holds a connection only this long.
            let read = async {
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        Invalid::new(
                            ScimType::InvalidSyntax,
                            "the request body could not be read",
                        )
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(ApiError::PayloadTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body.freeze())
            };
            let body = tokio::time::timeout(timeout, read).await.map_err(|_| {
                ApiError::BodyTimeout {
                    secs: timeout.as_secs(),
                }
            })??;
            req.extensions_mut().insert(RequestBody(body.clone()));
            let value = serde_json::from_slice(&body).map_err(|e| {
                Invalid::new(
                    ScimType::InvalidSyntax,
                    format!("the request body is not valid JSON ({e})"),
                )
            })?;
            Ok(ScimBody(value))
        })
    }
}

/// `application/scim+json` or `application/json`, with any parameters.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(SCIM_CONTENT_TYPE)
        || essence.eq_ignore_ascii_case("application/json")
}

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        ))
        .body(body.to_string())
}

/// A single resource with its `ETag` (and `Location` when created).
pub fn resource_response(status: StatusCode, rendered: &Rendered, body: &Value) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    ));
    response.insert_header((header::ETAG, rendered.etag.as_str()));
    if status == StatusCode::CREATED {
        response.insert_header((header::LOCATION, rendered.location.as_str()));
    }
    response.body(body.to_string())
}

/// Query pairs of a request (`filter`, `count`, ...).
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::is_json_media_type;

    #[test]
    fn json_media_types_are_accepted_with_parameters() {
        assert!(is_json_media_type("application/scim+json"));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("Application/SCIM+JSON;charset=UTF-8"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/xml"));
    }
}
