//! [`PrivacyError`]: what configuring, sealing, revealing and managing keys
//! can fail with. Messages never hold a key, a plaintext value or a secret.

/// The errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivacyError {
    /// A setting is invalid; `field` names it (e.g. `privacy.fields[0].encrypt[1]`).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which setting.
        field: String,
        /// Why.
        reason: String,
    },
    /// No key-encryption key, or one that cannot be read.
    #[error("key-encryption key: {0}")]
    Kek(String),
    /// The key-encryption key given is not the one the data keys are
    /// wrapped with: nothing was read or written.
    #[error(
        "the key-encryption key {given} does not open the data keys (wrapped under {stored}); start with the right kek_file / CHRONICLE_KEK, or list the old one in previous_kek_files"
    )]
    WrongKek {
        /// Id of the key given.
        given: String,
        /// Id of a key the data keys are wrapped with.
        stored: String,
    },
    /// Ciphertext that does not authenticate under its key (edited,
    /// truncated or moved between keys).
    #[error("encrypted value under key {kid} does not authenticate: {reason}")]
    Tampered {
        /// The data key's id.
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// The key store failed.
    #[error("key store {location}: {reason}")]
    KeyStore {
        /// Where (a path, a table).
        location: String,
        /// What happened.
        reason: String,
    },
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

impl PrivacyError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn key_store(location: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::KeyStore { location: location.into(), reason: reason.to_string() }
    }
}

impl From<PrivacyError> for chronicle_core::Error {
    fn from(e: PrivacyError) -> Self {
        match e {
            PrivacyError::Store(e) => e,
            PrivacyError::Invalid { field, reason } => Self::Invalid { field, reason },
            PrivacyError::Tampered { kid, reason } => Self::Corrupted { location: format!("encrypted value under key {kid}"), reason },
            other => Self::Unavailable { reason: other.to_string() },
        }
    }
}

/// This crate's results.
pub type Result<T, E = PrivacyError> = std::result::Result<T, E>;
