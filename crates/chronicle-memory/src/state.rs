//! The in-memory state: a [`LogIndex`] whose payload is the whole event,
//! plus the snapshots.

use chronicle_core::{AppendResult, IndexedEvent, LogIndex, PreparedAppend, RecordedEvent, Snapshot, StreamId, Timestamp, compact_meta};
use std::collections::HashMap;

/// Everything the memory store holds, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) index: LogIndex<RecordedEvent>,
    snapshots: HashMap<StreamId, Snapshot>,
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
}
