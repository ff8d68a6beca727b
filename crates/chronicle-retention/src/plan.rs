//! Where a stream's removable prefix ends, given its limits.

use crate::Limits;
use chronicle_core::Timestamp;

/// One event of a stream as the planner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its version.
    pub version: u64,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Carries a keep tag: never removed by an age or count limit.
    pub kept: bool,
}

/// The first version of a stream to keep under `limits` at `now` (its new
/// `truncate_before`), or `None` when nothing is to be removed.
/// `events` are the stream's visible events, oldest first; `last_version`
/// its last version. An event goes when its age or its count limit says
/// so; the cut stops at the first event that stays or is kept, so only a
/// prefix is ever removed.
///
/// ```
/// use chronicle_core::Timestamp;
/// use chronicle_retention::{Candidate, Limits, plan_cut};
/// let now = Timestamp::now();
/// let events: Vec<Candidate> = (1..=5).map(|version| Candidate { version, recorded_at: now, kept: version == 2 }).collect();
/// let keep_three = Limits { max_count: Some(3), ..Limits::default() };
/// assert_eq!(plan_cut(keep_three, 5, now, events.iter().copied()), Some(2), "version 1 goes; the kept 2 stops the cut");
/// ```
pub fn plan_cut(limits: Limits, last_version: u64, now: Timestamp, events: impl IntoIterator<Item = Candidate>) -> Option<u64> {
    let expiry = Expiry::new(limits, last_version, now);
    let mut events = events.into_iter().peekable();
    let first = events.peek()?.version;
    for event in events {
        if !expiry.removes(&event) {
            return (event.version > first).then_some(event.version);
        }
    }
    Some(last_version + 1)
}

/// Whether the limits of one stream remove an event (see [`plan_cut`]).
#[derive(Clone, Copy, Debug)]
pub struct Expiry {
    max_count: Option<u64>,
    last_version: u64,
    /// Events recorded before this (µs) are past the age limit.
    oldest_allowed: Option<i64>,
}

impl Expiry {
    /// The limits of a stream whose last version is `last_version`, at `now`.
    pub fn new(limits: Limits, last_version: u64, now: Timestamp) -> Self {
        let oldest_allowed = limits.max_age.map(|age| now.as_micros().saturating_sub(i64::try_from(age.as_micros()).unwrap_or(i64::MAX)));
        Self { max_count: limits.max_count, last_version, oldest_allowed }
    }

    /// Whether `event` goes: past a limit and not kept.
    pub fn removes(&self, event: &Candidate) -> bool {
        let by_count = self.max_count.is_some_and(|n| self.last_version.saturating_sub(event.version) >= n);
        let by_age = self.oldest_allowed.is_some_and(|t| event.recorded_at.as_micros() < t);
        !event.kept && (by_count || by_age)
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
