//! Append requests: single stream, atomic multi-stream, DCB-conditional.

use crate::{ExpectedVersion, Metadata, NewEvent, RecordedEvent, StreamId, Timestamp, ValidatedEvent};

/// The events to append to one stream, with the version expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamAppend {
    /// Target stream.
    pub stream: StreamId,
    /// Optimistic-concurrency expectation.
    pub expected: ExpectedVersion,
    /// The events (at least one).
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    /// Bundles a stream, an expectation and events.
    pub fn new(stream: StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self { stream, expected, events }
    }
}

/// One atomic append: one or more streams, all or nothing, optionally
/// guarded by a DCB [`AppendCondition`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendRequest {
    /// Per-stream parts; each stream may appear once.
    pub streams: Vec<StreamAppend>,
    /// Optional DCB condition checked atomically with the append.
    pub condition: Option<AppendCondition>,
}

/// One item of a DCB query: an event matches when its type is one of
/// `types` (any type if empty) and it carries every tag in `tags`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryItem {
    /// Accepted event types (any of); empty matches every type.
    pub types: Vec<String>,
    /// Required tags (all of).
    pub tags: Vec<String>,
    /// Only events of streams whose id starts with this (a tenant's
    /// queries are limited to its streams this way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
}

/// A DCB query: an event matches if it matches any item.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventQuery {
    /// The items (any of). An empty query matches nothing.
    pub items: Vec<QueryItem>,
}

impl EventQuery {
    /// A query with one item.
    pub fn item(types: Vec<String>, tags: Vec<String>) -> Self {
        Self { items: vec![QueryItem { types, tags, stream_prefix: None }] }
    }

    /// Whether an event of `stream`, of `event_type`, with metadata
    /// `meta` matches.
    pub fn matches(&self, stream: &str, event_type: &str, meta: &Metadata) -> bool {
        self.items.iter().any(|item| {
            (item.types.is_empty() || item.types.iter().any(|t| t == event_type))
                && meta.has_all_tags(&item.tags)
                && item.stream_prefix.as_deref().is_none_or(|p| stream.starts_with(p))
        })
    }
}

/// Dynamic Consistency Boundary condition: the append fails with
/// [`Error::AppendConditionFailed`](crate::Error::AppendConditionFailed) if
/// any event matching `query` was recorded after position `after` (at any
/// position when `after` is `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendCondition {
    /// Which events would invalidate the decision.
    pub query: EventQuery,
    /// The position the decision was based on (inclusive upper bound of
    /// what the caller saw).
    #[serde(default, deserialize_with = "crate::json_int::opt_u64")]
    pub after: Option<u64>,
}

/// Where one stream's part of an append landed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppendResult {
    /// The stream.
    pub stream_id: StreamId,
    /// Version of the first event appended.
    pub first_version: u64,
    /// Version of the last event appended (the stream's new version).
    pub last_version: u64,
    /// Global position of the first event appended.
    pub first_position: u64,
    /// Global position of the last event appended.
    pub last_position: u64,
}

/// A validated append, ready for a backend to commit. Hooks may inspect and
/// enrich it before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedAppend {
    /// The validated per-stream parts, in request order.
    pub streams: Vec<PreparedStream>,
    /// The DCB condition, if any.
    pub condition: Option<AppendCondition>,
}

impl PreparedAppend {
    /// Total number of events.
    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }

    /// The events as stored at the places `results` (one per part, in
    /// order) gives them, recorded at `recorded_at`: what after-store
    /// hooks see.
    pub fn recorded(&self, results: &[AppendResult], recorded_at: Timestamp) -> Vec<RecordedEvent> {
        let mut out = Vec::with_capacity(self.event_count());
        for (part, result) in self.streams.iter().zip(results) {
            for (i, e) in part.events.iter().enumerate() {
                out.push(RecordedEvent {
                    global_position: result.first_position + i as u64,
                    stream_id: part.stream.clone(),
                    version: result.first_version + i as u64,
                    event_id: e.event_id,
                    event_type: e.event_type.clone(),
                    schema_version: e.schema_version,
                    data: e.data.clone(),
                    metadata: e.metadata().clone(),
                    recorded_at,
                });
            }
        }
        out
    }
}

/// One stream's validated part of a [`PreparedAppend`].
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedStream {
    /// Target stream.
    pub stream: StreamId,
    /// Expectation.
    pub expected: ExpectedVersion,
    /// Validated events.
    pub events: Vec<ValidatedEvent>,
}
