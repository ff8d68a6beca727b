//! Rewriting sealed segments in a running store: compression when a
//! segment is sealed, and `scavenge`, which also reclaims what deletes and
//! retention hid.
//!
//! One segment at a time (serialised by `Shared::rewriting`):
//! 1. read the sealed segment and build its replacement ([`compact`]),
//!    with no lock held — readers and the writer go on;
//! 2. write the replacement under a staging name and fsync it; remove the
//!    segment's index file;
//! 3. under the segment and index locks: check that everything removed is
//!    still invisible (a retention setting may have been relaxed
//!    meanwhile: then the replacement is discarded), rename the replacement
//!    over the segment (atomic, directory fsynced), point the index at the
//!    new locations;
//! 4. write the new index file.
//!
//! A crash anywhere leaves the old segment or its complete replacement in
//! place (both describe the same positions); a staged file or a missing
//! index file left behind is cleaned up or rebuilt by the next open.

use crate::{
    compact::{self, Removable, Rewritten},
    io::read_segment,
    shared::{Loc, Shared, read, write},
};
use chronicle_core::{Error, Result, ScavengeReport, Timestamp};
use std::sync::{Arc, PoisonError};

/// What installing one rewrite did (with the segment's bytes before).
enum Outcome {
    Installed(Box<Rewritten>, u64),
    Unchanged(u64),
    Abandoned(u64),
}

/// The sealed segments: every open segment but the last (the writer's).
fn sealed(shared: &Shared) -> Vec<u32> {
    let segments = read(&shared.segments);
    let mut list: Vec<u32> = segments.keys().copied().collect();
    list.pop();
    list
}

/// Which sealed segments a scavenge looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every one (also drops superseded snapshots wherever they are).
    All,
    /// Only those holding an event hidden for good and still stored (what
    /// a retention pass just cut): the rest is not even read.
    Hidden,
}

/// The sealed segments in `list` holding an event `removable` names that
/// is still stored.
fn holding_removable(shared: &Shared, list: Vec<u32>, removable: &Removable) -> Vec<u32> {
    let index = read(&shared.index);
    let mut wanted = std::collections::BTreeSet::new();
    for (stream, &through) in removable {
        for &position in index.unscavenged_positions(stream, through) {
            if let Some(entry) = index.entry(position).filter(|e| e.payload != Loc::REMOVED) {
                wanted.insert(entry.payload.segment);
            }
        }
    }
    list.into_iter().filter(|no| wanted.contains(no)).collect()
}

/// What may be removed now: per stream, the versions invisible forever.
fn plan_removals(shared: &Shared) -> Removable {
    let index = read(&shared.index);
    let now = Timestamp::now();
    index
        .stream_ids()
        .filter_map(|s| {
            let through = index.invisible_through(s, now);
            (through > 0).then(|| (s.clone(), through))
        })
        .collect()
}

/// The offsets in segment `no` of the snapshot records still current.
fn current_snapshots(shared: &Shared, no: u32) -> std::collections::HashSet<u64> {
    read(&shared.snapshots).values().filter(|s| s.loc.segment == no).map(|s| s.loc.offset).collect()
}

/// Scavenges the sealed segments of `scope`; `progress(done, total)` after each.
pub(crate) fn scavenge(shared: &Shared, scope: Scope, mut progress: impl FnMut(usize, usize)) -> Result<ScavengeReport> {
    shared.check_writable()?;
    let all = sealed(shared);
    let sealed_segments = all.len();
    let removable = plan_removals(shared);
    let list = match scope {
        Scope::All => all,
        Scope::Hidden => holding_removable(shared, all, &removable),
    };
    let mut report = ScavengeReport { sealed_segments, ..ScavengeReport::default() };
    for (i, &no) in list.iter().enumerate() {
        match rewrite_segment(shared, no, &removable)? {
            Outcome::Installed(done, before) => {
                report.rewritten += 1;
                report.events_removed += done.removed.len() as u64;
                report.snapshots_dropped += done.dropped_snapshots;
                (report.bytes_before, report.bytes_after) = (report.bytes_before + before, report.bytes_after + done.segment.len() as u64);
            }
            Outcome::Unchanged(bytes) => {
                (report.bytes_before, report.bytes_after) = (report.bytes_before + bytes, report.bytes_after + bytes)
            }
            Outcome::Abandoned(bytes) => {
                report.abandoned += 1;
                (report.bytes_before, report.bytes_after) = (report.bytes_before + bytes, report.bytes_after + bytes);
            }
        }
        progress(i + 1, list.len());
    }
    report.bytes_freed = report.bytes_before.saturating_sub(report.bytes_after);
    Ok(report)
}

