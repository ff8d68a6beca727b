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

mod group;
mod line;
#[cfg(test)]
mod tests;

use crate::{RecordedEvent, Result, Snapshot, StreamId, StreamMetadata};
pub use group::GroupProgress;
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
    /// How far a consumer group got (its settings are in the log, in the
    /// `$groups` registry stream).
    Group {
        /// The group.
        name: String,
        /// Its progress.
        progress: GroupProgress,
    },
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
    /// Whether this is a state item (snapshot, checkpoint or group
    /// progress), which an export lists after the log in no particular order.
    pub fn is_state(&self) -> bool {
        matches!(self, Self::Snapshot(_) | Self::Checkpoint { .. } | Self::Group { .. })
    }

    fn state_key(&self) -> (u8, &str) {
        match self {
            Self::Snapshot(s) => (0, s.stream_id.as_str()),
            Self::Checkpoint { consumer, .. } => (1, consumer.as_str()),
            Self::Group { name, .. } => (2, name.as_str()),
            _ => (3, ""),
        }
    }
}

/// Puts an export into a canonical form for comparison: the same stream
/// change repeated at one head counts once (a resumed copy may re-apply
/// one), and state items are sorted (snapshots by stream, checkpoints by
/// consumer, then groups by name).
pub fn canonical(items: &mut Vec<LogItem>) {
    items.dedup_by(|b, a| matches!(a, LogItem::Metadata { .. } | LogItem::Delete { .. }) && a == b);
    let state_from = items.iter().position(LogItem::is_state).unwrap_or(items.len());
    if let Some(state) = items.get_mut(state_from..) {
        state.sort_by(|a, b| a.state_key().cmp(&b.state_key()));
    }
}
