//! The JSON line of a [`LogItem`]: what backup parts and the server's
//! export and import carry.

use super::{GroupProgress, LogItem};
use crate::{Error, RawJson, RecordedEvent, Result, Snapshot, StreamId, StreamMetadata, Timestamp, Uuid};
use std::sync::Arc;

/// The JSON shape of a [`LogItem`] line, as written.
#[derive(serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Event {
        position: u64,
        stream: StreamId,
        version: u64,
        id: Uuid,
        event_type: String,
        schema_version: u32,
        /// Microseconds since the epoch (exact, unlike a formatted time).
        recorded_at: i64,
        data: RawJson,
        metadata: RawJson,
    },
    Removed {
        position: u64,
        stream: StreamId,
        version: u64,
    },
    Metadata {
        head: u64,
        stream: StreamId,
        metadata: StreamMetadata,
    },
    Delete {
        head: u64,
        stream: StreamId,
        tombstone: bool,
        deleted_through: u64,
    },
    Snapshot {
        stream: StreamId,
        version: u64,
        schema_version: u32,
        state: RawJson,
    },
    Checkpoint {
        consumer: String,
        position: u64,
    },
    Group {
        name: String,
        progress: GroupProgress,
    },
}

/// A line as read: every field of every kind (an internally tagged enum
/// would buffer the values, which raw JSON cannot go through).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn {
    kind: String,
    position: Option<u64>,
    stream: Option<StreamId>,
    version: Option<u64>,
    id: Option<Uuid>,
    event_type: Option<String>,
    schema_version: Option<u32>,
    recorded_at: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    data: Option<RawJson>,
    /// An event's metadata, or a stream's settings.
    #[serde(default, deserialize_with = "present")]
    metadata: Option<RawJson>,
    head: Option<u64>,
    tombstone: Option<bool>,
    deleted_through: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    state: Option<RawJson>,
    consumer: Option<String>,
    name: Option<String>,
    progress: Option<GroupProgress>,
}

/// A JSON value that is there, `null` included (only a missing field is `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<RawJson>, D::Error> {
    <RawJson as serde::Deserialize>::deserialize(d).map(Some)
}

fn field<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| Error::invalid(format!("item.{name}"), "missing"))
}

impl LineIn {
    fn into_item(self) -> Result<LogItem> {
        let stream = || field(self.stream.clone(), "stream");
        Ok(match self.kind.as_str() {
            "event" => {
                let metadata = field(self.metadata, "metadata")?;
                if !metadata.is_object() {
                    return Err(Error::invalid("item.metadata", "must be a JSON object"));
                }
                LogItem::Event(RecordedEvent {
                    global_position: field(self.position, "position")?,
                    stream_id: stream()?,
                    version: field(self.version, "version")?,
                    event_id: field(self.id, "id")?,
                    event_type: Arc::from(field(self.event_type, "event_type")?),
                    schema_version: field(self.schema_version, "schema_version")?,
                    data: field(self.data, "data")?,
                    metadata,
                    recorded_at: Timestamp::from_micros(field(self.recorded_at, "recorded_at")?),
                })
            }
            "removed" => LogItem::Removed {
                position: field(self.position, "position")?,
                stream: stream()?,
                version: field(self.version, "version")?,
            },
            "metadata" => {
                let metadata = field(self.metadata, "metadata")?.decode().map_err(|e| Error::invalid("item.metadata", e.to_string()))?;
                LogItem::Metadata { head: field(self.head, "head")?, stream: stream()?, metadata }
            }
            "delete" => LogItem::Delete {
                head: field(self.head, "head")?,
                stream: stream()?,
                tombstone: field(self.tombstone, "tombstone")?,
                deleted_through: field(self.deleted_through, "deleted_through")?,
            },
            "snapshot" => LogItem::Snapshot(Snapshot {
                stream_id: stream()?,
                version: field(self.version, "version")?,
                schema_version: field(self.schema_version, "schema_version")?,
                state: field(self.state, "state")?,
            }),
            "checkpoint" => {
                LogItem::Checkpoint { consumer: field(self.consumer, "consumer")?, position: field(self.position, "position")? }
            }
            "group" => LogItem::Group { name: field(self.name, "name")?, progress: field(self.progress, "progress")? },
            other => return Err(Error::invalid("item.kind", format!("unknown kind {other:?}"))),
        })
    }
}

impl LogItem {
    /// Appends the item as one JSON line (with `\n`); event data is copied
    /// verbatim.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let line = match self.clone() {
            Self::Event(e) => Line::Event {
                position: e.global_position,
                stream: e.stream_id,
                version: e.version,
                id: e.event_id,
                event_type: e.event_type.to_string(),
                schema_version: e.schema_version,
                recorded_at: e.recorded_at.as_micros(),
                data: e.data,
                metadata: e.metadata,
            },
            Self::Removed { position, stream, version } => Line::Removed { position, stream, version },
            Self::Metadata { head, stream, metadata } => Line::Metadata { head, stream, metadata },
            Self::Delete { head, stream, tombstone, deleted_through } => Line::Delete { head, stream, tombstone, deleted_through },
            Self::Snapshot(s) => {
                Line::Snapshot { stream: s.stream_id, version: s.version, schema_version: s.schema_version, state: s.state }
            }
            Self::Checkpoint { consumer, position } => Line::Checkpoint { consumer, position },
            Self::Group { name, progress } => Line::Group { name, progress },
        };
        // Writing to a Vec cannot fail and every key is a string.
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }

    /// Parses one line written by [`LogItem::write_json_line`].
    pub fn parse_json_line(line: &[u8]) -> Result<Self> {
        let line: LineIn = serde_json::from_slice(line).map_err(|e| Error::invalid("item", e.to_string()))?;
        line.into_item()
    }
}
