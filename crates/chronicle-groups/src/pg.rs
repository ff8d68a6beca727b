//! Consumer groups on PostgreSQL: the state lives in rows every node
//! shares ([`GroupRows`]), so a consumer may connect to any node and each
//! node serves its own sockets. One node at a time feeds each group and
//! does its housekeeping (`pg_feeder.rs`); every node claims, acks and
//! nacks for its own consumers straight in the database.

use crate::{
    Delivery, GroupError, GroupSpec, GroupStatus, NackAction, Result, StartFrom, backoff_for, check_name,
    group::{parked_entry, streams},
    groups::{Counts, replay},
    registry,
};
use chronicle_core::{EventStore, Leases, ParkedEntry, ParkingLot, Selection, Uuid};
use chronicle_postgres::{ClaimRules, ClaimedRow, GroupRows, PgStore};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::{sync::Notify, task::JoinHandle};

/// How often an idle consumer looks for work another node made.
const POLL: Duration = Duration::from_millis(100);

/// What every part of the PostgreSQL engine shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) rows: GroupRows,
    pub(crate) leases: Arc<dyn Leases>,
    pub(crate) node: String,
    /// Wakes this node's consumers of a group (its feeder ran, an ack freed room).
    wake: Mutex<HashMap<String, Arc<Notify>>>,
    /// Consumers of this node, connected or still leaving.
    sessions: AtomicUsize,
}

impl Shared {
    pub(crate) fn wake(&self, group: &str) -> Arc<Notify> {
        let mut wake = self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        wake.entry(group.to_owned()).or_default().clone()
    }

    pub(crate) fn lot(&self, group: &str) -> Result<ParkingLot> {
        Ok(ParkingLot::new(self.store.clone(), streams(group)?.1))
    }

    /// The settings of `group`, or `None` when it does not exist.
    pub(crate) async fn spec(&self, group: &str) -> Result<Option<GroupSpec>> {
        self.rows.spec(group).await?.map(|text| Self::spec_of(&text)).transpose()
    }

    /// The settings of `group`, or [`GroupError::NotFound`].
    async fn existing(&self, group: &str) -> Result<GroupSpec> {
        self.spec(group).await?.ok_or_else(|| GroupError::NotFound(group.to_owned()))
    }

    pub(crate) fn spec_of(text: &str) -> Result<GroupSpec> {
        serde_json::from_str(text)
            .map_err(|e| chronicle_core::Error::Corrupted { location: "groups.spec".into(), reason: e.to_string() }.into())
    }

    /// Parks rows (a record in the group's parking lot, then the row goes).
    pub(crate) async fn park(&self, group: &str, rows: Vec<ClaimedRow>, reason: &str) -> Result<()> {
        let lot = self.lot(group)?;
        for row in rows {
            let attempts = row.retries.max(1);
            lot.add(&parked_entry(&row.event, attempts, reason.to_owned())).await?;
            if row.replayed {
                lot.redelivered(row.event.event_id).await?;
            }
            self.rows.remove(group, &[row.event.event_id]).await?;
            tracing::warn!(group, position = row.event.global_position, "parked after {attempts} attempt(s): {reason}");
        }
        Ok(())
    }
}

/// The groups of one PostgreSQL store, as seen from this node.
#[derive(Debug)]
pub(crate) struct PgGroups {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl Drop for PgGroups {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

impl PgGroups {
    /// Opens the groups of `store`, first giving rows to those that came
    /// with the log (`pg_adopt.rs`).
    pub(crate) async fn open(store: PgStore, leases: Arc<dyn Leases>, node: &str) -> Result<Arc<Self>> {
        let shared = Arc::new(Shared {
            rows: store.group_rows(),
            store: Arc::new(store),
            leases,
            node: node.to_owned(),
            wake: Mutex::default(),
            sessions: AtomicUsize::new(0),
        });
        crate::pg_adopt::adopt(&shared).await?;
        let supervisor = tokio::spawn(crate::pg_feeder::supervise(shared.clone()));
        Ok(Arc::new(Self { shared, supervisor }))
    }

