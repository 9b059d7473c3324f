//! `/saml/{tenant}`: roster as the tenant's SAML service provider. The entity id is
//! this URL, which also serves the SP metadata; the IdP posts its responses to `acs`.
//! Sign-ins start elsewhere: an application's (`/oauth/{tenant}/authorize`), the admin
//! UI's (`/admin/{tenant}/login/saml`) and the SSO screen's test button.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::error::AdminError;
use super::admin::session::audit_context;
use super::admin::{html, login};
use super::state::AppState;
use crate::auth::saml::{SamlError, Verified};
use crate::service::admin::{Login, Refusal};
use crate::service::provider::{self, AuthorizeRefusal, ValidRequest};
use crate::service::saml::{self, Purpose};

/// `GET /saml/{tenant}` and `/saml/{tenant}/metadata`: the SP metadata to give the IdP.
pub async fn metadata(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = tenant.into_inner();
    let public_url = state.public_url.clone();
    let xml = state
        .service
        .run(move |c| saml::sp_metadata(c, &slug, &public_url))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(xml))
}

/// Off to the IdP with an AuthnRequest made for `purpose`.
pub(crate) async fn start(
    state: &AppState,
    tenant: &str,
    purpose: Purpose,
    force_authn: bool,
) -> Result<HttpResponse, AdminError> {
    let slug = tenant.to_owned();
    let public_url = state.public_url.clone();
    let url = state
        .service
        .write(tenant, move |c| {
            saml::start(c, &slug, &public_url, &purpose, force_authn)
        })
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
    // The RelayState is accepted and ignored: nothing is decided by it, and no
    // redirect ever goes to it.
    #[serde(rename = "RelayState", default)]
    _relay_state: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/saml_test.html")]
struct TestPage<'a> {
    tenant: &'a str,
    verified: &'a Verified,
    xml: &'a str,
}

/// `POST /saml/{tenant}/acs`: the IdP's response (HTTP-POST binding). Verified, then
/// matched to the sign-in roster started (or taken as IdP-initiated where allowed),
/// then finished for its purpose; every refusal is a page and an audit row.
pub async fn acs(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    form: web::Form<AcsForm>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant.into_inner();
    let ctx = audit_context(&req);
    let slug = tenant.clone();
    let public_url = state.public_url.clone();
    let response = form.into_inner().saml_response;
    let connection = state
        .service
        .run(move |c| saml::verifier(c, &slug, &public_url))
        .await?;
    let (seen, checked) = web::block(move || saml::check(&connection, &response))
        .await
        .map_err(|_| AdminError::Blocking)?;
    let checked = match checked {
        Ok(checked) => checked,
        Err(why) => {
            tracing::warn!(tenant = %tenant, reason = why.code(), error = %why, "a SAML response was refused");
            let slug = tenant.clone();
            let refusal = why.clone();
            state
                .service
                .write(&tenant, move |c| {
                    saml::refuse_unverified(c, &slug, &refusal, &seen, &ctx)
                })
                .await?;
            return Err(refused(&why));
        }
    };
    let slug = tenant.clone();
    let accepted = checked.clone();
    let audit = ctx.clone();
    let purpose = state
        .service
        .write(&tenant, move |c| saml::accept(c, &slug, &accepted, &audit))
        .await?;
    let who = &checked.verified;
    match purpose {
        Err(why) => Err(refused(&why)),
        // IdP-initiated: on to the application's login URL, which starts a sign-in of
        // its own (OpenID Connect's third-party-initiated login); nothing is signed in
        // on the strength of an unsolicited response alone.
        Ok(None) => {
            let target = checked.idp_initiated_url.clone().unwrap_or_default();
            let mut url = url::Url::parse(&target)
                .map_err(|_| AdminError::LoginFailed("no application login URL is set".into()))?;
            url.query_pairs_mut()
                .append_pair("iss", &provider::issuer(&state.public_url, &tenant));
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.to_string()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
        Ok(Some(Purpose::Test)) => {
            let page = TestPage {
                tenant: &tenant,
                verified: who,
                xml: seen.xml.as_deref().unwrap_or_default(),
            };
            html(actix_web::http::StatusCode::OK, page.render()?)
        }
        Ok(Some(Purpose::App { request })) => {
            let request: ValidRequest = serde_json::from_value(request).map_err(|_| {
                AdminError::LoginFailed("the sign-in in progress could not be read".into())
            })?;
            let upstream = saml::upstream(who);
            let slug = tenant.clone();
            let public_url = state.public_url.clone();
            let back = request.clone();
            let decided = state
                .service
                .write(&tenant, move |c| {
                    provider::sign_in(c, &slug, &public_url, &request, &upstream, &ctx)
                })
                .await?;
            let location = match decided {
                Ok(signed_in) => signed_in.location,
                Err(refusal) => AuthorizeRefusal::Redirect {
                    redirect_uri: back.redirect_uri,
                    error: "access_denied",
                    description: refusal.to_string(),
                    state: back.state,
                    issuer: provider::issuer(&state.public_url, &tenant),
                }
                .location()
                .unwrap_or_default(),
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
        Ok(Some(Purpose::Admin { return_to })) => {
            let slug = tenant.clone();
            let subject = who.name_id.clone();
            let email = who.email.clone();
            let groups = who.groups.clone();
            let outcome = state
                .service
                .write("", move |c| {
                    saml::complete_admin_login(
                        c,
                        &slug,
                        &Login {
                            subject: &subject,
                            email: email.as_deref(),
                            // Signed by the tenant's IdP, as its OIDC e-mail is.
                            email_verified: true,
                            groups: &groups,
                        },
                        &ctx,
                    )
                })
                .await?;
            match outcome {
                Ok(opened) => Ok(login::logged_in(
                    &tenant,
                    &opened.cookie,
                    &return_to,
                    super::admin::session::is_https(&state),
                )),
                Err(Refusal::NoAdminGroup { groups }) => Err(AdminError::NoAdminGroup { groups }),
                Err(Refusal::InactiveUser) => Err(AdminError::InactiveUser),
            }
        }
    }
}

fn refused(why: &SamlError) -> AdminError {
    AdminError::LoginFailed(format!(
        "The identity provider's SAML response was refused: {why}."
    ))
}

/// The largest IdP metadata document roster fetches.
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// The input with its `metadata_url` fetched into `metadata_xml` (once, now), through
/// the outbound client's SSRF rules, with bounded time and size.
pub(crate) async fn with_metadata(
    state: &AppState,
    mut input: saml::SamlConnectionInput,
) -> Result<saml::SamlConnectionInput, String> {
    let Some(url) = input.metadata_url.take().filter(|u| !u.trim().is_empty()) else {
        return Ok(input);
    };
    if input
        .metadata_xml
        .as_deref()
        .is_some_and(|x| !x.trim().is_empty())
    {
        return Err("give the metadata's URL or its XML, not both".into());
    }
    let agent = crate::webhooks::client::agent(state.allow_private_webhook_urls);
    let xml = web::block(move || {
        use std::io::Read;
        let response = agent
            .get(url.trim())
            .call()
            .map_err(|e| format!("the metadata URL could not be read: {e}"))?;
        let mut xml = String::new();
        response
            .into_reader()
            .take(MAX_METADATA_BYTES)
            .read_to_string(&mut xml)
            .map_err(|e| format!("the metadata URL could not be read: {e}"))?;
        Ok::<_, String>(xml)
    })
    .await
    .map_err(|_| "the metadata URL could not be read".to_owned())??;
    input.metadata_xml = Some(xml);
    Ok(input)
}
