//! The I/O seam under the engine: a directory of numbered segment files.
//! [`OsStorage`] is the real one; tests wrap it to tear writes and fail
//! fsyncs (see [`crate::fault`]).

use std::{
    fmt,
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

/// One segment file: positional reads and writes, durability, truncation.
#[allow(clippy::len_without_is_empty)] // a file length, not a collection
pub trait SegmentFile: Send + Sync + fmt::Debug {
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes written data durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// Current length.
    fn len(&self) -> io::Result<u64>;
    /// Truncates (or extends) to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// A directory of segment files named by number.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Numbers of the segments present, ascending.
    fn list(&self) -> io::Result<Vec<u32>>;
    /// Opens an existing segment for reading and writing.
    fn open(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>>;
    /// Creates a new, empty segment and makes its directory entry durable.
    fn create(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>>;
    /// A human name of the segment for error messages (its path).
    fn describe(&self, segment_no: u32) -> String;
}

/// Segment files in `DIR/segments/NNNNNNNN.seg`.
#[derive(Debug, Clone)]
pub struct OsStorage {
    dir: PathBuf,
}

impl OsStorage {
    /// Storage under `data_dir` (creates `data_dir/segments`).
    pub fn new(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("segments");
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, segment_no: u32) -> PathBuf {
        self.dir.join(format!("{segment_no:08}.seg"))
    }
}

#[derive(Debug)]
struct OsFile(File);

impl SegmentFile for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl Storage for OsStorage {
    fn list(&self) -> io::Result<Vec<u32>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn open(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(OsFile(OpenOptions::new().read(true).write(true).open(self.path(segment_no))?)))
    }

    fn create(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(self.path(segment_no))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Arc::new(OsFile(file)))
    }

    fn describe(&self, segment_no: u32) -> String {
        self.path(segment_no).display().to_string()
    }
}
