//! Every stored secret that roster encrypts (see `crate::secrets`), for the passes that
//! seal old plain values and re-seal under a new key. Adding an encrypted column means
//! adding it here, or rotation leaves it behind.

use diesel::prelude::*;

use super::admin::{oidc_configs, server_settings};
use super::conn::DbConnection;
use super::error::StoreError;
use super::oauth::oauth_signing_keys;
use super::pull::directory_sources;
use super::saml::saml_connections;
use super::schema::webhook_endpoints;

/// Where a secret is stored: what it is bound to when sealed, and how to write it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A webhook endpoint's current or rotated-out signing secret.
    WebhookSecret {
        tenant_id: String,
        id: String,
    },
    WebhookPreviousSecret {
        tenant_id: String,
        id: String,
    },
    /// A tenant's admin-login OIDC client secret.
    OidcClientSecret {
        tenant_id: String,
    },
    /// A row of `server_settings` (the session secret, the key check).
    Setting {
        key: String,
    },
    /// The private half of a tenant's token-signing key.
    SigningKey {
        tenant_id: String,
        id: String,
    },
    /// The private key of a tenant's SAML service provider.
    SamlSpKey {
        tenant_id: String,
    },
    /// The API key of a tenant's directory source (JumpCloud).
    DirectoryApiKey {
        tenant_id: String,
    },
}

impl Place {
    /// The context a value here is sealed with: a ciphertext moved to another place
    /// does not open.
    pub fn context(&self) -> String {
        match self {
            // Both columns of one endpoint share it: rotation moves the secret across.
            Self::WebhookSecret { id, .. } | Self::WebhookPreviousSecret { id, .. } => {
                webhook_context(id)
            }
            Self::OidcClientSecret { tenant_id } => oidc_context(tenant_id),
            Self::Setting { key } => setting_context(key),
            Self::SigningKey { tenant_id, id } => signing_key_context(tenant_id, id),
            Self::SamlSpKey { tenant_id } => saml_key_context(tenant_id),
            Self::DirectoryApiKey { tenant_id } => directory_key_context(tenant_id),
        }
    }
}

pub fn webhook_context(endpoint_id: &str) -> String {
    format!("webhook_endpoint:{endpoint_id}")
}

pub fn oidc_context(tenant_id: &str) -> String {
    format!("oidc_config:{tenant_id}")
}

pub fn signing_key_context(tenant_id: &str, kid: &str) -> String {
    format!("oauth_signing_key:{tenant_id}:{kid}")
}

pub fn saml_key_context(tenant_id: &str) -> String {
    format!("saml_sp_key:{tenant_id}")
}

pub fn directory_key_context(tenant_id: &str) -> String {
    format!("directory_source:{tenant_id}")
}

pub fn setting_context(key: &str) -> String {
    format!("server_setting:{key}")
}

/// The settings whose values are secrets.
/// The settings whose values are sealed: the session secret, and the value that proves
/// the configured key is the database's.
const SECRET_SETTINGS: &[&str] = &["session_secret", KEY_CHECK];

/// The `server_settings` row whose sealed value shows which key this database's
/// secrets are sealed with.
pub const KEY_CHECK: &str = "secrets_key_check";

