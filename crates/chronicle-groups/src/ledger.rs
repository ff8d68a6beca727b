//! The in-memory state of one group on the node that serves it: which
//! buffered events are pending, leased to which consumer until when,
//! acknowledged or on their way to the parking lot; the checkpoint (every
//! position up to it is handled) and what survives a restart
//! ([`Progress`]). Pure and synchronous: the runtime (`local.rs`) does the
//! I/O around it.

use crate::{GroupSpec, Strategy};
use chronicle_core::{Backoff, GroupProgress, RecordedEvent, StreamId, Uuid};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    hash::{Hash, Hasher},
    time::{Duration, Instant},
};

/// A connected consumer's id within its group.
pub type ConsumerId = u64;

/// What a nack asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackAction {
    /// Deliver again (after a backoff); parked once `max_retries` is spent.
    Retry,
    /// Park it now.
    Park,
    /// Consider it handled without processing.
    Skip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Leased { consumer: ConsumerId, until: Instant },
    Parking,
    Acked,
}

#[derive(Clone, Debug)]
struct Entry {
    event: RecordedEvent,
    status: Status,
    retries: u32,
    not_before: Option<Instant>,
    /// Replayed from the parking lot (its position may be behind the checkpoint).
    replayed: bool,
}

/// One delivery to a consumer.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The event.
    pub event: RecordedEvent,
    /// Deliveries before this one.
    pub retry_count: u32,
}

/// An event the ledger gave up on: park it, then call [`Ledger::parked`].
#[derive(Clone, Debug)]
pub struct ToPark {
    /// The event.
    pub event: RecordedEvent,
    /// Deliveries made.
    pub attempts: u32,
    /// Why.
    pub reason: String,
}

/// What survives a restart (saved as the group's snapshot): the
/// backend-neutral [`GroupProgress`] an export carries.
pub type Progress = GroupProgress;

#[derive(Debug, Default)]
struct ConsumerState {
    in_flight: usize,
}

/// One group's delivery state.
#[derive(Debug)]
pub struct Ledger {
    spec: GroupSpec,
    checkpoint: u64,
    read_through: u64,
    entries: BTreeMap<u64, Entry>,
    by_id: HashMap<Uuid, u64>,
    consumers: BTreeMap<ConsumerId, ConsumerState>,
    /// Streams pinned to a consumer, with how many of their events it
    /// holds; a pin goes when that reaches 0 (the stream's next event is
    /// placed again among the consumers connected then: newcomers get
    /// their share, and nothing of the stream is in flight to reorder).
    pins: HashMap<StreamId, (ConsumerId, usize)>,
    next_consumer: ConsumerId,
    /// Positions of pending entries (delayed ones too), in order.
    pending: std::collections::BTreeSet<u64>,
    /// Leased entries by deadline.
    leased: std::collections::BTreeSet<(Instant, u64)>,
    /// Delayed (nacked) pending entries by when they are due.
    delayed: std::collections::BTreeSet<(Instant, u64)>,
    /// Entries not acknowledged.
    unhandled: usize,
    restore_acked: HashSet<u64>,
    restore_retries: HashMap<u64, u32>,
    /// A progress in the `read_through` form (from PostgreSQL): positions
    /// up to here not in `restore_unhandled` are handled.
    restore_through: u64,
    restore_unhandled: HashSet<u64>,
    /// Redeliveries since start (timeouts, disconnects, nacks).
    pub redeliveries: u64,
    /// Events delivered since start.
    pub delivered: u64,
    dirty: bool,
}

impl Ledger {
    /// A ledger resuming from `progress`.
    pub fn new(spec: GroupSpec, progress: Progress) -> Self {
        Self {
            spec,
            checkpoint: progress.checkpoint,
            read_through: progress.checkpoint,
            entries: BTreeMap::new(),
            by_id: HashMap::new(),
            consumers: BTreeMap::new(),
            pins: HashMap::new(),
            next_consumer: 1,
            pending: Default::default(),
            leased: Default::default(),
            delayed: Default::default(),
            unhandled: 0,
            restore_acked: progress.acked.into_iter().collect(),
            restore_retries: progress.retries.into_iter().collect(),
            restore_through: progress.read_through.unwrap_or(0),
            restore_unhandled: progress.unhandled.into_iter().collect(),
            redeliveries: 0,
            delivered: 0,
            dirty: false,
        }
    }

    /// The settings.
    pub fn spec(&self) -> &GroupSpec {
        &self.spec
    }

