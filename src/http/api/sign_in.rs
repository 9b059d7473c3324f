//! Sign-in through roster over the application API (`admin` scope): the applications
//! registered as OAuth clients, and the tenant's sign-in settings.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::{parse, paths, read, respond, Access, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::service::provider::{self, ClientView, CreatedClient, NewClient, SignInSettings};
use crate::service::saml::{self, SamlConnectionInput, SamlConnectionView};

/// An audit row of an API key's change, with `after` as it stands.
fn audit(
    c: &mut crate::service::run::Tx<'_>,
    scope: &crate::service::Scope,
    action: &str,
    after: &impl serde::Serialize,
) -> Result<(), crate::service::ServiceError> {
    Ok(crate::service::audit::audit(
        c,
        &scope.tenant,
        &scope.actor.id,
        action,
        None,
        serde_json::to_value(after).ok(),
        &Default::default(),
    )?)
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/oauth-clients",
    summary = "The applications that sign users in through roster",
    params(paths::Tenant),
    responses(
        (status = 200, description = "The clients, oldest first; never their secrets", body = Vec<ClientView>),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn list_clients(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "admin", move |c, scope| {
        provider::clients(c, &scope.tenant)
    })
    .await
}

/// The client secret is in this response and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/oauth-clients",
    summary = "Register an application (the client secret is shown once)",
    params(paths::Tenant),
    request_body = NewClient,
    responses(
        (status = 201, description = "The client and its secret", body = CreatedClient),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn create_client(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: NewClient = parse(body.0)?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| {
            let created = provider::create_client(c, &scope.tenant, input)?;
            // Audited as its view: never the secret.
            audit(c, scope, "oauth_client.created", &created.client)?;
            Ok(created)
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/oauth-clients/{id}",
    summary = "Revoke an application: its codes and token requests are refused from now on",
    params(paths::TenantItem),
    responses((status = 204, description = "Revoked"), Refusals),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn revoke_client(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    super::run(&state, caller, "admin", true, move |c, scope| {
        provider::revoke_client(c, &scope.tenant, &id)?;
        audit(
            c,
            scope,
            "oauth_client.revoked",
            &serde_json::json!({"client_id": id}),
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/sign-in-settings",
    summary = "Just-in-time provisioning and what tokens carry",
    params(paths::Tenant),
    responses(
        (status = 200, description = "The settings", body = SignInSettings),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn settings(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "admin", move |c, scope| {
        provider::sign_in_settings(c, &scope.tenant)
    })
    .await
}

#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/sign-in-settings",
    summary = "Replace the sign-in settings (audited)",
    params(paths::Tenant),
    request_body = SignInSettings,
    responses(
        (status = 200, description = "The settings now", body = SignInSettings),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn set_settings(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: SignInSettings = parse(body.0)?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| {
            let done = provider::set_sign_in_settings(c, &scope.tenant, input)?;
            crate::service::audit::audit(
                c,
                &scope.tenant,
                &scope.actor.id,
                "sso.settings_changed",
                done.before,
                done.after,
                &Default::default(),
            )?;
            Ok(done.value)
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/saml-connection",
    summary = "The SAML connection: what to give the IdP, and what roster checks",
    params(paths::Tenant),
    responses(
        (status = 200, description = "The connection", body = SamlConnectionView),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn saml_connection(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    let public_url = state.public_url.clone();
    read(&state, caller, "admin", move |c, _| {
        saml::connection(c, &slug, &public_url)?.ok_or(crate::service::ServiceError::NotFound {
            kind: "SAML connection",
        })
    })
    .await
}

/// The IdP comes from its metadata (`metadata_xml`, or `metadata_url`, fetched once
/// now) or from `idp_entity_id`, `sso_url` and `certificates`: one of the two.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/saml-connection",
    summary = "Create or replace the SAML connection (audited)",
    params(paths::Tenant),
    request_body = SamlConnectionInput,
    responses(
        (status = 200, description = "The connection now", body = SamlConnectionView),
        Refusals,
    ),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn set_saml_connection(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: SamlConnectionInput = parse(body.0)?;
    let input = crate::http::saml::with_metadata(&state, input)
        .await
        .map_err(|why| ApiError::from(crate::service::invalid(why)))?;
    let slug = tenant.into_inner();
    let public_url = state.public_url.clone();
    let keys = state.secrets.clone();
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| {
            let done = saml::configure(c, &slug, &public_url, &input, &keys)?;
            crate::service::audit::audit(
                c,
                &scope.tenant,
                &scope.actor.id,
                "sso.saml_configured",
                done.before,
                done.after,
                &Default::default(),
            )?;
            Ok(done.value)
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/saml-connection",
    summary = "Remove the SAML connection (audited)",
    params(paths::Tenant),
    responses((status = 204, description = "Removed"), Refusals),
    tag = "sign-in",
    security(("api_key" = ["admin"]))
)]
pub async fn delete_saml_connection(
    state: web::Data<AppState>,
    caller: KeyCaller,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    let public_url = state.public_url.clone();
    super::run(&state, caller, "admin", true, move |c, scope| {
        let done = saml::remove(c, &slug, &public_url)?;
        crate::service::audit::audit(
            c,
            &scope.tenant,
            &scope.actor.id,
            "sso.saml_removed",
            done.before,
            None,
            &Default::default(),
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
