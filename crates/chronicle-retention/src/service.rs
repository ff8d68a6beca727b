//! Retention as a node runs it: a pass on demand or on schedule, each one
//! cutting ([`enforce`]), then reclaiming the space through the backend's
//! maintenance (file: rewriting the segments that hold what was cut;
//! PostgreSQL: deleting the rows), recorded in `$retention` and measured.

use crate::{PassReport, Result, RetentionSettings, enforce, metrics::RetentionMetrics};
use chronicle_core::{
    Error, EventStore, ExpectedVersion, Leases, Maintenance, NewEvent, ReadStream, ScavengeReport, StreamId, StreamMetadata, Timestamp,
};
use std::{sync::Arc, time::Instant};
use tokio::sync::{Mutex, watch};

/// The lease a scheduled pass holds (on PostgreSQL several nodes share a
/// store: a pass is idempotent, but one at a time is enough).
pub const LEASE: &str = "retention";
/// The stream every pass that changed something is recorded in.
pub const RETENTION_STREAM: &str = "$retention";
/// The event type of those records (the data: the [`PassReport`]).
pub const PASS_EVENT: &str = "RetentionEnforced";
/// How many records `$retention` keeps (its own `max_count`).
const RECORDS_KEPT: u64 = 10_000;

/// Retention over one store: passes, their schedule, their metrics.
///
/// ```
/// use chronicle_core::{EventStore, ExpectedVersion, NewEvent, NoMaintenance, ReadStream, StreamId};
/// use chronicle_retention::{Retention, RetentionSettings};
/// use std::sync::Arc;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(chronicle_memory::MemoryStore::new());
/// let stream = StreamId::new("telemetry-1")?;
/// let events = (0..5).map(|i| NewEvent::json("Reading", &serde_json::json!({ "i": i }))).collect::<Result<Vec<_>, _>>()?;
/// store.append(&stream, ExpectedVersion::Any, events).await?;
/// let policy: toml::Table = toml::from_str("[[rules]]\ncategory = \"telemetry\"\nmax_count = 2")?;
/// let retention = Retention::new(store.clone(), Arc::new(NoMaintenance("memory")), RetentionSettings::from_table(&policy)?);
/// assert_eq!(retention.run("cli", true).await?.events(), 3); // a dry run: nothing changes
/// assert_eq!(retention.run("cli", false).await?.events(), 3);
/// let left: Vec<u64> = store.read_stream(&stream, ReadStream::forward()).await?.iter().map(|e| e.version).collect();
/// assert_eq!(left, [4, 5]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Retention {
    store: Arc<dyn EventStore>,
    maintenance: Arc<dyn Maintenance>,
    settings: RetentionSettings,
    metrics: RetentionMetrics,
    /// One pass at a time in this process (a request during a scheduled pass waits).
    running: Mutex<()>,
}

impl Retention {
    /// Retention of `settings` over `store`, reclaiming through `maintenance`
    /// (the handle over this very store).
    pub fn new(store: Arc<dyn EventStore>, maintenance: Arc<dyn Maintenance>, settings: RetentionSettings) -> Self {
        Self { store, maintenance, settings, metrics: RetentionMetrics::default(), running: Mutex::new(()) }
    }

    /// The policy in force.
    pub fn settings(&self) -> &RetentionSettings {
        &self.settings
    }

    /// One pass at the current time: cut every bound stream, then (unless
    /// `dry_run`) reclaim the space and record the pass in `$retention`.
    /// `trigger` says what started it (`schedule`, `cli`, `http`).
    pub async fn run(&self, trigger: &str, dry_run: bool) -> Result<PassReport> {
        let _one = self.running.lock().await;
        let started = Instant::now();
        let mut report = enforce(self.store.as_ref(), &self.settings, Timestamp::now(), dry_run).await?;
        report.trigger = trigger.to_owned();
        if dry_run {
            report.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }
        if self.settings.is_active() {
            let reclaiming = Instant::now();
            report.reclaimed = self.reclaim().await?;
            report.reclaim_ms = reclaiming.elapsed().as_millis() as u64;
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        if report.events() > 0 || report.reclaimed.as_ref().is_some_and(|r| r.events_removed > 0) {
            self.record(&report).await?;
        }
        self.metrics.observe(&report, started.elapsed());
        Ok(report)
    }

    /// Reclaims what is hidden for good; `None` when the backend keeps no
    /// storage of its own.
    async fn reclaim(&self) -> Result<Option<ScavengeReport>> {
        let maintenance = self.maintenance.clone();
        let done = tokio::task::spawn_blocking(move || maintenance.reclaim(&mut |_, _| {}))
            .await
            .map_err(|e| Error::Unavailable { reason: format!("the reclaim task stopped: {e}") })?;
        match done {
            Ok(report) => Ok(Some(report)),
            Err(Error::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends the pass to `$retention` (created bounded to its last
    /// [`RECORDS_KEPT`] records).
    async fn record(&self, report: &PassReport) -> Result<()> {
        let stream = StreamId::new(RETENTION_STREAM)?;
        let event = NewEvent::json(PASS_EVENT, report).map_err(|e| Error::invalid("retention report", e.to_string()))?;
        let appended = self.store.append(&stream, ExpectedVersion::Any, vec![event]).await?;
        if appended.first_version == 1 {
            let metadata = StreamMetadata { max_count: Some(RECORDS_KEPT), ..StreamMetadata::default() };
            self.store.set_stream_metadata(&stream, metadata).await?;
        }
        Ok(())
    }

    /// Runs a pass every `interval` until `shutdown` turns true, whenever
    /// this node holds the lease [`LEASE`] (returns at once when no policy
    /// is configured). A failed pass is logged and retried next interval.
    pub async fn schedule(self: Arc<Self>, leases: Arc<dyn Leases>, node: String, mut shutdown: watch::Receiver<bool>) {
        if !self.settings.is_active() {
            return;
        }
        loop {
            self.metrics.set_next(Timestamp::from_micros(
                Timestamp::now().as_micros().saturating_add(self.settings.interval.as_micros().min(i64::MAX as u128) as i64),
            ));
            tokio::select! {
                () = tokio::time::sleep(self.settings.interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let lease = match leases.try_acquire(LEASE, &node).await {
                Ok(Some(lease)) => lease,
                Ok(None) => continue, // another node enforces this round
                Err(e) => {
                    tracing::warn!("retention: taking the lease: {e}");
                    continue;
                }
            };
            match self.run("schedule", false).await {
                Ok(report) => tracing::info!(
                    streams = report.streams_examined,
                    removed = report.events(),
                    reclaimed_bytes = report.reclaimed.as_ref().map_or(0, |r| r.bytes_freed),
                    ms = report.duration_ms,
                    "retention pass"
                ),
                Err(e) => tracing::warn!("retention pass failed: {e}"),
            }
            drop(lease);
        }
    }

    /// The Prometheus text of this node's passes.
    pub fn render_prometheus(&self) -> String {
        self.metrics.render()
    }
}

/// The last pass recorded in `store`'s `$retention`, if any.
pub async fn last_pass(store: &dyn EventStore) -> Result<Option<PassReport>> {
    let stream = StreamId::new(RETENTION_STREAM)?;
    let events = store.read_stream(&stream, ReadStream::backward().limit(1)).await?;
    let last = events.first().map(|e| e.data.decode::<PassReport>()).transpose();
    last.map_err(|e| Error::Corrupted { location: RETENTION_STREAM.to_owned(), reason: format!("unreadable pass record: {e}") }.into())
}
