//! Applying committed records to an index being rebuilt (by an open or
//! the read-only follower): names interned once, positions and versions
//! checked, and, for a large open, event ids indexed on a thread of their
//! own.

use crate::{
    format::{EventRecord, Record},
    scan::Scanned,
    shared::{Loc, SnapLoc},
};
use chronicle_core::{Error, IdIndex, IndexedEvent, LogIndex, Metadata, Result, StreamChange, StreamId, Timestamp, Uuid, compact_meta};
use std::{
    borrow::Borrow,
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::{Arc, mpsc},
    thread::JoinHandle,
};

/// An index being rebuilt, with what the rebuild needs on the way.
/// Consecutive events of one stream are pushed together, as a run
/// ([`LogIndex::push_checked_run`]): call [`flush`](Self::flush) at the end
/// of each segment.
#[derive(Debug, Default)]
pub(crate) struct Rebuilt {
    pub(crate) index: LogIndex<Loc>,
    pub(crate) snapshots: HashMap<StreamId, SnapLoc>,
    names: Names,
    run: Vec<IndexedEvent<Loc>>,
}

impl Rebuilt {
    /// [`apply`]s one committed record of `segment` (`file` names it in errors).
    pub(crate) fn apply(&mut self, segment: u32, s: Scanned<'_>, file: &str) -> Result<()> {
        let Record::Event(e) = &s.record else {
            self.flush(file)?;
            return apply(&mut self.index, &mut self.snapshots, &mut self.names, segment, s, file);
        };
        let entry = event_entry(&mut self.names, segment, &s, e, file)?;
        if self.run.last().is_some_and(|last| last.stream != entry.stream) {
            self.flush(file)?;
        }
        self.run.push(entry);
        Ok(())
    }

    /// Pushes the pending run of events (of segment `file`).
    pub(crate) fn flush(&mut self, file: &str) -> Result<()> {
        self.index.push_checked_run(self.run.drain(..)).map_err(|m| misplaced(&m.entry, m.expected_position, m.expected_version, file))
    }
}

/// Stream ids and event types seen while rebuilding: each name is
/// validated and allocated once, and every event of a stream shares it.
#[derive(Debug, Default)]
pub(crate) struct Names {
    streams: Interner<StreamId>,
    types: Interner<Arc<str>>,
}

impl Names {
    fn stream(&mut self, name: &str) -> std::result::Result<StreamId, Error> {
        self.streams.intern(name, |name| StreamId::new(name))
    }

    fn event_type(&mut self, name: &str) -> Arc<str> {
        let Ok(t) = self.types.intern(name, |name| Ok::<_, std::convert::Infallible>(Arc::from(name)));
        t
    }
}

/// One value per distinct name. Names usually come in runs (a batch
/// appends to one stream), so the last one is checked first.
#[derive(Debug)]
struct Interner<T> {
    seen: HashSet<T, foldhash::fast::RandomState>,
    last: Option<T>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self { seen: HashSet::default(), last: None }
    }
}

impl<T: Borrow<str> + Clone + Eq + Hash> Interner<T> {
    /// The value of `name`, made by `make` the first time it is seen.
    fn intern<E>(&mut self, name: &str, make: impl FnOnce(&str) -> std::result::Result<T, E>) -> std::result::Result<T, E> {
        if let Some(t) = self.last.as_ref().filter(|t| (*t).borrow() == name) {
            return Ok(t.clone());
        }
        let t = match self.seen.get(name) {
            Some(t) => t.clone(),
            None => {
                let t = make(name)?;
                self.seen.insert(t.clone());
                t
            }
        };
        self.last = Some(t.clone());
        Ok(t)
    }
}

/// Builds the id index of the sealed segments on a thread of its own while
/// the open applies the rest of their records: on a large store, inserting
/// ten million random ids into a hash table is a third of the open, and
/// the other core is idle. The index defers ids ([`LogIndex::defer_ids`])
/// until [`finish`](Self::finish) installs the table.
#[derive(Debug)]
pub(crate) struct IdsBuilder {
    worker: Option<Worker>,
}

/// The thread, the channel to it and the one bringing emptied buffers back.
#[derive(Debug)]
struct Worker {
    batches: mpsc::Sender<Vec<(Uuid, u64)>>,
    spares: mpsc::Receiver<Vec<(Uuid, u64)>>,
    handle: JoinHandle<IdIndex>,
}

impl IdsBuilder {
    /// A builder for a store of `sealed` sealed segments (none for fewer
    /// than two: not worth a thread).
    pub(crate) fn start(index: &mut LogIndex<Loc>, sealed: usize) -> Self {
        if sealed < 2 {
            return Self { worker: None };
        }
        let (batches, rx) = mpsc::channel::<Vec<(Uuid, u64)>>();
        let (give_back, spares) = mpsc::channel::<Vec<(Uuid, u64)>>();
        let spawned = std::thread::Builder::new().name("chr-open-ids".into()).spawn(move || {
            let mut ids = IdIndex::default();
            for mut batch in rx {
                if ids.is_empty() {
                    // Segments are alike: size the table once, from the first.
                    ids.reserve(batch.len().saturating_mul(sealed + 1));
                }
                ids.extend(batch.drain(..));
                // The open may be over already: then the buffer is just dropped.
                let _ = give_back.send(batch);
            }
            ids
        });
        match spawned {
            Ok(handle) => {
                index.defer_ids();
                Self { worker: Some(Worker { batches, spares, handle }) }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not start a thread to index event ids; indexing them in line");
                Self { worker: None }
            }
        }
    }

