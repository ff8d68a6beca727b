//! The JSON of the HTTP API: events as the server writes them, query
//! parameters of filters, and error bodies turned back into the core
//! [`Error`] variants.

use bytes::Bytes;
use chronicle_core::{Error, ExpectedVersion, Filter, RawJson, RecordedEvent, StreamId, Timestamp, Uuid, ValidatedEvent};
use serde::{Deserialize, Serialize};
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
pub(crate) fn event(text: &[u8]) -> Result<RecordedEvent, Error> {
    serde_json::from_slice::<WireEvent<'_>>(text).map_err(|e| bad_answer("event", e))?.into_event()
}

/// A JSON array of events.
pub(crate) fn events(text: &[u8]) -> Result<Vec<RecordedEvent>, Error> {
    let wire: Vec<WireEvent<'_>> = serde_json::from_slice(text).map_err(|e| bad_answer("events", e))?;
    wire.into_iter().map(WireEvent::into_event).collect()
}

/// A page of the log: `{events, next, head}`.
pub(crate) fn page(text: &[u8]) -> Result<chronicle_core::EventPage, Error> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        events: Vec<WireEvent<'a>>,
        next: Option<u64>,
        head: u64,
    }
    let p: Page<'_> = serde_json::from_slice(text).map_err(|e| bad_answer("page", e))?;
    let events = p.events.into_iter().map(WireEvent::into_event).collect::<Result<_, _>>()?;
    Ok(chronicle_core::EventPage { events, next: p.next, head: p.head })
}

/// An event to append, validated by the client's pipeline: its JSON is
/// embedded verbatim (never through a `Value`, which would reorder keys).
#[derive(Serialize)]
pub(crate) struct WireNew<'a> {
    event_type: &'a str,
    schema_version: u32,
    data: &'a RawValue,
    metadata: &'a RawValue,
    event_id: Uuid,
}

impl<'a> WireNew<'a> {
    /// The wire form of a validated event (well-formed JSON, id assigned).
    pub(crate) fn validated(e: &'a ValidatedEvent) -> Result<Self, Error> {
        let embed = |field: &str, json: &'a RawJson| {
            serde_json::from_slice::<&'a RawValue>(json.as_bytes()).map_err(|err| Error::invalid(field, err.to_string()))
        };
        Ok(Self {
            event_type: &e.event_type,
            schema_version: e.schema_version,
            data: embed("data", &e.data)?,
            metadata: embed("metadata", e.metadata())?,
            event_id: e.event_id,
        })
    }
}

/// One stream's part of `POST /append`.
#[derive(Serialize)]
pub(crate) struct WirePart<'a> {
    pub(crate) stream_id: &'a str,
    pub(crate) expected_version: ExpectedVersion,
    pub(crate) events: Vec<WireNew<'a>>,
}

/// The body of `POST /append`.
#[derive(Serialize)]
pub(crate) struct WireAppend<'a> {
    pub(crate) streams: Vec<WirePart<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<&'a chronicle_core::AppendCondition>,
}

/// The query parameters of a filter.
pub(crate) fn filter_query(f: &Filter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if !f.event_types.is_empty() {
        q.push(("event_type", f.event_types.join(",")));
    }
    let fields = [
        ("category", &f.category),
        ("stream_prefix", &f.stream_prefix),
        ("correlation_id", &f.correlation_id),
        ("actor_id", &f.actor_id),
        ("actor_type", &f.actor_type),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            q.push((name, v.clone()));
        }
    }
    if let Some(s) = &f.stream_id {
        q.push(("stream_id", s.to_string()));
    }
    if !f.tags.is_empty() {
        q.push(("tag", f.tags.join(",")));
    }
    if let Some(t) = f.since {
        q.push(("since", t.to_string()));
    }
    if let Some(t) = f.until {
        q.push(("until", t.to_string()));
    }
    q
}

/// An expected version as a query value.
pub(crate) fn expected(e: ExpectedVersion) -> String {
    match e {
        ExpectedVersion::Exact(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The core error an API error body stands for.
pub(crate) fn error(status: u16, body: &[u8], context: Option<&StreamId>) -> Error {
    chronicle_wire::error_from_body(status, body, context)
}