    pub(crate) async fn put(&self, name: &str, spec: GroupSpec) -> Result<bool> {
        check_name(name)?;
        spec.check()?;
        let text = serde_json::to_string(&spec).map_err(|e| GroupError::invalid("spec", e.to_string()))?;
        let rows = &self.shared.rows;
        if let Some(current) = self.shared.spec(name).await? {
            for (field, same) in [("filter", current.filter == spec.filter), ("from", current.from == spec.from)] {
                if !same {
                    return Err(GroupError::Conflict { group: name.to_owned(), field: field.to_owned() });
                }
            }
            if current != spec {
                rows.set_spec(name, &text).await?;
                registry::created(self.shared.store.as_ref(), name, &spec).await?;
            }
            return Ok(false);
        }
        let start = match spec.from {
            StartFrom::Start => 0,
            StartFrom::End => self.shared.store.head().await?,
            StartFrom::Position(p) => p - 1,
        };
        if !rows.create(name, &text, start).await? {
            return Ok(false);
        }
        registry::created(self.shared.store.as_ref(), name, &spec).await?;
        Ok(true)
    }

    /// Deletes `name` (first in the registry, so a node starting meanwhile
    /// does not bring it back from there).
    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
        if self.shared.spec(name).await?.is_none() {
            return Err(GroupError::NotFound(name.to_owned()));
        }
        registry::deleted(self.shared.store.as_ref(), name).await?;
        if !self.shared.rows.delete(name).await? {
            return Err(GroupError::NotFound(name.to_owned()));
        }
        self.shared.wake(name).notify_waiters();
        self.shared.lot(name)?.discard(&Selection::All).await?;
        Ok(())
    }

    pub(crate) async fn status(&self, name: &str) -> Result<GroupStatus> {
        let head = self.shared.store.head().await?;
        self.status_at(name, head).await
    }

    async fn status_at(&self, name: &str, head: u64) -> Result<GroupStatus> {
        let row = self.shared.rows.status(name).await?.ok_or_else(|| GroupError::NotFound(name.to_owned()))?;
        let parked = self.shared.lot(name)?.view().await?.size();
        let counts = Counts {
            checkpoint: row.checkpoint,
            in_flight: row.in_flight,
            buffered: row.buffered,
            consumers: row.consumers,
            redeliveries: row.redeliveries,
            delivered: row.delivered,
        };
        let feeder = self.shared.leases.holder(&crate::pg_feeder::lease_name(name)).await?;
        Ok(GroupStatus { feeder, ..GroupStatus::new(name, Shared::spec_of(&row.spec)?, head, parked, counts) })
    }

