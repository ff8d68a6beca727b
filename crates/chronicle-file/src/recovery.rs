//! Opening a store: scan every segment, rebuild the index, truncate a torn
//! tail, refuse to open on corruption in committed data.

use crate::{
    format::{CheckedIndex, SegmentHeader},
    index_files,
    io::read_segment,
    io::{SegmentFile, Storage},
    rebuild::{IdsBuilder, Rebuilt},
    scan::{Scanned, check_segment_no, scan_segment},
    shared::{Loc, SnapLoc},
};
use chronicle_core::{Error, LogIndex, Result, StreamId};
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

/// Scans the log and rebuilds everything. With `repair` (the writer's
/// open) a torn tail is truncated; without it (a read-only open, another
/// process may be writing) nothing is changed and the scan stops before
/// the first incomplete block.
pub(crate) fn recover(storage: &dyn Storage, repair: bool) -> Result<Recovered> {
    let mut rebuilt = Rebuilt::default();
    let mut segments = BTreeMap::new();
    let mut truncated = 0;
    if repair {
        // Replacements a scavenge had not installed when it stopped.
        storage.discard_staged().map_err(|e| Error::io("removing staged segment files", e))?;
    }
    let list = storage.list().map_err(|e| Error::io("listing segments", e))?;
    let Some((&last, sealed)) = list.split_last() else {
        if !repair {
            return Err(Error::Unavailable { reason: "the store has no segments yet".into() });
        }
        segments.insert(1, create_segment(storage, 1, 1)?);
        let Rebuilt { index, snapshots, .. } = rebuilt;
        return Ok(Recovered { index, snapshots, segments, tail: (1, crate::format::SEGMENT_HEADER_LEN as u64), truncated, indexed: 0 });
    };
    let files = sealed.iter().map(|&no| Ok((no, storage.open(no).map_err(io(storage, no, "opening"))?))).collect::<Result<Vec<_>>>()?;
    let indexed = load_sealed_segments(storage, repair, &files, &mut rebuilt)?;
    segments.extend(files);
    // The tail segment: scanned, its torn end truncated.
    let (no, name) = (last, storage.describe(last));
    let file = storage.open(no).map_err(io(storage, no, "opening"))?;
    let buf = read_segment(storage, no, &*file)?;
    let mut tail = (no, 0);
    if buf.len() < crate::format::SEGMENT_HEADER_LEN && repair {
        // Crashed while creating this segment: nothing was ever committed in it.
        let header = SegmentHeader { segment_no: no, first_position: rebuilt.index.len() + 1, compressed: false }.encode();
        file.set_len(0).and_then(|()| file.write_all_at(&header, 0)).and_then(|()| file.sync_data()).map_err(io(
            storage,
            no,
            "repairing",
        ))?;
        truncated += buf.len() as u64;
        tail = (no, header.len() as u64);
        segments.insert(no, file);
    } else if buf.len() >= crate::format::SEGMENT_HEADER_LEN {
        let (header, end) =
            scan_segment(&buf, &name, true, |_, records| records.into_iter().try_for_each(|r| rebuilt.apply(no, r, &name)))?;
        rebuilt.flush(&name)?;
        check_segment_no(&header, no, &name)?;
        if let Some(at) = end.torn_at.filter(|_| repair) {
            tracing::warn!(segment = %name, offset = at, bytes = buf.len() as u64 - at, "truncating torn tail (an unacknowledged write)");
            file.set_len(at).and_then(|()| file.sync_data()).map_err(io(storage, no, "truncating"))?;
            truncated += buf.len() as u64 - at;
        }
        tail = (no, end.valid_len);
        segments.insert(no, file);
    }
    // else: being created by the writer (read-only open); the follower picks it up.
    let Rebuilt { mut index, snapshots, .. } = rebuilt;
    let head = index.len();
    index.publish(head);
    Ok(Recovered { index, snapshots, segments, tail, truncated, indexed })
}

/// Applies every sealed segment, in order; returns how many were loaded
/// from their index files. Index files are read one segment ahead, and
/// event ids indexed, on threads of their own.
fn load_sealed_segments(
    storage: &dyn Storage,
    repair: bool,
    files: &[(u32, Arc<dyn SegmentFile>)],
    rebuilt: &mut Rebuilt,
) -> Result<usize> {
    let mut ids = IdsBuilder::start(&mut rebuilt.index, files.len());
    let indexed = std::thread::scope(|scope| {
        let mut prefetch = index_files::Prefetch::start(scope, storage, files);
        let mut indexed = 0;
        for (i, (no, file)) in files.iter().enumerate() {
            let name = storage.describe(*no);
            let fetched = prefetch.next();
            let apply = |s: Scanned<'_>| rebuilt.apply(*no, s, &name);
            if let Some(bytes) = load_sealed(storage, *no, &**file, &name, repair, fetched, apply)? {
                prefetch.recycle(bytes);
                indexed += 1;
            }
            rebuilt.flush(&name)?;
            ids.send(&mut rebuilt.index);
            if i == 0 {
                // Segments are alike: size the log once, from the first.
                rebuilt.index.reserve(usize::try_from(rebuilt.index.len()).unwrap_or(0).saturating_mul(files.len()));
                let (addr, len) = rebuilt.index.spare_capacity();
                // Only a hint: without a thread, pages fault in on first use.
                let _ = std::thread::Builder::new()
                    .name("chr-open-mem".into())
                    .spawn_scoped(scope, move || crate::prefault::populate(addr, len));
            }
        }
        Ok::<_, Error>(indexed)
    })?;
    ids.finish(&mut rebuilt.index)?;
    Ok(indexed)
}

/// Feeds the records of sealed segment `no` to `apply`: from its index
/// file (`index`, read and checked by [`index_files::load`]) when there is
/// one (returning its buffer, for the next), else by scanning the segment
/// (and, with `repair`, writing the index file for next time).
fn load_sealed(
    storage: &dyn Storage,
    no: u32,
    file: &dyn SegmentFile,
    name: &str,
    repair: bool,
    index: Option<CheckedIndex>,
    mut apply: impl FnMut(Scanned<'_>) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    if let Some(index) = index {
        let from_index = |e: Error| match e {
            Error::Corrupted { location, reason } => Error::Corrupted {
                location,
                reason: format!("{reason} (read from its index file; `chronicle verify --rebuild-index` rewrites index files)"),
            },
            other => other,
        };
        index_files::entries(&index, name).try_for_each(|entry| apply(entry?)).map_err(from_index)?;
        return Ok(Some(index.into_bytes()));
    }
    let buf = read_segment(storage, no, file)?;
    let (header, bytes) = index_files::build(&buf, name, |_, records| records.into_iter().try_for_each(&mut apply))?;
    check_segment_no(&header, no, name)?;
    if repair && let Err(e) = storage.write_index(no, &bytes) {
        tracing::warn!(segment = %name, error = %e, "could not write the index file; the next open scans the segment again");
    }
    Ok(None)
}