/// Compresses sealed segment `no` (keeping every event) and writes its
/// index file; with `compress` false, only writes the index file.
pub(crate) fn seal(shared: &Shared, no: u32, compress: bool) -> Result<()> {
    if !compress {
        return crate::index_files::index_sealed(&*shared.storage, no);
    }
    rewrite_segment(shared, no, &Removable::default()).map(drop)
}

/// [`seal`] on a thread of its own (the writer goes on appending); a
/// failure is logged — the segment stays as it is, and the next open
/// scans it if it has no index file.
pub(crate) fn seal_in_background(shared: Arc<Shared>, no: u32, compress: bool) -> Option<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new().name("chronicle-sealer".into()).spawn(move || {
        if let Err(e) = seal(&shared, no, compress) {
            tracing::warn!(segment = %shared.storage.describe(no), error = %e, "sealing a segment failed; it stays uncompressed");
        }
    });
    spawned.map_err(|e| tracing::warn!(error = %e, "no thread to seal a segment")).ok()
}

fn rewrite_segment(shared: &Shared, no: u32, removable: &Removable) -> Result<Outcome> {
    let _one_at_a_time = shared.rewriting.lock().unwrap_or_else(PoisonError::into_inner);
    // Taken under the lock: a rewrite that ran before (the sealer's) moved
    // the snapshot records of this segment.
    let keep_snapshots = current_snapshots(shared, no);
    let storage = &*shared.storage;
    let name = storage.describe(no);
    let Some(file) = read(&shared.segments).get(&no).cloned() else { return Ok(Outcome::Unchanged(0)) };
    let buf = read_segment(storage, no, &*file)?;
    let before = buf.len() as u64;
    let done = compact::rewrite(&buf, &name, removable, &keep_snapshots)?;
    drop(buf);
    if done.is_noop() {
        return Ok(Outcome::Unchanged(before));
    }
    storage.stage_segment(no, &done.segment).map_err(|e| Error::io(format!("writing the replacement of {name}"), e))?;
    storage.remove_index(no).map_err(|e| Error::io(format!("removing the index file of {name}"), e))?;
    {
        let mut segments = write(&shared.segments);
        let mut index = write(&shared.index);
        let now = Timestamp::now();
        let relaxed = done.removed_through.iter().any(|(stream, &through)| index.invisible_through(stream, now) < through);
        if relaxed {
            drop((index, segments));
            tracing::info!(segment = %name, "retention relaxed during the scavenge; segment left as it was");
            storage.discard_staged().map_err(|e| Error::io(format!("discarding the replacement of {name}"), e))?;
            // The old index file was removed: write it again.
            return crate::index_files::index_sealed(storage, no).map(|()| Outcome::Abandoned(before));
        }
        let installed = storage.install_staged(no).map_err(|e| Error::io(format!("installing the replacement of {name}"), e))?;
        segments.insert(no, installed);
        for &(position, offset, len) in &done.moved {
            index.set_payload(position, Loc { segment: no, len, offset });
        }
        for (stream, &through) in &done.removed_through {
            index.mark_scavenged(stream, through);
        }
        let mut snapshots = write(&shared.snapshots);
        for snap in snapshots.values_mut().filter(|s| s.loc.segment == no) {
            if let Some(&(_, offset, len)) = done.snapshots.iter().find(|(old, ..)| *old == snap.loc.offset) {
                snap.loc = Loc { segment: no, len, offset };
            }
        }
        shared.forget_frames(no);
    }
    // The removed events are marked and their ids forgotten after the
    // install, a chunk per lock: hundreds of thousands at once would hold
    // appends up for milliseconds. Until marked they are invisible all the
    // same (`mark_scavenged` above, under the lock), so no read follows
    // their stale locations; a new event reusing one of their ids is taken
    // for a retry of the removed one until its id is forgotten.
    for positions in done.removed.chunks(8192) {
        let mut index = write(&shared.index);
        for &position in positions {
            index.set_payload(position, Loc::REMOVED);
        }
    }
    for ids in done.removed_ids.chunks(8192) {
        write(&shared.index).forget_ids(ids.iter().copied());
    }
    if let Err(e) = storage.write_index(no, &done.index) {
        tracing::warn!(segment = %name, error = %e, "could not write the index file; the next open scans the segment");
    }
    Ok(Outcome::Installed(Box::new(done), before))
}
