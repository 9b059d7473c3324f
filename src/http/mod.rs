//! The HTTP edge: routing, extraction, error mapping. Handlers call one use case each.

pub mod admin;
pub mod api;
pub mod auth;
pub mod error;
pub mod guard;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod saml;
pub mod scim;
pub mod state;
pub mod sync_log;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, Resource};
use tracing_actix_web::RequestId;

use self::api::{credentials, directory, logs, openapi, roles, sign_in, snapshot, webhooks};
use self::error::ApiError;
use self::scim::{discovery, resources};

/// The route table: every endpoint roster serves.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .service(
            web::scope("/scim/v2/{tenant}")
                .service(
                    resource("/ServiceProviderConfig")
                        .route(web::get().to(discovery::service_provider_config)),
                )
                .service(resource("/Schemas").route(web::get().to(discovery::schemas)))
                .service(resource("/Schemas/{id}").route(web::get().to(discovery::schema_by_id)))
                .service(resource("/ResourceTypes").route(web::get().to(discovery::resource_types)))
                .service(
                    resource("/ResourceTypes/{id}")
                        .route(web::get().to(discovery::resource_type_by_id)),
                )
                .service(resource("/Bulk").route(web::post().to(resources::bulk)))
                .service(resource("/Me").to(discovery::me))
                .service(resource("/.search").route(web::post().to(resources::search_all)))
                .service(resource("/{endpoint}/.search").route(web::post().to(resources::search)))
                .service(
                    resource("/{endpoint}")
                        .route(web::get().to(resources::list))
                        .route(web::post().to(resources::create)),
                )
                .service(
                    resource("/{endpoint}/{id}")
                        .route(web::get().to(resources::get))
                        .route(web::put().to(resources::replace))
                        .route(web::patch().to(resources::patch))
                        .route(web::delete().to(resources::delete)),
                ),
        )
        .service(resource("/assets/admin.js").route(web::get().to(admin::ui::script)))
        .service(resource("/assets/favicon.svg").route(web::get().to(admin::ui::favicon)))
        .service(resource("/favicon.ico").route(web::get().to(admin::ui::favicon)))
        .service(resource("/admin").route(web::get().to(admin::login::choose)))
        .service(resource("/admin/").route(web::get().to(admin::login::choose)))
        // Before `/admin/{tenant}`: no tenant may be called "operator".
        .service(
            resource("/admin/operator")
                .route(web::get().to(admin::operator::home))
                .route(web::post().to(admin::operator::sign_in)),
        )
        .service(resource("/admin/operator/tenants").route(web::get().to(admin::operator::tenants)))
        .service(resource("/admin/operator/logout").route(web::post().to(admin::operator::logout)))
        .service(
            web::scope("/admin/{tenant}")
                .service(resource("").route(web::get().to(admin::overview::show)))
                .service(resource("/").route(web::get().to(admin::overview::show)))
                .service(resource("/setup").route(web::get().to(admin::setup::show)))
                .service(resource("/setup/token").route(web::post().to(admin::setup::token)))
                .service(resource("/setup/status").route(web::get().to(admin::setup::poll)))
                .service(
                    resource("/sso")
                        .route(web::get().to(admin::sso::show))
                        .route(web::post().to(admin::sso::save)),
                )
                .service(resource("/sso/test").route(web::get().to(admin::sso::test)))
                .service(resource("/sso/saml").route(web::post().to(admin::sso::save_saml)))
                .service(resource("/sso/saml-test").route(web::get().to(admin::sso::saml_test)))
                .service(
                    resource("/applications")
                        .route(web::get().to(admin::applications::show))
                        .route(web::post().to(admin::applications::create)),
                )
                .service(
                    resource("/applications/settings")
                        .route(web::post().to(admin::applications::settings)),
                )
                .service(
                    resource("/applications/{id}/revoke")
                        .route(web::post().to(admin::applications::revoke)),
                )
                .service(resource("/credentials").route(web::get().to(admin::credentials::show)))
                .service(
                    resource("/credentials/tokens")
                        .route(web::post().to(admin::credentials::create)),
                )
                .service(
                    resource("/credentials/tokens/{id}/rotate")
                        .route(web::post().to(admin::credentials::rotate)),
                )
                .service(
                    resource("/credentials/tokens/{id}/revoke")
                        .route(web::get().to(admin::credentials::confirm_revoke))
                        .route(web::post().to(admin::credentials::revoke)),
                )
                .service(
                    resource("/credentials/tokens/{id}/{end:complete|cancel}")
                        .route(web::post().to(admin::credentials::end_rotation)),
                )
                .service(resource("/users").route(web::get().to(admin::directory::users)))
                .service(resource("/users/{id}").route(web::get().to(admin::directory::user)))
                .service(resource("/groups").route(web::get().to(admin::directory::groups)))
                .service(resource("/groups/{id}").route(web::get().to(admin::directory::group)))
                .service(resource("/login").route(web::get().to(admin::login::login)))
                .service(resource("/callback").route(web::get().to(admin::login::callback)))
                .service(resource("/login/saml").route(web::get().to(admin::login::login_saml)))
                .service(resource("/logout").route(web::post().to(admin::login::logout)))
                .service(
                    resource("/login-link/{token}").route(web::get().to(admin::login::login_link)),
                )
                .service(
                    resource("/roles")
                        .route(web::get().to(admin::roles::roles))
                        .route(web::post().to(admin::roles::create_role)),
                )
                .service(resource("/roles/{slug}").route(web::post().to(admin::roles::update_role)))
                .service(
                    resource("/roles/{slug}/delete")
                        .route(web::post().to(admin::roles::delete_role)),
                )
                .service(
                    resource("/roles/{slug}/move").route(web::post().to(admin::roles::move_role)),
                )
                .service(
                    resource("/role-settings").route(web::post().to(admin::roles::role_settings)),
                )
                .service(resource("/mappings").route(web::get().to(admin::mappings::mappings)))
                .service(
                    resource("/mappings/preview").route(web::post().to(admin::mappings::preview)),
                )
                .service(resource("/mappings/apply").route(web::post().to(admin::mappings::apply)))
                .service(
                    resource("/change-sets/{id}")
                        .route(web::get().to(admin::change_sets::change_set)),
                )
                .service(
                    resource("/change-sets/{id}/revert/preview")
                        .route(web::post().to(admin::change_sets::revert_preview)),
                )
                .service(
                    resource("/change-sets/{id}/revert")
                        .route(web::post().to(admin::change_sets::revert)),
                )
                .service(
                    resource("/directory-sync")
                        .route(web::get().to(admin::pull::show))
                        .route(web::post().to(admin::pull::save)),
                )
                .service(
                    resource("/directory-sync/run").route(web::post().to(admin::pull::run_now)),
                )
                .service(
                    resource("/directory-sync/runs/{id}")
                        .route(web::get().to(admin::pull::show_run)),
                )
                .service(
                    resource("/directory-sync/runs/{id}/{decision:apply|discard}")
                        .route(web::post().to(admin::pull::decide)),
                )
                .service(resource("/held").route(web::get().to(admin::pull::held)))
                .service(
                    resource("/held/settings").route(web::post().to(admin::pull::guard_settings)),
                )
                .service(
                    resource("/held/{decision:release|discard}")
                        .route(web::post().to(admin::pull::decide_held)),
                )
                .service(resource("/sync-log").route(web::get().to(admin::logs::sync_log)))
                .service(
                    resource("/sync-log/export").route(web::get().to(admin::logs::sync_log_export)),
                )
                .service(resource("/audit").route(web::get().to(admin::logs::audit)))
                .service(resource("/audit/export").route(web::get().to(admin::logs::audit_export)))
                .service(
                    resource("/webhooks")
                        .route(web::get().to(admin::webhooks::list))
                        .route(web::post().to(admin::webhooks::create)),
                )
                .service(
                    resource("/webhooks/deliveries/{delivery_id}/redeliver")
                        .route(web::post().to(admin::webhooks::redeliver)),
                )
                .service(resource("/webhooks/{id}").route(web::get().to(admin::webhooks::show)))
                .service(
                    resource("/webhooks/{id}/edit").route(web::post().to(admin::webhooks::edit)),
                )
                .service(
                    resource("/webhooks/{id}/enable")
                        .route(web::post().to(admin::webhooks::enable)),
                )
                .service(
                    resource("/webhooks/{id}/disable")
                        .route(web::post().to(admin::webhooks::disable)),
                )
                .service(
                    resource("/webhooks/{id}/delete")
                        .route(web::get().to(admin::webhooks::confirm_delete))
                        .route(web::post().to(admin::webhooks::delete)),
                )
                .service(
                    resource("/webhooks/{id}/rotate-secret")
                        .route(web::post().to(admin::webhooks::rotate_secret)),
                )
                .service(
                    resource("/webhooks/{id}/test")
                        .route(web::post().to(admin::webhooks::send_test)),
                ),
        )
        .service(
            web::scope("/oauth/{tenant}")
                .app_data(web::FormConfig::default().error_handler(oauth::form_error))
                .service(
                    resource("/.well-known/openid-configuration")
                        .route(web::get().to(oauth::discovery)),
                )
                .service(resource("/jwks").route(web::get().to(oauth::jwks)))
                .service(
                    resource("/authorize")
                        .route(web::get().to(oauth::authorize))
                        .route(web::post().to(oauth::authorize_form)),
                )
                .service(resource("/callback").route(web::get().to(oauth::callback)))
                .service(resource("/token").route(web::post().to(oauth::token)))
                .service(
                    resource("/userinfo")
                        .route(web::get().to(oauth::userinfo))
                        .route(web::post().to(oauth::userinfo)),
                )
                .service(resource("/logout").route(web::get().to(oauth::logout))),
        )
        .service(
            web::scope("/saml/{tenant}")
                // A response with many groups is larger than the default form limit.
                .app_data(
                    web::FormConfig::default().limit(crate::auth::saml::MAX_RESPONSE_BYTES + 4096),
                )
                .service(resource("").route(web::get().to(saml::metadata)))
                .service(resource("/metadata").route(web::get().to(saml::metadata)))
                .service(resource("/acs").route(web::post().to(saml::acs))),
        )
        .service(resource("/api/v1/openapi.json").route(web::get().to(openapi::openapi)))
        .service(
            web::scope("/api/v1/tenants/{tenant}")
                .service(resource("/events").route(web::get().to(roles::events)))
                .service(resource("/snapshot").route(web::get().to(snapshot::snapshot)))
                .service(
                    resource("/oauth-clients")
                        .route(web::get().to(sign_in::list_clients))
                        .route(web::post().to(sign_in::create_client)),
                )
                .service(
                    resource("/oauth-clients/{id}").route(web::delete().to(sign_in::revoke_client)),
                )
                .service(
                    resource("/sign-in-settings")
                        .route(web::get().to(sign_in::settings))
                        .route(web::put().to(sign_in::set_settings)),
                )
                .service(
                    resource("/saml-connection")
                        .route(web::get().to(sign_in::saml_connection))
                        .route(web::put().to(sign_in::set_saml_connection))
                        .route(web::delete().to(sign_in::delete_saml_connection)),
                )
                .service(
                    resource("/directory-source")
                        .route(web::get().to(directory::source))
                        .route(web::put().to(directory::set_source))
                        .route(web::delete().to(directory::delete_source)),
                )
                .service(
                    resource("/directory-runs")
                        .route(web::get().to(directory::runs))
                        .route(web::post().to(directory::start_run)),
                )
                .service(resource("/directory-runs/{id}").route(web::get().to(directory::run)))
                .service(
                    resource("/directory-runs/{id}/changes")
                        .route(web::get().to(directory::changes)),
                )
                .service(
                    resource("/directory-runs/{id}/apply").route(web::post().to(directory::apply)),
                )
                .service(
                    resource("/directory-runs/{id}/discard")
                        .route(web::post().to(directory::discard)),
                )
                .service(
                    resource("/deprovisioning-guard")
                        .route(web::get().to(directory::guard))
                        .route(web::put().to(directory::set_guard)),
                )
                .service(
                    resource("/deprovisioning-guard/release")
                        .route(web::post().to(directory::release)),
                )
                .service(
                    resource("/deprovisioning-guard/discard")
                        .route(web::post().to(directory::discard_held)),
                )
                .service(resource("/sync-log").route(web::get().to(logs::sync_log)))
                .service(resource("/users/{id}/roles").route(web::get().to(roles::user_roles)))
                .service(resource("/effective-roles").route(web::get().to(roles::effective_roles)))
                .service(
                    resource("/users/{id}/manual-grants/{role}")
                        .route(web::put().to(roles::grant))
                        .route(web::delete().to(roles::revoke)),
                )
                .service(
                    resource("/roles")
                        .route(web::get().to(roles::list_roles))
                        .route(web::post().to(roles::create_role)),
                )
                .service(
                    resource("/roles/{slug}")
                        .route(web::get().to(roles::get_role))
                        .route(web::patch().to(roles::update_role))
                        .route(web::delete().to(roles::delete_role)),
                )
                .service(
                    resource("/roles/{slug}/holders").route(web::get().to(roles::role_holders)),
                )
                .service(
                    resource("/mappings")
                        .route(web::get().to(roles::list_mappings))
                        .route(web::post().to(roles::create_mapping)),
                )
                .service(resource("/mappings/{id}").route(web::delete().to(roles::delete_mapping)))
                .service(
                    resource("/role-settings")
                        .route(web::get().to(roles::get_settings))
                        .route(web::put().to(roles::put_settings)),
                )
                .service(
                    resource("/change-sets")
                        .route(web::get().to(roles::list_change_sets))
                        .route(web::post().to(roles::create_change_set)),
                )
                .service(
                    resource("/change-sets/preview")
                        .route(web::post().to(roles::preview_change_set)),
                )
                .service(resource("/change-sets/{id}").route(web::get().to(roles::get_change_set)))
                .service(
                    resource("/change-sets/{id}/revert/preview")
                        .route(web::post().to(roles::preview_revert)),
                )
                .service(resource("/change-sets/{id}/revert").route(web::post().to(roles::revert)))
                .service(
                    resource("/scim-tokens")
                        .route(web::get().to(credentials::list_tokens))
                        .route(web::post().to(credentials::create_token)),
                )
                .service(
                    resource("/scim-tokens/{id}")
                        .route(web::delete().to(credentials::revoke_token)),
                )
                .service(
                    resource("/scim-tokens/{id}/rotate")
                        .route(web::post().to(credentials::rotate_token)),
                )
                .service(
                    resource("/api-keys")
                        .route(web::get().to(credentials::list_keys))
                        .route(web::post().to(credentials::create_key)),
                )
                .service(
                    resource("/api-keys/{id}").route(web::delete().to(credentials::revoke_key)),
                )
                .service(
                    resource("/webhooks")
                        .route(web::get().to(webhooks::list))
                        .route(web::post().to(webhooks::create)),
                )
                // Before `/webhooks/{id}…`, which would otherwise take "deliveries" as an id.
                .service(
                    resource("/webhooks/deliveries/{delivery_id}/redeliver")
                        .route(web::post().to(webhooks::redeliver)),
                )
                .service(
                    resource("/webhooks/{id}")
                        .route(web::get().to(webhooks::get))
                        .route(web::patch().to(webhooks::update))
                        .route(web::delete().to(webhooks::delete)),
                )
                .service(
                    resource("/webhooks/{id}/rotate-secret")
                        .route(web::post().to(webhooks::rotate_secret)),
                )
                .service(resource("/webhooks/{id}/test").route(web::post().to(webhooks::test)))
                .service(
                    resource("/webhooks/{id}/deliveries")
                        .route(web::get().to(webhooks::deliveries)),
                ),
        )
        .default_service(web::to(unknown_endpoint));
}

