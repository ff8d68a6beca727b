//! Enforcement on schedule: every `interval`, one pass by whichever node
//! holds the lease `retention` (on PostgreSQL several nodes share a store;
//! a pass is idempotent, but one is enough).

use crate::{RetentionSettings, enforce};
use chronicle_core::{EventStore, Leases, Timestamp};
use std::sync::Arc;
use tokio::sync::watch;

/// The lease a scheduled pass holds.
pub const LEASE: &str = "retention";

/// Runs a pass every `settings.interval` until `shutdown` turns true
/// (returns at once when no policy is configured).
pub async fn schedule(
    store: Arc<dyn EventStore>,
    leases: Arc<dyn Leases>,
    settings: RetentionSettings,
    node: String,
    mut shutdown: watch::Receiver<bool>,
) {
    if !settings.is_active() {
        return;
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(settings.interval) => {}
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
        let started = std::time::Instant::now();
        match enforce(store.as_ref(), &settings, Timestamp::now(), false).await {
            Ok(report) => tracing::info!(
                streams = report.streams_examined,
                removed = report.events(),
                ms = started.elapsed().as_millis() as u64,
                "retention pass"
            ),
            Err(e) => tracing::warn!("retention pass failed: {e}"),
        }
        drop(lease);
    }
}
