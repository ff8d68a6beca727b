//! `LogIndex`: the in-memory index of a log, shared by the in-process
//! backends (memory, file). It knows, per global position, the stream,
//! version, type, commit time and well-known metadata of the event, plus a
//! backend payload `P` (the whole event for memory, a file location for the
//! file engine); per stream, its versions, lifecycle and retention; per
//! event id, its position. It answers every read of the trait with the
//! entries to return, and implements [`AppendView`] for the planner.
//!
//! Entries can be pushed ahead of their commit (the file engine indexes a
//! batch before its fdatasync returns); readers see only positions up to
//! the published head.

mod ids;
mod import;
mod listing;
mod reads;

pub use ids::IdIndex;
pub use reads::IndexPage;

use crate::{
    AppendView, Error, EventLocation, EventQuery, ExpectedVersion, Metadata, Result, StreamId, StreamInfo, StreamMetadata, StreamStatus,
    Timestamp,
};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

/// One indexed event.
#[derive(Clone, Debug)]
pub struct IndexedEvent<P> {
    /// Global position.
    pub position: u64,
    /// Stream.
    pub stream: StreamId,
    /// Version in the stream.
    pub version: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Event type.
    pub event_type: Arc<str>,
    /// Commit time.
    pub recorded_at: Timestamp,
    /// Well-known metadata (`None` when every field is empty).
    pub meta: Option<Arc<Metadata>>,
    /// The backend's payload.
    pub payload: P,
}

/// The index form of well-known metadata: `None` when every field is empty
/// (the common case costs no allocation).
pub fn compact_meta(meta: &Metadata) -> Option<Arc<Metadata>> {
    (*meta != Metadata::default()).then(|| Arc::new(meta.clone()))
}

/// An entry a rebuild found out of place (see [`LogIndex::push_checked_run`]).
#[derive(Debug)]
pub struct Misplaced<P> {
    /// The entry.
    pub entry: IndexedEvent<P>,
    /// The position that was next.
    pub expected_position: u64,
    /// The stream's version that was next.
    pub expected_version: u64,
}

/// Per-stream state.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamRecord {
    /// `positions[v - 1]` is the global position of version `v`.
    pub(crate) positions: Vec<u64>,
    pub(crate) status: StreamStatus,
    pub(crate) metadata: StreamMetadata,
    /// Versions up to this one were soft-deleted.
    pub(crate) deleted_through: u64,
    /// Versions up to this one were removed from storage by a scavenge:
    /// invisible forever, whatever the retention settings become.
    pub(crate) scavenged_through: u64,
}

impl StreamRecord {
    /// Last version hidden by a soft delete or removed by a scavenge.
    pub(crate) fn deleted_through_or_scavenged(&self) -> u64 {
        self.deleted_through.max(self.scavenged_through)
    }
}

/// A change to a stream's lifecycle, decided by [`LogIndex::plan_delete`] or
/// [`LogIndex::plan_metadata`] and applied by [`LogIndex::apply_change`]
/// (after the backend made it durable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamChange {
    /// New retention settings.
    Metadata {
        /// The stream.
        stream: StreamId,
        /// The settings.
        metadata: StreamMetadata,
    },
    /// Soft delete (hide versions up to `deleted_through`) or tombstone.
    Delete {
        /// The stream.
        stream: StreamId,
        /// Tombstone (true) or soft delete.
        tombstone: bool,
        /// Last version hidden by a soft delete.
        deleted_through: u64,
    },
}

/// Fast, seeded hashing for the index maps (keys may come from clients, so
/// the seed matters; SipHash is needlessly slow here).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The in-memory index; see the module docs.
#[derive(Debug)]
pub struct LogIndex<P> {
    /// `log[p - 1]` is the entry at global position `p`.
    pub(crate) log: Vec<IndexedEvent<P>>,
    pub(crate) streams: Map<StreamId, StreamRecord>,
    ids: IdIndex,
    /// While ids are built elsewhere ([`LogIndex::defer_ids`]): the ids of
    /// rebuilt entries, not yet indexed.
    deferred: Option<Vec<(Uuid, u64)>>,
    checkpoints: HashMap<String, u64>,
    /// Highest position readers may see.
    pub(crate) visible: u64,
    /// Set once any stream is deleted or gets retention settings; until
    /// then reads skip the per-event visibility check.
    pub(crate) restricted: bool,
}

