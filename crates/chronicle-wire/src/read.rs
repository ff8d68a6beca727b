//! Reading what the server writes: events, arrays of events, pages.

use bytes::Bytes;
use chronicle_core::{Error, EventPage, RawJson, RecordedEvent, StreamId, Timestamp, Uuid};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// An event as every read returns it.
#[derive(Deserialize)]
struct WireEvent<'a> {
    global_position: u64,
    stream_id: String,
    version: u64,
    event_id: Uuid,
    event_type: String,
    schema_version: u32,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(borrow)]
    metadata: &'a RawValue,
    recorded_at: String,
}

fn bad_answer(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::Unavailable { reason: format!("unexpected answer from the server ({what}): {reason}") }
}

impl WireEvent<'_> {
    fn into_event(self) -> Result<RecordedEvent, Error> {
        Ok(RecordedEvent {
            global_position: self.global_position,
            stream_id: StreamId::new(&self.stream_id)?,
            version: self.version,
            event_id: self.event_id,
            event_type: Arc::from(self.event_type),
            schema_version: self.schema_version,
            // The server writes stored data verbatim: already validated, compact JSON.
            data: RawJson::from_trusted(Bytes::copy_from_slice(self.data.get().as_bytes())),
            metadata: RawJson::from_trusted(Bytes::copy_from_slice(self.metadata.get().as_bytes())),
            recorded_at: Timestamp::parse(&self.recorded_at)?,
        })
    }
}

/// One event from its JSON text.
pub fn event(text: &[u8]) -> Result<RecordedEvent, Error> {
    serde_json::from_slice::<WireEvent<'_>>(text).map_err(|e| bad_answer("event", e))?.into_event()
}

/// A JSON array of events.
pub fn events(text: &[u8]) -> Result<Vec<RecordedEvent>, Error> {
    let wire: Vec<WireEvent<'_>> = serde_json::from_slice(text).map_err(|e| bad_answer("events", e))?;
    wire.into_iter().map(WireEvent::into_event).collect()
}

/// A page of the log: `{events, next, head}`.
pub fn page(text: &[u8]) -> Result<EventPage, Error> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        events: Vec<WireEvent<'a>>,
        next: Option<u64>,
        head: u64,
    }
    let p: Page<'_> = serde_json::from_slice(text).map_err(|e| bad_answer("page", e))?;
    let events = p.events.into_iter().map(WireEvent::into_event).collect::<Result<_, _>>()?;
    Ok(EventPage { events, next: p.next, head: p.head })
}
