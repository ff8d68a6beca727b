//! The one error type of the core crate, shared by every backend.

use crate::{ExpectedVersion, StreamId};
use uuid::Uuid;

/// Result alias used across Chronicle.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an [`EventStore`](crate::EventStore) operation can fail with.
///
/// Every backend maps its native failures onto these variants, so a caller
/// can act on the variant without knowing which backend it talks to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream's version did not match the append's expectation.
    /// Re-read the stream and retry the command.
    #[error("wrong expected version for stream {stream}: expected {expected}, actual {}", display_version(*.actual))]
    WrongExpectedVersion {
        /// The stream appended to.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's current version (`None`: the stream does not exist).
        actual: Option<u64>,
    },
    /// An event id is already stored, but the append is not an exact retry
    /// of an earlier append (same ids, consecutively, in the same stream).
    #[error("event id {event_id} is already stored and this append is not a retry of the append that stored it")]
    DuplicateEventId {
        /// The offending event id.
        event_id: Uuid,
    },
    /// A DCB append condition failed: an event matching the condition's
    /// query was recorded after the given position. Re-decide and retry.
    #[error("append condition failed: a matching event was recorded at position {position}")]
    AppendConditionFailed {
        /// Position of the first conflicting event.
        position: u64,
    },
    /// The stream was hard-deleted (tombstoned); it can never be read or
    /// appended to again.
    #[error("stream {stream} is tombstoned (hard-deleted)")]
    StreamDeleted {
        /// The tombstoned stream.
        stream: StreamId,
    },
    /// Input failed validation; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Path of the offending field, e.g. `events[2].event_type`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An event's data does not match the JSON Schema registered for its
    /// type and schema version. Names where, never the value (it may be
    /// personal data).
    #[error("{field} does not match the schema of {event_type} v{schema_version} at {pointer:?}: {reason}")]
    SchemaViolation {
        /// The event, e.g. `events[2].data`.
        field: String,
        /// Its type.
        event_type: String,
        /// Its schema version.
        schema_version: u32,
        /// JSON Pointer (into the data) of the first failing value; `""` is the whole data.
        pointer: String,
        /// Which rule failed (the schema keyword), without the value.
        reason: String,
    },
    /// Input exceeded a configured size limit.
    #[error("{field} is too large: {actual} bytes, limit {limit} bytes")]
    TooLarge {
        /// Path of the offending field, e.g. `events[0].data`.
        field: String,
        /// The configured limit in bytes.
        limit: usize,
        /// The actual size in bytes.
        actual: usize,
    },
    /// The backend cannot serve requests right now (database down, store
    /// closed, writer failed). Retry later; check health.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// Why the store is unavailable.
        reason: String,
    },
    /// Stored data failed an integrity check. Stop and run `chronicle verify`.
    #[error("corruption detected in {location}: {reason}")]
    Corrupted {
        /// File and offset (or table and key) of the fault.
        location: String,
        /// What failed (checksum, framing, ordering).
        reason: String,
    },
    /// An I/O operation failed.
    #[error("i/o error during {operation}: {source}")]
    Io {
        /// What the store was doing.
        operation: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Something looked up does not exist (an event, a snapshot, a
    /// checkpoint, a route of a server).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A resource is held by someone else (a data directory another
    /// process has open for writing). Stop that process, or go through it.
    #[error("{resource} is in use by another Chronicle process")]
    Locked {
        /// What is held.
        resource: String,
    },
    /// The backend does not offer this operation.
    #[error("{operation} is unsupported by the {backend} backend{hint}")]
    Unsupported {
        /// The operation.
        operation: String,
        /// The backend.
        backend: String,
        /// Where to go instead (may be empty; starts with a space).
        hint: String,
    },
    /// The caller may not do this to this stream (its grants, or a
    /// reserved system stream).
    #[error("token {token} may not {action} {stream}")]
    Forbidden {
        /// The action refused (`read`, `append`, `delete`, `metadata`, `snapshot`).
        action: String,
        /// The stream.
        stream: String,
        /// The token's id.
        token: String,
    },
    /// The configuration is invalid or names something unavailable.
    #[error("configuration error: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
}

fn display_version(v: Option<u64>) -> String {
    v.map_or_else(|| "no stream".to_owned(), |v| v.to_string())
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(operation: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { operation: operation.into(), source }
    }

    /// A stable, machine-readable name of the variant (used in HTTP bodies
    /// and by the model-based tests to compare outcomes).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WrongExpectedVersion { .. } => "wrong_expected_version",
            Self::DuplicateEventId { .. } => "duplicate_event_id",
            Self::AppendConditionFailed { .. } => "append_condition_failed",
            Self::StreamDeleted { .. } => "stream_deleted",
            Self::Invalid { .. } => "invalid",
            Self::SchemaViolation { .. } => "schema_violation",
            Self::TooLarge { .. } => "too_large",
            Self::Unavailable { .. } => "unavailable",
            Self::Corrupted { .. } => "corrupted",
            Self::Io { .. } => "io",
            Self::Config { .. } => "config",
            Self::NotFound { .. } => "not_found",
            Self::Locked { .. } => "locked",
            Self::Unsupported { .. } => "unsupported",
            Self::Forbidden { .. } => "forbidden",
        }
    }
}
