//! Prometheus metrics: latency histograms kept by the server, counters
//! from the store, subscriber gauges.

use chronicle_core::StoreMetrics;
use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Histogram bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// A fixed-bucket latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    overflow: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        match BUCKETS.iter().position(|&b| secs <= b) {
            Some(i) => self.counts.get(i).map(|c| c.fetch_add(1, Relaxed)),
            None => Some(self.overflow.fetch_add(1, Relaxed)),
        };
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.overflow.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// What the server measures itself.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// Append request latency.
    pub append_latency: Histogram,
    /// Read request latency.
    pub read_latency: Histogram,
    /// Open SSE subscribers.
    pub sse_subscribers: AtomicU64,
    /// Open WebSocket subscribers.
    pub ws_subscribers: AtomicU64,
    /// Largest lag (head − delivered position) seen by an SSE or WebSocket subscriber at a delivery.
    pub subscriber_max_lag: AtomicU64,
}

fn counter(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

impl HttpMetrics {
    /// The Prometheus text exposition.
    pub fn render(&self, store: &StoreMetrics, storage_bytes: Option<u64>) -> String {
        let mut out = String::with_capacity(4096);
        self.append_latency.render("chronicle_append_duration_seconds", "Latency of append requests.", &mut out);
        self.read_latency.render("chronicle_read_duration_seconds", "Latency of read requests.", &mut out);
        counter(&mut out, "chronicle_appends_total", "Append calls that stored events.", "counter", store.appends);
        counter(&mut out, "chronicle_events_appended_total", "Events stored.", "counter", store.events_appended);
        counter(
            &mut out,
            "chronicle_idempotent_appends_total",
            "Appends answered from an identical earlier append.",
            "counter",
            store.idempotent_appends,
        );
        counter(
            &mut out,
            "chronicle_append_conflicts_total",
            "Appends rejected by a version or DCB conflict.",
            "counter",
            store.append_conflicts,
        );
        counter(
            &mut out,
            "chronicle_append_rejections_total",
            "Appends rejected by validation or errors.",
            "counter",
            store.append_rejections,
        );
        counter(&mut out, "chronicle_reads_total", "Read calls.", "counter", store.reads);
        counter(&mut out, "chronicle_events_read_total", "Events returned by reads.", "counter", store.events_read);
        counter(&mut out, "chronicle_head_position", "The last global position.", "gauge", store.head_position);
        counter(&mut out, "chronicle_subscriptions", "Open store subscriptions.", "gauge", store.active_subscriptions);
        counter(&mut out, "chronicle_sse_subscribers", "Open SSE subscribers.", "gauge", self.sse_subscribers.load(Relaxed));
        counter(&mut out, "chronicle_ws_subscribers", "Open WebSocket subscribers.", "gauge", self.ws_subscribers.load(Relaxed));
        counter(
            &mut out,
            "chronicle_subscriber_lag_events",
            "Largest subscriber lag behind the head, in events.",
            "gauge",
            self.subscriber_max_lag.load(Relaxed),
        );
        if let Some(bytes) = storage_bytes {
            counter(&mut out, "chronicle_storage_bytes", "Bytes of stored data on disk.", "gauge", bytes);
        }
        out
    }
}
