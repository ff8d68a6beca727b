//! State shared by the writer thread and readers.

use crate::{
    format::{FRAME_HEADER_LEN, FormatError, FrameHeader, decode_frame, unpack_offset},
    io::{SegmentFile, Storage},
};
use chronicle_core::{Error, LogIndex, Result, StreamId};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};
use tokio::sync::watch;

/// Where a record lives: segment number, offset, framed length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) segment: u32,
    pub(crate) len: u32,
    pub(crate) offset: u64,
}

impl Loc {
    /// The location of an event a scavenge removed (never read: such events
    /// are invisible).
    pub(crate) const REMOVED: Loc = Loc { segment: 0, len: 0, offset: 0 };
}

/// The latest snapshot of a stream: its version and record location.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SnapLoc {
    pub(crate) version: u64,
    pub(crate) loc: Loc,
}

/// Everything readers and the writer share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) index: RwLock<LogIndex<Loc>>,
    pub(crate) snapshots: RwLock<HashMap<StreamId, SnapLoc>>,
    pub(crate) segments: RwLock<BTreeMap<u32, Arc<dyn SegmentFile>>>,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) head: watch::Sender<u64>,
    /// Set when a write or fsync failed: the store refuses writes until
    /// reopened (the state of unsynced data is unknown).
    pub(crate) failed: Mutex<Option<String>>,
    /// Recently decompressed frames of compressed segments.
    pub(crate) frames: Mutex<FrameCache>,
    /// Held while a sealed segment is rewritten (one at a time).
    pub(crate) rewriting: Mutex<()>,
}

// Every mutation under these locks is decided before the first write, so a
// panic elsewhere cannot leave them half-updated: a poisoned lock is usable.
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The failure that stopped writes, if any.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops writes with `reason`.
    pub(crate) fn fail(&self, reason: String) {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(reason);
    }

    /// `Err(Unavailable)` once writes were stopped.
    pub(crate) fn check_writable(&self) -> Result<()> {
        match self.failure() {
            None => Ok(()),
            Some(reason) => Err(Error::Unavailable { reason: format!("writes stopped after an I/O failure ({reason}); reopen the store") }),
        }
    }

    /// A consistent view of the segment files for one read: while it is
    /// held, no segment is swapped for a rewritten one, so locations taken
    /// from the index stay valid. Take it before reading the index.
    pub(crate) fn segments(&self) -> SegmentsView<'_> {
        SegmentsView { files: read(&self.segments), shared: self }
    }

    /// Forgets cached frames of `segment` (it was rewritten).
    pub(crate) fn forget_frames(&self, segment: u32) {
        self.frames.lock().unwrap_or_else(PoisonError::into_inner).retain(|(key, _)| key.0 != segment);
    }
}

/// Decompressed frames recently read: (segment, frame offset) → block.
pub(crate) type FrameCache = VecDeque<((u32, u64), bytes::Bytes)>;

/// Frames kept decompressed (about 32 KiB each).
const CACHED_FRAMES: usize = 64;

/// See [`Shared::segments`].
pub(crate) struct SegmentsView<'a> {
    files: RwLockReadGuard<'a, BTreeMap<u32, Arc<dyn SegmentFile>>>,
    shared: &'a Shared,
}

impl SegmentsView<'_> {
    /// The path of a segment, for messages.
    pub(crate) fn describe(&self, segment: u32) -> String {
        self.shared.storage.describe(segment)
    }

    fn file(&self, segment: u32) -> Result<&Arc<dyn SegmentFile>> {
        self.files.get(&segment).ok_or_else(|| Error::Corrupted {
            location: self.shared.storage.describe(segment),
            reason: "the index points into a segment that is not open".into(),
        })
    }

    /// Reads the framed record at `loc`, plain or inside a compressed frame.
    pub(crate) fn read_loc(&self, loc: Loc) -> Result<bytes::Bytes> {
        let Some((frame, inside)) = unpack_offset(loc.offset) else {
            return self.read_range(loc.segment, loc.offset, loc.len as usize);
        };
        let block = self.read_frame(loc.segment, frame)?;
        let end = inside.checked_add(loc.len as usize).filter(|&e| e <= block.len());
        end.map(|end| block.slice(inside..end)).ok_or_else(|| Error::Corrupted {
            location: format!("{} at offset {frame}", self.shared.storage.describe(loc.segment)),
            reason: format!("the index points past the end of the frame ({inside} + {})", loc.len),
        })
    }

    /// Reads `len` bytes of a segment at `offset`.
    pub(crate) fn read_range(&self, segment: u32, offset: u64, len: usize) -> Result<bytes::Bytes> {
        let mut buf = vec![0u8; len];
        self.file(segment)?
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io(format!("reading {} at offset {offset}", self.shared.storage.describe(segment)), e))?;
        Ok(bytes::Bytes::from(buf))
    }

    /// The decompressed block of the frame at `offset` of a compressed segment.
    pub(crate) fn read_frame(&self, segment: u32, offset: u64) -> Result<bytes::Bytes> {
        let key = (segment, offset);
        {
            let cache = self.shared.frames.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, block)) = cache.iter().find(|(k, _)| *k == key) {
                return Ok(block.clone());
            }
        }
        let corrupted = |e: FormatError| Error::Corrupted {
            location: format!("{} at offset {offset}", self.shared.storage.describe(segment)),
            reason: e.reason,
        };
        let head = self.read_range(segment, offset, FRAME_HEADER_LEN)?;
        let header = FrameHeader::decode(&head).map_err(corrupted)?;
        let body = self.read_range(segment, offset + FRAME_HEADER_LEN as u64, header.comp_len as usize)?;
        let block = bytes::Bytes::from(decode_frame(&header, &body).map_err(corrupted)?);
        let mut cache = self.shared.frames.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHED_FRAMES {
            cache.pop_front();
        }
        cache.push_back((key, block.clone()));
        Ok(block)
    }
}
