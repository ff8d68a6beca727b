//! Request and response bodies (and their OpenAPI schemas), and fast JSON
//! encoding of events (data and metadata copied verbatim).

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chronicle_core::{RecordedEvent, Uuid};
use utoipa::ToSchema;

pub(crate) use chronicle_wire::{NewEventBody, Object};

/// A stored event, as every read returns it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct EventSchema {
    /// Position in the global log (first = 1, gapless).
    global_position: u64,
    /// Stream id.
    stream_id: String,
    /// Version in the stream (first = 1).
    version: u64,
    /// Event id.
    event_id: Uuid,
    /// Event type.
    event_type: String,
    /// Data schema version.
    schema_version: u32,
    /// Data.
    #[schema(value_type = Object)]
    data: (),
    /// Metadata.
    #[schema(value_type = Object)]
    metadata: (),
    /// Commit time, RFC 3339 UTC with microseconds.
    recorded_at: String,
}

/// A page of the global log.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct PageSchema {
    /// The events.
    events: Vec<EventSchema>,
    /// Cursor: pass as `from` for the next page; null at the end.
    next: Option<u64>,
    /// The last position when the page was read.
    head: u64,
}

/// Where an append landed.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct AppendResultSchema {
    stream_id: String,
    first_version: u64,
    last_version: u64,
    first_position: u64,
    last_position: u64,
}

/// An error body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorSchema {
    /// Stable code: invalid, too_large, wrong_expected_version, duplicate_event_id, append_condition_failed, stream_deleted, not_found, unsupported_media_type, unavailable…
    error: String,
    /// Human-readable message.
    message: String,
    /// The offending field, when one is to blame.
    field: Option<String>,
}

/// A JSON response whose bytes are already encoded.
#[derive(Debug)]
pub(crate) struct RawJsonResponse(pub(crate) Vec<u8>);

impl IntoResponse for RawJsonResponse {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.0).into_response()
    }
}

/// Appends `[e1,e2,…]` to `out`.
pub(crate) fn events_array(events: &[RecordedEvent], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        e.write_json_line(out);
        out.pop(); // the newline
    }
    out.push(b']');
}

/// `[…]` of events.
pub(crate) fn events_response(events: &[RecordedEvent]) -> RawJsonResponse {
    let mut out = Vec::with_capacity(events.len() * 400 + 2);
    events_array(events, &mut out);
    RawJsonResponse(out)
}

/// `{"events":[…],"next":…,"head":…}`.
pub(crate) fn page_response(events: &[RecordedEvent], next: Option<u64>, head: u64) -> RawJsonResponse {
    let mut out = Vec::with_capacity(events.len() * 400 + 64);
    out.extend_from_slice(b"{\"events\":");
    events_array(events, &mut out);
    let next = next.map_or_else(|| "null".to_owned(), |n| n.to_string());
    out.extend_from_slice(format!(",\"next\":{next},\"head\":{head}}}").as_bytes());
    RawJsonResponse(out)
}
