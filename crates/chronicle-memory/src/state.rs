//! The in-memory state: a [`LogIndex`] whose payload is the whole event,
//! plus the snapshots.

use chronicle_core::{
    AppendResult, ExportRange, GroupProgress, IndexedEvent, LogIndex, LogItem, PreparedAppend, RawJson, RecordedEvent, Result, Snapshot,
    StreamChange, StreamId, Timestamp, Uuid, compact_meta,
};
use std::collections::HashMap;

/// Everything the memory store holds, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) index: LogIndex<RecordedEvent>,
    snapshots: HashMap<StreamId, Snapshot>,
    /// Every stream change with the head it was made at (for exports).
    changes: Vec<(u64, StreamChange)>,
}

impl State {
    /// Stores a planned append and makes it visible; returns the stored
    /// events.
    pub(crate) fn commit(&mut self, append: &PreparedAppend, results: &[AppendResult]) -> Vec<RecordedEvent> {
        let recorded_at = Timestamp::now().at_least(self.index.last_recorded_at());
        let stored = append.recorded(results, recorded_at);
        let validated = append.streams.iter().flat_map(|p| p.events.iter());
        for (event, e) in stored.iter().zip(validated) {
            self.index.push(IndexedEvent {
                position: event.global_position,
                stream: event.stream_id.clone(),
                version: event.version,
                event_id: e.event_id,
                event_type: e.event_type.clone(),
                recorded_at,
                meta: compact_meta(e.well_known()),
                payload: event.clone(),
            });
        }
        self.index.publish(self.index.len());
        stored
    }

    pub(crate) fn save_snapshot(&mut self, snapshot: Snapshot) {
        let newer = self.snapshots.get(&snapshot.stream_id).is_none_or(|s| s.version <= snapshot.version);
        if newer {
            self.snapshots.insert(snapshot.stream_id.clone(), snapshot);
        }
    }

    pub(crate) fn snapshot(&self, stream: &StreamId) -> Option<Snapshot> {
        self.snapshots.get(stream).cloned()
    }

    /// Applies a decided stream change and remembers it.
    pub(crate) fn change(&mut self, change: StreamChange) {
        self.changes.push((self.index.len(), change.clone()));
        self.index.apply_change(change);
    }

    /// The items of an export (see `chronicle_core::transfer`).
    pub(crate) fn export(&self, range: ExportRange) -> Vec<LogItem> {
        let mut items = Vec::new();
        let mut changes = self.changes.iter().filter(|(head, _)| range.holds_change(*head)).peekable();
        let mut position = range.after;
        loop {
            while let Some((_, change)) = changes.next_if(|(head, _)| *head <= position) {
                items.push(change_item(position, change.clone()));
            }
            position += 1;
            let Some(entry) = self.index.entry(position).filter(|_| position <= range.through) else { break };
            items.push(if self.index.is_removed(position) {
                LogItem::Removed { position, stream: entry.stream.clone(), version: entry.version }
            } else {
                LogItem::Event(entry.payload.clone())
            });
        }
        let (snapshots, groups): (Vec<&Snapshot>, Vec<_>) =
            self.snapshots.values().partition(|s| GroupProgress::group_of(&s.stream_id).is_none());
        let stored = |s: &&Snapshot| self.index.stored_by(&s.stream_id, s.version, range.through);
        items.extend(snapshots.into_iter().filter(stored).cloned().map(LogItem::Snapshot));
        items.extend(self.index.checkpoint_items(range.through));
        items.extend(groups.into_iter().filter_map(|s| GroupProgress::item_of(s, range.through)));
        items
    }

    /// Stores checked items (see `LogIndex::check_import`).
    pub(crate) fn import(&mut self, items: Vec<LogItem>) -> Result<()> {
        self.index.check_import(&items)?;
        let items = GroupProgress::as_snapshots(items, |s| self.snapshots.get(s).map(|s| s.version))?;
        for item in items {
            match item {
                LogItem::Event(e) => {
                    let meta = compact_meta(&e.well_known_metadata()?);
                    self.index.push(IndexedEvent {
                        position: e.global_position,
                        stream: e.stream_id.clone(),
                        version: e.version,
                        event_id: e.event_id,
                        event_type: e.event_type.clone(),
                        recorded_at: e.recorded_at,
                        meta,
                        payload: e,
                    });
                }
                LogItem::Removed { position, stream, version } => {
                    let recorded_at = self.index.last_recorded_at();
                    let payload = RecordedEvent {
                        global_position: position,
                        stream_id: stream.clone(),
                        version,
                        event_id: Uuid::nil(),
                        event_type: "".into(),
                        schema_version: 0,
                        data: RawJson::empty_object(),
                        metadata: RawJson::empty_object(),
                        recorded_at,
                    };
                    let entry = IndexedEvent {
                        position,
                        stream,
                        version,
                        event_id: Uuid::nil(),
                        event_type: "".into(),
                        recorded_at,
                        meta: None,
                        payload,
                    };
                    // check_import placed it.
                    let _ = self.index.push_scavenged(entry);
                }
                LogItem::Metadata { stream, metadata, .. } => self.change(StreamChange::Metadata { stream, metadata }),
                LogItem::Delete { stream, tombstone, deleted_through, .. } => {
                    self.change(StreamChange::Delete { stream, tombstone, deleted_through })
                }
                LogItem::Snapshot(s) => self.save_snapshot(s),
                LogItem::Checkpoint { consumer, position } => self.index.set_checkpoint(consumer, position),
                LogItem::Group { .. } => {} // replaced by snapshots above
            }
        }
        self.index.publish(self.index.len());
        Ok(())
    }
}

fn change_item(head: u64, change: StreamChange) -> LogItem {
    match change {
        StreamChange::Metadata { stream, metadata } => LogItem::Metadata { head, stream, metadata },
        StreamChange::Delete { stream, tombstone, deleted_through } => LogItem::Delete { head, stream, tombstone, deleted_through },
    }
}
