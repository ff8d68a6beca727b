//! What this node's passes did, for `/metrics`: events removed per rule,
//! bytes reclaimed, the last pass's time and duration, the next one's time.

use crate::PassReport;
use chronicle_core::Timestamp;
use std::{collections::BTreeMap, fmt::Write as _, sync::Mutex, time::Duration};

/// Counters and gauges of the passes run in this process.
#[derive(Debug, Default)]
pub(crate) struct RetentionMetrics {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    removed: BTreeMap<String, u64>,
    reclaimed_bytes: u64,
    passes: u64,
    last: Option<(Timestamp, Duration)>,
    next: Option<Timestamp>,
}

/// A label value escaped for the text exposition format.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn seconds(t: Timestamp) -> f64 {
    t.as_micros() as f64 / 1e6
}

impl RetentionMetrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a pass that changed the store (not a dry run).
    pub(crate) fn observe(&self, report: &PassReport, took: Duration) {
        let mut state = self.state();
        for rule in &report.rules {
            *state.removed.entry(rule.rule.clone()).or_default() += rule.events;
        }
        state.reclaimed_bytes += report.reclaimed.as_ref().map_or(0, |r| r.bytes_freed);
        state.passes += 1;
        state.last = Some((report.started_at, took));
    }

    /// When the next scheduled pass is due.
    pub(crate) fn set_next(&self, at: Timestamp) {
        self.state().next = Some(at);
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let state = self.state();
        let mut out = String::new();
        let name = "chronicle_retention_removed_total";
        let _ = writeln!(out, "# HELP {name} Events removed by retention on this node, per rule.\n# TYPE {name} counter");
        for (rule, n) in &state.removed {
            let _ = writeln!(out, "{name}{{rule=\"{}\"}} {n}", label(rule));
        }
        let mut line = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        line(
            "chronicle_retention_passes_total",
            "counter",
            "Retention passes run on this node (dry runs excluded).",
            state.passes.to_string(),
        );
        line(
            "chronicle_retention_reclaimed_bytes_total",
            "counter",
            "Bytes of storage freed by retention passes on this node.",
            state.reclaimed_bytes.to_string(),
        );
        if let Some((at, took)) = state.last {
            line(
                "chronicle_retention_last_run_timestamp_seconds",
                "gauge",
                "When the last pass on this node started.",
                seconds(at).to_string(),
            );
            line(
                "chronicle_retention_last_run_duration_seconds",
                "gauge",
                "How long the last pass on this node took.",
                took.as_secs_f64().to_string(),
            );
        }
        if let Some(at) = state.next {
            line(
                "chronicle_retention_next_run_timestamp_seconds",
                "gauge",
                "When this node's next scheduled pass is due.",
                seconds(at).to_string(),
            );
        }
        out
    }
}