/// Every stored secret, with where it is.
pub fn all(conn: &mut DbConnection) -> Result<Vec<(Place, String)>, StoreError> {
    let mut out = Vec::new();
    let endpoints: Vec<(String, String, String, Option<String>)> = webhook_endpoints::table
        .select((
            webhook_endpoints::tenant_id,
            webhook_endpoints::id,
            webhook_endpoints::secret,
            webhook_endpoints::previous_secret,
        ))
        .load(conn)?;
    for (tenant_id, id, secret, previous) in endpoints {
        if let Some(previous) = previous {
            let place = Place::WebhookPreviousSecret {
                tenant_id: tenant_id.clone(),
                id: id.clone(),
            };
            out.push((place, previous));
        }
        out.push((Place::WebhookSecret { tenant_id, id }, secret));
    }
    let oidc: Vec<(String, Option<String>)> = oidc_configs::table
        .select((oidc_configs::tenant_id, oidc_configs::client_secret))
        .load(conn)?;
    out.extend(oidc.into_iter().filter_map(|(tenant_id, secret)| {
        secret.map(|s| (Place::OidcClientSecret { tenant_id }, s))
    }));
    let signing: Vec<(String, String, String)> = oauth_signing_keys::table
        .select((
            oauth_signing_keys::tenant_id,
            oauth_signing_keys::id,
            oauth_signing_keys::private_key,
        ))
        .load(conn)?;
    out.extend(
        signing
            .into_iter()
            .map(|(tenant_id, id, key)| (Place::SigningKey { tenant_id, id }, key)),
    );
    let saml: Vec<(String, String)> = saml_connections::table
        .select((
            saml_connections::tenant_id,
            saml_connections::sp_private_key,
        ))
        .load(conn)?;
    out.extend(
        saml.into_iter()
            .map(|(tenant_id, key)| (Place::SamlSpKey { tenant_id }, key)),
    );
    let directory: Vec<(String, String)> = directory_sources::table
        .select((directory_sources::tenant_id, directory_sources::api_key))
        .load(conn)?;
    out.extend(
        directory
            .into_iter()
            .map(|(tenant_id, key)| (Place::DirectoryApiKey { tenant_id }, key)),
    );
    let settings: Vec<(String, String)> = server_settings::table
        .filter(server_settings::key.eq_any(SECRET_SETTINGS))
        .select((server_settings::key, server_settings::value))
        .load(conn)?;
    out.extend(
        settings
            .into_iter()
            .map(|(key, value)| (Place::Setting { key }, value)),
    );
    Ok(out)
}

/// Replaces `expected` with `value` where it came from; false when the stored value
/// is no longer `expected` (a concurrent rotation wins over a re-seal).
pub fn replace(
    conn: &mut DbConnection,
    place: &Place,
    expected: &str,
    value: &str,
) -> Result<bool, StoreError> {
    let updated = match place {
        Place::WebhookSecret { tenant_id, id } => diesel::update(webhook_endpoints::table)
            .filter(webhook_endpoints::tenant_id.eq(tenant_id))
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::secret.eq(expected))
            .set(webhook_endpoints::secret.eq(value))
            .execute(conn)?,
        Place::WebhookPreviousSecret { tenant_id, id } => diesel::update(webhook_endpoints::table)
            .filter(webhook_endpoints::tenant_id.eq(tenant_id))
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::previous_secret.eq(expected))
            .set(webhook_endpoints::previous_secret.eq(value))
            .execute(conn)?,
        Place::OidcClientSecret { tenant_id } => diesel::update(oidc_configs::table)
            .filter(oidc_configs::tenant_id.eq(tenant_id))
            .filter(oidc_configs::client_secret.eq(expected))
            .set(oidc_configs::client_secret.eq(value))
            .execute(conn)?,
        Place::SigningKey { tenant_id, id } => diesel::update(oauth_signing_keys::table)
            .filter(oauth_signing_keys::tenant_id.eq(tenant_id))
            .filter(oauth_signing_keys::id.eq(id))
            .filter(oauth_signing_keys::private_key.eq(expected))
            .set(oauth_signing_keys::private_key.eq(value))
            .execute(conn)?,
        Place::SamlSpKey { tenant_id } => diesel::update(saml_connections::table)
            .filter(saml_connections::tenant_id.eq(tenant_id))
            .filter(saml_connections::sp_private_key.eq(expected))
            .set(saml_connections::sp_private_key.eq(value))
            .execute(conn)?,
        Place::DirectoryApiKey { tenant_id } => diesel::update(directory_sources::table)
            .filter(directory_sources::tenant_id.eq(tenant_id))
            .filter(directory_sources::api_key.eq(expected))
            .set(directory_sources::api_key.eq(value))
            .execute(conn)?,
        Place::Setting { key } => diesel::update(server_settings::table)
            .filter(server_settings::key.eq(key))
            .filter(server_settings::value.eq(expected))
            .set(server_settings::value.eq(value))
            .execute(conn)?,
    };
    Ok(updated == 1)
}