    /// Hands the ids rebuilt since the last call to the thread.
    pub(crate) fn send(&mut self, index: &mut LogIndex<Loc>) {
        if let Some(w) = &self.worker {
            let batch = index.take_deferred_ids(w.spares.try_recv().unwrap_or_default());
            // A send fails only if the thread is gone; `finish` reports it.
            let _ = w.batches.send(batch);
        }
    }

    /// Waits for the thread and installs its table (ids rebuilt from now on
    /// are indexed in line).
    pub(crate) fn finish(&mut self, index: &mut LogIndex<Loc>) -> Result<()> {
        let Some(Worker { batches, handle, .. }) = self.worker.take() else { return Ok(()) };
        drop(batches);
        let ids = handle.join().map_err(|_| Error::Unavailable { reason: "the thread indexing event ids stopped".into() })?;
        index.install_ids(ids);
        Ok(())
    }
}

/// The index entry of event record `e` (scanned as `s` in `segment`).
fn event_entry(names: &mut Names, segment: u32, s: &Scanned<'_>, e: &EventRecord<'_>, file: &str) -> Result<IndexedEvent<Loc>> {
    let bad = |reason: String| Error::Corrupted { location: format!("{file} at offset {}", s.offset), reason };
    let stream = names.stream(e.stream).map_err(|err| bad(format!("invalid stream id in record: {err}")))?;
    let meta = if e.metadata == b"{}" {
        None
    } else {
        compact_meta(&Metadata::parse_stored(e.metadata).map_err(|err| bad(format!("invalid metadata: {err}")))?)
    };
    Ok(IndexedEvent {
        position: e.global_position,
        stream,
        version: e.version,
        event_id: e.event_id,
        event_type: names.event_type(e.event_type),
        recorded_at: Timestamp::from_micros(e.recorded_at),
        meta,
        payload: Loc { segment, len: s.len, offset: s.offset },
    })
}

/// The error for an event out of place (`position`/`version` were next).
fn misplaced(e: &IndexedEvent<Loc>, position: u64, version: u64, file: &str) -> Error {
    Error::Corrupted {
        location: format!("{file} at offset {}", e.payload.offset),
        reason: if e.position == position {
            format!("stream {} version {} where {version} was next", e.stream, e.version)
        } else {
            format!("position {} follows {} (gap or reorder)", e.position, position - 1)
        },
    }
}

/// Applies one committed record to the index being rebuilt, checking
/// that positions are gapless and versions consecutive.
pub(crate) fn apply(
    index: &mut LogIndex<Loc>,
    snapshots: &mut HashMap<StreamId, SnapLoc>,
    names: &mut Names,
    segment: u32,
    s: Scanned<'_>,
    file: &str,
) -> Result<()> {
    let loc = Loc { segment, len: s.len, offset: s.offset };
    let bad = |reason: String| Error::Corrupted { location: format!("{file} at offset {}", s.offset), reason };
    let stream = |names: &mut Names, name: &str| names.stream(name).map_err(|e| bad(format!("invalid stream id in record: {e}")));
    match s.record {
        Record::Event(ref e) => {
            let entry = event_entry(names, segment, &s, e, file)?;
            index.push_checked_run([entry]).map_err(|m| misplaced(&m.entry, m.expected_position, m.expected_version, file))?;
        }
        Record::StreamMeta { stream: name, metadata } => {
            index.apply_change(StreamChange::Metadata { stream: stream(names, name)?, metadata })
        }
        Record::Delete { stream: name, tombstone, deleted_through } => {
            index.apply_change(StreamChange::Delete { stream: stream(names, name)?, tombstone, deleted_through });
        }
        Record::Snapshot { stream: name, version, .. } => {
            let id = stream(names, name)?;
            if snapshots.get(&id).is_none_or(|s: &SnapLoc| s.version <= version) {
                snapshots.insert(id, SnapLoc { version, loc });
            }
        }
        Record::Checkpoint { name, position } => index.set_checkpoint(name.to_owned(), position),
        Record::Removed(run) => {
            let (event_type, recorded_at) = (names.event_type(""), index.last_recorded_at());
            for (position, name, version) in run.events() {
                let stream = stream(names, name)?;
                let entry = IndexedEvent {
                    position,
                    stream,
                    version,
                    event_id: chronicle_core::Uuid::nil(),
                    event_type: event_type.clone(),
                    recorded_at,
                    meta: None,
                    payload: Loc::REMOVED,
                };
                index.push_scavenged(entry).map_err(|(p, v)| {
                    bad(format!("removed position {position} (version {version} of {name}) where position {p} / version {v} was next"))
                })?;
            }
        }
    }
    Ok(())
}
