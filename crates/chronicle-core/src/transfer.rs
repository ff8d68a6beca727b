//! Lossless transfer of a store's contents, the ground of backup, restore
//! and migration between backends: every stored fact as a [`LogItem`],
//! exported in log order by [`EventStore::export_log`](crate::EventStore::export_log)
//! and written back, positions and all, by
//! [`EventStore::import_log`](crate::EventStore::import_log).
//!
//! An export of `(after, through]` yields, in this order:
//! 1. the log: every event with a position in the range (visible or not:
//!    hidden by a delete or retention, or [`LogItem::Removed`] when a
//!    scavenge took it out of storage), and every stream change (delete,
//!    retention settings) made while the log's head was in
//!    `[after, through]`, placed right after the event at its head;
//! 2. the state: each stream's latest snapshot whose version was stored at
//!    or before `through`, then every checkpoint (clamped to `through`).
//!
//! Re-importing a change whose head equals the target's head is harmless
//! (a change carries the stream's whole new setting), so an interrupted
//! copy resumes from the target's head.
//!
//! ```
//! use chronicle_core::{LogItem, StreamId, StreamMetadata};
//! let item = LogItem::Metadata { head: 7, stream: StreamId::new("order-1")?, metadata: StreamMetadata { max_count: Some(3), ..Default::default() } };
//! let mut line = Vec::new();
//! item.write_json_line(&mut line);
//! assert_eq!(line, b"{\"kind\":\"metadata\",\"head\":7,\"stream\":\"order-1\",\"metadata\":{\"max_age\":null,\"max_count\":3,\"truncate_before\":null}}\n");
//! assert_eq!(LogItem::parse_json_line(&line)?, item);
//! # Ok::<(), chronicle_core::Error>(())
//! ```

use crate::{Error, RawJson, RecordedEvent, Result, Snapshot, StreamId, StreamMetadata, Timestamp, Uuid};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One stored fact, as backup, restore and migration carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogItem {
    /// An event, exactly as stored (position, version, id, time, bytes).
    Event(RecordedEvent),
    /// A position a scavenge emptied: only its stream and version remain.
    Removed {
        /// The position.
        position: u64,
        /// The stream it belonged to.
        stream: StreamId,
        /// Its version in that stream.
        version: u64,
    },
    /// A stream's retention settings replaced while the head was `head`.
    Metadata {
        /// The log's head when the change was made.
        head: u64,
        /// The stream.
        stream: StreamId,
        /// The new settings.
        metadata: StreamMetadata,
    },
    /// A soft delete (versions through `deleted_through` hidden) or a
    /// tombstone, made while the head was `head`.
    Delete {
        /// The log's head when the change was made.
        head: u64,
        /// The stream.
        stream: StreamId,
        /// Tombstone (true) or soft delete.
        tombstone: bool,
        /// Last version a soft delete hides.
        deleted_through: u64,
    },
    /// A stream's snapshot.
    Snapshot(Snapshot),
    /// A consumer's checkpoint.
    Checkpoint {
        /// The consumer.
        consumer: String,
        /// Its position.
        position: u64,
    },
}

/// The JSON shape of a [`LogItem`] line, as written.
#[derive(serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Event {
        position: u64,
        stream: StreamId,
        version: u64,
        id: Uuid,
        event_type: String,
        schema_version: u32,
        /// Microseconds since the epoch (exact, unlike a formatted time).
        recorded_at: i64,
        data: RawJson,
        metadata: RawJson,
    },
    Removed {
        position: u64,
        stream: StreamId,
        version: u64,
    },
    Metadata {
        head: u64,
        stream: StreamId,
        metadata: StreamMetadata,
    },
    Delete {
        head: u64,
        stream: StreamId,
        tombstone: bool,
        deleted_through: u64,
    },
    Snapshot {
        stream: StreamId,
        version: u64,
        schema_version: u32,
        state: RawJson,
    },
    Checkpoint {
        consumer: String,
        position: u64,
    },
}

/// A line as read: every field of every kind (an internally tagged enum
/// would buffer the values, which raw JSON cannot go through).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn {
    kind: String,
    position: Option<u64>,
    stream: Option<StreamId>,
    version: Option<u64>,
    id: Option<Uuid>,
    event_type: Option<String>,
    schema_version: Option<u32>,
    recorded_at: Option<i64>,
    data: Option<RawJson>,
    /// An event's metadata, or a stream's settings.
    metadata: Option<RawJson>,
    head: Option<u64>,
    tombstone: Option<bool>,
    deleted_through: Option<u64>,
    state: Option<RawJson>,
    consumer: Option<String>,
}

fn field<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| Error::invalid(format!("item.{name}"), "missing"))
}

