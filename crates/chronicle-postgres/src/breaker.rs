//! A small circuit breaker: after repeated connection failures, fail fast
//! for a while instead of piling up waits on a database that is down.

use chronicle_core::BreakerState;
use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed},
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
    /// When the circuit last opened until; cleared by a success.
    open_until: Mutex<Option<Instant>>,
    /// Whether `open_until` is set (so a success on the hot path takes no lock).
    tripped: AtomicBool,
    trips: AtomicU64,
}

impl Breaker {
    /// `Some(remaining)` while the circuit is open.
    pub(crate) fn open_for(&self) -> Option<Duration> {
        let until = *self.open_until.lock().unwrap_or_else(PoisonError::into_inner);
        until.and_then(|u| u.checked_duration_since(Instant::now()))
    }

    pub(crate) fn success(&self) {
        if self.failures.load(Relaxed) != 0 {
            self.failures.store(0, Relaxed);
        }
        if self.tripped.load(Relaxed) {
            // Under the lock, so a concurrent `failure` cannot set the
            // deadline between the two writes and be forgotten.
            let mut until = self.open_until.lock().unwrap_or_else(PoisonError::into_inner);
            *until = None;
            self.tripped.store(false, Relaxed);
        }
    }

    pub(crate) fn failure(&self) {
        let mut until = self.open_until.lock().unwrap_or_else(PoisonError::into_inner);
        // Half open: one failed try opens the circuit again.
        let half_open = until.is_some_and(|u| u <= Instant::now());
        if half_open || self.failures.fetch_add(1, Relaxed) + 1 >= THRESHOLD {
            *until = Some(Instant::now() + OPEN_FOR);
            self.tripped.store(true, Relaxed);
            self.failures.store(0, Relaxed);
            self.trips.fetch_add(1, Relaxed);
            tracing::warn!("postgres unreachable: circuit breaker open for {} ms", OPEN_FOR.as_millis());
        }
    }

    /// Closed, open, or half open (the open period ended and no request
    /// has succeeded since).
    pub(crate) fn state(&self) -> BreakerState {
        match *self.open_until.lock().unwrap_or_else(PoisonError::into_inner) {
            None => BreakerState::Closed,
            Some(u) if u > Instant::now() => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Times the circuit opened.
    pub(crate) fn trips(&self) -> u64 {
        self.trips.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_on_success() {
        let b = Breaker::default();
        for _ in 0..THRESHOLD - 1 {
            b.failure();
        }
        assert_eq!((b.state(), b.trips()), (BreakerState::Closed, 0));
        b.failure();
        assert_eq!((b.state(), b.trips()), (BreakerState::Open, 1));
        assert!(b.open_for().is_some());
        // The open period ends: half open; one failure opens it again.
        *b.open_until.lock().unwrap() = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.open_for().is_none(), "a request may try");
        b.failure();
        assert_eq!((b.state(), b.trips()), (BreakerState::Open, 2));
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
