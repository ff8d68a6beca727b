//! Read options: stream reads, filtered reads of the global log, pages.

use crate::{Error, Metadata, RecordedEvent, Result, StreamId, Timestamp};

/// Read direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forward,
    /// Newest first.
    Backward,
}

/// Options of [`EventStore::read_stream`](crate::EventStore::read_stream).
///
/// ```
/// use chronicle_core::ReadStream;
/// let last_ten = ReadStream::backward().limit(10);
/// let from_v5 = ReadStream::forward().from(5);
/// # let _ = (last_ten, from_v5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStream {
    /// First version to return, inclusive. `None`: the first (forward) or
    /// last (backward) version.
    pub from: Option<u64>,
    /// Direction.
    pub direction: Direction,
    /// Most events to return; `None` returns all.
    pub limit: Option<usize>,
}

impl ReadStream {
    /// Forward from the first version.
    pub fn forward() -> Self {
        Self::default()
    }

    /// Backward from the last version.
    pub fn backward() -> Self {
        Self { direction: Direction::Backward, ..Self::default() }
    }

    /// Start at this version (inclusive).
    pub fn from(mut self, version: u64) -> Self {
        self.from = Some(version);
        self
    }

    /// Return at most `n` events.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Rejects a zero limit (field `limit`).
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit)
    }
}

fn check_limit(limit: Option<usize>) -> Result<()> {
    match limit {
        Some(0) => Err(Error::invalid("limit", "must be at least 1")),
        _ => Ok(()),
    }
}

/// Which events of the global log a read or subscription wants. Every set
/// field must match (AND); within `event_types`, any type matches (OR);
/// within `tags`, every tag is required.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Event types (any of); empty: all.
    pub event_types: Vec<String>,
    /// Stream category (part of the id before the first `-`).
    pub category: Option<String>,
    /// Stream id prefix.
    pub stream_prefix: Option<String>,
    /// Exactly this stream.
    pub stream_id: Option<StreamId>,
    /// Metadata `correlation_id`.
    pub correlation_id: Option<String>,
    /// Metadata `actor.id`.
    pub actor_id: Option<String>,
    /// Metadata `actor.type`.
    pub actor_type: Option<String>,
    /// Metadata tags (all of).
    pub tags: Vec<String>,
    /// Recorded at or after this instant.
    pub since: Option<Timestamp>,
    /// Recorded strictly before this instant.
    pub until: Option<Timestamp>,
}

impl Filter {
    /// Whether an event matches. `meta` is the event's well-known metadata,
    /// which backends keep in their indexes.
    pub fn matches(&self, event: &RecordedEvent, meta: &Metadata) -> bool {
        self.matches_fields(&event.stream_id, &event.event_type, event.recorded_at, meta)
    }

    /// [`Filter::matches`] on the indexed fields of an event.
    pub fn matches_fields(&self, stream_id: &StreamId, event_type: &str, recorded_at: Timestamp, meta: &Metadata) -> bool {
        let stream = stream_id.as_str();
        (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
            && self.category.as_deref().is_none_or(|c| c == stream_id.category())
            && self.stream_prefix.as_deref().is_none_or(|p| stream.starts_with(p))
            && self.stream_id.as_ref().is_none_or(|s| s == stream_id)
            && self.since.is_none_or(|t| recorded_at >= t)
            && self.until.is_none_or(|t| recorded_at < t)
            && self.matches_metadata(meta)
    }

    /// The metadata part of [`Filter::matches`].
    pub fn matches_metadata(&self, meta: &Metadata) -> bool {
        let actor = meta.actor.as_ref();
        self.correlation_id.as_ref().is_none_or(|c| meta.correlation_id.as_ref() == Some(c))
            && self.actor_id.as_ref().is_none_or(|id| actor.is_some_and(|a| a.id == *id))
            && self.actor_type.as_ref().is_none_or(|k| actor.is_some_and(|a| a.kind == *k))
            && meta.has_all_tags(&self.tags)
    }

    /// True when the filter needs the metadata's well-known fields.
    pub fn uses_metadata(&self) -> bool {
        self.correlation_id.is_some() || self.actor_id.is_some() || self.actor_type.is_some() || !self.tags.is_empty()
    }
}

/// Options of [`EventStore::read_all`](crate::EventStore::read_all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadAll {
    /// First global position to examine, inclusive. `None`: 1 (forward) or
    /// the head (backward). Pass a page's `next` to continue.
    pub from: Option<u64>,
    /// Direction.
    pub direction: Direction,
    /// Most events to return; `None` returns all.
    pub limit: Option<usize>,
    /// Which events to return.
    pub filter: Filter,
}

impl ReadAll {
    /// Forward from position 1, everything.
    pub fn forward() -> Self {
        Self::default()
    }

    /// Backward from the head.
    pub fn backward() -> Self {
        Self { direction: Direction::Backward, ..Self::default() }
    }

    /// Start at this position (inclusive).
    pub fn from(mut self, position: u64) -> Self {
        self.from = Some(position);
        self
    }

    /// Return at most `n` events.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Only events matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Rejects a zero limit (field `limit`).
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit)
    }
}

/// One page of a read of the global log.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventPage {
    /// The matching events, in read order.
    pub events: Vec<RecordedEvent>,
    /// Cursor: the `from` of the next page; `None` when the read reached
    /// the end of the log (forward: the head; backward: position 1).
    pub next: Option<u64>,
    /// The store's last global position when the page was read. A forward
    /// read with `next == None` examined every position up to `head`.
    pub head: u64,
}

/// Where a subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeFrom {
    /// From position 1 (the whole history, then live).
    Start,
    /// From this global position, inclusive.
    Position(u64),
    /// From the first event recorded at or after this instant.
    Timestamp(Timestamp),
    /// Only events committed after the subscription starts.
    End,
}
