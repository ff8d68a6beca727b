//! One result row, percentiles, and the human table.

/// One row of the results (`--json` prints these under `results`). Fields
/// that do not apply to a workload are null.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct BenchResult {
    pub(crate) workload: &'static str,
    pub(crate) backend: &'static str,
    /// `chronicle serve` nodes the load went through (`--nodes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nodes: Option<usize>,
    pub(crate) writers: Option<usize>,
    pub(crate) batch: Option<usize>,
    pub(crate) events: Option<u64>,
    pub(crate) events_per_sec: Option<f64>,
    pub(crate) p50_us: Option<u64>,
    pub(crate) p95_us: Option<u64>,
    pub(crate) p99_us: Option<u64>,
    pub(crate) p999_us: Option<u64>,
    pub(crate) bytes_per_event: Option<f64>,
    pub(crate) baseline: Option<String>,
    pub(crate) baseline_events_per_sec: Option<f64>,
    pub(crate) baseline_bytes_per_event: Option<f64>,
    pub(crate) ratio: Option<f64>,
}

impl BenchResult {
    /// Sets latency percentiles from unsorted microsecond samples.
    pub(crate) fn latencies(mut self, mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        self.p50_us = percentile(&samples, 50.0);
        self.p95_us = percentile(&samples, 95.0);
        self.p99_us = percentile(&samples, 99.0);
        self.p999_us = percentile(&samples, 99.9);
        self
    }

    /// Sets a throughput baseline and the ratio to it.
    pub(crate) fn baseline(mut self, what: impl Into<String>, events_per_sec: f64) -> Self {
        self.baseline = Some(what.into());
        self.baseline_events_per_sec = Some(events_per_sec);
        self.ratio = self.events_per_sec.map(|e| e / events_per_sec);
        self
    }
}

/// The `p`-th percentile (0..=100) of sorted samples.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((last as f64) * p / 100.0).round() as usize).copied()
}

pub(crate) fn table(results: &[BenchResult], revision: &str, cores: usize) -> String {
    let mut t = format!("chronicle bench — revision {revision}, {cores} cores\n");
    t += &format!(
        "{:<14} {:<7} {:>7} {:>5} {:>9} {:>11} {:>7} {:>7} {:>7} {:>8} {:>8} {:>11} {:>6}  baseline\n",
        "workload",
        "backend",
        "writers",
        "batch",
        "events",
        "events/s",
        "p50 µs",
        "p95 µs",
        "p99 µs",
        "p999 µs",
        "B/event",
        "baseline",
        "ratio"
    );
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| if v < 100.0 { format!("{v:.1}") } else { format!("{v:.0}") });
    let u = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let z = |v: Option<usize>| v.map_or("-".to_owned(), |v| v.to_string());
    for r in results {
        let workload = match r.nodes {
            Some(n) => format!("{}@{n}", r.workload),
            None => r.workload.to_owned(),
        };
        t += &format!(
            "{:<14} {:<7} {:>7} {:>5} {:>9} {:>11} {:>7} {:>7} {:>7} {:>8} {:>8} {:>11} {:>6}  {}\n",
            workload,
            r.backend,
            z(r.writers),
            z(r.batch),
            u(r.events),
            f(r.events_per_sec),
            u(r.p50_us),
            u(r.p95_us),
            u(r.p99_us),
            u(r.p999_us),
            f(r.bytes_per_event),
            f(r.baseline_events_per_sec.or(r.baseline_bytes_per_event)),
            r.ratio.map_or("-".to_owned(), |v| format!("{v:.2}")),
            r.baseline.as_deref().unwrap_or("-")
        );
    }
    t
}
