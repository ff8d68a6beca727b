//! Health and operation counters every backend reports.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Liveness and readiness of a store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// The process can make progress (restart it if false).
    pub live: bool,
    /// The store can serve requests now (route traffic elsewhere if false).
    pub ready: bool,
    /// Human-readable detail (backend, cause of unreadiness).
    pub detail: String,
}

impl Health {
    /// A healthy store.
    pub fn ok(detail: impl Into<String>) -> Self {
        Self { live: true, ready: true, detail: detail.into() }
    }
}

/// A point-in-time copy of a store's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreMetrics {
    /// Append calls that stored events.
    pub appends: u64,
    /// Events stored.
    pub events_appended: u64,
    /// Append calls answered from an earlier identical append.
    pub idempotent_appends: u64,
    /// Appends rejected by an expected-version or DCB conflict.
    pub append_conflicts: u64,
    /// Appends rejected by validation.
    pub append_rejections: u64,
    /// Read calls (stream, all, by id).
    pub reads: u64,
    /// Events returned by reads.
    pub events_read: u64,
    /// Subscriptions currently open.
    pub active_subscriptions: u64,
    /// The last global position.
    pub head_position: u64,
}

/// Lock-free counters behind [`StoreMetrics`]; backends own one.
#[derive(Debug, Default)]
pub struct Metrics {
    appends: AtomicU64,
    events_appended: AtomicU64,
    idempotent_appends: AtomicU64,
    append_conflicts: AtomicU64,
    append_rejections: AtomicU64,
    reads: AtomicU64,
    events_read: AtomicU64,
    active_subscriptions: AtomicU64,
}

impl Metrics {
    /// Counts the outcome of one append call that stored `events` events
    /// (or failed with `err`).
    pub fn record_append<T>(&self, outcome: &crate::Result<T>, events: usize, idempotent: bool) {
        match outcome {
            Ok(_) if idempotent => {
                self.idempotent_appends.fetch_add(1, Relaxed);
            }
            Ok(_) => {
                self.appends.fetch_add(1, Relaxed);
                self.events_appended.fetch_add(events as u64, Relaxed);
            }
            Err(crate::Error::WrongExpectedVersion { .. } | crate::Error::AppendConditionFailed { .. }) => {
                self.append_conflicts.fetch_add(1, Relaxed);
            }
            Err(_) => {
                self.append_rejections.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts one read call returning `events` events.
    pub fn record_read(&self, events: usize) {
        self.reads.fetch_add(1, Relaxed);
        self.events_read.fetch_add(events as u64, Relaxed);
    }

    /// A subscription opened; the guard counts it closed when dropped.
    pub fn subscription_opened(self: &std::sync::Arc<Self>) -> SubscriptionGauge {
        self.active_subscriptions.fetch_add(1, Relaxed);
        SubscriptionGauge(self.clone())
    }

    /// Copies the counters.
    pub fn snapshot(&self, head_position: u64) -> StoreMetrics {
        StoreMetrics {
            appends: self.appends.load(Relaxed),
            events_appended: self.events_appended.load(Relaxed),
            idempotent_appends: self.idempotent_appends.load(Relaxed),
            append_conflicts: self.append_conflicts.load(Relaxed),
            append_rejections: self.append_rejections.load(Relaxed),
            reads: self.reads.load(Relaxed),
            events_read: self.events_read.load(Relaxed),
            active_subscriptions: self.active_subscriptions.load(Relaxed),
            head_position,
        }
    }
}

/// Decrements the open-subscription gauge when dropped.
#[derive(Debug)]
pub struct SubscriptionGauge(std::sync::Arc<Metrics>);

impl Drop for SubscriptionGauge {
    fn drop(&mut self) {
        self.0.active_subscriptions.fetch_sub(1, Relaxed);
    }
}
