//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the application API,
//! generated from the handlers' `#[utoipa::path]` and the typed views they answer with.
//! A test (`tests/api/roles.rs`) holds it and the route table to each other.

use actix_web::HttpResponse;
use serde_json::{json, Value};

/// The operations whose handlers describe themselves (`#[utoipa::path]`), with the
/// schemas of their typed views.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "roster application API",
        description = "Roles, mappings, change-sets, the event feed, webhooks and credentials of one tenant. Authenticate with a tenant API key (`Authorization: Bearer rak_…`); SCIM tokens do not work here."
    ),
    paths(
        super::roles::events,
        super::snapshot::snapshot,
        super::logs::sync_log,
        super::credentials::list_tokens,
        super::credentials::create_token,
        super::credentials::rotate_token,
        super::credentials::revoke_token,
        super::credentials::list_keys,
        super::credentials::create_key,
        super::credentials::revoke_key,
        super::roles::user_roles,
        super::roles::effective_roles,
        super::roles::role_holders,
        super::roles::grant,
        super::roles::revoke,
        super::roles::list_roles,
        super::roles::get_role,
        super::roles::create_role,
        super::roles::update_role,
        super::roles::delete_role,
        super::roles::list_mappings,
        super::roles::get_settings,
        super::roles::put_settings,
        super::roles::create_mapping,
        super::roles::delete_mapping,
        super::roles::list_change_sets,
        super::roles::get_change_set,
        super::roles::create_change_set,
        super::roles::preview_change_set,
        super::roles::preview_revert,
        super::roles::revert,
        super::sign_in::list_clients,
        super::sign_in::create_client,
        super::sign_in::revoke_client,
        super::sign_in::settings,
        super::sign_in::set_settings,
        super::sign_in::saml_connection,
        super::sign_in::set_saml_connection,
        super::sign_in::delete_saml_connection,
        super::directory::source,
        super::directory::set_source,
        super::directory::delete_source,
        super::directory::runs,
        super::directory::start_run,
        super::directory::run,
        super::directory::changes,
        super::directory::apply,
        super::directory::discard,
        super::directory::guard,
        super::directory::set_guard,
        super::directory::release,
        super::directory::discard_held,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::update,
        super::webhooks::delete,
        super::webhooks::rotate_secret,
        super::webhooks::test,
        super::webhooks::deliveries,
        super::webhooks::redeliver,
    ),
    modifiers(&ApiKey)
)]
struct Generated;

/// The security scheme every operation names.
struct ApiKey;

impl utoipa::Modify for ApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A tenant API key (rak_…) with the scope each operation names; admin implies all.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The whole document, generated from the handlers and their typed views.
pub fn document() -> Value {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(Generated::openapi()).unwrap_or_default();
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc
}

pub async fn openapi() -> HttpResponse {
    super::ok(document())
}
