//! SAML 2.0 Web Browser SSO with roster as the service provider (SP): the SP's key
//! and metadata, AuthnRequests (HTTP-Redirect binding), the IdP's metadata, and the
//! checks of a response (HTTP-POST binding). Signatures are verified by samael through
//! libxmlsec1; around it, roster refuses what samael would let through: a connection
//! without a pinned certificate, SHA-1, a missing audience, and any response whose
//! shape leaves room for signature wrapping (more than one assertion, an assertion
//! that is not the response's child, comments, a DOCTYPE). The replay cache lives in
//! the store; this module says how long an assertion id must be remembered.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::{
    Endpoint, EntityDescriptor, IdpSsoDescriptor, KeyDescriptor, HTTP_REDIRECT_BINDING,
};
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProviderBuilder};
use samael::traits::ToXml;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
pub const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const UNSPECIFIED_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// How far the IdP's clock may be from ours (research: at most 3 minutes).
pub const MAX_CLOCK_SKEW_SECS: i64 = 180;
/// How old a response may be when it arrives.
pub const MAX_ISSUE_DELAY_SECS: i64 = 90;
/// The largest response roster reads (base64 included); JumpCloud's are a few KB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What can be wrong with the configuration or a response: shown to the admin (test
/// sign-in) and audited, never a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("the response is not valid base64 or UTF-8")]
    Encoding,
    #[error("the response is not well-formed SAML: {0}")]
    Malformed(String),
    #[error("the response has a shape roster refuses ({0}): this is how signature-wrapping attacks look")]
    Shape(String),
    #[error("the signature does not verify with the connection's certificates, is missing, or uses an algorithm roster refuses (SHA-1)")]
    Signature,
    #[error("the assertion is not for roster: {0}")]
    Audience(String),
    #[error("the response was sent to another address: {0}")]
    Recipient(String),
    #[error("the response is outside its validity window: {0}")]
    Time(String),
    #[error("the response is from another issuer: {0}")]
    Issuer(String),
    #[error(
        "the response answers no sign-in roster started (InResponseTo), or one already finished"
    )]
    InResponseTo,
    #[error("the identity provider started this sign-in (IdP-initiated), which this connection does not allow")]
    Unsolicited,
    #[error("the identity provider refused the sign-in: {0}")]
    Status(String),
    #[error("this assertion was used before (replay)")]
    Replayed,
    #[error("the assertion names no subject (NameID)")]
    NoSubject,
    #[error("the assertion is encrypted, which roster does not read yet")]
    Encrypted,
    #[error("{0}")]
    Config(String),
}

impl SamlError {
    /// A stable code for audit rows and the sign-in log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Encoding | Self::Malformed(_) => "saml_malformed",
            Self::Shape(_) => "saml_shape",
            Self::Signature => "saml_signature",
            Self::Audience(_) => "saml_audience",
            Self::Recipient(_) => "saml_recipient",
            Self::Time(_) => "saml_time",
            Self::Issuer(_) => "saml_issuer",
            Self::InResponseTo => "saml_in_response_to",
            Self::Unsolicited => "saml_unsolicited",
            Self::Status(_) => "saml_status",
            Self::Replayed => "saml_replayed",
            Self::NoSubject => "saml_no_subject",
            Self::Encrypted => "saml_encrypted",
            Self::Config(_) => "saml_config",
        }
    }
}

/// roster's side of one tenant's connection.
#[derive(Clone)]
pub struct Sp {
    /// The SP entity id, which is also the metadata URL.
    pub entity_id: String,
    pub acs_url: String,
    /// PEM.
    pub certificate: String,
}

/// The IdP as the admin configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idp {
    pub entity_id: String,
    pub sso_url: String,
    /// Base64 DER, one or two (a rollover).
    pub certificates: Vec<String>,
}

