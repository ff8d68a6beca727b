//! The one error type of the consumer-groups crate.

/// What creating, consuming or operating a group can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// A field of a group's settings (or of a request) is invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field (`filter.since`, `max_retries`, `event_ids`…).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No group of this name exists.
    #[error("no consumer group named {0:?}")]
    NotFound(String),
    /// The group exists with a different filter or start; delete it first.
    #[error("consumer group {group:?} exists with a different {field}; delete it to change that")]
    Conflict {
        /// The group.
        group: String,
        /// The field that may not change (`filter` or `from`).
        field: String,
    },
    /// Parked-event ids that are not parked in the group.
    #[error("not parked in consumer group {group}: {event_ids}")]
    NotParked {
        /// The group.
        group: String,
        /// The ids, comma-separated.
        event_ids: String,
    },
    /// The group was deleted while a consumer was connected.
    #[error("consumer group {0:?} was deleted")]
    Deleted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

/// Result alias of this crate.
pub type Result<T, E = GroupError> = std::result::Result<T, E>;

impl GroupError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), reason: reason.into() }
    }
}
