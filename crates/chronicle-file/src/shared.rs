//! State shared by the writer thread and readers.

use crate::io::{SegmentFile, Storage};
use chronicle_core::{Error, LogIndex, Result, StreamId};
use std::{
    collections::{BTreeMap, HashMap},
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

    /// Reads the framed record at `loc`.
    pub(crate) fn read_loc(&self, loc: Loc) -> Result<bytes::Bytes> {
        self.read_range(loc.segment, loc.offset, loc.len as usize)
    }

    /// Reads `len` bytes of a segment at `offset`.
    pub(crate) fn read_range(&self, segment: u32, offset: u64, len: usize) -> Result<bytes::Bytes> {
        let file = read(&self.segments).get(&segment).cloned();
        let file = file.ok_or_else(|| Error::Corrupted {
            location: self.storage.describe(segment),
            reason: "the index points into a segment that is not open".into(),
        })?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io(format!("reading {} at offset {offset}", self.storage.describe(segment)), e))?;
        Ok(bytes::Bytes::from(buf))
    }
}
