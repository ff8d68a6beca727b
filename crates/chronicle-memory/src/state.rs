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
    pub(crate) fn commit(&mut self, append: PreparedAppend, results: &[AppendResult]) -> Vec<RecordedEvent> {
        let recorded_at = Timestamp::now().at_least(self.index.last_recorded_at());
        let mut stored = Vec::with_capacity(append.event_count());
        for (part, result) in append.streams.into_iter().zip(results) {
            for (i, e) in part.events.into_iter().enumerate() {
                let event = RecordedEvent {
                    global_position: result.first_position + i as u64,
                    stream_id: part.stream.clone(),
                    version: result.first_version + i as u64,
                    event_id: e.event_id,
                    event_type: e.event_type.clone(),
                    schema_version: e.schema_version,
                    data: e.data.clone(),
                    metadata: e.metadata().clone(),
                    recorded_at,
                };
                stored.push(event.clone());
                self.index.push(IndexedEvent {
                    position: event.global_position,
                    stream: part.stream.clone(),
                    version: event.version,
                    event_id: e.event_id,
                    event_type: e.event_type.clone(),
                    recorded_at,
                    meta: compact_meta(e.well_known()),
                    payload: event,
                });
            }
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
