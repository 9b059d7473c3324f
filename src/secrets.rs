//! Secrets roster must use again, not just compare (webhook signing secrets, identity
//! providers' client secrets, the session secret), are stored encrypted: AES-256-GCM
//! under a key from configuration, never from the database, so a copy of the database
//! alone opens none of them.
//!
//! A stored value reads `enc:v1:{key id}:{base64(nonce | ciphertext | tag)}`. The key
//! id says which key sealed it, so keys can rotate: the new key seals, old keys listed
//! in `secrets_old_keys` still open, and `roster secrets rotate` re-seals everything
//! under the new key. Each value is bound to where it is stored (its "context", e.g.
//! the webhook endpoint's id): a ciphertext copied to another row does not open.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::Settings;

const PREFIX: &str = "enc:v1:";
const KEY_LEN: usize = 32;

/// Why the configured keys cannot be used, or a stored value does not open.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{0} is not a secrets key: it must be 32 random bytes in base64 (`roster secrets new-key` prints one)")]
    BadKey(&'static str),
    #[error("cannot read the secrets key file {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the secrets key file {path}")]
    WriteFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no secrets key is configured: on PostgreSQL every roster process must share one, so set ROSTER_SECRETS_KEY (or secrets_key_file) to the same key on each; `roster secrets new-key` prints one")]
    Missing,
    #[error("a stored secret was sealed with key {0}, which is neither secrets_key nor one of secrets_old_keys")]
    UnknownKey(String),
    #[error("a stored secret does not open: it was altered, or moved from where it was stored")]
    Corrupt,
}

/// One AES-256 key and its id (the first 8 hex digits of its SHA-256).
struct Key {
    id: String,
    cipher: LessSafeKey,
}

impl Key {
    fn new(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key");
        Self {
            id,
            cipher: LessSafeKey::new(unbound),
        }
    }

    fn parse(text: &str, what: &'static str) -> Result<Self, SecretsError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretsError::BadKey(what))?;
        if bytes.len() != KEY_LEN {
            return Err(SecretsError::BadKey(what));
        }
        Ok(Self::new(&bytes))
    }
}

/// The key that seals, and the old ones that still open.
pub struct KeyRing {
    current: Key,
    old: Vec<Key>,
}

impl fmt::Debug for KeyRing {
    // Ids only: a logged key ring shows no key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

/// A fresh key, base64, for `secrets_key`.
pub fn new_key() -> String {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    STANDARD.encode(bytes)
}

impl KeyRing {
    /// `current` seals; `old` (base64 keys) only open.
    pub fn new(current: &str, old: &[&str]) -> Result<Self, SecretsError> {
        Ok(Self {
            current: Key::parse(current, "secrets_key")?,
            old: old
                .iter()
                .map(|k| Key::parse(k, "secrets_old_keys"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The keys the settings name: `secrets_key`, else the file `secrets_key_file`,
    /// else, on SQLite only, `{database file}.key`, made on first start (mode 0600):
    /// one process, one machine, nothing to set up. PostgreSQL serves several processes,
    /// which must share one configured key.
    pub fn from_settings(settings: &Settings) -> Result<Self, SecretsError> {
        let old: Vec<&str> = settings
            .secrets_old_keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if let Some(key) = settings.secrets_key.as_deref().filter(|k| !k.is_empty()) {
            return Self::new(key, &old);
        }
        let path = match (
            &settings.secrets_key_file,
            sqlite_path(&settings.database_url),
        ) {
            (Some(path), _) => PathBuf::from(path),
            (None, Some(db)) => {
                let path = PathBuf::from(format!("{}.key", db.display()));
                create_key_file(&path)?;
                path
            }
            (None, None) => return Err(SecretsError::Missing),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| SecretsError::ReadFile {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(&text, &old)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// `plain`, encrypted under the current key and bound to `context`.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let mut data = plain.as_bytes().to_vec();
        self.current
            .cipher
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM seals any length roster stores");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}:{}", self.current.id, STANDARD.encode(out))
    }

    /// The plain value of a stored one. A value stored before encryption existed
    /// (no `enc:` prefix) is returned as it is; preparing the database seals those.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SecretsError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, body) = rest.split_once(':').ok_or(SecretsError::Corrupt)?;
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_owned()))?;
        let raw = STANDARD.decode(body).map_err(|_| SecretsError::Corrupt)?;
        if raw.len() < NONCE_LEN {
            return Err(SecretsError::Corrupt);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Corrupt)?;
        let mut data = sealed.to_vec();
        let plain = key
            .cipher
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SecretsError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretsError::Corrupt)
    }

    /// Whether `stored` is already sealed under the current key (nothing to re-seal).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    /// `stored` sealed under the current key, opening it first if needed; `None` when
    /// it already is.
    pub fn reseal(&self, stored: &str, context: &str) -> Result<Option<String>, SecretsError> {
        if self.is_current(stored) {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(stored, context)?, context)))
    }
}

/// The key id a stored value names, if it is sealed at all.
pub fn key_id_of(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id)
}

