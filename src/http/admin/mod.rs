//! The admin UI: the screens (one submodule per tab), the session every screen needs
//! (`session`), sign-in (`login`), and what the screens share (`ui`, `error`).

pub mod applications;
pub mod change_sets;
pub mod credentials;
pub mod directory;
pub mod error;
pub mod login;
pub mod logs;
pub mod mappings;
pub mod operator;
pub mod overview;
pub mod pull;
pub mod roles;
pub mod session;
pub mod setup;
pub mod sso;
pub mod ui;
pub mod webhooks;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

pub use error::AdminError;
pub use session::AdminSession;

use super::state::AppState;

pub(crate) fn app_state(req: &actix_web::HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .expect("startup registers AppState")
}

/// Every page and refusal the admin UI shows that is not a screen of its own.
#[derive(Template)]
#[template(path = "admin/message.html")]
pub struct MessagePage {
    pub title: &'static str,
    pub message: String,
    pub is_error: bool,
    pub items_label: &'static str,
    pub items: Vec<String>,
    pub link: Option<String>,
    pub link_text: &'static str,
}

/// An HTML response that no cache keeps and no other site may frame.
pub fn html(status: StatusCode, body: String) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body))
}
