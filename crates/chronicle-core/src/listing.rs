//! Listing streams: which streams a store holds, one page at a time, in
//! stream-id order (bytes), with a cursor.

use crate::{Error, Result, StreamId, StreamStatus, Timestamp, category_of};

/// Which streams to list. Streams are ordered by id (byte order) and a
/// page starts after the cursor `after` (exclusive). Only streams with at
/// least one visible version are listed (soft-deleted and tombstoned ones
/// too, with their status).
///
/// ```
/// use chronicle_core::ListStreams;
/// let q = ListStreams { category: Some("order".into()), ..ListStreams::default() };
/// assert!(q.matches("order-1") && !q.matches("orders-1") && !q.matches("cart-1"));
/// assert_eq!(q.page_size().unwrap(), 100);
/// assert!(ListStreams { limit: Some(0), ..ListStreams::default() }.page_size().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListStreams {
    /// Only streams whose id starts with this (empty: no filter).
    pub prefix: Option<String>,
    /// Only streams of this category, the part of the id before the first
    /// `-` (empty: no filter).
    pub category: Option<String>,
    /// Start after this stream id (the `next` of the previous page; empty:
    /// from the first).
    pub after: Option<String>,
    /// Most streams in the page (default [`ListStreams::DEFAULT_LIMIT`],
    /// 1..=[`ListStreams::MAX_LIMIT`]).
    pub limit: Option<usize>,
}

impl ListStreams {
    /// Page size when `limit` is not given.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Largest page.
    pub const MAX_LIMIT: usize = 1000;

    /// The page size, or [`Error::Invalid`] naming `limit`.
    pub fn page_size(&self) -> Result<usize> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Error::invalid("limit", format!("must be between 1 and {}", Self::MAX_LIMIT))),
        }
    }

    /// Whether stream `id` passes the prefix and category filters.
    pub fn matches(&self, id: &str) -> bool {
        self.prefix().is_none_or(|p| id.starts_with(p)) && self.category().is_none_or(|c| category_of(id) == c)
    }

    /// Whether stream `id` comes after the cursor.
    pub fn is_after_cursor(&self, id: &str) -> bool {
        self.after().is_none_or(|a| id.as_bytes() > a.as_bytes())
    }

    /// The prefix filter, if any (an empty one is none).
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref().filter(|s| !s.is_empty())
    }

    /// The category filter, if any (an empty one is none).
    pub fn category(&self) -> Option<&str> {
        self.category.as_deref().filter(|s| !s.is_empty())
    }

    /// The cursor, if any (an empty one is none).
    pub fn after(&self) -> Option<&str> {
        self.after.as_deref().filter(|s| !s.is_empty())
    }
}

/// One listed stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamSummary {
    /// The stream.
    pub stream_id: StreamId,
    /// Its current version (last event appended; versions continue after a
    /// soft delete).
    pub version: u64,
    /// Global position of its last event.
    pub last_position: u64,
    /// When its last event was recorded.
    pub last_recorded_at: Timestamp,
    /// Active, soft-deleted or tombstoned.
    pub status: StreamStatus,
}

/// A page of streams.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamPage {
    /// The streams, by id.
    pub streams: Vec<StreamSummary>,
    /// The cursor of the next page (`after`), `None` after the last page.
    pub next: Option<String>,
}

impl StreamPage {
    /// The page from candidates already filtered and sorted by id, at most
    /// `limit + 1` of them (one more than the page says there is a next).
    pub fn from_sorted(mut streams: Vec<StreamSummary>, limit: usize) -> Self {
        let more = streams.len() > limit;
        streams.truncate(limit);
        let next = if more { streams.last().map(|s| s.stream_id.to_string()) } else { None };
        Self { streams, next }
    }
}
