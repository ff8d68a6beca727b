//! One group at run time on this node: its ledger behind a lock, the pump
//! that feeds it from the log, the housekeeping that saves its progress
//! and picks up replays, and the consumers' side (claim, ack, nack, park).

use crate::pump::{Intake, wanted};
use crate::{Delivery, GroupError, GroupSpec, Ledger, NackAction, Progress, Result, ToPark, backoff_for};
use chronicle_core::{EventStore, Filter, ParkedEntry, ParkingLot, RecordedEvent, Snapshot, StreamId, Uuid};
use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{sync::Notify, task::JoinHandle};

/// Buffered, unhandled events per group; the pump waits beyond this.
pub(crate) const BUFFER: usize = 10_000;
/// How often progress is saved (when it changed) and replays are picked up.
const HOUSEKEEPING: Duration = Duration::from_millis(500);

pub(crate) struct Group {
    pub(crate) name: String,
    store: Arc<dyn EventStore>,
    filter: Filter,
    ledger: Mutex<Ledger>,
    pub(crate) changed: Notify,
    pub(crate) lot: ParkingLot,
    snapshot: StreamId,
    version: AtomicU64,
    pub(crate) deleted: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The system streams of a group.
pub(crate) fn streams(name: &str) -> Result<(StreamId, StreamId)> {
    Ok((Progress::stream(name)?, StreamId::new(format!("$group-parked-{name}"))?))
}

/// The parking-lot record of `event`, given up after `attempts` deliveries.
pub(crate) fn parked_entry(event: &RecordedEvent, attempts: u32, reason: String) -> ParkedEntry {
    ParkedEntry {
        event_id: event.event_id,
        position: event.global_position,
        stream_id: event.stream_id.to_string(),
        event_type: event.event_type.to_string(),
        attempts,
        last_error: reason,
        dead_lettered_at: None,
    }
}

impl Group {
    /// Loads the group's progress (or starts it at `fresh`) and starts its tasks.
    pub(crate) async fn start(store: Arc<dyn EventStore>, name: &str, spec: GroupSpec, fresh: Option<u64>) -> Result<Arc<Self>> {
        let filter = spec.check()?;
        let (snapshot, parked) = streams(name)?;
        let saved = store.load_snapshot(&snapshot).await?;
        let version = saved.as_ref().map_or(0, |s| s.version);
        let progress = match (fresh, saved) {
            (Some(checkpoint), _) => Progress { checkpoint, ..Progress::default() },
            (None, Some(s)) => Progress::from_state(&s.state).unwrap_or_default(),
            (None, None) => Progress::default(),
        };
        let group = Arc::new(Self {
            name: name.to_owned(),
            lot: ParkingLot::new(store.clone(), parked),
            store,
            filter,
            ledger: Mutex::new(Ledger::new(spec, progress)),
            changed: Notify::new(),
            snapshot,
            version: AtomicU64::new(version),
            deleted: AtomicBool::new(false),
            tasks: Mutex::default(),
        });
        if fresh.is_some() {
            group.save(true).await?;
        }
        let tasks = vec![tokio::spawn(group.clone().pump()), tokio::spawn(group.clone().housekeeping())];
        *group.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = tasks;
        Ok(group)
    }

    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stops the tasks; connected consumers get [`GroupError::Deleted`].
    pub(crate) fn stop(&self) {
        self.deleted.store(true, Ordering::SeqCst);
        self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().for_each(JoinHandle::abort);
        self.changed.notify_waiters();
    }

    async fn save(&self, force: bool) -> Result<()> {
        let progress = {
            let mut ledger = self.ledger();
            if !force && !ledger.is_dirty() {
                return Ok(());
            }
            ledger.progress()
        };
        let state = progress.to_state()?;
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        self.store.save_snapshot(Snapshot { stream_id: self.snapshot.clone(), version, schema_version: 1, state }).await?;
        Ok(())
    }