    /// Moves an entry to `new`, keeping the indexes and counters true.
    fn set(&mut self, pos: u64, new: Status, not_before: Option<Instant>) {
        let Some(e) = self.entries.get_mut(&pos) else { return };
        let old = std::mem::replace(&mut e.status, new);
        if let Some(t) = e.not_before.take() {
            self.delayed.remove(&(t, pos));
        }
        match old {
            Status::Pending => {
                self.pending.remove(&pos);
            }
            Status::Leased { consumer, until } => {
                self.leased.remove(&(until, pos));
                if let Some(c) = self.consumers.get_mut(&consumer) {
                    c.in_flight = c.in_flight.saturating_sub(1);
                }
                if let Some((c, held)) = self.pins.get_mut(&e.event.stream_id)
                    && *c == consumer
                {
                    *held = held.saturating_sub(1);
                    if *held == 0 {
                        self.pins.remove(&e.event.stream_id);
                    }
                }
            }
            Status::Acked => self.unhandled += 1,
            Status::Parking => {}
        }
        match new {
            Status::Pending => {
                self.pending.insert(pos);
                if let Some(t) = not_before {
                    e.not_before = Some(t);
                    self.delayed.insert((t, pos));
                }
            }
            Status::Leased { consumer, until } => {
                self.leased.insert((until, pos));
                if let Some(c) = self.consumers.get_mut(&consumer) {
                    c.in_flight += 1;
                }
                if let Some((c, held)) = self.pins.get_mut(&e.event.stream_id)
                    && *c == consumer
                {
                    *held += 1;
                }
            }
            Status::Acked => self.unhandled = self.unhandled.saturating_sub(1),
            Status::Parking => {}
        }
    }

    fn add(&mut self, event: RecordedEvent, acked: bool, retries: u32, replayed: bool) {
        let pos = event.global_position;
        self.by_id.insert(event.event_id, pos);
        self.entries.insert(pos, Entry { event, status: Status::Acked, retries, not_before: None, replayed });
        if !acked {
            self.set(pos, Status::Pending, None);
        }
    }

    /// Changes the tuning (strategy, retries, timeout, in-flight).
    pub fn retune(&mut self, spec: GroupSpec) {
        self.spec = spec;
        self.pins.clear();
    }

    /// Every position up to here is handled.
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The last log position read into the ledger.
    pub fn read_through(&self) -> u64 {
        self.read_through
    }

    /// Buffered events not yet handled.
    pub fn outstanding(&self) -> usize {
        self.unhandled
    }

    /// Events leased to consumers now.
    pub fn in_flight(&self) -> usize {
        self.consumers.values().map(|c| c.in_flight).sum()
    }

    /// Connected consumers.
    pub fn consumers(&self) -> usize {
        self.consumers.len()
    }

    /// Whether [`Ledger::progress`] changed since the last call to it.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// What to save; clears the dirty flag.
    pub fn progress(&mut self) -> Progress {
        self.dirty = false;
        let beyond = |pos: &&u64| **pos > self.checkpoint;
        let acked = self.entries.iter().filter(|(p, e)| e.status == Status::Acked && !e.replayed && **p > self.checkpoint).map(|(p, _)| *p);
        let acked = acked.chain(self.restore_acked.iter().filter(beyond).copied()).collect();
        let retries =
            self.entries.iter().filter(|(p, e)| e.retries > 0 && !e.replayed && **p > self.checkpoint).map(|(p, e)| (*p, e.retries));
        let retries = retries.chain(self.restore_retries.iter().filter(|(p, _)| **p > self.checkpoint).map(|(p, n)| (*p, *n)));
        // What the pump has not re-read yet of a `read_through` form stays in it.
        let (read_through, unhandled) = if self.restore_through > self.checkpoint {
            let mut unhandled: Vec<u64> = self.restore_unhandled.iter().filter(beyond).copied().collect();
            unhandled.sort_unstable();
            (Some(self.restore_through), unhandled)
        } else {
            (None, Vec::new())
        };
        Progress { checkpoint: self.checkpoint, acked, retries: retries.collect(), read_through, unhandled }
    }

    /// A log event at `read_through + 1` or later that matches the filter.
    pub fn insert(&mut self, event: RecordedEvent) {
        let pos = event.global_position;
        self.read_through = self.read_through.max(pos);
        if pos <= self.checkpoint || self.entries.contains_key(&pos) {
            return;
        }
        let acked = self.restore_acked.remove(&pos) || (pos <= self.restore_through && !self.restore_unhandled.contains(&pos));
        let retries = self.restore_retries.remove(&pos).unwrap_or(0);
        self.add(event, acked, retries, false);
        self.advance();
    }

