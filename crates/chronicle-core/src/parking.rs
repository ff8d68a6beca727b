//! A parking lot: events a deliverer gave up on (a publishing sink's
//! dead-letter queue, a consumer group's parked events), kept as records
//! in a system stream, append-only like everything else. An entry leaves
//! the lot when a later `replay` or `discard` marker names it; the lot's
//! size is the entries without a marker. Replayed entries wait in the
//! replay queue until the deliverer appends `redelivered` for them.

use crate::{Error, EventStore, ExpectedVersion, NewEvent, ReadStream, RecordedEvent, Result, StreamId, Uuid};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, sync::Arc};

/// Event type of an entry.
pub const ENTRY: &str = "dlq.entry";
/// Event type of a replay marker.
pub const REPLAY: &str = "dlq.replay";
/// Event type of a discard marker.
pub const DISCARD: &str = "dlq.discard";
/// Event type of the relay's record that a replayed event was handled.
pub const REDELIVERED: &str = "dlq.redelivered";

/// Records read per page.
const PAGE: usize = 1000;

/// One parked event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEntry {
    /// The event's id.
    pub event_id: Uuid,
    /// Its global position.
    pub position: u64,
    /// Its stream.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// Delivery attempts made (0: refused by a hook, never sent).
    pub attempts: u32,
    /// The last failure.
    pub last_error: String,
    /// When it was parked (RFC 3339, set from the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    event_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Redelivered {
    event_id: Uuid,
}

/// Which entries an operation names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every entry in the queue now.
    All,
    /// These entries (each must be in the queue).
    Ids(Vec<Uuid>),
}

/// The queue folded from its records.
#[derive(Clone, Debug, Default)]
pub struct ParkingView {
    pending: Vec<ParkedEntry>,
    index: HashMap<Uuid, usize>,
    replay: Vec<ParkedEntry>,
    next_version: u64,
}

impl ParkingView {
    /// The entries in the queue, oldest first.
    pub fn entries(&self) -> &[ParkedEntry] {
        &self.pending
    }

    /// The queue's size.
    pub fn size(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Which of `ids` are not in the lot.
    pub fn missing(&self, ids: &[Uuid]) -> Vec<Uuid> {
        ids.iter().filter(|id| !self.index.contains_key(id)).copied().collect()
    }

    /// Entries replayed but not yet redelivered, in replay order.
    pub fn replay_queue(&self) -> &[ParkedEntry] {
        &self.replay
    }

    fn remove(&mut self, id: &Uuid) -> Option<ParkedEntry> {
        let at = self.index.remove(id)?;
        let entry = self.pending.remove(at);
        self.index.values_mut().filter(|i| **i > at).for_each(|i| *i -= 1);
        Some(entry)
    }

    fn apply(&mut self, record: &RecordedEvent) {
        self.next_version = record.version + 1;
        match &*record.event_type {
            ENTRY => {
                let Ok(mut entry) = serde_json::from_slice::<ParkedEntry>(record.data.as_bytes()) else { return };
                entry.dead_lettered_at = Some(record.recorded_at.to_string());
                self.remove(&entry.event_id);
                self.index.insert(entry.event_id, self.pending.len());
                self.pending.push(entry);
            }
            REPLAY | DISCARD => {
                let Ok(marker) = serde_json::from_slice::<Marker>(record.data.as_bytes()) else { return };
                for id in &marker.event_ids {
                    if let Some(entry) = self.remove(id)
                        && &*record.event_type == REPLAY
                    {
                        self.replay.push(entry);
                    }
                }
            }
            REDELIVERED => {
                let Ok(done) = serde_json::from_slice::<Redelivered>(record.data.as_bytes()) else { return };
                self.replay.retain(|e| e.event_id != done.event_id);
            }
            _ => {}
        }
    }
}

/// A parking lot over a store.
#[derive(Clone, Debug)]
pub struct ParkingLot {
    store: Arc<dyn EventStore>,
    stream: StreamId,
}

impl ParkingLot {
    /// The lot kept in `stream` (e.g. `$dlq-{sink}`).
    pub fn new(store: Arc<dyn EventStore>, stream: StreamId) -> Self {
        Self { stream, store }
    }

    /// The lot's stream.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// Reads the records `view` has not seen yet into it.
    pub async fn refresh(&self, view: &mut ParkingView) -> Result<()> {
        loop {
            let from = view.next_version.max(1);
            let records = self.store.read_stream(&self.stream, ReadStream::forward().from(from).limit(PAGE)).await?;
            records.iter().for_each(|r| view.apply(r));
            if records.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// The queue now.
    pub async fn view(&self) -> Result<ParkingView> {
        let mut view = ParkingView::default();
        self.refresh(&mut view).await?;
        Ok(view)
    }

    async fn append(&self, event_type: &str, data: &impl Serialize) -> Result<()> {
        let event = NewEvent::json(event_type, data).map_err(|e| Error::invalid("data", e.to_string()))?;
        self.store.append(&self.stream, ExpectedVersion::Any, vec![event]).await?;
        Ok(())
    }

    /// Adds an entry.
    pub async fn add(&self, entry: &ParkedEntry) -> Result<()> {
        self.append(ENTRY, entry).await
    }

    /// Records that a replayed event was handled (delivered, skipped or
    /// dead-lettered again).
    pub async fn redelivered(&self, event_id: Uuid) -> Result<()> {
        self.append(REDELIVERED, &Redelivered { event_id }).await
    }

    async fn mark(&self, event_type: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        let view = self.view().await?;
        let ids: Vec<Uuid> = match selection {
            Selection::All => view.pending.iter().map(|e| e.event_id).collect(),
            Selection::Ids(ids) => {
                let missing = view.missing(ids);
                if !missing.is_empty() {
                    let ids: Vec<String> = missing.iter().map(Uuid::to_string).collect();
                    return Err(Error::NotFound { what: format!("in {}: {}", self.stream, ids.join(", ")) });
                }
                ids.clone()
            }
        };
        if !ids.is_empty() {
            self.append(event_type, &Marker { event_ids: ids.clone() }).await?;
        }
        Ok(ids)
    }

    /// Sends entries back to the deliverer for another delivery; returns
    /// the ids taken out of the lot (an id not in it: `NotFound`, and
    /// nothing is marked).
    pub async fn replay(&self, selection: &Selection) -> Result<Vec<Uuid>> {
        self.mark(REPLAY, selection).await
    }

    /// The ids of `selection` that are not parked here, comma-separated
    /// (`None`: all are, or the selection is everything) — check before
    /// [`ParkingLot::replay`] or [`ParkingLot::discard`] so that a bad id
    /// changes nothing.
    pub async fn not_parked(&self, selection: &Selection) -> Result<Option<String>> {
        let Selection::Ids(ids) = selection else { return Ok(None) };
        let missing = self.view().await?.missing(ids);
        Ok((!missing.is_empty()).then(|| missing.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")))
    }

    /// Drops entries from the queue (their records stay in the log).
    pub async fn discard(&self, selection: &Selection) -> Result<Vec<Uuid>> {
        self.mark(DISCARD, selection).await
    }
}
