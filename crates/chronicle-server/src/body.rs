//! Request and response bodies (and their OpenAPI schemas), and fast JSON
//! encoding of events (data and metadata copied verbatim).

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chronicle_core::{NewEvent, RawJson, RecordedEvent, Uuid};
use serde::Deserialize;
use utoipa::ToSchema;

/// One event to append.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEventBody {
    /// Event type, e.g. `OrderPlaced`.
    pub(crate) event_type: String,
    /// Event data (any JSON value).
    #[schema(value_type = Object)]
    #[serde(default, deserialize_with = "present")]
    pub(crate) data: Option<RawJson>,
    /// The data as text, validated by the store (instead of `data`: lets a
    /// client hand over bytes it could not embed, and get the store's own
    /// field error for them).
    #[serde(default)]
    pub(crate) data_raw: Option<String>,
    /// Metadata (a JSON object; well-known: correlation_id, causation_id, actor {type,id}, tenant, tags[]).
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub(crate) metadata: Option<RawJson>,
    /// Client event id for idempotent retries (UUID); a UUIDv7 otherwise.
    #[serde(default)]
    pub(crate) event_id: Option<Uuid>,
    /// Schema version of the data (default 1).
    #[serde(default, deserialize_with = "chronicle_core::json_int::opt_u32")]
    pub(crate) schema_version: Option<u32>,
    /// The metadata as text, validated by the store (instead of `metadata`).
    #[serde(default)]
    pub(crate) metadata_raw: Option<String>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RawJson>, D::Error> {
    RawJson::deserialize(d).map(Some)
}

impl From<NewEventBody> for NewEvent {
    fn from(b: NewEventBody) -> Self {
        // Neither `data` nor `data_raw`: empty bytes, which the store rejects naming the field.
        let data = match (b.data, b.data_raw) {
            (Some(d), _) => d.bytes().clone(),
            (None, Some(raw)) => raw.into_bytes().into(),
            (None, None) => Default::default(),
        };
        let mut e = NewEvent::raw(b.event_type, data).with_schema_version(b.schema_version.unwrap_or(1));
        if let Some(m) = b.metadata {
            e = e.with_metadata_raw(m.bytes().clone());
        } else if let Some(raw) = b.metadata_raw {
            e = e.with_metadata_raw(raw.into_bytes());
        }
        if let Some(id) = b.event_id {
            e = e.with_id(id);
        }
        e
    }
}

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

/// A body part that must be a JSON object. serde lets a struct be written
/// as an array of its fields (`[1, 2]`); the API documents objects, so an
/// array is refused here as the wrong type.
#[derive(Debug)]
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData)).map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_and_raw_json_survives() {
        let events: Vec<Object<NewEventBody>> = serde_json::from_str(r#"[{"event_type":"T","data":{"b":1,"a":2}}]"#).unwrap();
        assert_eq!(events[0].0.data.as_ref().map(|d| d.as_bytes().to_vec()), Some(br#"{"b":1,"a":2}"#.to_vec()), "key order kept");
        assert!(serde_json::from_str::<Vec<Object<NewEventBody>>>(r#"[["T", {}]]"#).is_err());
        assert!(serde_json::from_str::<Object<chronicle_core::StreamMetadata>>("[null, null]").is_err());
        assert!(serde_json::from_str::<Object<chronicle_core::StreamMetadata>>(r#"{"max_age": 5.0}"#).is_ok());
    }
}