/// A resource whose unsupported methods get a SCIM 405.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// 405, once the caller has shown it may learn which methods a path has: SCIM callers
/// are authenticated before routing (`guard::admit`), application API callers here.
async fn method_not_allowed(
    state: web::Data<state::AppState>,
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, ApiError> {
    if req.path().starts_with("/api/v1/tenants/") {
        use actix_web::FromRequest;
        let caller = api::KeyCaller::extract(&req).await?;
        caller.authenticate(&state).await?;
    }
    Err(ApiError::MethodNotAllowed)
}

async fn unknown_endpoint() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::UnknownEndpoint)
}

/// The path as logged: a break-glass login link's token is a secret.
fn redact_path(path: &str) -> String {
    match path.find("/login-link/") {
        Some(i) => format!("{}/login-link/…", &path[..i]),
        None => path.to_owned(),
    }
}

/// The request span: an id to correlate log lines, and the route pattern. Unlike the
/// default span it carries no URI, because query strings (filters) hold personal data.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!("http", request_id = %request_id)
    }

    fn on_request_end<B: MessageBody>(
        _: tracing::Span,
        _: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
    }
}

/// One log line and one metrics sample per request; server errors are logged here,
/// once, with their cause chain. Query strings are never logged: filters carry PII.
/// SCIM requests also go to the tenant's sync log, with their (redacted) bodies.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = redact_path(req.path());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), ToString::to_string);
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<state::AppState>>().cloned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string);
    if let Some(id) = request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    if let Some(state) = &state {
        state.metrics.observe(&route, &method, status, elapsed);
    }
    if path.starts_with("/admin/") {
        // The admin pages' render-time budget is checked against this (BENCHMARKS.md).
        let timing = format!("app;dur={:.3}", elapsed.as_secs_f64() * 1000.0);
        if let Ok(value) = HeaderValue::from_str(&timing) {
            res.headers_mut()
                .insert(HeaderName::from_static("server-timing"), value);
        }
    }
    let tenant = path
        .strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_owned();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    match res.response().error() {
        Some(error) if status >= 500 => {
            tracing::error!(tenant, method, path, status, latency_ms, error = %error, cause = ?error, "request failed");
        }
        _ => tracing::info!(tenant, method, path, status, latency_ms, "request"),
    }
    let authenticated = res
        .request()
        .extensions()
        .get::<auth::Authenticated>()
        .is_some();
    if let (Some(state), false, true) = (&state, tenant.is_empty(), authenticated) {
        state.metrics.scim_request(&tenant, status);
        res = record_sync(
            &state.sync_log,
            res,
            tenant,
            request_id,
            method,
            path_and_query,
            elapsed,
        )
        .await;
    }
    Ok(res)
}

