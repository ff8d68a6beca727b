//! Command counters, exported as Prometheus text.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// Counters of command outcomes (one set per repository or shared).
#[derive(Debug, Default)]
pub struct CommandMetrics {
    /// Commands that recorded their events.
    pub succeeded: AtomicU64,
    /// Commands the aggregate rejected or that failed otherwise.
    pub failed: AtomicU64,
    /// Optimistic-concurrency conflicts met (each retried or given up).
    pub conflicts: AtomicU64,
    /// Snapshots written.
    pub snapshots: AtomicU64,
}

impl CommandMetrics {
    /// Prometheus text exposition, with `category` as a label.
    pub fn render(&self, category: &str) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            ("chronicle_commands_succeeded_total", "Commands whose events were recorded.", &self.succeeded),
            ("chronicle_commands_failed_total", "Commands rejected or failed.", &self.failed),
            ("chronicle_command_conflicts_total", "Concurrency conflicts met by commands.", &self.conflicts),
            ("chronicle_snapshots_written_total", "Snapshots written.", &self.snapshots),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{category=\"{category}\"}} {}", v.load(Relaxed));
        }
        out
    }
}
