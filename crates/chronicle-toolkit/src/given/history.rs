//! Recorded histories for testing projections without a store.

use crate::{DomainEvent, MemoryProjection, Result, encode_event};
use chronicle_core::{RawJson, RecordedEvent, StreamId, Timestamp, Uuid};
use std::{collections::HashMap, sync::Arc};

/// A sequence of recorded events built in memory: global positions from
/// 1, stream versions from 1, ids and timestamps assigned as a store
/// would. Feed it to a projection with [`History::project`].
///
/// ```
/// # use chronicle_toolkit::*;
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// enum Ev { Opened, Closed }
/// impl DomainEvent for Ev {}
/// let open = MemoryProjection::new("open", |n: &mut i64, e| {
///     *n += if &*e.event_type == "Opened" { 1 } else { -1 };
///     Ok(())
/// });
/// let history = History::new().event("door-1", &Ev::Opened).event("door-2", &Ev::Opened).event("door-1", &Ev::Closed);
/// assert_eq!(history.project(&open).unwrap(), 1);
/// assert_eq!(history.events()[2].version, 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct History {
    events: Vec<RecordedEvent>,
    versions: HashMap<String, u64>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event` to `stream` (panics on an invalid stream id or an
    /// event that does not encode: this is a test helper).
    #[track_caller]
    pub fn event<E: DomainEvent>(self, stream: &str, event: &E) -> Self {
        self.event_with_metadata(stream, event, RawJson::empty_object())
    }

    /// Appends `event` to `stream` with `metadata` (a JSON object).
    #[track_caller]
    pub fn event_with_metadata<E: DomainEvent>(mut self, stream: &str, event: &E, metadata: RawJson) -> Self {
        let stream_id = match StreamId::new(stream) {
            Ok(s) => s,
            Err(e) => panic!("History::event: {e}"),
        };
        let (event_type, data) = match encode_event(event) {
            Ok(x) => x,
            Err(e) => panic!("History::event: {e}"),
        };
        let version = self.versions.entry(stream.to_owned()).or_default();
        *version += 1;
        self.events.push(RecordedEvent {
            global_position: self.events.len() as u64 + 1,
            stream_id,
            version: *version,
            event_id: Uuid::now_v7(),
            schema_version: E::schema_version(&event_type),
            event_type: Arc::from(event_type),
            data,
            metadata,
            recorded_at: Timestamp::now(),
        });
        self
    }

    /// The recorded events, in global order.
    pub fn events(&self) -> &[RecordedEvent] {
        &self.events
    }

    /// Applies every event `projection`'s filter matches, in order, and
    /// returns the model; the first handler error is returned.
    pub fn project<S: Default + Clone + Send + 'static>(&self, projection: &MemoryProjection<S>) -> Result<S> {
        let filter = crate::Projection::filter(projection);
        for event in &self.events {
            let meta = event.well_known_metadata()?;
            if filter.matches(event, &meta) {
                projection.apply_now(event)?;
            }
        }
        Ok(projection.model())
    }
}