    pub(crate) async fn list(&self) -> Result<Vec<GroupStatus>> {
        let head = self.shared.store.head().await?;
        let mut out = Vec::new();
        for (name, _) in self.shared.rows.list().await? {
            match self.status_at(&name, head).await {
                Ok(status) => out.push(status),
                Err(GroupError::NotFound(_)) => {} // deleted meanwhile
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub(crate) async fn connect(&self, name: &str) -> Result<PgConsumer> {
        let id = Uuid::now_v7().to_string();
        match self.shared.rows.join(name, &id, &self.shared.node).await {
            Err(chronicle_core::Error::NotFound { .. }) => return Err(GroupError::NotFound(name.to_owned())),
            other => other?,
        }
        self.shared.sessions.fetch_add(1, Ordering::SeqCst);
        let wake = self.shared.wake(name);
        Ok(PgConsumer {
            shared: self.shared.clone(),
            claim: Arc::new(Claim { group: name.to_owned(), id, counts: Mutex::default() }),
            pending: tokio::sync::Mutex::new(None),
            wake,
        })
    }

    pub(crate) async fn parked(&self, name: &str) -> Result<Vec<ParkedEntry>> {
        self.shared.existing(name).await?;
        Ok(self.shared.lot(name)?.view().await?.entries().to_vec())
    }

    pub(crate) async fn replay_parked(&self, name: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        self.shared.existing(name).await?;
        replay(&self.shared.lot(name)?, name, selection).await
    }

    /// Waits until this node's consumers have left (their leases given
    /// back in the database); nothing else is node-local.
    pub(crate) async fn shutdown(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.shared.sessions.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One consumer's claims: its id and the counts not yet reported.
#[derive(Debug)]
struct Claim {
    group: String,
    id: String,
    /// (deliveries, redeliveries) since the last heartbeat.
    counts: Mutex<(u64, u64)>,
}

impl Claim {
    /// One heartbeat and, when there is room, one claim.
    async fn once(&self, shared: &Shared) -> Result<Vec<Delivery>> {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let beat = match shared.rows.heartbeat(&self.group, &self.id, counts.0, counts.1).await? {
            Some(beat) => beat,
            None if shared.rows.spec(&self.group).await?.is_none() => return Err(GroupError::Deleted(self.group.clone())),
            None => {
                // Silent for too long and reaped (what it held went back): join again.
                shared.rows.join(&self.group, &self.id, &shared.node).await?;
                return Ok(Vec::new());
            }
        };
        let spec = Shared::spec_of(&beat.spec)?;
        let max = spec.max_in_flight;
        let room = max.saturating_sub(beat.held);
        // Claim in batches: a consumer holding events waits for a quarter of its room.
        if room == 0 || (beat.held > 0 && room < (max / 4).max(1)) {
            return Ok(Vec::new());
        }
        let rules = ClaimRules {
            limit: room,
            lease: spec.ack_timeout(),
            max_retries: spec.max_retries,
            pinned: spec.strategy == crate::Strategy::PinnedByStream,
        };
        let rows = shared.rows.claim(&self.group, &self.id, &beat, rules).await?;
        let again = rows.iter().filter(|r| r.retries > 0 || r.replayed).count() as u64;
        {
            let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            counts.0 += rows.len() as u64;
            counts.1 += again;
        }
        Ok(rows.into_iter().map(|r| Delivery { event: r.event, retry_count: r.retries }).collect())
    }
}

/// A consumer connected to this node.
#[derive(Debug)]
pub(crate) struct PgConsumer {
    shared: Arc<Shared>,
    claim: Arc<Claim>,
    /// A claim in progress: it survives a cancelled [`PgConsumer::next`],
    /// so nothing claimed is lost with the future.
    pending: tokio::sync::Mutex<Option<JoinHandle<Result<Vec<Delivery>>>>>,
    wake: Arc<Notify>,
}

impl PgConsumer {
    pub(crate) async fn next(&self) -> Result<Vec<Delivery>> {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let outcome = {
                let mut slot = self.pending.lock().await;
                let handle = match slot.as_mut() {
                    Some(handle) => handle,
                    None => {
                        let (shared, claim) = (self.shared.clone(), self.claim.clone());
                        slot.insert(tokio::spawn(async move { claim.once(&shared).await }))
                    }
                };
                let outcome = handle.await;
                *slot = None;
                outcome
            };
            match outcome {
                Ok(Ok(deliveries)) if !deliveries.is_empty() => return Ok(deliveries),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(chronicle_core::Error::Unavailable { reason: format!("a claim failed: {e}") }.into()),
            }
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    pub(crate) async fn ack(&self, ids: &[Uuid]) -> Result<()> {
        let group = &self.claim.group;
        let replayed = self.shared.rows.ack(group, ids).await?;
        if !replayed.is_empty() {
            let lot = self.shared.lot(group)?;
            for id in &replayed {
                lot.redelivered(*id).await?; // recorded before the row goes: never picked up twice
            }
            self.shared.rows.remove(group, &replayed).await?;
        }
        self.wake.notify_waiters(); // room for this consumer (and the feeder's buffer)
        Ok(())
    }

    pub(crate) async fn nack(&self, ids: &[Uuid], action: NackAction) -> Result<()> {
        if action == NackAction::Skip {
            return self.ack(ids).await;
        }
        let group = &self.claim.group;
        let rows = self.shared.rows.rows_of(group, ids).await?;
        let reason = "nacked by a consumer";
        if action == NackAction::Park {
            return self.shared.park(group, rows, reason).await;
        }
        let spec = self.shared.spec(group).await?.ok_or_else(|| GroupError::Deleted(group.clone()))?;
        let backoff = backoff_for(&spec);
        let (spent, again): (Vec<ClaimedRow>, Vec<ClaimedRow>) =
            rows.into_iter().partition(|r| u64::from(r.retries) + 1 > spec.max_retries);
        let release: Vec<(Uuid, Option<Duration>)> = again.iter().map(|r| (r.event.event_id, Some(backoff.delay(r.retries + 1)))).collect();
        self.shared.rows.release(group, &release).await?;
        let spent = spent.into_iter().map(|r| ClaimedRow { retries: r.retries + 1, ..r }).collect();
        self.shared.park(group, spent, reason).await
    }
}

impl Drop for PgConsumer {
    /// Leaves in the background: what it held goes back to pending.
    fn drop(&mut self) {
        let (shared, claim) = (self.shared.clone(), self.claim.clone());
        let pending = self.pending.get_mut().take();
        let leave = async move {
            if let Some(handle) = pending {
                let _ = handle.await; // a claim in flight lands first, then is given back
            }
            let (delivered, redelivered) = *claim.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = shared.rows.leave_counting(&claim.group, &claim.id, delivered, redelivered).await {
                tracing::warn!(group = claim.group, "a consumer leaving: {e} (its leases expire instead)");
            }
            shared.wake(&claim.group).notify_waiters();
            shared.sessions.fetch_sub(1, Ordering::SeqCst);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(leave)),
            Err(_) => {
                self.shared.sessions.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
