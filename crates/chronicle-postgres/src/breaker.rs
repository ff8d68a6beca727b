//! A small circuit breaker: after repeated connection failures, fail fast
//! for a while instead of piling up waits on a database that is down.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU32, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// Consecutive failures that open the circuit.
const THRESHOLD: u32 = 5;
/// How long it stays open.
const OPEN_FOR: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    /// `Some(remaining)` while the circuit is open.
    pub(crate) fn open_for(&self) -> Option<Duration> {
        let until = *self.open_until.lock().unwrap_or_else(PoisonError::into_inner);
        until.and_then(|u| u.checked_duration_since(Instant::now()))
    }

    pub(crate) fn success(&self) {
        self.failures.store(0, Relaxed);
    }

    pub(crate) fn failure(&self) {
        if self.failures.fetch_add(1, Relaxed) + 1 >= THRESHOLD {
            *self.open_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + OPEN_FOR);
            self.failures.store(0, Relaxed);
        }
    }
}