/// The file of an SQLite URL, in both spellings `Target::parse` accepts.
fn sqlite_path(database_url: &str) -> Option<&Path> {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .map(Path::new)
}

/// Writes a fresh key to `path` unless a file is there already; readable by its owner
/// only.
fn create_key_file(path: &Path) -> Result<(), SecretsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let error = |source| SecretsError::WriteFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            writeln!(file, "{}", new_key()).map_err(error)?;
            file.sync_all().map_err(error)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(&new_key(), &[]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_in_its_context_only() {
        let keys = ring();
        let sealed = keys.seal("whsec_abc", "webhook_endpoint:1");
        assert!(sealed.starts_with(&format!("enc:v1:{}:", keys.current_id())));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(
            keys.open(&sealed, "webhook_endpoint:1").unwrap(),
            "whsec_abc"
        );
        assert!(matches!(
            keys.open(&sealed, "webhook_endpoint:2"),
            Err(SecretsError::Corrupt)
        ));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let keys = ring();
        assert_ne!(keys.seal("x", "c"), keys.seal("x", "c"));
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let keys = ring();
        let sealed = keys.seal("secret", "c");
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut raw = STANDARD.decode(body).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let altered = format!("{head}:{}", STANDARD.encode(raw));
        assert!(matches!(
            keys.open(&altered, "c"),
            Err(SecretsError::Corrupt)
        ));
        assert!(matches!(
            keys.open("enc:v1:zz", "c"),
            Err(SecretsError::Corrupt)
        ));
    }

    #[test]
    fn an_old_key_opens_and_only_the_current_one_seals() {
        let (old, new) = (new_key(), new_key());
        let before = KeyRing::new(&old, &[]).unwrap();
        let sealed = before.seal("secret", "c");
        let after = KeyRing::new(&new, &[&old]).unwrap();
        assert_eq!(after.open(&sealed, "c").unwrap(), "secret");
        assert!(!after.is_current(&sealed));
        let resealed = after.reseal(&sealed, "c").unwrap().unwrap();
        assert!(after.is_current(&resealed));
        assert_eq!(after.reseal(&resealed, "c").unwrap(), None);
        let without_old = KeyRing::new(&new, &[]).unwrap();
        assert!(matches!(
            without_old.open(&sealed, "c"),
            Err(SecretsError::UnknownKey(id)) if id == before.current_id()
        ));
    }

    #[test]
    fn a_value_stored_before_encryption_reads_as_it_is_until_sealed() {
        let keys = ring();
        assert_eq!(keys.open("whsec_plain", "c").unwrap(), "whsec_plain");
        assert!(!keys.is_current("whsec_plain"));
        let sealed = keys.reseal("whsec_plain", "c").unwrap().unwrap();
        assert_eq!(key_id_of(&sealed), Some(keys.current_id()));
    }

    #[test]
    fn keys_that_are_not_32_base64_bytes_are_refused() {
        assert!(matches!(
            KeyRing::new("short", &[]),
            Err(SecretsError::BadKey("secrets_key"))
        ));
        let sixteen = STANDARD.encode([7u8; 16]);
        assert!(KeyRing::new(&sixteen, &[]).is_err());
        assert!(matches!(
            KeyRing::new(&new_key(), &["nope"]),
            Err(SecretsError::BadKey("secrets_old_keys"))
        ));
    }

    #[test]
    fn sqlite_makes_its_key_file_once_and_postgresql_needs_one_configured() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("roster.db");
        let settings = Settings {
            database_url: format!("sqlite://{}", db.display()),
            ..Settings::default()
        };
        let first = KeyRing::from_settings(&settings).unwrap();
        let second = KeyRing::from_settings(&settings).unwrap();
        assert_eq!(first.current_id(), second.current_id());
        let file = dir.path().join("roster.db.key");
        let mode = std::fs::metadata(&file).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        let postgres = Settings {
            database_url: "postgres://postgres@127.0.0.1/roster".into(),
            ..Settings::default()
        };
        assert!(matches!(
            KeyRing::from_settings(&postgres),
            Err(SecretsError::Missing)
        ));
        let from_file = Settings {
            secrets_key_file: Some(file.display().to_string()),
            ..postgres.clone()
        };
        assert_eq!(
            KeyRing::from_settings(&from_file).unwrap().current_id(),
            first.current_id()
        );
        let configured = new_key();
        let from_env = Settings {
            secrets_key: Some(configured.clone()),
            ..postgres
        };
        assert_eq!(
            KeyRing::from_settings(&from_env).unwrap().current_id(),
            KeyRing::new(&configured, &[]).unwrap().current_id()
        );
    }
}
