//! [`SchemaError`]: what registering, checking and upcasting can fail with.

/// The errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// An upcaster failed on an event.
    #[error("upcasting {event_type} v{from}: {reason}")]
    Upcast {
        /// Event type.
        event_type: String,
        /// Version the failing step started from.
        from: u32,
        /// Why.
        reason: String,
    },
    /// A schema, a step or a setting is invalid; `field` names it.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// What is wrong, e.g. `schemas.registry[0].file`.
        field: String,
        /// Why.
        reason: String,
    },
    /// A version is registered already with a different schema (registered
    /// versions never change).
    #[error("{event_type} v{version} is registered already with a different schema; register a new version instead")]
    Conflict {
        /// Event type.
        event_type: String,
        /// Version.
        version: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

impl SchemaError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }
}

/// This crate's results.
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;