/// A fresh SP key pair: RSA 2048 and a self-signed certificate for ten years (IdPs
/// pin it; it signs nothing that expires). Returns (PKCS#8 PEM key, PEM certificate).
pub fn new_sp_key(common_name: &str) -> Result<(String, String), SamlError> {
    let fail = |e: openssl::error::ErrorStack| SamlError::Config(format!("making the SP key: {e}"));
    let key = PKey::from_rsa(Rsa::generate(2048).map_err(fail)?).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn).map_err(fail)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(fail)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(fail)?;
    let mut cert = X509::builder().map_err(fail)?;
    cert.set_version(2).map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    cert.set_serial_number(&serial).map_err(fail)?;
    cert.set_subject_name(&name).map_err(fail)?;
    cert.set_issuer_name(&name).map_err(fail)?;
    cert.set_pubkey(&key).map_err(fail)?;
    let (from, until) = (
        Asn1Time::days_from_now(0).map_err(fail)?,
        Asn1Time::days_from_now(3650).map_err(fail)?,
    );
    cert.set_not_before(&from).map_err(fail)?;
    cert.set_not_after(&until).map_err(fail)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let key_pem = key.private_key_to_pem_pkcs8().map_err(fail)?;
    let cert_pem = cert.build().to_pem().map_err(fail)?;
    Ok((
        String::from_utf8_lossy(&key_pem).into_owned(),
        String::from_utf8_lossy(&cert_pem).into_owned(),
    ))
}

/// A certificate as PEM or bare base64 (as IdP screens show it), checked to be an
/// X.509 certificate; returned as base64 DER on one line.
pub fn normalize_certificate(text: &str) -> Result<String, SamlError> {
    let body: String = text
        .lines()
        .filter(|l| !l.contains("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| SamlError::Config("the certificate is not PEM or base64".into()))?;
    X509::from_der(&der)
        .map_err(|_| SamlError::Config("the certificate is not an X.509 certificate".into()))?;
    Ok(STANDARD.encode(der))
}

/// When a certificate (base64 DER) stops being valid, as the admin screen shows it.
pub fn certificate_expiry(base64_der: &str) -> Option<String> {
    let der = STANDARD.decode(base64_der).ok()?;
    let cert = X509::from_der(&der).ok()?;
    Some(cert.not_after().to_string())
}

/// The IdP's metadata (XML): entity id, the SSO URL (HTTP-Redirect binding) and
/// every signing certificate.
pub fn parse_idp_metadata(xml: &str) -> Result<Idp, SamlError> {
    if xml.contains("<!DOCTYPE") {
        return Err(SamlError::Config("the metadata has a DOCTYPE".into()));
    }
    let entity: EntityDescriptor = xml
        .parse()
        .map_err(|e| SamlError::Config(format!("the metadata is not SAML metadata: {e}")))?;
    let entity_id = entity
        .entity_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| SamlError::Config("the metadata has no entityID".into()))?;
    let descriptors = entity.idp_sso_descriptors.unwrap_or_default();
    let sso_url = descriptors
        .iter()
        .flat_map(|d| &d.single_sign_on_services)
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or_else(|| {
            SamlError::Config(
                "the metadata has no SingleSignOnService with the HTTP-Redirect binding".into(),
            )
        })?;
    let mut certificates = Vec::new();
    for key in descriptors.iter().flat_map(|d| &d.key_descriptors) {
        if key.key_use.as_deref().is_some_and(|u| u == "encryption") {
            continue;
        }
        for cert in key.key_info.x509_data.iter().flat_map(|d| &d.certificates) {
            let cert = normalize_certificate(cert)?;
            if !certificates.contains(&cert) {
                certificates.push(cert);
            }
        }
    }
    if certificates.is_empty() {
        return Err(SamlError::Config(
            "the metadata has no signing certificate".into(),
        ));
    }
    Ok(Idp {
        entity_id,
        sso_url,
        certificates,
    })
}

fn idp_descriptor(idp: &Idp) -> EntityDescriptor {
    let key_descriptors = idp
        .certificates
        .iter()
        .map(|cert| KeyDescriptor {
            key_use: Some("signing".into()),
            key_info: samael::key_info::KeyInfo {
                id: None,
                x509_data: Some(samael::key_info::X509Data {
                    certificates: vec![cert.clone()],
                }),
            },
            encryption_methods: None,
        })
        .collect();
    EntityDescriptor {
        entity_id: Some(idp.entity_id.clone()),
        idp_sso_descriptors: Some(vec![IdpSsoDescriptor {
            id: None,
            valid_until: None,
            cache_duration: None,
            protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
            error_url: None,
            signature: None,
            key_descriptors,
            organization: None,
            contact_people: vec![],
            artifact_resolution_service: vec![],
            single_logout_services: vec![],
            manage_name_id_services: vec![],
            name_id_formats: vec![],
            want_authn_requests_signed: None,
            single_sign_on_services: vec![Endpoint {
                binding: HTTP_REDIRECT_BINDING.into(),
                location: idp.sso_url.clone(),
                response_location: None,
            }],
            name_id_mapping_services: vec![],
            assertion_id_request_services: vec![],
            attribute_profiles: vec![],
            attributes: vec![],
        }]),
        ..EntityDescriptor::default()
    }
}

fn service_provider(
    sp: &Sp,
    idp: &Idp,
    allow_unsolicited: bool,
) -> Result<samael::service_provider::ServiceProvider, SamlError> {
    // samael reads a response without any signature check when the IdP has no
    // certificate: never build one that way.
    if idp.certificates.is_empty() {
        return Err(SamlError::Config(
            "the connection has no IdP certificate".into(),
        ));
    }
    let certificate = pem_to_der(&sp.certificate)?;
    ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.clone())
        .metadata_url(sp.entity_id.clone())
        .acs_url(sp.acs_url.clone())
        .slo_url(sp.acs_url.clone())
        .certificate(CertificateDer::from(certificate))
        .idp_metadata(idp_descriptor(idp))
        .allow_idp_initiated(allow_unsolicited)
        .max_clock_skew(chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS))
        .max_issue_delay(chrono::Duration::seconds(MAX_ISSUE_DELAY_SECS))
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ])
        .build()
        .map_err(|e| SamlError::Config(format!("the SAML connection: {e}")))
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, SamlError> {
    X509::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .map_err(|_| SamlError::Config("the SP certificate is unreadable".into()))
}

