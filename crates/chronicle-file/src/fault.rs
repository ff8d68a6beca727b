//! Fault injection through the I/O seam, for tests: a [`Storage`] whose
//! files can tear a write (persist only a prefix, then fail, as a crash
//! mid-write would) or fail an fdatasync.

use crate::io::{SegmentFile, Storage};
use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst},
    },
};

/// The faults to inject; shared by every file of a [`FaultyStorage`].
#[derive(Debug, Default)]
pub struct Faults {
    /// Fail the next fdatasync.
    pub fail_next_sync: AtomicBool,
    /// When non-zero: the next write persists only this many bytes and
    /// fails.
    pub tear_next_write_at: AtomicUsize,
}

/// A [`Storage`] that injects [`Faults`] into another.
#[derive(Debug)]
pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    faults: Arc<Faults>,
}

impl FaultyStorage {
    /// Wraps `inner`; returns the storage and its fault switches.
    pub fn new(inner: Arc<dyn Storage>) -> (Self, Arc<Faults>) {
        let faults = Arc::new(Faults::default());
        (Self { inner, faults: faults.clone() }, faults)
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn SegmentFile>,
    faults: Arc<Faults>,
}

impl SegmentFile for FaultyFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let tear = self.faults.tear_next_write_at.swap(0, SeqCst);
        if tear > 0 {
            self.inner.write_all_at(buf.get(..tear.min(buf.len())).unwrap_or_default(), offset)?;
            return Err(io::Error::other("injected torn write"));
        }
        self.inner.write_all_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.faults.fail_next_sync.swap(false, SeqCst) {
            return Err(io::Error::other("injected fdatasync failure"));
        }
        self.inner.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

impl Storage for FaultyStorage {
    fn list(&self) -> io::Result<Vec<u32>> {
        self.inner.list()
    }

    fn open(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(FaultyFile { inner: self.inner.open(segment_no)?, faults: self.faults.clone() }))
    }

    fn create(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(FaultyFile { inner: self.inner.create(segment_no)?, faults: self.faults.clone() }))
    }

    fn describe(&self, segment_no: u32) -> String {
        self.inner.describe(segment_no)
    }

    fn read_index(&self, segment_no: u32, buf: &mut Vec<u8>) -> io::Result<bool> {
        self.inner.read_index(segment_no, buf)
    }

    fn write_index(&self, segment_no: u32, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_index(segment_no, bytes)
    }

    fn remove_index(&self, segment_no: u32) -> io::Result<()> {
        self.inner.remove_index(segment_no)
    }

    fn stage_segment(&self, segment_no: u32, bytes: &[u8]) -> io::Result<()> {
        self.inner.stage_segment(segment_no, bytes)
    }

    fn install_staged(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(FaultyFile { inner: self.inner.install_staged(segment_no)?, faults: self.faults.clone() }))
    }

    fn discard_staged(&self) -> io::Result<()> {
        self.inner.discard_staged()
    }
}
