//! The one error type of the publishing crate.

/// What configuring, running or operating a relay can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// `[[publish.sinks]]` is invalid: `sink` names the sink (or its
    /// position when it has no usable name), `field` the offending key.
    #[error("publish sink {sink}: {field}: {reason}")]
    Config {
        /// The sink's name, or `#N` (1-based) when it has none.
        sink: String,
        /// The offending key.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No sink of this name is configured.
    #[error("no publish sink named {0:?} is configured")]
    UnknownSink(String),
    /// A DLQ operation named events that are not in the sink's DLQ.
    #[error("not in the dead-letter queue of sink {sink}: {event_ids}")]
    NotInDlq {
        /// The sink.
        sink: String,
        /// The ids, comma-separated.
        event_ids: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

/// Result alias of this crate.
pub type Result<T, E = PublishError> = std::result::Result<T, E>;

impl PublishError {
    pub(crate) fn config(sink: &str, field: &str, reason: impl Into<String>) -> Self {
        Self::Config { sink: sink.to_owned(), field: field.to_owned(), reason: reason.into() }
    }
}