/// The SP metadata to give the IdP: entity id, the ACS (HTTP-POST) and the
/// certificate; assertions must be signed.
pub fn sp_metadata(sp: &Sp) -> Result<String, SamlError> {
    let placeholder = Idp {
        entity_id: String::new(),
        sso_url: String::new(),
        certificates: vec![String::new()],
    };
    let provider = service_provider(sp, &placeholder, false)?;
    let mut descriptor = provider
        .metadata()
        .map_err(|e| SamlError::Config(format!("the SP metadata: {e}")))?;
    // roster has no single logout endpoint; do not advertise one.
    for sp in descriptor.sp_sso_descriptors.iter_mut().flatten() {
        sp.single_logout_services = None;
    }
    descriptor
        .to_string()
        .map_err(|e| SamlError::Config(format!("the SP metadata: {e:?}")))
}

/// An AuthnRequest to the IdP (HTTP-Redirect binding), asking for a NameID of
/// `name_id_format`: the URL to send the browser to, and the request's ID, which the
/// response must name in InResponseTo.
pub fn authn_request(
    sp: &Sp,
    idp: &Idp,
    name_id_format: &str,
    force_authn: bool,
    relay_state: &str,
) -> Result<(String, String), SamlError> {
    let mut provider = service_provider(sp, idp, false)?;
    provider.authn_name_id_format = Some(name_id_format.to_owned());
    // The application asked for a fresh sign-in (`prompt=login`, `max_age`).
    provider.force_authn = force_authn;
    let mut request = provider
        .make_authentication_request(&idp.sso_url)
        .map_err(|e| SamlError::Config(format!("the AuthnRequest: {e}")))?;
    // samael's ids have 32 random bits; the InResponseTo check deserves 128.
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| SamlError::Config(format!("randomness: {e}")))?;
    request.id = format!("_{}", hex(&id));
    let url = request
        .redirect(relay_state)
        .map_err(|e| SamlError::Config(format!("the AuthnRequest: {e}")))?
        .ok_or_else(|| SamlError::Config("the IdP has no SSO URL".into()))?;
    Ok((url.to_string(), request.id))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the structural check found in a response, before any signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The response's InResponseTo: absent in an IdP-initiated one.
    pub in_response_to: Option<String>,
    pub assertion_id: String,
}

