//! Events as appended ([`NewEvent`]) and as stored ([`RecordedEvent`]).

use crate::{Metadata, RawJson, Result, StreamId, Timestamp};
use bytes::Bytes;
use std::sync::Arc;
use uuid::Uuid;

/// An event to append. Built by the caller; validated by the store.
///
/// ```
/// use chronicle_core::NewEvent;
/// let e = NewEvent::json("OrderPlaced", &serde_json::json!({"total": 42}))
///     .unwrap()
///     .with_schema_version(2);
/// assert_eq!(e.event_type, "OrderPlaced");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Client-supplied id; the store assigns a UUIDv7 when `None`. A retried
    /// append with the same ids is idempotent.
    pub event_id: Option<Uuid>,
    /// The event's type name, e.g. `OrderPlaced`.
    pub event_type: String,
    /// Version of the event's data schema (≥ 1; default 1).
    pub schema_version: u32,
    /// The event's data: raw bytes of one JSON value, validated on append.
    pub data: Bytes,
    /// Metadata: raw bytes of a JSON object, validated on append. `None`
    /// stores `{}`.
    pub metadata: Option<Bytes>,
}

impl NewEvent {
    /// An event whose data is the given raw JSON bytes (validated on append).
    pub fn raw(event_type: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self { event_id: None, event_type: event_type.into(), schema_version: 1, data: data.into(), metadata: None }
    }

    /// An event whose data is `data` serialized as JSON.
    pub fn json<T: serde::Serialize + ?Sized>(event_type: impl Into<String>, data: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::raw(event_type, serde_json::to_vec(data)?))
    }

    /// Sets the event id (for idempotent retries).
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.event_id = Some(id);
        self
    }

    /// Sets the schema version.
    pub fn with_schema_version(mut self, v: u32) -> Self {
        self.schema_version = v;
        self
    }

    /// Sets metadata from raw JSON bytes.
    pub fn with_metadata_raw(mut self, metadata: impl Into<Bytes>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// Sets metadata from a serializable value.
    pub fn with_metadata<T: serde::Serialize + ?Sized>(self, metadata: &T) -> Result<Self, serde_json::Error> {
        Ok(self.with_metadata_raw(serde_json::to_vec(metadata)?))
    }
}

/// An event as stored. `data` and `metadata` are the validated raw JSON
/// bytes; reading never re-parses them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Position in the global log: the first event is 1, gapless.
    pub global_position: u64,
    /// The stream the event belongs to.
    pub stream_id: StreamId,
    /// Version within the stream: the first event is 1.
    pub version: u64,
    /// Unique id of the event.
    pub event_id: Uuid,
    /// The event's type name.
    pub event_type: Arc<str>,
    /// Version of the data schema.
    pub schema_version: u32,
    /// The event's data (validated, compact JSON).
    pub data: RawJson,
    /// The event's metadata (validated, compact JSON object).
    pub metadata: RawJson,
    /// When the event was committed (UTC, microseconds); non-decreasing
    /// with `global_position`.
    pub recorded_at: Timestamp,
}

impl RecordedEvent {
    /// The typed view of the metadata's well-known fields. Parses the
    /// metadata; not for the replay hot path.
    pub fn well_known_metadata(&self) -> Result<Metadata> {
        Metadata::parse(&self.metadata)
    }

    /// The stream's category (part of the stream id before the first `-`).
    pub fn category(&self) -> &str {
        self.stream_id.category()
    }

    /// Appends this event as one line of NDJSON (with a trailing `\n`) with
    /// exactly the fields `global_position, stream_id, version, event_id,
    /// event_type, schema_version, data, metadata, recorded_at`. `data` and
    /// `metadata` are copied verbatim, never re-parsed.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing into a Vec cannot fail; serde_json only fails on
        // non-string map keys, which a &str never is.
        let _ = write!(out, "{{\"global_position\":{},\"stream_id\":", self.global_position);
        let _ = serde_json::to_writer(&mut *out, self.stream_id.as_str());
        let _ = write!(out, ",\"version\":{},\"event_id\":\"{}\",\"event_type\":", self.version, self.event_id);
        let _ = serde_json::to_writer(&mut *out, &*self.event_type);
        let _ = write!(out, ",\"schema_version\":{},\"data\":", self.schema_version);
        out.extend_from_slice(self.data.as_bytes());
        out.extend_from_slice(b",\"metadata\":");
        out.extend_from_slice(self.metadata.as_bytes());
        let _ = writeln!(out, ",\"recorded_at\":\"{}\"}}", self.recorded_at);
    }

    /// The event's JSON object: [`RecordedEvent::write_json_line`] without
    /// the newline.
    pub fn to_json(&self) -> String {
        let mut line = Vec::with_capacity(256 + self.data.as_bytes().len() + self.metadata.as_bytes().len());
        self.write_json_line(&mut line);
        line.pop();
        // Every piece written is UTF-8 (ids, escaped strings, validated JSON).
        String::from_utf8(line).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl serde::Serialize for RecordedEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("RecordedEvent", 9)?;
        st.serialize_field("global_position", &self.global_position)?;
        st.serialize_field("stream_id", &self.stream_id)?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("event_id", &self.event_id)?;
        st.serialize_field("event_type", &*self.event_type)?;
        st.serialize_field("schema_version", &self.schema_version)?;
        st.serialize_field("data", &self.data)?;
        st.serialize_field("metadata", &self.metadata)?;
        st.serialize_field("recorded_at", &self.recorded_at)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_matches_serde_and_has_exact_fields() {
        let e = RecordedEvent {
            global_position: 7,
            stream_id: StreamId::new("order-\"1\"").unwrap(),
            version: 2,
            event_id: Uuid::now_v7(),
            event_type: Arc::from("Order\nPlaced"),
            schema_version: 3,
            data: RawJson::parse(&br#"{"a":[1,"x"]}"#[..]).unwrap(),
            metadata: RawJson::empty_object(),
            recorded_at: Timestamp::from_micros(1_700_000_000_000_001),
        };
        let mut line = Vec::new();
        e.write_json_line(&mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(e.to_json().as_bytes(), &line[..line.len() - 1]);
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, serde_json::to_value(&e).unwrap());
        let keys: Vec<_> = parsed.as_object().unwrap().keys().cloned().collect();
        let mut expected =
            ["global_position", "stream_id", "version", "event_id", "event_type", "schema_version", "data", "metadata", "recorded_at"];
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}
