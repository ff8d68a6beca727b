//! Stream lifecycle: metadata (retention), soft delete and tombstones.

use crate::Timestamp;

/// Per-stream retention settings, honoured on every read (events outside
/// them are invisible; a later scavenge reclaims their space).
///
/// ```
/// use chronicle_core::{StreamMetadata, Timestamp};
/// let m = StreamMetadata { max_count: Some(2), ..Default::default() };
/// let now = Timestamp::now();
/// assert!(!m.retains(1, 3, now, now));
/// assert!(m.retains(2, 3, now, now));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamMetadata {
    /// Events older than this many seconds are invisible.
    #[serde(deserialize_with = "crate::json_int::opt_u64")]
    pub max_age: Option<u64>,
    /// Only the newest `max_count` events are visible.
    #[serde(deserialize_with = "crate::json_int::opt_u64")]
    pub max_count: Option<u64>,
    /// Events with a version below this are invisible.
    #[serde(deserialize_with = "crate::json_int::opt_u64")]
    pub truncate_before: Option<u64>,
}

impl StreamMetadata {
    /// Whether an event with `version` (of a stream whose last version is
    /// `last_version`) recorded at `recorded_at` is visible at `now`.
    pub fn retains(&self, version: u64, last_version: u64, recorded_at: Timestamp, now: Timestamp) -> bool {
        if self.truncate_before.is_some_and(|tb| version < tb) {
            return false;
        }
        if self.max_count.is_some_and(|n| last_version.saturating_sub(version) >= n) {
            return false;
        }
        if let Some(age) = self.max_age {
            let age_micros = i64::try_from(age.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
            if recorded_at.as_micros() < now.as_micros().saturating_sub(age_micros) {
                return false;
            }
        }
        true
    }

    /// Rejects rules that would hide every event: `max_age` or `max_count`
    /// of 0 (fields `metadata.max_age`, `metadata.max_count`).
    pub fn validate(&self) -> crate::Result<()> {
        if self.max_age == Some(0) {
            return Err(crate::Error::invalid("metadata.max_age", "must be at least 1 second"));
        }
        if self.max_count == Some(0) {
            return Err(crate::Error::invalid("metadata.max_count", "must be at least 1"));
        }
        Ok(())
    }

    /// True when no retention rule is set.
    pub fn is_unrestricted(&self) -> bool {
        *self == Self::default()
    }
}

/// How [`EventStore::delete_stream`](crate::EventStore::delete_stream) deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// Hide the stream's events; appending again recreates the stream,
    /// continuing its version numbers.
    Soft,
    /// Delete forever: every later read or append fails with
    /// [`Error::StreamDeleted`](crate::Error::StreamDeleted).
    Tombstone,
}

/// Lifecycle state of a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Never written (or written and soft-deleted is reported separately).
    #[default]
    Absent,
    /// Has events and is live.
    Active,
    /// Soft-deleted; appends recreate it.
    SoftDeleted,
    /// Hard-deleted forever.
    Tombstoned,
}

/// What a store knows about one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamInfo {
    /// Version of the last event ever appended (0 if none).
    pub last_version: u64,
    /// Lifecycle state.
    pub status: StreamStatus,
    /// Retention settings.
    pub metadata: StreamMetadata,
}

impl StreamInfo {
    /// The version an [`ExpectedVersion`](crate::ExpectedVersion) is checked
    /// against: `None` when the stream does not exist (never written, or
    /// soft-deleted).
    pub fn current_version(&self) -> Option<u64> {
        match self.status {
            StreamStatus::Active => Some(self.last_version),
            _ => None,
        }
    }
}

/// The latest snapshot of a stream's state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The stream the snapshot folds.
    pub stream_id: crate::StreamId,
    /// The last stream version folded into `state`.
    pub version: u64,
    /// Schema version of `state`, so an outdated snapshot can be ignored.
    pub schema_version: u32,
    /// The state (JSON).
    pub state: crate::RawJson,
}
