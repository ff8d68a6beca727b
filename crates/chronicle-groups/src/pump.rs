//! Feeding a group from the log, the same on every backend: catch up by
//! pages straight from `read_all` (no channel hop per event), then follow
//! the live subscription in batches of what is already read. Where the
//! events go — a node's in-memory ledger, or PostgreSQL rows — is the
//! [`Intake`]'s business.

use crate::Result;
use chronicle_core::{EventStore, Filter, ReadAll, RecordedEvent, StreamId, SubscribeFrom};
use futures_util::FutureExt;
use std::future::Future;

/// Events read per page while catching up.
const CATCH_UP_PAGE: usize = 1000;
/// Live events taken at once.
const LIVE_BATCH: usize = 512;

/// Where a feeder puts what it reads.
pub(crate) trait Intake: Sync {
    /// Returns once the group has room for more, with the last log
    /// position taken.
    fn room(&self) -> impl Future<Output = Result<u64>> + Send;
    /// Takes `events` (wanted or not: see [`wanted`]) and, when a page
    /// reached the head, that head as scanned.
    fn take(&self, events: Vec<RecordedEvent>, scanned: Option<u64>) -> impl Future<Output = Result<()>> + Send;
}

/// Whether a group with `filter` delivers `event` (never system streams).
pub(crate) fn wanted(filter: &Filter, event: &RecordedEvent) -> bool {
    if event.stream_id.as_str().starts_with('$') {
        return false;
    }
    // A tenant's events only to a group whose filter names its tenant.
    let names_tenant = filter.stream_id.as_ref().map(StreamId::as_str).or(filter.stream_prefix.as_deref()).or(filter.category.as_deref());
    if chronicle_core::is_tenant_stream(event.stream_id.as_str()) && !names_tenant.is_some_and(chronicle_core::is_tenant_stream) {
        return false;
    }
    if !filter.uses_metadata() {
        return filter.matches(event, &chronicle_core::Metadata::default());
    }
    event.well_known_metadata().is_ok_and(|meta| filter.matches(event, &meta))
}

/// Feeds `intake` until the store fails or shuts down.
pub(crate) async fn feed(store: &dyn EventStore, intake: &impl Intake) -> Result<()> {
    loop {
        let from = intake.room().await? + 1;
        let page = store.read_all(&ReadAll::forward().from(from).limit(CATCH_UP_PAGE)).await?;
        let caught_up = page.next.is_none();
        intake.take(page.events, caught_up.then_some(page.head)).await?;
        if caught_up {
            break;
        }
    }
    let from = intake.room().await? + 1;
    let mut events = store.subscribe(SubscribeFrom::Position(from), Filter::default()).await?;
    while let Some(first) = events.next().await {
        let mut batch = vec![first?];
        while batch.len() < LIVE_BATCH {
            match events.next().now_or_never() {
                Some(Some(event)) => batch.push(event?),
                _ => break,
            }
        }
        intake.room().await?;
        intake.take(batch, None).await?;
    }
    Err(chronicle_core::Error::Unavailable { reason: "the store shut down".into() }.into())
}
