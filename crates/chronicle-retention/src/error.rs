//! The one error type of the retention crate.

/// What reading or applying a retention policy can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A setting of `[retention]` is invalid.
    #[error("[retention] {field}: {reason}")]
    Config {
        /// The offending key, e.g. `rules[2].max_age`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

/// Result alias of this crate.
pub type Result<T, E = RetentionError> = std::result::Result<T, E>;

impl RetentionError {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config { field: field.into(), reason: reason.into() }
    }
}
