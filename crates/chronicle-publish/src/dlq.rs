//! The dead-letter queue of a sink: core's [`ParkingLot`] in the system
//! stream `$dlq-{sink}` (entries, `replay`/`discard` markers, the relay's
//! `redelivered` records).

use crate::{PublishError, Result};
pub use chronicle_core::{DISCARD, ENTRY, ParkedEntry as DlqEntry, ParkingView as DlqView, REDELIVERED, REPLAY, Selection};
use chronicle_core::{EventStore, ParkingLot, StreamId, Uuid};
use std::sync::Arc;

/// A sink's DLQ over a store.
#[derive(Clone, Debug)]
pub struct Dlq {
    lot: ParkingLot,
    sink: String,
}

impl Dlq {
    /// The DLQ of `sink` (stream `$dlq-{sink}`).
    pub fn new(store: Arc<dyn EventStore>, sink: &str) -> Result<Self> {
        Ok(Self { lot: ParkingLot::new(store, StreamId::new(format!("$dlq-{sink}"))?), sink: sink.to_owned() })
    }

    /// The queue's stream.
    pub fn stream(&self) -> &StreamId {
        self.lot.stream()
    }

    /// Reads the records `view` has not seen yet into it.
    pub async fn refresh(&self, view: &mut DlqView) -> Result<()> {
        Ok(self.lot.refresh(view).await?)
    }

    /// The queue now.
    pub async fn view(&self) -> Result<DlqView> {
        Ok(self.lot.view().await?)
    }

    /// Adds an entry.
    pub async fn add(&self, entry: &DlqEntry) -> Result<()> {
        Ok(self.lot.add(entry).await?)
    }

    /// Records that a replayed event was handled.
    pub async fn redelivered(&self, event_id: Uuid) -> Result<()> {
        Ok(self.lot.redelivered(event_id).await?)
    }

    async fn check(&self, selection: &Selection) -> Result<()> {
        match self.lot.not_parked(selection).await? {
            Some(event_ids) => Err(PublishError::NotInDlq { sink: self.sink.clone(), event_ids }),
            None => Ok(()),
        }
    }

    /// Sends entries back to the relay for another delivery; returns the
    /// ids taken out of the queue.
    pub async fn replay(&self, selection: &Selection) -> Result<Vec<Uuid>> {
        self.check(selection).await?;
        Ok(self.lot.replay(selection).await?)
    }

    /// Drops entries from the queue (their records stay in the log).
    pub async fn discard(&self, selection: &Selection) -> Result<Vec<Uuid>> {
        self.check(selection).await?;
        Ok(self.lot.discard(selection).await?)
    }
}