impl<P> Default for LogIndex<P> {
    fn default() -> Self {
        Self {
            log: Vec::new(),
            streams: Map::default(),
            ids: IdIndex::default(),
            deferred: None,
            checkpoints: HashMap::new(),
            visible: 0,
            restricted: false,
        }
    }
}

impl<P> LogIndex<P> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries, including unpublished ones.
    pub fn len(&self) -> u64 {
        self.log.len() as u64
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The published head: the last position readers may see.
    pub fn visible_head(&self) -> u64 {
        self.visible
    }

    /// Makes positions up to `head` visible to readers.
    pub fn publish(&mut self, head: u64) {
        self.visible = head.min(self.len());
    }

    /// Commit time of the last entry (for non-decreasing `recorded_at`).
    pub fn last_recorded_at(&self) -> Timestamp {
        self.log.last().map(|e| e.recorded_at).unwrap_or_default()
    }

    /// The entry at `position`, published or not.
    pub fn entry(&self, position: u64) -> Option<&IndexedEvent<P>> {
        self.log.get(usize::try_from(position.checked_sub(1)?).ok()?)
    }

    /// Every entry, published or not, in position order.
    pub fn entries(&self) -> &[IndexedEvent<P>] {
        &self.log
    }

    /// Appends `entry` when it is the next position and its stream's next
    /// version (one stream lookup); otherwise returns the expected
    /// `(position, version)` and changes nothing but may remember the
    /// stream as empty. For rebuilding an index from a log.
    pub fn push_checked(&mut self, entry: IndexedEvent<P>) -> std::result::Result<(), (u64, u64)> {
        self.push_rebuilt(entry, false)
    }

    /// [`push_checked`](Self::push_checked) for an event a scavenge removed
    /// from storage: it keeps its position and version (so later ones stay
    /// where they are) but is invisible forever and its id is not indexed.
    pub fn push_scavenged(&mut self, entry: IndexedEvent<P>) -> std::result::Result<(), (u64, u64)> {
        self.push_rebuilt(entry, true)
    }

    fn push_rebuilt(&mut self, entry: IndexedEvent<P>, scavenged: bool) -> std::result::Result<(), (u64, u64)> {
        self.push_run(std::iter::once(entry), scavenged).map_err(|m| (m.expected_position, m.expected_version))
    }

    /// [`push_checked`](Self::push_checked) for many entries: consecutive
    /// entries of one stream share a stream lookup (a rebuild meets events
    /// in runs: a batch appends to one stream). Stops at the first entry
    /// out of place and returns it; the entries before it stay pushed.
    pub fn push_checked_run(&mut self, run: impl IntoIterator<Item = IndexedEvent<P>>) -> std::result::Result<(), Misplaced<P>> {
        self.push_run(run, false)
    }

    fn push_run(&mut self, run: impl IntoIterator<Item = IndexedEvent<P>>, scavenged: bool) -> std::result::Result<(), Misplaced<P>> {
        let Self { log, streams, ids, deferred, restricted, .. } = self;
        let mut current: Option<&mut StreamRecord> = None;
        for entry in run {
            let record = match current.take() {
                // The stream of the entry pushed last (`==` on the same `Arc` compares pointers).
                Some(record) if log.last().is_some_and(|last| last.stream == entry.stream) => record,
                // `get_mut` first: most events belong to a known stream, whose id need not be cloned.
                _ => match streams.get_mut(&entry.stream) {
                    Some(record) => record,
                    None => streams.entry(entry.stream.clone()).or_default(),
                },
            };
            let next_position = log.len() as u64 + 1;
            let next_version = record.positions.len() as u64 + 1;
            if entry.position != next_position || entry.version != next_version {
                return Err(Misplaced { entry, expected_position: next_position, expected_version: next_version });
            }
            record.status = StreamStatus::Active;
            record.positions.push(entry.position);
            if scavenged {
                record.scavenged_through = entry.version;
                *restricted = true;
            } else if let Some(deferred) = deferred {
                deferred.push((entry.event_id, entry.position));
            } else {
                ids.insert(entry.event_id, entry.position);
            }
            log.push(entry);
            current = Some(record);
        }
        Ok(())
    }

    /// Makes room for `additional` more events.
    pub fn reserve(&mut self, additional: usize) {
        self.log.reserve(additional);
        if self.deferred.is_none() {
            self.ids.reserve(additional);
        }
    }

    /// The address and size in bytes of the log's reserved but unused
    /// memory (after [`reserve`](Self::reserve)): for a backend that asks
    /// the OS to fault it in ahead of the pushes (a rebuild touches ~1 GB of
    /// fresh memory for 10 M events). Not to be read or written.
    pub fn spare_capacity(&self) -> (usize, usize) {
        let spare = self.log.capacity() - self.log.len();
        let end = self.log.as_ptr_range().end;
        (end as usize, spare.saturating_mul(std::mem::size_of::<IndexedEvent<P>>()))
    }

    /// From now on, [`push_checked`](Self::push_checked) leaves event ids
    /// out of the id index and keeps them for
    /// [`take_deferred_ids`](Self::take_deferred_ids): the caller builds an
    /// [`IdIndex`] from them (on another thread, while the rebuild goes on)
    /// and hands it over with [`install_ids`](Self::install_ids). Until
    /// then an append would not recognise a retry of a rebuilt event: defer
    /// only while rebuilding, before the index serves anyone.
    pub fn defer_ids(&mut self) {
        self.deferred.get_or_insert_with(Vec::new);
    }

    /// The ids of entries rebuilt since the last call, while deferred;
    /// `spare` (emptied) collects the next ones, so buffers can go round.
    pub fn take_deferred_ids(&mut self, mut spare: Vec<(Uuid, u64)>) -> Vec<(Uuid, u64)> {
        spare.clear();
        match &mut self.deferred {
            Some(deferred) => std::mem::replace(deferred, spare),
            None => Vec::new(),
        }
    }

    /// Ends [`defer_ids`](Self::defer_ids): `ids` (built from the deferred
    /// ids) becomes the id index, plus every id still deferred and every id
    /// indexed meanwhile.
    pub fn install_ids(&mut self, mut ids: IdIndex) {
        ids.extend(self.deferred.take().unwrap_or_default());
        ids.absorb(std::mem::take(&mut self.ids));
        self.ids = ids;
    }

    /// Indexes the next event; `entry.position` must be `len() + 1` and
    /// `entry.version` the stream's next version (the planner decided
    /// both). Returns the position.
    pub fn push(&mut self, entry: IndexedEvent<P>) -> u64 {
        debug_assert_eq!(entry.position, self.len() + 1);
        let record = self.streams.entry(entry.stream.clone()).or_default();
        record.status = StreamStatus::Active;
        record.positions.push(entry.position);
        debug_assert_eq!(record.positions.len() as u64, entry.version);
        self.ids.insert(entry.event_id, entry.position);
        let position = entry.position;
        self.log.push(entry);
        position
    }

    /// Decides a delete: checks tombstones and `expected`.
    pub fn plan_delete(&self, stream: &StreamId, expected: ExpectedVersion, tombstone: bool) -> Result<StreamChange> {
        let info = self.stream_info(stream);
        if info.status == StreamStatus::Tombstoned {
            return Err(Error::StreamDeleted { stream: stream.clone() });
        }
        let actual = info.current_version();
        if !expected.accepts(actual) {
            return Err(Error::WrongExpectedVersion { stream: stream.clone(), expected, actual });
        }
        let deleted_through = if info.status == StreamStatus::Active { info.last_version } else { self.deleted_through(stream) };
        Ok(StreamChange::Delete { stream: stream.clone(), tombstone, deleted_through })
    }

    /// Decides a metadata change: validates it and checks tombstones.
    pub fn plan_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<StreamChange> {
        metadata.validate()?;
        if self.stream_info(stream).status == StreamStatus::Tombstoned {
            return Err(Error::StreamDeleted { stream: stream.clone() });
        }
        Ok(StreamChange::Metadata { stream: stream.clone(), metadata })
    }

    fn deleted_through(&self, stream: &StreamId) -> u64 {
        self.streams.get(stream).map_or(0, |r| r.deleted_through)
    }

    /// Applies a planned (and, for a durable backend, logged) change.
    pub fn apply_change(&mut self, change: StreamChange) {
        self.restricted = true;
        match change {
            StreamChange::Metadata { stream, metadata } => self.streams.entry(stream).or_default().metadata = metadata,
            StreamChange::Delete { stream, tombstone, deleted_through } => {
                let record = self.streams.entry(stream).or_default();
                if tombstone {
                    record.status = StreamStatus::Tombstoned;
                } else if record.status == StreamStatus::Active || deleted_through > 0 {
                    record.status = if record.positions.is_empty() { StreamStatus::Absent } else { StreamStatus::SoftDeleted };
                    record.deleted_through = deleted_through;
                }
            }
        }
    }

    /// Saves a checkpoint (validated by the caller).
    pub fn set_checkpoint(&mut self, consumer: String, position: u64) {
        self.checkpoints.insert(consumer, position);
    }

    /// A consumer's checkpoint.
    pub fn checkpoint(&self, consumer: &str) -> Option<u64> {
        self.checkpoints.get(consumer).copied()
    }

    /// Every checkpoint (for compaction and stats).
    pub fn checkpoints(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.checkpoints.iter()
    }

    /// The highest version `v` of `stream` such that versions `1..=v` are
    /// all invisible at `now` (tombstone, soft delete, retention or an
    /// earlier scavenge) among published events: what a scavenge may
    /// remove. Retention hides a prefix of every stream (versions grow
    /// with positions and commit times), so this describes all of it.
    pub fn invisible_through(&self, stream: &StreamId, now: Timestamp) -> u64 {
        let Some(r) = self.streams.get(stream) else { return 0 };
        let last = r.positions.partition_point(|&p| p <= self.visible) as u64;
        if r.status == StreamStatus::Tombstoned {
            return last;
        }
        let mut through = r.deleted_through_or_scavenged();
        if let Some(tb) = r.metadata.truncate_before {
            through = through.max(tb.saturating_sub(1));
        }
        if let Some(n) = r.metadata.max_count {
            through = through.max(last.saturating_sub(n));
        }
        if let Some(age) = r.metadata.max_age {
            let cutoff = now.as_micros().saturating_sub(i64::try_from(age.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
            let visible = r.positions.get(..last as usize).unwrap_or_default();
            let old = visible.partition_point(|&p| self.entry(p).is_some_and(|e| e.recorded_at.as_micros() < cutoff));
            through = through.max(old as u64);
        }
        through.min(last)
    }

    /// The global positions of `stream`'s versions `1..=through` not yet
    /// removed from storage by a scavenge (`through` from
    /// [`LogIndex::invisible_through`]): what a reclaim has left to remove.
    pub fn unscavenged_positions(&self, stream: &StreamId, through: u64) -> &[u64] {
        let Some(r) = self.streams.get(stream) else { return &[] };
        let end = usize::try_from(through).unwrap_or(usize::MAX).min(r.positions.len());
        let start = usize::try_from(r.scavenged_through).unwrap_or(usize::MAX).min(end);
        r.positions.get(start..end).unwrap_or_default()
    }

    /// Records that versions `1..=version` of `stream` were removed from
    /// storage: they stay invisible, whatever retention settings come.
    pub fn mark_scavenged(&mut self, stream: &StreamId, version: u64) {
        self.restricted = true;
        let record = self.streams.entry(stream.clone()).or_default();
        record.scavenged_through = record.scavenged_through.max(version);
    }

    /// Forgets event ids (of events removed from storage): appending an
    /// event with one of them again is no longer recognised as a retry.
    pub fn forget_ids(&mut self, ids: impl IntoIterator<Item = Uuid>) {
        for id in ids {
            self.ids.remove(&id);
        }
    }

    /// Replaces the payload of the entry at `position` (a backend moved the
    /// event, e.g. while rewriting storage). False when there is no such entry.
    pub fn set_payload(&mut self, position: u64, payload: P) -> bool {
        let slot = usize::try_from(position.wrapping_sub(1)).ok().and_then(|i| self.log.get_mut(i));
        slot.map(|e| e.payload = payload).is_some()
    }

    /// Every stream known, in no particular order.
    pub fn stream_ids(&self) -> impl Iterator<Item = &StreamId> {
        self.streams.keys()
    }

    /// Number of streams known.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }
}

impl<P> AppendView for LogIndex<P> {
    fn stream_info(&self, stream: &StreamId) -> StreamInfo {
        self.streams
            .get(stream)
            .map(|r| StreamInfo { last_version: r.positions.len() as u64, status: r.status, metadata: r.metadata })
            .unwrap_or_default()
    }

    fn locate(&self, event_id: &Uuid) -> Option<EventLocation> {
        let e = self.entry(self.ids.get(event_id)?)?;
        Some(EventLocation { stream: e.stream.clone(), version: e.version, position: e.position })
    }

    fn first_match_after(&self, query: &EventQuery, after: Option<u64>) -> Option<u64> {
        let start = usize::try_from(after.unwrap_or(0)).unwrap_or(usize::MAX);
        let default = Metadata::default();
        self.log
            .iter()
            .skip(start)
            .find(|e| query.matches(e.stream.as_str(), &e.event_type, e.meta.as_deref().unwrap_or(&default)))
            .map(|e| e.position)
    }

    fn head(&self) -> u64 {
        self.len()
    }
}