/// Decodes the form's `SAMLResponse` and checks its shape: one Response with exactly
/// one Assertion as its direct child, no EncryptedAssertion, and no DOCTYPE, comment,
/// processing instruction or CDATA anywhere (none occurs in an IdP's response; each
/// has served an attack). Returns the XML and what it names.
pub fn envelope(saml_response: &str) -> Result<(String, Envelope), SamlError> {
    if saml_response.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::Malformed("the response is too large".into()));
    }
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| SamlError::Encoding)?;
    let xml = String::from_utf8(bytes).map_err(|_| SamlError::Encoding)?;
    let mut reader = NsReader::from_str(&xml);
    let mut depth = 0usize;
    let mut in_response_to = None;
    let mut assertions = Vec::new();
    let malformed = |e: quick_xml::Error| SamlError::Malformed(e.to_string());
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name();
                let in_ns =
                    |want: &[u8]| matches!(ns, ResolveResult::Bound(n) if n.as_ref() == want);
                if depth == 0 {
                    if !(in_ns(PROTOCOL_NS) && local.as_ref() == b"Response") {
                        return Err(SamlError::Shape("the root is not a SAML Response".into()));
                    }
                    in_response_to = attribute(e, b"InResponseTo")?;
                }
                if in_ns(ASSERTION_NS) && local.as_ref() == b"EncryptedAssertion" {
                    return Err(SamlError::Encrypted);
                }
                if in_ns(ASSERTION_NS) && local.as_ref() == b"Assertion" {
                    if depth != 1 {
                        return Err(SamlError::Shape(
                            "an assertion that is not the response's child".into(),
                        ));
                    }
                    assertions.push(attribute(e, b"ID")?.unwrap_or_default());
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            // libxml2 (which samael verifies with) honours a declared encoding that this
            // reader would not: only UTF-8 is read, so both see the same document.
            Event::Decl(ref d) => {
                if let Some(Ok(encoding)) = d.encoding() {
                    if !encoding.eq_ignore_ascii_case(b"utf-8") {
                        return Err(SamlError::Shape("an encoding other than UTF-8".into()));
                    }
                }
            }
            Event::DocType(_) => return Err(SamlError::Shape("a DOCTYPE".into())),
            Event::Comment(_) => return Err(SamlError::Shape("an XML comment".into())),
            Event::PI(_) => return Err(SamlError::Shape("a processing instruction".into())),
            Event::CData(_) => return Err(SamlError::Shape("a CDATA section".into())),
            Event::Eof => break,
            _ => {}
        }
    }
    match assertions.as_slice() {
        [id] if !id.is_empty() => Ok((
            xml,
            Envelope {
                in_response_to,
                assertion_id: id.clone(),
            },
        )),
        [] => Err(SamlError::Shape("no assertion".into())),
        [_] => Err(SamlError::Shape("an assertion without an ID".into())),
        _ => Err(SamlError::Shape(format!("{} assertions", assertions.len()))),
    }
}

fn attribute(e: &quick_xml::events::BytesStart, name: &[u8]) -> Result<Option<String>, SamlError> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| Some(v.into_owned()))
            .map_err(|e| SamlError::Malformed(e.to_string())),
        Ok(None) => Ok(None),
        Err(e) => Err(SamlError::Malformed(e.to_string())),
    }
}

/// Which attributes hold what.
#[derive(Debug, Clone)]
pub struct AttributeNames {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub groups: String,
}

/// A verified assertion, reduced to what a sign-in needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub groups: Vec<String>,
    /// When the user authenticated at the IdP (Unix seconds), from AuthnStatement.
    pub authn_instant: Option<i64>,
    /// Every attribute, for the test sign-in page.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Until when the assertion id must stay in the replay cache.
    pub remember_until: SystemTime,
}

/// Verifies a response's XML (from [`envelope`]) for this connection: the signature
/// over the assertion (samael, xmlsec), Destination and Recipient = the ACS, Audience =
/// the SP (and present), Issuer, the time window, StatusCode, and InResponseTo =
/// `request_id`; without one, only when unsolicited responses are allowed.
pub fn verify(
    sp: &Sp,
    idp: &Idp,
    xml: &str,
    envelope: &Envelope,
    request_id: Option<&str>,
    names: &AttributeNames,
) -> Result<Verified, SamlError> {
    let provider = service_provider(sp, idp, request_id.is_none())?;
    let ids: Vec<&str> = request_id.into_iter().collect();
    let assertion = provider
        .parse_xml_response(xml, request_id.map(|_| ids.as_slice()))
        .map_err(from_samael)?;
    // The assertion samael verified is the one the shape check saw, and nothing else.
    if assertion.id != envelope.assertion_id {
        return Err(SamlError::Shape(
            "the verified assertion is not the response's assertion".into(),
        ));
    }
    let has_audience = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|r| r.iter().any(|r| !r.audience.is_empty()));
    if !has_audience {
        return Err(SamlError::Audience(
            "the assertion has no AudienceRestriction".into(),
        ));
    }
    reduce(&assertion, names)
}

