//! Archiving: sealed segments (with their index files) move to another
//! directory — a second disk, a mounted object store — once their last
//! event is older than `archive_after`; reads go on through the archived
//! copy.
//!
//! Moving a segment, crash-safe at every step: copy it to
//! `ARCHIVE/segments/NNNNNNNN.seg.archiving`, fsync, rename to `.seg`,
//! fsync the directory (the index file likewise); swap the open handle
//! (under the segments write lock, so no read is between a lookup and its
//! read); remove the local files. An open finds a segment locally first,
//! then in the archive; one found in both (a crash before the local copy
//! was removed) is complete in the archive, so the writable open removes
//! the local one; `.archiving` leftovers are removed.

use crate::{
    io::{OsStorage, SegmentFile, Storage},
    shared::{Shared, read, write},
};
use chronicle_core::{Result, Timestamp};
use std::{
    fs::File,
    io,
    path::Path,
    sync::{Arc, PoisonError, atomic::Ordering},
    time::Duration,
};

/// Where and when sealed segments are archived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// The archive directory (its `segments/` and `index/` are created).
    pub dir: std::path::PathBuf,
    /// Archive a sealed segment once its last event is this old.
    pub after: Duration,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Copies `from` to `to` durably: aside, fsync, rename, fsync the directory.
fn copy_durably(from: &Path, to: &Path) -> io::Result<()> {
    let aside = to.with_extension("archiving");
    std::fs::copy(from, &aside)?;
    File::open(&aside)?.sync_all()?;
    std::fs::rename(&aside, to)?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

pub(crate) fn copy_to_archive(storage: &OsStorage, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
    let (Some(archived), Some(archived_index)) = (storage.archive_path(segment_no), storage.archived_index_path(segment_no)) else {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "no archive directory"));
    };
    let index = storage.index_path(segment_no);
    if index.exists() {
        copy_durably(&index, &archived_index)?;
    }
    copy_durably(&storage.local_path(segment_no), &archived)?;
    Ok(Arc::new(ReadOnly(File::open(&archived)?)))
}

pub(crate) fn drop_local(storage: &OsStorage, segment_no: u32) -> io::Result<()> {
    for path in [storage.local_path(segment_no), storage.index_path(segment_no)] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    sync_dir(storage.local_dir())
}

impl OsStorage {
    /// After a crash mid-archive: a segment in both places is complete in
    /// the archive (it is renamed there only once durable), so the local
    /// copy goes.
    pub(crate) fn settle_archive(&self) -> io::Result<()> {
        if self.archive_path(0).is_none() {
            return Ok(());
        }
        for no in self.list()? {
            if self.local_path(no).exists() && self.archive_path(no).is_some_and(|a| a.exists()) {
                drop_local(self, no)?;
            }
        }
        Ok(())
    }
}

/// An archived segment: read only (sealed segments are never written; a
/// scavenge replaces the file whole).
#[derive(Debug)]
struct ReadOnly(File);

impl SegmentFile for ReadOnly {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }
    fn write_all_at(&self, _buf: &[u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "archived segments are not written"))
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "archived segments are not written"))
    }
}

/// The last position of sealed segment `no`: the next segment's first
/// position minus one.
fn last_position(shared: &Shared, no: u32) -> Option<u64> {
    let segments = read(&shared.segments);
    let (_, next) = segments.range(no + 1..).next()?;
    let mut buf = [0u8; crate::format::SEGMENT_HEADER_LEN];
    next.read_exact_at(&mut buf, 0).ok()?;
    Some(crate::format::SegmentHeader::decode(&buf).ok()?.first_position.saturating_sub(1))
}

/// Archives every sealed segment whose last event is older than `after`;
/// returns how many moved.
pub(crate) fn archive_due(shared: &Shared, after: Duration) -> Result<usize> {
    let storage = &*shared.storage;
    let candidates: Vec<u32> = {
        let segments = read(&shared.segments);
        let tail = segments.keys().next_back().copied();
        segments.keys().copied().filter(|no| Some(*no) != tail && !storage.is_archived(*no)).collect()
    };
    let cutoff = Timestamp::now().as_micros().saturating_sub(i64::try_from(after.as_micros()).unwrap_or(i64::MAX));
    let mut moved = 0;
    for no in candidates {
        let last = last_position(shared, no).and_then(|p| read(&shared.index).entry(p).map(|e| e.recorded_at.as_micros()));
        if last.is_none_or(|t| t > cutoff) {
            continue;
        }
        // One rewrite at a time: never next to a scavenge or the sealer of this segment.
        let _one = shared.rewriting.lock().unwrap_or_else(PoisonError::into_inner);
        if storage.is_archived(no) {
            continue;
        }
        let file = storage.archive(no).map_err(|e| chronicle_core::Error::io(format!("archiving {}", storage.describe(no)), e))?;
        write(&shared.segments).insert(no, file);
        storage.drop_local(no).map_err(|e| chronicle_core::Error::io(format!("removing the archived {}", storage.describe(no)), e))?;
        moved += 1;
    }
    Ok(moved)
}

/// The archiver thread of a writable store: every `min(after, 60 s)` (at
/// least a second), archive what is due, until `stop`.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    options: ArchiveOptions,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> io::Result<std::thread::JoinHandle<()>> {
    let every = options.after.clamp(Duration::from_secs(1), Duration::from_secs(60));
    std::thread::Builder::new().name("chronicle-archiver".into()).spawn(move || {
        let mut waited = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            waited += Duration::from_millis(100);
            if waited < every {
                continue;
            }
            waited = Duration::ZERO;
            if let Err(e) = archive_due(&shared, options.after) {
                tracing::error!(error = %e, "archiving sealed segments failed; retrying later");
            }
        }
    })
}
