//! The key-encryption key (KEK) that wraps every data key, and where it
//! comes from ([`KeyProvider`]; [`StaticKeys`] reads a file or
//! `CHRONICLE_KEK`). The KEK never touches event data: it only wraps and
//! unwraps data keys in the key store.

use crate::{DataKey, PrivacyError, Result, envelope::KEY_LEN};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use std::{fmt, path::Path, sync::Arc};

/// The environment variable holding the KEK (base64 or hex of 32 bytes);
/// it wins over `[privacy] kek_file`.
pub const KEK_ENV: &str = "CHRONICLE_KEK";

/// A key-encryption key: AES-256-GCM over data keys, with a public id
/// derived from the key (the first 8 bytes of a SHA-256, so the id tells
/// which key wrapped a data key without revealing it).
pub struct Kek {
    id: String,
    key: DataKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn aad(kid: &str) -> Vec<u8> {
    [b"chronicle-dek:v1:".as_slice(), kid.as_bytes()].concat()
}

/// 32 random bytes.
pub(crate) fn random_key() -> Result<[u8; KEY_LEN]> {
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new().fill(&mut bytes).map_err(|_| PrivacyError::Random)?;
    Ok(bytes)
}

impl Kek {
    /// A KEK from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != KEY_LEN {
            return Err(PrivacyError::Kek(format!("a key-encryption key is {KEY_LEN} bytes, this one {}", bytes.len())));
        }
        let digest = digest::digest(&digest::SHA256, &[b"chronicle-kek-id:".as_slice(), bytes].concat());
        let id = format!("kek-{}", hex(digest.as_ref().get(..8).unwrap_or_default()));
        Ok(Self { key: DataKey::new(id.clone(), bytes)?, id })
    }

    /// A KEK from its text: base64 or hex of 32 bytes (surrounding
    /// whitespace ignored).
    ///
    /// ```
    /// use chronicle_privacy::Kek;
    /// let (text, kek) = Kek::generate().unwrap();
    /// assert_eq!(Kek::parse(&text).unwrap().id(), kek.id());
    /// assert!(Kek::parse("too short").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = match text.len() {
            64 if text.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (0..32).map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)).collect::<Result<Vec<u8>, _>>().ok()
            }
            _ => B64.decode(text).ok(),
        };
        let bytes = bytes.ok_or_else(|| PrivacyError::Kek("expected 32 bytes as base64 (44 characters) or hex (64)".into()))?;
        Self::from_bytes(&bytes)
    }

    /// A new random KEK and its text (base64), for `chronicle keys new-kek`.
    pub fn generate() -> Result<(String, Self)> {
        let bytes = random_key()?;
        Ok((B64.encode(bytes), Self::from_bytes(&bytes)?))
    }

    /// The KEK's public id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `dek` wrapped under this KEK, bound to the data key's id.
    pub(crate) fn wrap(&self, kid: &str, dek: &[u8]) -> Result<Vec<u8>> {
        self.key.seal_bytes(dek, &aad(kid))
    }

    /// The data key `wrapped` holds; [`PrivacyError::WrongKek`] when this
    /// KEK did not wrap it.
    pub(crate) fn unwrap(&self, kid: &str, wrapped: &[u8], wrapped_by: &str) -> Result<DataKey> {
        DataKey::new(kid, &self.unwrap_bytes(kid, wrapped, wrapped_by)?)
    }

    /// The bytes of the data key `wrapped` holds (for re-wrapping).
    pub(crate) fn unwrap_bytes(&self, kid: &str, wrapped: &[u8], wrapped_by: &str) -> Result<Vec<u8>> {
        self.key
            .open_bytes(wrapped, &aad(kid))
            .map_err(|_| PrivacyError::WrongKek { given: self.id.clone(), stored: wrapped_by.to_owned() })
    }
}

/// Where the KEKs come from: the current one wraps new data keys; the
/// previous ones still unwrap keys not yet rotated. KMS providers plug in
/// here.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// The KEK new data keys are wrapped with.
    fn current(&self) -> Arc<Kek>;
    /// Older KEKs that may still wrap some data keys.
    fn previous(&self) -> Vec<Arc<Kek>>;

    /// The KEK with this id, if the provider has it.
    fn find(&self, id: &str) -> Option<Arc<Kek>> {
        let current = self.current();
        if current.id() == id {
            return Some(current);
        }
        self.previous().into_iter().find(|k| k.id() == id)
    }
}

/// KEKs held in memory, read from files or the environment.
#[derive(Debug, Clone)]
pub struct StaticKeys {
    current: Arc<Kek>,
    previous: Vec<Arc<Kek>>,
}

impl StaticKeys {
    /// `current` plus older keys.
    pub fn new(current: Kek, previous: Vec<Kek>) -> Self {
        Self { current: Arc::new(current), previous: previous.into_iter().map(Arc::new).collect() }
    }

    /// The KEK from `CHRONICLE_KEK` when set, else from `kek_file`; the
    /// previous ones from their files. One clear error when there is none.
    pub fn load(kek_file: Option<&Path>, previous_files: &[impl AsRef<Path>]) -> Result<Self> {
        let current = match (std::env::var(KEK_ENV).ok().filter(|v| !v.trim().is_empty()), kek_file) {
            (Some(text), _) => Kek::parse(&text).map_err(|e| PrivacyError::Kek(format!("{KEK_ENV}: {e}")))?,
            (None, Some(path)) => read_kek(path)?,
            (None, None) => {
                return Err(PrivacyError::Kek(format!(
                    "sensitive fields are configured but there is no key: set [privacy] kek_file or {KEK_ENV} (make one with `chronicle keys new-kek`)"
                )));
            }
        };
        let previous = previous_files.iter().map(|p| read_kek(p.as_ref())).collect::<Result<Vec<_>>>()?;
        Ok(Self::new(current, previous))
    }
}

fn read_kek(path: &Path) -> Result<Kek> {
    let text = std::fs::read_to_string(path).map_err(|e| PrivacyError::Kek(format!("reading {}: {e}", path.display())))?;
    Kek::parse(&text).map_err(|e| PrivacyError::Kek(format!("{}: {e}", path.display())))
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> Arc<Kek> {
        self.current.clone()
    }

    fn previous(&self) -> Vec<Arc<Kek>> {
        self.previous.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_is_bound_to_the_kek_and_the_key_id() {
        let (_, a) = Kek::generate().unwrap();
        let (_, b) = Kek::generate().unwrap();
        assert_ne!(a.id(), b.id());
        let dek = random_key().unwrap();
        let wrapped = a.wrap("k-1", &dek).unwrap();
        assert_eq!(a.unwrap("k-1", &wrapped, a.id()).unwrap().kid(), "k-1");
        assert!(matches!(b.unwrap("k-1", &wrapped, a.id()), Err(PrivacyError::WrongKek { .. })));
        assert!(a.unwrap("k-2", &wrapped, a.id()).is_err(), "a wrapped key moved to another id does not open");
    }

    #[test]
    fn hex_and_base64_texts_name_the_same_key() {
        let bytes = [9u8; 32];
        let hex_text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Kek::parse(&hex_text).unwrap().id(), Kek::parse(&B64.encode(bytes)).unwrap().id());
        assert!(Kek::parse(&B64.encode([1u8; 16])).is_err());
    }
}