    /// A log event the filter does not want.
    pub fn scanned(&mut self, position: u64) {
        self.read_through = self.read_through.max(position);
        self.advance();
    }

    /// Whether `event_id` is buffered (not yet handled and popped).
    pub fn holds(&self, event_id: Uuid) -> bool {
        self.by_id.contains_key(&event_id)
    }

    /// A parked event replayed by an operator: deliver it once more.
    pub fn insert_replay(&mut self, event: RecordedEvent) {
        if self.by_id.contains_key(&event.event_id) {
            return;
        }
        let pos = event.global_position;
        if let Some(existing) = self.entries.get(&pos)
            && existing.status != Status::Acked
        {
            return;
        }
        self.add(event, false, 0, true);
    }

    /// Registers a consumer.
    pub fn connect(&mut self) -> ConsumerId {
        let id = self.next_consumer;
        self.next_consumer += 1;
        self.consumers.insert(id, ConsumerState::default());
        id
    }

    /// A consumer left: what it held is redelivered to the others (or
    /// parked, once `max_retries` is spent).
    pub fn disconnect(&mut self, consumer: ConsumerId) -> Vec<ToPark> {
        self.consumers.remove(&consumer);
        self.pins.retain(|_, (c, _)| *c != consumer);
        let mut to_park = Vec::new();
        let held: Vec<u64> = self
            .leased
            .iter()
            .map(|(_, pos)| *pos)
            .filter(|pos| matches!(self.entries.get(pos), Some(Entry { status: Status::Leased { consumer: c, .. }, .. }) if *c == consumer))
            .collect();
        for pos in held {
            self.give_back(pos, "its consumer disconnected", &mut to_park);
        }
        to_park
    }

    fn pin_for(&mut self, stream: &StreamId) -> Option<ConsumerId> {
        if let Some((c, _)) = self.pins.get(stream) {
            return Some(*c);
        }
        let ids: Vec<ConsumerId> = self.consumers.keys().copied().collect();
        let mut hasher = std::hash::DefaultHasher::new();
        stream.as_str().hash(&mut hasher);
        let pick = *ids.get((hasher.finish() % ids.len().max(1) as u64) as usize)?;
        self.pins.insert(stream.clone(), (pick, 0));
        Some(pick)
    }

    /// Leases expired by `now` go back to pending (or to the parking lot
    /// once `max_retries` is spent).
    fn expire(&mut self, now: Instant, to_park: &mut Vec<ToPark>) {
        while let Some(&(until, pos)) = self.leased.first() {
            if until > now {
                break;
            }
            self.give_back(pos, "not acknowledged in time", to_park);
        }
    }

    /// A leased entry comes back: pending again (a redelivery), or to the
    /// parking lot once `max_retries` is spent.
    fn give_back(&mut self, pos: u64, reason: &str, to_park: &mut Vec<ToPark>) {
        let Some(e) = self.entries.get_mut(&pos) else { return };
        e.retries += 1;
        self.dirty = true;
        if u64::from(e.retries) > self.spec.max_retries {
            to_park.push(ToPark { event: e.event.clone(), attempts: e.retries, reason: reason.to_owned() });
            self.set(pos, Status::Parking, None);
        } else {
            self.redeliveries += 1;
            self.set(pos, Status::Pending, None);
        }
    }

    /// Leases up to the consumer's free room of deliverable events to it;
    /// also expires overdue leases (what to park is returned too).
    pub fn claim(&mut self, consumer: ConsumerId, now: Instant) -> (Vec<Delivery>, Vec<ToPark>) {
        let mut to_park = Vec::new();
        self.expire(now, &mut to_park);
        let (room, held) = match self.consumers.get(&consumer) {
            Some(c) => ((self.spec.max_in_flight as usize).saturating_sub(c.in_flight), c.in_flight),
            None => (0, 0),
        };
        // Claim in batches: a consumer holding events waits for a quarter of its room.
        if room == 0 || (held > 0 && room < (self.spec.max_in_flight as usize / 4).max(1)) {
            return (Vec::new(), to_park);
        }
        let pinned = self.spec.strategy == Strategy::PinnedByStream;
        let until = now + self.spec.ack_timeout();
        let mut blocked: HashSet<StreamId> = HashSet::new();
        let mut picked: Vec<u64> = Vec::new();
        let candidates: Vec<u64> = if pinned {
            self.pending.iter().copied().collect()
        } else {
            self.pending.iter().copied().take(room + self.delayed.len()).collect()
        };
        for pos in candidates {
            if picked.len() >= room {
                break;
            }
            let Some(e) = self.entries.get(&pos) else { continue };
            let due = e.not_before.is_none_or(|t| t <= now);
            if pinned {
                let stream = e.event.stream_id.clone();
                if blocked.contains(&stream) {
                    continue;
                }
                if !due || self.pin_for(&stream) != Some(consumer) {
                    blocked.insert(stream); // keep the stream's order: later events wait
                    continue;
                }
            } else if !due {
                continue;
            }
            picked.push(pos);
        }
        let mut out = Vec::with_capacity(picked.len());
        for pos in picked {
            self.set(pos, Status::Leased { consumer, until }, None);
            if let Some(e) = self.entries.get(&pos) {
                out.push(Delivery { event: e.event.clone(), retry_count: e.retries });
            }
        }
        self.delivered += out.len() as u64;
        (out, to_park)
    }