    /// Feeds the ledger from the log, waiting while it holds `BUFFER`
    /// unhandled events.
    async fn pump(self: Arc<Self>) {
        loop {
            if let Err(e) = crate::pump::feed(self.store.as_ref(), self.as_ref()).await {
                tracing::error!(group = self.name, "consumer group pump: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Saves progress and picks up replayed parked events.
    async fn housekeeping(self: Arc<Self>) {
        let mut view = chronicle_core::ParkingView::default();
        loop {
            tokio::time::sleep(HOUSEKEEPING).await;
            if let Err(e) = self.save(false).await {
                tracing::warn!(group = self.name, "saving consumer group progress: {e}");
            }
            if let Err(e) = self.pick_up_replays(&mut view).await {
                tracing::warn!(group = self.name, "reading parked events: {e}");
            }
        }
    }

    async fn pick_up_replays(&self, view: &mut chronicle_core::ParkingView) -> Result<()> {
        self.lot.refresh(view).await?;
        let mut inserted = false;
        for entry in view.replay_queue().to_vec() {
            if self.ledger().holds(entry.event_id) {
                continue; // picked up on an earlier round, waiting for its ack
            }
            match self.store.get_event(entry.event_id).await? {
                Some(event) => {
                    self.ledger().insert_replay(event);
                    inserted = true;
                }
                None => self.lot.redelivered(entry.event_id).await?, // gone from the store: nothing to deliver
            }
        }
        if inserted {
            self.changed.notify_waiters();
        }
        Ok(())
    }

    /// Parks what the ledger gave up on (at least once: a crash between
    /// the record and the ledger update parks it again, harmlessly).
    pub(crate) async fn park(&self, to_park: Vec<ToPark>) -> Result<()> {
        for p in to_park {
            let entry = parked_entry(&p.event, p.attempts, p.reason);
            if let Err(e) = self.lot.add(&entry).await {
                self.ledger().unpark(p.event.event_id);
                return Err(e.into());
            }
            tracing::warn!(
                group = self.name,
                position = entry.position,
                "parked after {} attempt(s): {}",
                entry.attempts,
                entry.last_error
            );
            let replayed = self.ledger().parked(p.event.event_id);
            if let Some(id) = replayed {
                self.lot.redelivered(id).await?;
            }
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// Parks in the background: a caller's future may be cancelled (a
    /// consumer's `next` races its socket), and a half-done park must not
    /// leave an event stuck.
    pub(crate) fn park_later(self: &Arc<Self>, to_park: Vec<ToPark>) {
        if to_park.is_empty() {
            return;
        }
        let group = self.clone();
        tokio::spawn(async move {
            if let Err(e) = group.park(to_park).await {
                tracing::warn!(group = group.name, "parking: {e}");
            }
        });
    }

    /// Waits for deliveries for `consumer`. Cancel-safe: what it claims it
    /// returns in the same poll.
    pub(crate) async fn next(self: &Arc<Self>, consumer: u64) -> Result<Vec<Delivery>> {
        loop {
            if self.deleted.load(Ordering::SeqCst) {
                return Err(GroupError::Deleted(self.name.clone()));
            }
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (deliveries, to_park, deadline) = {
                let mut ledger = self.ledger();
                let (d, p) = ledger.claim(consumer, Instant::now());
                (d, p, ledger.next_deadline())
            };
            self.park_later(to_park);
            if !deliveries.is_empty() {
                return Ok(deliveries);
            }
            let wake = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    pub(crate) async fn ack(&self, ids: &[Uuid]) -> Result<()> {
        let replayed = self.ledger().ack(ids);
        for id in replayed {
            self.lot.redelivered(id).await?;
        }
        self.changed.notify_waiters();
        Ok(())
    }

    pub(crate) async fn nack(&self, ids: &[Uuid], action: NackAction, reason: &str) -> Result<()> {
        let (skipped, to_park) = {
            let mut ledger = self.ledger();
            let backoff = backoff_for(ledger.spec());
            ledger.nack(ids, action, Instant::now(), backoff, reason)
        };
        for id in skipped {
            self.lot.redelivered(id).await?;
        }
        self.park(to_park).await?;
        self.changed.notify_waiters();
        Ok(())
    }

    /// Saves progress now (on shutdown).
    pub(crate) async fn flush(&self) -> Result<()> {
        self.save(false).await
    }
}

impl Intake for Group {
    async fn room(&self) -> Result<u64> {
        loop {
            let room = self.changed.notified();
            {
                let ledger = self.ledger();
                if ledger.outstanding() < BUFFER {
                    return Ok(ledger.read_through());
                }
            }
            room.await;
        }
    }

    /// Inserts what matches (and marks everything through `scanned`
    /// passed) under one lock, then wakes the consumers once.
    async fn take(&self, events: Vec<RecordedEvent>, scanned: Option<u64>) -> Result<()> {
        let mut woke = false;
        {
            let mut ledger = self.ledger();
            for event in events {
                if wanted(&self.filter, &event) {
                    woke = true;
                    ledger.insert(event);
                } else {
                    ledger.scanned(event.global_position);
                }
            }
            if let Some(head) = scanned {
                ledger.scanned(head);
            }
        }
        if woke {
            self.changed.notify_waiters();
        }
        Ok(())
    }
}
