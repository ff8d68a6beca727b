//! Opening a store: scan every segment, rebuild the index, truncate a torn
//! tail, refuse to open on corruption in committed data.

use crate::{
    format::{Record, SegmentHeader},
    index_files,
    io::{SegmentFile, Storage},
    scan::{Scanned, check_segment_no, scan_segment},
    shared::{Loc, SnapLoc},
};
use chronicle_core::{Error, IndexedEvent, LogIndex, Metadata, Result, StreamChange, StreamId, Timestamp, compact_meta};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

/// What recovery rebuilt.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) index: LogIndex<Loc>,
    pub(crate) snapshots: HashMap<StreamId, SnapLoc>,
    pub(crate) segments: BTreeMap<u32, Arc<dyn SegmentFile>>,
    /// The segment appends continue in, and its committed length.
    pub(crate) tail: (u32, u64),
    /// Bytes of torn tail removed.
    pub(crate) truncated: u64,
    /// Sealed segments loaded from their index files.
    pub(crate) indexed: usize,
}

fn io(storage: &dyn Storage, no: u32, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let name = storage.describe(no);
    let what = what.to_owned();
    move |e| Error::io(format!("{what} {name}"), e)
}

/// Creates segment `no` starting at `first_position`, header durable.
pub(crate) fn create_segment(storage: &dyn Storage, no: u32, first_position: u64) -> Result<Arc<dyn SegmentFile>> {
    let file = storage.create(no).map_err(io(storage, no, "creating"))?;
    let header = SegmentHeader { segment_no: no, first_position, compressed: false }.encode();
    file.write_all_at(&header, 0).map_err(io(storage, no, "writing header of"))?;
    file.sync_data().map_err(io(storage, no, "syncing"))?;
    Ok(file)
}

/// Reads a whole segment.
pub(crate) fn read_segment(storage: &dyn Storage, no: u32, file: &dyn SegmentFile) -> Result<Vec<u8>> {
    let len = file.len().map_err(io(storage, no, "sizing"))?;
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut buf, 0).map_err(io(storage, no, "reading"))?;
    Ok(buf)
}

/// Scans the log and rebuilds everything. With `repair` (the writer's
/// open) a torn tail is truncated; without it (a read-only open, another
/// process may be writing) nothing is changed and the scan stops before
/// the first incomplete block.
pub(crate) fn recover(storage: &dyn Storage, repair: bool) -> Result<Recovered> {
    let mut index = LogIndex::new();
    let mut snapshots = HashMap::new();
    let mut names = Names::default();
    let mut segments = BTreeMap::new();
    let mut truncated = 0;
    if repair {
        // Replacements a scavenge had not installed when it stopped.
        storage.discard_staged().map_err(|e| Error::io("removing staged segment files", e))?;
    }
    let list = storage.list().map_err(|e| Error::io("listing segments", e))?;
    let Some(&last) = list.last() else {
        if !repair {
            return Err(Error::Unavailable { reason: "the store has no segments yet".into() });
        }
        segments.insert(1, create_segment(storage, 1, 1)?);
        return Ok(Recovered { index, snapshots, segments, tail: (1, crate::format::SEGMENT_HEADER_LEN as u64), truncated, indexed: 0 });
    };
    let mut tail = (last, 0);
    let mut indexed = 0;
    for &no in &list {
        let file = storage.open(no).map_err(io(storage, no, "opening"))?;
        let name = storage.describe(no);
        if no != last {
            if load_sealed(storage, no, &*file, &name, repair, |s| apply(&mut index, &mut snapshots, &mut names, no, s, &name))? {
                indexed += 1;
            }
            segments.insert(no, file);
            continue;
        }
        // The tail segment: scanned, its torn end truncated.
        let buf = read_segment(storage, no, &*file)?;
        if buf.len() < crate::format::SEGMENT_HEADER_LEN && !repair {
            break; // being created by the writer; the follower picks it up
        }
        if buf.len() < crate::format::SEGMENT_HEADER_LEN {
            // Crashed while creating this segment: nothing was ever committed in it.
            let header = SegmentHeader { segment_no: no, first_position: index.len() + 1, compressed: false }.encode();
            file.set_len(0).and_then(|()| file.write_all_at(&header, 0)).and_then(|()| file.sync_data()).map_err(io(
                storage,
                no,
                "repairing",
            ))?;
            truncated += buf.len() as u64;
            tail = (no, header.len() as u64);
            segments.insert(no, file);
            continue;
        }
        let (header, end) = scan_segment(&buf, &name, true, |_, records| {
            records.into_iter().try_for_each(|r| apply(&mut index, &mut snapshots, &mut names, no, r, &name))
        })?;
        check_segment_no(&header, no, &name)?;
        if let Some(at) = end.torn_at.filter(|_| repair) {
            tracing::warn!(segment = %name, offset = at, bytes = buf.len() as u64 - at, "truncating torn tail (an unacknowledged write)");
            file.set_len(at).and_then(|()| file.sync_data()).map_err(io(storage, no, "truncating"))?;
            truncated += buf.len() as u64 - at;
        }
        tail = (no, end.valid_len);
        segments.insert(no, file);
    }
    let head = index.len();
    index.publish(head);
    Ok(Recovered { index, snapshots, segments, tail, truncated, indexed })
}

