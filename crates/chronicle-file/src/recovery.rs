//! Opening a store: scan every segment, rebuild the index, truncate a torn
//! tail, refuse to open on corruption in committed data.

use crate::{
    format::{Record, SegmentHeader},
    io::{SegmentFile, Storage},
    scan::{Scanned, scan_segment},
    shared::{Loc, SnapLoc},
};
use chronicle_core::{Error, IndexedEvent, LogIndex, Metadata, RawJson, Result, StreamChange, StreamId, Timestamp, compact_meta};
use std::{
    collections::{BTreeMap, HashMap},
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
}

fn io(storage: &dyn Storage, no: u32, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let name = storage.describe(no);
    let what = what.to_owned();
    move |e| Error::io(format!("{what} {name}"), e)
}

/// Creates segment `no` starting at `first_position`, header durable.
pub(crate) fn create_segment(storage: &dyn Storage, no: u32, first_position: u64) -> Result<Arc<dyn SegmentFile>> {
    let file = storage.create(no).map_err(io(storage, no, "creating"))?;
    let header = SegmentHeader { segment_no: no, first_position }.encode();
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
    let mut segments = BTreeMap::new();
    let mut truncated = 0;
    let list = storage.list().map_err(|e| Error::io("listing segments", e))?;
    let Some(&last) = list.last() else {
        if !repair {
            return Err(Error::Unavailable { reason: "the store has no segments yet".into() });
        }
        segments.insert(1, create_segment(storage, 1, 1)?);
        return Ok(Recovered { index, snapshots, segments, tail: (1, crate::format::SEGMENT_HEADER_LEN as u64), truncated });
    };
    let mut tail = (last, 0);
    for &no in &list {
        let file = storage.open(no).map_err(io(storage, no, "opening"))?;
        let buf = read_segment(storage, no, &*file)?;
        let name = storage.describe(no);
        if no == last && buf.len() < crate::format::SEGMENT_HEADER_LEN && !repair {
            break; // being created by the writer; the follower picks it up
        }
        if no == last && buf.len() < crate::format::SEGMENT_HEADER_LEN {
            // Crashed while creating this segment: nothing was ever committed in it.
            let header = SegmentHeader { segment_no: no, first_position: index.len() + 1 }.encode();
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
        let (header, end) = scan_segment(&buf, &name, no == last, |_, records| {
            records.into_iter().try_for_each(|r| apply(&mut index, &mut snapshots, no, r, &name))
        })?;
        if header.segment_no != no {
            return Err(Error::Corrupted {
                location: format!("{name} at offset 12"),
                reason: format!("header names segment {}", header.segment_no),
            });
        }
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
    Ok(Recovered { index, snapshots, segments, tail, truncated })
}

/// Applies one committed record to the index being rebuilt, checking
/// that positions are gapless and versions consecutive.
pub(crate) fn apply(
    index: &mut LogIndex<Loc>,
    snapshots: &mut HashMap<StreamId, SnapLoc>,
    segment: u32,
    s: Scanned<'_>,
    file: &str,
) -> Result<()> {
    let loc = Loc { segment, len: s.len, offset: s.offset };
    let bad = |reason: String| Error::Corrupted { location: format!("{file} at offset {}", s.offset), reason };
    let stream = |name: &str| StreamId::new(name).map_err(|e| bad(format!("invalid stream id in record: {e}")));
    match s.record {
        Record::Event(e) => {
            if e.global_position != index.len() + 1 {
                return Err(bad(format!("position {} follows {} (gap or reorder)", e.global_position, index.len())));
            }
            let stream = stream(e.stream)?;
            let expected = chronicle_core::AppendView::stream_info(index, &stream).last_version + 1;
            if e.version != expected {
                return Err(bad(format!("stream {stream} version {} where {expected} was next", e.version)));
            }
            let meta = if e.metadata == b"{}" {
                None
            } else {
                let raw = RawJson::from_trusted(bytes::Bytes::copy_from_slice(e.metadata));
                compact_meta(&Metadata::parse(&raw).map_err(|err| bad(format!("invalid metadata: {err}")))?)
            };
            index.push(IndexedEvent {
                position: e.global_position,
                stream,
                version: e.version,
                event_id: e.event_id,
                event_type: Arc::from(e.event_type),
                recorded_at: Timestamp::from_micros(e.recorded_at),
                meta,
                payload: loc,
            });
        }
        Record::StreamMeta { stream: name, metadata } => index.apply_change(StreamChange::Metadata { stream: stream(name)?, metadata }),
        Record::Delete { stream: name, tombstone, deleted_through } => {
            index.apply_change(StreamChange::Delete { stream: stream(name)?, tombstone, deleted_through });
        }
        Record::Snapshot { stream: name, version, .. } => {
            let newer = snapshots.get(&stream(name)?).is_none_or(|s: &SnapLoc| s.version <= version);
            if newer {
                snapshots.insert(stream(name)?, SnapLoc { version, loc });
            }
        }
        Record::Checkpoint { name, position } => index.set_checkpoint(name.to_owned(), position),
    }
    Ok(())
}
