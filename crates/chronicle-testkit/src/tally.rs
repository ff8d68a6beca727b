//! The final tally of a consumer-group test: what each consumer handled,
//! checked for at-least-once delivery and per-stream order.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

/// One event a consumer handled (recorded before its ack was sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// The test's number of the event (its data's `n`).
    pub n: u64,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub version: u64,
    /// The delivery's `retry_count`.
    pub retry: u32,
    /// When it was handled, in nanoseconds since the epoch.
    pub at: u128,
}

impl Handled {
    /// A record of now.
    pub fn now(n: u64, stream: impl Into<String>, version: u64, retry: u32) -> Self {
        let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self { n, stream: stream.into(), version, retry, at }
    }
}

/// What the tally found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Handlings, all consumers together.
    pub handled: usize,
    /// Of them, redeliveries (`retry_count` > 0).
    pub redelivered: usize,
    /// Events handled more than once.
    pub twice: usize,
}

/// Checks, for consumers that each handled `per_consumer[i]` in order:
/// every event `0..events` handled; no first delivery (`retry_count` 0)
/// handled twice; and, when `pinned`, each consumer got the fresh events of
/// each stream in version order and no event was first handled before the
/// one before it in its stream (`poison`, replayed late by design, is left
/// out of the order checks). Panics with the first violation.
pub fn check(per_consumer: &[Vec<Handled>], events: u64, poison: Option<u64>, pinned: bool) -> Summary {
    let mut tally: BTreeMap<u64, u32> = BTreeMap::new();
    let mut first: BTreeMap<u64, u32> = BTreeMap::new();
    for h in per_consumer.iter().flatten() {
        *tally.entry(h.n).or_default() += 1;
        if h.retry == 0 {
            *first.entry(h.n).or_default() += 1;
        }
    }
    let missing: Vec<u64> = (0..events).filter(|n| !tally.contains_key(n)).take(10).collect();
    assert!(missing.is_empty(), "events never handled (first 10): {missing:?}");
    let twice: Vec<_> = first.iter().filter(|(_, c)| **c > 1).take(10).collect();
    assert!(twice.is_empty(), "a first delivery handled more than once: {twice:?}");
    if pinned {
        check_order(per_consumer, poison);
    }
    Summary {
        handled: per_consumer.iter().map(Vec::len).sum(),
        redelivered: per_consumer.iter().flatten().filter(|h| h.retry > 0).count(),
        twice: tally.values().filter(|c| **c > 1).count(),
    }
}

fn check_order(per_consumer: &[Vec<Handled>], poison: Option<u64>) {
    // As the server hands events out: fresh ones of a stream in order ...
    for handled in per_consumer {
        let mut last: HashMap<&str, u64> = HashMap::new();
        for h in handled.iter().filter(|h| h.retry == 0 && Some(h.n) != poison) {
            let previous = last.insert(h.stream.as_str(), h.version).unwrap_or(0);
            assert!(h.version > previous, "stream {}: fresh version {} after {previous}", h.stream, h.version);
        }
    }
    // ... and across consumers, nothing handled before its predecessor was.
    let mut first_at: HashMap<(&str, u64), (u128, u64)> = HashMap::new();
    for h in per_consumer.iter().flatten() {
        let slot = first_at.entry((h.stream.as_str(), h.version)).or_insert((h.at, h.n));
        slot.0 = slot.0.min(h.at);
    }
    for (&(stream, version), &(at, n)) in &first_at {
        let Some(&(before, m)) = first_at.get(&(stream, version.wrapping_sub(1))) else { continue };
        if Some(n) == poison || Some(m) == poison {
            continue;
        }
        assert!(at > before, "stream {stream}: version {version} handled before version {}", version.wrapping_sub(1));
    }
}