fn reduce(assertion: &Assertion, names: &AttributeNames) -> Result<Verified, SamlError> {
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .filter(|n| !n.value.trim().is_empty())
        .ok_or(SamlError::NoSubject)?;
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attribute in assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
    {
        let Some(name) = attribute.name.clone() else {
            continue;
        };
        let values = attribute
            .values
            .iter()
            .filter_map(|v| v.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        attributes.entry(name).or_default().extend(values);
    }
    let first = |name: &str| attributes.get(name).and_then(|v| v.first()).cloned();
    let name_id_format = name_id.format.clone();
    let email = first(&names.email).or_else(|| {
        let value = name_id.value.trim();
        (name_id_format.as_deref() == Some(EMAIL_FORMAT) && value.contains('@'))
            .then(|| value.to_owned())
    });
    let mut until = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
        .unwrap_or_else(|| assertion.issue_instant + chrono::Duration::minutes(10));
    for data in assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref())
    {
        if let Some(t) = data.not_on_or_after {
            until = until.max(t);
        }
    }
    let until = until + chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS);
    let secs = u64::try_from(until.timestamp()).unwrap_or(0);
    Ok(Verified {
        issuer: assertion.issuer.value.clone().unwrap_or_default(),
        assertion_id: assertion.id.clone(),
        name_id: name_id.value.trim().to_owned(),
        name_id_format,
        email,
        given_name: first(&names.first_name),
        family_name: first(&names.last_name),
        groups: attributes.get(&names.groups).cloned().unwrap_or_default(),
        authn_instant: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|s| s.authn_instant)
            .map(|t| t.timestamp()),
        attributes,
        remember_until: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
    })
}