    /// Acknowledges events (by anyone: a late ack of a redelivered event
    /// still counts). Returns the replayed ones (for `redelivered` records).
    pub fn ack(&mut self, ids: &[Uuid]) -> Vec<Uuid> {
        let mut replayed = Vec::new();
        for id in ids {
            let Some(&pos) = self.by_id.get(id) else { continue };
            if let Some(e) = self.entries.get(&pos)
                && e.status != Status::Acked
            {
                if e.replayed {
                    replayed.push(*id);
                }
                self.set(pos, Status::Acked, None);
            }
        }
        self.dirty = true;
        self.advance();
        replayed
    }

    /// Negative acknowledgements.
    pub fn nack(&mut self, ids: &[Uuid], action: NackAction, now: Instant, backoff: Backoff, reason: &str) -> (Vec<Uuid>, Vec<ToPark>) {
        let mut to_park = Vec::new();
        let skipped: Vec<Uuid> = if action == NackAction::Skip { self.ack(ids) } else { Vec::new() };
        if action == NackAction::Skip {
            return (skipped, to_park);
        }
        for id in ids {
            let Some(&pos) = self.by_id.get(id) else { continue };
            let max = self.spec.max_retries;
            let Some(e) = self.entries.get_mut(&pos) else { continue };
            if matches!(e.status, Status::Acked | Status::Parking) {
                continue;
            }
            e.retries += 1;
            if action == NackAction::Park || u64::from(e.retries) > max {
                to_park.push(ToPark { event: e.event.clone(), attempts: e.retries, reason: reason.to_owned() });
                self.set(pos, Status::Parking, None);
            } else {
                let due = now + backoff.delay(e.retries);
                self.redeliveries += 1;
                self.set(pos, Status::Pending, Some(due));
            }
        }
        self.dirty = true;
        (skipped, to_park)
    }

    /// `event_id` is in the parking lot now: it counts as handled.
    pub fn parked(&mut self, event_id: Uuid) -> Option<Uuid> {
        let pos = *self.by_id.get(&event_id)?;
        let replayed = self.entries.get(&pos)?.replayed.then_some(event_id);
        self.set(pos, Status::Acked, None);
        self.dirty = true;
        self.advance();
        replayed
    }

    /// Parking failed: deliver it again later.
    pub fn unpark(&mut self, event_id: Uuid) {
        if let Some(&pos) = self.by_id.get(&event_id)
            && self.entries.get(&pos).is_some_and(|e| e.status == Status::Parking)
        {
            self.set(pos, Status::Pending, None);
        }
    }

    /// The earliest instant something becomes deliverable or overdue.
    pub fn next_deadline(&self) -> Option<Instant> {
        let lease = self.leased.first().map(|(t, _)| *t);
        let delayed = self.delayed.first().map(|(t, _)| *t);
        lease.into_iter().chain(delayed).min()
    }

    fn advance(&mut self) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.get().status != Status::Acked {
                break;
            }
            let e = entry.remove();
            self.by_id.remove(&e.event.event_id);
        }
        let first = self.entries.iter().find(|(_, e)| !e.replayed && e.status != Status::Acked).map(|(p, _)| *p);
        let handled = first.map_or(self.read_through, |p| (p - 1).min(self.read_through));
        if handled > self.checkpoint {
            self.checkpoint = handled;
            self.dirty = true;
        }
    }
}

/// The ack timeout of a spec, for callers that only have the ledger.
pub fn backoff_for(spec: &GroupSpec) -> Backoff {
    Backoff::new(Duration::from_millis(100), spec.ack_timeout().min(Duration::from_secs(10)))
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