/// Feeds the records of sealed segment `no` to `apply`: from its index
/// file when a valid one describes it (true), else by scanning the segment
/// (and, with `repair`, writing the index file for next time).
fn load_sealed(
    storage: &dyn Storage,
    no: u32,
    file: &dyn SegmentFile,
    name: &str,
    repair: bool,
    mut apply: impl FnMut(Scanned<'_>) -> Result<()>,
) -> Result<bool> {
    if let Some(bytes) = index_files::load(storage, no, file)
        && let Some(entries) = index_files::entries(&bytes, name)
    {
        let from_index = |e: Error| match e {
            Error::Corrupted { location, reason } => Error::Corrupted {
                location,
                reason: format!("{reason} (read from its index file; `chronicle verify --rebuild-index` rewrites index files)"),
            },
            other => other,
        };
        entries.into_iter().try_for_each(&mut apply).map_err(from_index)?;
        return Ok(true);
    }
    let buf = read_segment(storage, no, file)?;
    let (header, bytes) = index_files::build(&buf, name, |_, records| records.into_iter().try_for_each(&mut apply))?;
    check_segment_no(&header, no, name)?;
    if repair && let Err(e) = storage.write_index(no, &bytes) {
        tracing::warn!(segment = %name, error = %e, "could not write the index file; the next open scans the segment again");
    }
    Ok(false)
}

/// Stream ids and event types seen while rebuilding: each name is
/// validated and allocated once, and every event of a stream shares it.
#[derive(Debug, Default)]
pub(crate) struct Names {
    streams: HashSet<StreamId, foldhash::fast::RandomState>,
    types: HashSet<Arc<str>, foldhash::fast::RandomState>,
}

impl Names {
    fn stream(&mut self, name: &str) -> std::result::Result<StreamId, Error> {
        if let Some(id) = self.streams.get(name) {
            return Ok(id.clone());
        }
        let id = StreamId::new(name)?;
        self.streams.insert(id.clone());
        Ok(id)
    }

    fn event_type(&mut self, name: &str) -> Arc<str> {
        if let Some(t) = self.types.get(name) {
            return t.clone();
        }
        let t: Arc<str> = Arc::from(name);
        self.types.insert(t.clone());
        t
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
    let mut stream = |name: &str| names.stream(name).map_err(|e| bad(format!("invalid stream id in record: {e}")));
    match s.record {
        Record::Event(e) => {
            let id = stream(e.stream)?;
            let meta = if e.metadata == b"{}" {
                None
            } else {
                compact_meta(&Metadata::parse_stored(e.metadata).map_err(|err| bad(format!("invalid metadata: {err}")))?)
            };
            let entry = IndexedEvent {
                position: e.global_position,
                stream: id,
                version: e.version,
                event_id: e.event_id,
                event_type: names.event_type(e.event_type),
                recorded_at: Timestamp::from_micros(e.recorded_at),
                meta,
                payload: loc,
            };
            index.push_checked(entry).map_err(|(position, version)| {
                bad(if e.global_position == position {
                    format!("stream {} version {} where {version} was next", e.stream, e.version)
                } else {
                    format!("position {} follows {} (gap or reorder)", e.global_position, position - 1)
                })
            })?;
        }
        Record::StreamMeta { stream: name, metadata } => index.apply_change(StreamChange::Metadata { stream: stream(name)?, metadata }),
        Record::Delete { stream: name, tombstone, deleted_through } => {
            index.apply_change(StreamChange::Delete { stream: stream(name)?, tombstone, deleted_through });
        }
        Record::Snapshot { stream: name, version, .. } => {
            let id = stream(name)?;
            if snapshots.get(&id).is_none_or(|s: &SnapLoc| s.version <= version) {
                snapshots.insert(id, SnapLoc { version, loc });
            }
        }
        Record::Checkpoint { name, position } => index.set_checkpoint(name.to_owned(), position),
        Record::Removed(run) => {
            let (event_type, recorded_at) = (names.event_type(""), index.last_recorded_at());
            for (position, name, version) in run.events() {
                let stream = names.stream(name).map_err(|e| bad(format!("invalid stream id in record: {e}")))?;
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