impl LineIn {
    fn into_item(self) -> Result<LogItem> {
        let stream = || field(self.stream.clone(), "stream");
        Ok(match self.kind.as_str() {
            "event" => {
                let metadata = field(self.metadata, "metadata")?;
                if !metadata.is_object() {
                    return Err(Error::invalid("item.metadata", "must be a JSON object"));
                }
                LogItem::Event(RecordedEvent {
                    global_position: field(self.position, "position")?,
                    stream_id: stream()?,
                    version: field(self.version, "version")?,
                    event_id: field(self.id, "id")?,
                    event_type: Arc::from(field(self.event_type, "event_type")?),
                    schema_version: field(self.schema_version, "schema_version")?,
                    data: field(self.data, "data")?,
                    metadata,
                    recorded_at: Timestamp::from_micros(field(self.recorded_at, "recorded_at")?),
                })
            }
            "removed" => LogItem::Removed {
                position: field(self.position, "position")?,
                stream: stream()?,
                version: field(self.version, "version")?,
            },
            "metadata" => {
                let metadata = field(self.metadata, "metadata")?.decode().map_err(|e| Error::invalid("item.metadata", e.to_string()))?;
                LogItem::Metadata { head: field(self.head, "head")?, stream: stream()?, metadata }
            }
            "delete" => LogItem::Delete {
                head: field(self.head, "head")?,
                stream: stream()?,
                tombstone: field(self.tombstone, "tombstone")?,
                deleted_through: field(self.deleted_through, "deleted_through")?,
            },
            "snapshot" => LogItem::Snapshot(Snapshot {
                stream_id: stream()?,
                version: field(self.version, "version")?,
                schema_version: field(self.schema_version, "schema_version")?,
                state: field(self.state, "state")?,
            }),
            "checkpoint" => {
                LogItem::Checkpoint { consumer: field(self.consumer, "consumer")?, position: field(self.position, "position")? }
            }
            other => return Err(Error::invalid("item.kind", format!("unknown kind {other:?}"))),
        })
    }
}

impl LogItem {
    /// The position of an event or removed event.
    pub fn position(&self) -> Option<u64> {
        match self {
            Self::Event(e) => Some(e.global_position),
            Self::Removed { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// Appends the item as one JSON line (with `\n`); event data is copied
    /// verbatim.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let line = match self.clone() {
            Self::Event(e) => Line::Event {
                position: e.global_position,
                stream: e.stream_id,
                version: e.version,
                id: e.event_id,
                event_type: e.event_type.to_string(),
                schema_version: e.schema_version,
                recorded_at: e.recorded_at.as_micros(),
                data: e.data,
                metadata: e.metadata,
            },
            Self::Removed { position, stream, version } => Line::Removed { position, stream, version },
            Self::Metadata { head, stream, metadata } => Line::Metadata { head, stream, metadata },
            Self::Delete { head, stream, tombstone, deleted_through } => Line::Delete { head, stream, tombstone, deleted_through },
            Self::Snapshot(s) => {
                Line::Snapshot { stream: s.stream_id, version: s.version, schema_version: s.schema_version, state: s.state }
            }
            Self::Checkpoint { consumer, position } => Line::Checkpoint { consumer, position },
        };
        // Writing to a Vec cannot fail and every key is a string.
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }

    /// Parses one line written by [`LogItem::write_json_line`].
    pub fn parse_json_line(line: &[u8]) -> Result<Self> {
        let line: LineIn = serde_json::from_slice(line).map_err(|e| Error::invalid("item", e.to_string()))?;
        line.into_item()
    }
}

/// What to export: the log after position `after` up to and including
/// `through` (usually the head when the export starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRange {
    /// Exclusive lower bound (0: from the start).
    pub after: u64,
    /// Inclusive upper bound.
    pub through: u64,
}

impl ExportRange {
    /// Whether a stream change made at `head` belongs to this export.
    pub fn holds_change(&self, head: u64) -> bool {
        (self.after..=self.through).contains(&head)
    }

    /// Whether an event at `position` belongs to this export.
    pub fn holds_position(&self, position: u64) -> bool {
        position > self.after && position <= self.through
    }
}

/// The items of an export, in order, as a backend produces them.
#[derive(Debug)]
pub struct LogReader {
    rx: mpsc::Receiver<Result<LogItem>>,
}

/// The producing side of a [`LogReader`].
pub type LogWriter = mpsc::Sender<Result<LogItem>>;

impl LogReader {
    /// A reader fed by the returned sender (bounded: a slow consumer slows
    /// the producer down).
    pub fn channel(capacity: usize) -> (LogWriter, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (tx, Self { rx })
    }

    /// A reader over items already in memory.
    pub fn from_items(items: Vec<LogItem>) -> Self {
        let (tx, rx) = mpsc::channel(items.len().max(1));
        for item in items {
            // The channel has room for every item.
            let _ = tx.try_send(Ok(item));
        }
        Self { rx }
    }

    /// The next item; `None` at the end. A producer that stopped without
    /// finishing reports an error item first.
    pub async fn next(&mut self) -> Option<Result<LogItem>> {
        self.rx.recv().await
    }

    /// The next item from a blocking thread.
    pub fn blocking_next(&mut self) -> Option<Result<LogItem>> {
        self.rx.blocking_recv()
    }
}

impl LogItem {
    /// Whether this is a state item (snapshot or checkpoint), which an
    /// export lists after the log in no particular order.
    pub fn is_state(&self) -> bool {
        matches!(self, Self::Snapshot(_) | Self::Checkpoint { .. })
    }

    fn state_key(&self) -> (u8, &str) {
        match self {
            Self::Snapshot(s) => (0, s.stream_id.as_str()),
            Self::Checkpoint { consumer, .. } => (1, consumer.as_str()),
            _ => (2, ""),
        }
    }
}

/// Puts an export into a canonical form for comparison: the same stream
/// change repeated at one head counts once (a resumed copy may re-apply
/// one), and state items are sorted (snapshots by stream, then
/// checkpoints by consumer).
pub fn canonical(items: &mut Vec<LogItem>) {
    items.dedup_by(|b, a| matches!(a, LogItem::Metadata { .. } | LogItem::Delete { .. }) && a == b);
    let state_from = items.iter().position(LogItem::is_state).unwrap_or(items.len());
    if let Some(state) = items.get_mut(state_from..) {
        state.sort_by(|a, b| a.state_key().cmp(&b.state_key()));
    }
}