fn from_samael(e: SpError) -> SamlError {
    use SpError as E;
    match e {
        E::DestinationValidationError {
            response_destination,
            ..
        } => SamlError::Recipient(format!(
            "Destination {}",
            response_destination.unwrap_or_default()
        )),
        E::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => SamlError::Recipient(format!(
            "Recipient {}",
            assertion_recipient.unwrap_or_default()
        )),
        E::AssertionConditionAudienceRestrictionFailed { requirement } => {
            SamlError::Audience(format!("the audience does not include {requirement}"))
        }
        E::AssertionExpired { time }
        | E::ResponseExpired { time }
        | E::AssertionConditionExpired { time }
        | E::AssertionSubjectConfirmationExpired { time } => {
            SamlError::Time(format!("expired at {time}"))
        }
        E::AssertionConditionExpiredBefore { time }
        | E::AssertionSubjectConfirmationExpiredBefore { time } => {
            SamlError::Time(format!("not valid before {time}"))
        }
        E::AssertionIssuerMismatch { issuer, .. } | E::ResponseIssuerMismatch { issuer, .. } => {
            SamlError::Issuer(issuer.unwrap_or_default())
        }
        E::AssertionInResponseToInvalid { .. } | E::ResponseInResponseToInvalid { .. } => {
            SamlError::InResponseTo
        }
        E::ResponseBadStatusCode { code } => SamlError::Status(code),
        E::FailedToValidateSignature => SamlError::Signature,
        E::AssertionBearerSubjectConfirmationMissing | E::AssertionSubjectConfirmationMissing => {
            SamlError::Malformed("no bearer SubjectConfirmation".into())
        }
        E::EncryptedAssertionsNotYetSupported | E::EncryptedAssertionInvalid => {
            SamlError::Encrypted
        }
        other => SamlError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> Sp {
        let (_, cert) = new_sp_key("test").unwrap();
        Sp {
            entity_id: "https://roster.example/saml/acme".into(),
            acs_url: "https://roster.example/saml/acme/acs".into(),
            certificate: cert,
        }
    }

    fn response(body: &str) -> String {
        STANDARD.encode(format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_q">{body}</samlp:Response>"#
        ))
    }

    #[test]
    fn the_envelope_names_the_request_and_the_one_assertion() {
        let (_, env) = envelope(&response(r#"<saml:Assertion ID="_a"/>"#)).unwrap();
        assert_eq!(env.in_response_to.as_deref(), Some("_q"));
        assert_eq!(env.assertion_id, "_a");
    }

    #[test]
    fn wrapping_shapes_are_refused_before_any_signature_is_read() {
        let two = response(r#"<saml:Assertion ID="_a"/><saml:Assertion ID="_b"/>"#);
        assert!(matches!(envelope(&two), Err(SamlError::Shape(_))));
        let nested = response(
            r#"<samlp:Extensions><saml:Assertion ID="_a"/></samlp:Extensions><saml:Assertion ID="_b"/>"#,
        );
        assert!(matches!(envelope(&nested), Err(SamlError::Shape(_))));
        let comment = response(
            r#"<saml:Assertion ID="_a"><saml:NameID>a@b.c<!---->.evil</saml:NameID></saml:Assertion>"#,
        );
        assert!(matches!(envelope(&comment), Err(SamlError::Shape(_))));
        let doctype = STANDARD.encode(
            r#"<!DOCTYPE x [<!ENTITY e "x">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#,
        );
        assert!(matches!(envelope(&doctype), Err(SamlError::Shape(_))));
        let utf7 = STANDARD.encode(
            r#"<?xml version="1.0" encoding="UTF-7"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#,
        );
        assert!(matches!(envelope(&utf7), Err(SamlError::Shape(_))));
        let utf8 = STANDARD.encode(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>{}"#,
            String::from_utf8(
                STANDARD
                    .decode(response(r#"<saml:Assertion ID="_a"/>"#))
                    .unwrap()
            )
            .unwrap()
        ));
        assert!(envelope(&utf8).is_ok());
        let none = response("");
        assert!(matches!(envelope(&none), Err(SamlError::Shape(_))));
        let other_root = STANDARD.encode(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>"#,
        );
        assert!(matches!(envelope(&other_root), Err(SamlError::Shape(_))));
        assert_eq!(envelope("%%%"), Err(SamlError::Encoding));
    }

    #[test]
    fn sp_metadata_names_the_entity_the_acs_and_the_certificate() {
        let sp = sp();
        let xml = sp_metadata(&sp).unwrap();
        assert!(
            xml.contains(r#"entityID="https://roster.example/saml/acme""#),
            "{xml}"
        );
        assert!(
            xml.contains("https://roster.example/saml/acme/acs"),
            "{xml}"
        );
        assert!(xml.contains("X509Certificate"), "{xml}");
        assert!(!xml.contains("SingleLogoutService"), "{xml}");
    }

    #[test]
    fn an_authn_request_carries_a_long_random_id_and_the_relay_state() {
        let sp = sp();
        let idp = Idp {
            entity_id: "JumpCloud".into(),
            sso_url: "https://sso.jumpcloud.com/saml2/roster?x=1".into(),
            certificates: vec![normalize_certificate(&sp.certificate).unwrap()],
        };
        let (url, id) = authn_request(&sp, &idp, EMAIL_FORMAT, true, "rs").unwrap();
        assert_eq!(id.len(), 33);
        // The request asks for the configured NameID format.
        let query: std::collections::HashMap<_, _> = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let deflated = STANDARD.decode(&query["SAMLRequest"]).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::DeflateDecoder::new(deflated.as_slice()),
            &mut xml,
        )
        .unwrap();
        assert!(xml.contains(EMAIL_FORMAT), "{xml}");
        assert!(xml.contains(&id), "{xml}");
        assert!(xml.contains(r#"ForceAuthn="true""#), "{xml}");
        assert!(url.starts_with("https://sso.jumpcloud.com/saml2/roster?x=1&SAMLRequest="));
        assert!(url.ends_with("&RelayState=rs"));
    }

    #[test]
    fn a_connection_without_a_certificate_is_never_built() {
        let idp = Idp {
            entity_id: "JumpCloud".into(),
            sso_url: "https://sso.example/".into(),
            certificates: vec![],
        };
        assert!(matches!(
            authn_request(&sp(), &idp, EMAIL_FORMAT, false, ""),
            Err(SamlError::Config(_))
        ));
    }

    #[test]
    fn certificates_are_read_as_pem_or_base64() {
        let sp = sp();
        let b64 = normalize_certificate(&sp.certificate).unwrap();
        assert_eq!(normalize_certificate(&b64).unwrap(), b64);
        assert!(normalize_certificate("not a cert").is_err());
        assert!(certificate_expiry(&b64).is_some());
    }
}