/// Hands one SCIM request to the sync log. A body is kept when its size is known and
/// small (a streamed group listing is not buffered); 401s are not logged, since they
/// prove nothing about the tenant.
async fn record_sync(
    log: &crate::jobs::sync_log::SyncLog,
    res: ServiceResponse,
    slug: String,
    request_id: Option<String>,
    method: String,
    path: String,
    elapsed: std::time::Duration,
) -> ServiceResponse {
    use crate::jobs::sync_log::Entry;
    use actix_web::body::{BodySize, BoxBody};
    let status = res.status().as_u16();
    // Refused before any work (no token, or over a rate limit): recording each would
    // let a flood of refusals write as fast as it is sent. `/metrics` and the
    // overview count the 429s.
    if matches!(status, 401 | 429) {
        return res;
    }
    let request_body = res
        .request()
        .extensions()
        .get::<scim::media::RequestBody>()
        .and_then(|b| sync_log::keep_body(&b.0));
    let (req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let (kept, body) = match body.size() {
        BodySize::Sized(n) if n <= 64 * 1024 => match actix_web::body::to_bytes(body).await {
            Ok(bytes) => (Some(bytes.clone()), BoxBody::new(bytes)),
            Err(_) => (None, BoxBody::new(())),
        },
        _ => (None, body),
    };
    let parsed: Option<serde_json::Value> =
        kept.as_ref().and_then(|b| serde_json::from_slice(b).ok());
    let (resource_type, mut resource_id) = sync_log::resource_of(req.path());
    if resource_id.is_none() && method == "POST" && status == 201 {
        resource_id = parsed
            .as_ref()
            .and_then(|v| v["id"].as_str())
            .map(str::to_owned);
    }
    let detail = (status >= 400)
        .then(|| {
            parsed
                .as_ref()
                .and_then(|v| v["detail"].as_str())
                .map(str::to_owned)
        })
        .flatten();
    log.record(Entry {
        slug,
        id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        at: crate::service::now(),
        method,
        path,
        status,
        latency: elapsed,
        detail,
        resource_type,
        resource_id,
        request_body,
        response_body: kept.as_deref().and_then(sync_log::keep_body),
    });
    ServiceResponse::new(req, response.set_body(body))
}
