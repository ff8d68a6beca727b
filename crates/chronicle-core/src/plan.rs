//! The append decision every in-process backend shares: idempotency,
//! tombstones, expected versions and the DCB condition, in that order.

use crate::{AppendResult, Error, EventQuery, PreparedAppend, Result, StreamId, StreamInfo, StreamStatus};
use uuid::Uuid;

/// Where a stored event lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLocation {
    /// Its stream.
    pub stream: StreamId,
    /// Its version in the stream.
    pub version: u64,
    /// Its global position.
    pub position: u64,
}

/// The read-only view of a store's state that [`plan_append`] needs. A
/// backend implements it over its indexes while holding its write lock.
pub trait AppendView {
    /// The stream's state (default for a stream never seen).
    fn stream_info(&self, stream: &StreamId) -> StreamInfo;
    /// Where the event with this id is stored, if it is.
    fn locate(&self, event_id: &Uuid) -> Option<EventLocation>;
    /// Position of the first event matching `query` recorded after
    /// `after` (anywhere when `None`).
    fn first_match_after(&self, query: &EventQuery, after: Option<u64>) -> Option<u64>;
    /// The last global position (0 when empty).
    fn head(&self) -> u64;
}

/// What a backend must do with an append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendPlan {
    /// The append is a retry of one already stored: store nothing and
    /// answer with the original results.
    AlreadyStored(Vec<AppendResult>),
    /// Store the events; `results` says where each part lands (positions
    /// consecutive from `head + 1`, in request order).
    Write(Vec<AppendResult>),
}

/// Decides an append against the current state.
///
/// Order of checks: idempotency (every id already stored, consecutively, in
/// its stream → [`AppendPlan::AlreadyStored`]; some but not all →
/// [`Error::DuplicateEventId`]), tombstones, expected versions, then the
/// DCB condition.
pub fn plan_append(view: &impl AppendView, append: &PreparedAppend) -> Result<AppendPlan> {
    if let Some(done) = already_stored(view, append)? {
        return Ok(AppendPlan::AlreadyStored(done));
    }
    let mut position = view.head();
    let mut results = Vec::with_capacity(append.streams.len());
    for part in &append.streams {
        let info = view.stream_info(&part.stream);
        if info.status == StreamStatus::Tombstoned {
            return Err(Error::StreamDeleted { stream: part.stream.clone() });
        }
        let actual = info.current_version();
        if !part.expected.accepts(actual) {
            return Err(Error::WrongExpectedVersion { stream: part.stream.clone(), expected: part.expected, actual });
        }
        let n = part.events.len() as u64;
        results.push(AppendResult {
            stream_id: part.stream.clone(),
            first_version: info.last_version + 1,
            last_version: info.last_version + n,
            first_position: position + 1,
            last_position: position + n,
        });
        position += n;
    }
    if let Some(cond) = &append.condition
        && let Some(position) = view.first_match_after(&cond.query, cond.after)
    {
        return Err(Error::AppendConditionFailed { position });
    }
    Ok(AppendPlan::Write(results))
}

fn already_stored(view: &impl AppendView, append: &PreparedAppend) -> Result<Option<Vec<AppendResult>>> {
    let mut results = Vec::with_capacity(append.streams.len());
    let mut first_new = None;
    let mut first_dup = None;
    for part in &append.streams {
        let mut prev: Option<EventLocation> = None;
        let mut consecutive = true;
        let mut first = None;
        for e in &part.events {
            match view.locate(&e.event_id) {
                None => {
                    first_new.get_or_insert(e.event_id);
                    consecutive = false;
                }
                Some(loc) => {
                    first_dup.get_or_insert(e.event_id);
                    let follows = prev.as_ref().is_none_or(|p| loc.version == p.version + 1);
                    consecutive &= loc.stream == part.stream && follows;
                    first.get_or_insert_with(|| loc.clone());
                    prev = Some(loc);
                }
            }
        }
        match (first, prev) {
            (Some(f), Some(l)) if consecutive => results.push(AppendResult {
                stream_id: part.stream.clone(),
                first_version: f.version,
                last_version: l.version,
                first_position: f.position,
                last_position: l.position,
            }),
            _ => {}
        }
    }
    match (first_dup, first_new) {
        (None, _) => Ok(None),
        (Some(_), None) if results.len() == append.streams.len() => Ok(Some(results)),
        (Some(event_id), _) => Err(Error::DuplicateEventId { event_id }),
    }
}
