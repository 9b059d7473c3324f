//! Use cases of secrets at rest: proving at start-up that the configured key is the
//! database's, sealing values stored before encryption, and re-sealing everything under
//! a new key (`roster secrets rotate`).

use super::ServiceError;
use crate::secrets::{key_id_of, KeyRing, SecretsError};
use crate::store::admin;
use crate::store::secrets::{self as stored, setting_context, KEY_CHECK};
use crate::store::{DbConnection, StoreError};

/// What sealing the key check holds: any fixed text would do.
const KEY_CHECK_VALUE: &str = "roster secrets key check";

/// Why the configured keys cannot serve this database.
#[derive(Debug, thiserror::Error)]
pub enum KeyMismatch {
    #[error("the configured secrets key (id {configured}) is not the one this database's secrets are sealed with (id {stored}): set secrets_key to that key, or list it in secrets_old_keys")]
    WrongKey { configured: String, stored: String },
    #[error("the database's key check does not open with the configured key (id {0}): the key or the check was altered")]
    Corrupt(String),
}

/// What [`prepare`] and [`rotate`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resealed {
    /// Values stored before encryption, now sealed.
    pub plain: usize,
    /// Values sealed under an old key, now under the current one ([`rotate`] only).
    pub rotated: usize,
    /// Values still sealed under an old key (after [`prepare`]: run `secrets rotate`).
    pub under_old_keys: usize,
}

/// At start-up: the configured keys must open the database's key check (written under
/// the current key on first start), and any plain value left from before encryption
/// is sealed. Runs statement by statement, so processes starting together agree: the
/// first key check stored wins, and a value another writer changed meanwhile is left.
pub fn prepare(conn: &mut DbConnection, keys: &KeyRing) -> Result<Resealed, PrepareError> {
    check_key(conn, keys)?;
    Ok(reseal_all(conn, keys, false)?)
}

/// Re-seals every stored secret under the current key; afterwards the old keys can be
/// dropped from `secrets_old_keys`.
pub fn rotate(conn: &mut DbConnection, keys: &KeyRing) -> Result<Resealed, PrepareError> {
    check_key(conn, keys)?;
    Ok(reseal_all(conn, keys, true)?)
}

/// Why preparing the secrets failed.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Mismatch(#[from] KeyMismatch),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for PrepareError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

fn check_key(conn: &mut DbConnection, keys: &KeyRing) -> Result<(), PrepareError> {
    let context = setting_context(KEY_CHECK);
    let stored = match admin::setting(conn, KEY_CHECK)? {
        Some(stored) => stored,
        None => {
            admin::insert_setting(conn, KEY_CHECK, &keys.seal(KEY_CHECK_VALUE, &context))?;
            // Another process may have stored its own first: that one decides.
            admin::setting(conn, KEY_CHECK)?.ok_or(StoreError::NotFound)?
        }
    };
    match keys.open(&stored, &context) {
        Ok(value) if value == KEY_CHECK_VALUE => Ok(()),
        Err(SecretsError::UnknownKey(stored)) => Err(KeyMismatch::WrongKey {
            configured: keys.current_id().to_owned(),
            stored,
        }
        .into()),
        _ => Err(KeyMismatch::Corrupt(keys.current_id().to_owned()).into()),
    }
}

fn reseal_all(
    conn: &mut DbConnection,
    keys: &KeyRing,
    rotate_old: bool,
) -> Result<Resealed, ServiceError> {
    let mut out = Resealed::default();
    for (place, value) in stored::all(conn)? {
        if keys.is_current(&value) {
            continue;
        }
        let plain = key_id_of(&value).is_none();
        if !plain && !rotate_old {
            out.under_old_keys += 1;
            continue;
        }
        let Some(sealed) = keys.reseal(&value, &place.context())? else {
            continue;
        };
        if stored::replace(conn, &place, &value, &sealed)? {
            if plain {
                out.plain += 1;
            } else {
                out.rotated += 1;
            }
        }
    }
    Ok(out)
}
