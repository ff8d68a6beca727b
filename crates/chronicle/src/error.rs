//! Errors of configuration and of opening a backend.

use std::path::PathBuf;

/// What can go wrong before a store is open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown/invalid keys.
    #[error("invalid config file {}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// The line of the fault, when known.
        line: Option<usize>,
    },
    /// An environment override has an invalid value.
    #[error("{var}: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The configured backend cannot be opened.
    #[error("cannot open the {backend} backend: {reason}")]
    BackendUnavailable {
        /// The backend.
        backend: crate::BackendKind,
        /// Why, and what to do about it.
        reason: String,
    },
    /// `[schemas]` is invalid: a setting, a schema file or an upcaster
    /// (`field` names it), or a registration in the store conflicts.
    #[error("{0}")]
    Schemas(#[from] chronicle_schema::SchemaError),
    /// `[privacy]` is invalid, its key-encryption key is missing or wrong,
    /// or the key store cannot be read.
    #[error("{0}")]
    Privacy(#[from] chronicle_privacy::PrivacyError),
    /// The store failed while opening.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}
