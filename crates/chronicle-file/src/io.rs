//! The I/O seam under the engine: a directory of numbered segment files.
//! [`OsStorage`] is the real one; tests wrap it to tear writes and fail
//! fsyncs (see [`crate::fault`]).

use std::{
    fmt,
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
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
    /// The index file of a sealed segment, if one was written. Storage
    /// without index files (the default) makes every open scan segments.
    /// Reads the index file of a sealed segment into `buf` (replacing what
    /// it held; one buffer serves a whole open): false when there is none.
    fn read_index(&self, _segment_no: u32, _buf: &mut Vec<u8>) -> io::Result<bool> {
        Ok(false)
    }
    /// Replaces the index file of a sealed segment, atomically and durably
    /// (a reader sees the old file, the new one, or none — never a part).
    fn write_index(&self, _segment_no: u32, _bytes: &[u8]) -> io::Result<()> {
        Ok(())
    }
    /// Removes the index file of a segment (absent is fine).
    fn remove_index(&self, _segment_no: u32) -> io::Result<()> {
        Ok(())
    }
    /// Writes `bytes` durably as the replacement of sealed segment
    /// `segment_no`, under a staging name: not yet part of the log.
    fn stage_segment(&self, _segment_no: u32, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this storage cannot rewrite segments"))
    }
    /// Atomically and durably replaces segment `segment_no` by its staged
    /// replacement and opens it (after a crash the log holds the old file or
    /// the new one, never a part).
    fn install_staged(&self, _segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this storage cannot rewrite segments"))
    }
    /// Removes every staged replacement (left by a crash, or abandoned).
    fn discard_staged(&self) -> io::Result<()> {
        Ok(())
    }
    /// Copies sealed segment `segment_no` (and its index file) into the
    /// archive directory, durably, and opens the archived copy; the local
    /// files stay until [`Storage::drop_local`]. Storage without an archive
    /// answers `Unsupported`.
    fn archive(&self, _segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this storage has no archive directory"))
    }
    /// Removes the local files of an archived segment.
    fn drop_local(&self, _segment_no: u32) -> io::Result<()> {
        Ok(())
    }
    /// Whether segment `segment_no` lives in the archive directory.
    fn is_archived(&self, _segment_no: u32) -> bool {
        false
    }
}

/// Segment files in `DIR/segments/NNNNNNNN.seg`, their index files in
/// `DIR/index/NNNNNNNN.idx`; with an archive directory, sealed segments
/// moved there live in `ARCHIVE/segments/` and `ARCHIVE/index/` (see
/// `archive.rs`).
#[derive(Debug, Clone)]
pub struct OsStorage {
    dir: PathBuf,
    index_dir: PathBuf,
    /// `ARCHIVE/segments` and `ARCHIVE/index`, when archiving.
    archive: Option<(PathBuf, PathBuf)>,
}

impl OsStorage {
    /// Storage under `data_dir` (creates `data_dir/segments`).
    pub fn new(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("segments");
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, index_dir: data_dir.join("index"), archive: None })
    }

    /// The same storage, also finding (and, writable, moving) sealed
    /// segments in `archive` (created if missing).
    pub fn with_archive(mut self, archive: Option<&Path>) -> io::Result<Self> {
        if let Some(archive) = archive {
            let (segments, index) = (archive.join("segments"), archive.join("index"));
            std::fs::create_dir_all(&segments)?;
            std::fs::create_dir_all(&index)?;
            self.archive = Some((segments, index));
        }
        Ok(self)
    }

    /// Opens an existing segment for reading only (a copy next to a writer).
    pub(crate) fn open_read_only(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(OsFile(File::open(self.path(segment_no))?)))
    }

    pub(crate) fn local_path(&self, segment_no: u32) -> PathBuf {
        self.dir.join(format!("{segment_no:08}.seg"))
    }

    pub(crate) fn archive_path(&self, segment_no: u32) -> Option<PathBuf> {
        self.archive.as_ref().map(|(segments, _)| segments.join(format!("{segment_no:08}.seg")))
    }

    /// Where segment `segment_no` is: local, else archived, else (a new
    /// one) local.
    pub(crate) fn path(&self, segment_no: u32) -> PathBuf {
        let local = self.local_path(segment_no);
        match self.archive_path(segment_no) {
            Some(archived) if !local.exists() && archived.exists() => archived,
            _ => local,
        }
    }

    /// A staged replacement sits next to the segment it replaces (a rename
    /// never crosses file systems).
    fn staged_path(&self, segment_no: u32) -> PathBuf {
        self.path(segment_no).with_extension("seg.staged")
    }

    pub(crate) fn index_path(&self, segment_no: u32) -> PathBuf {
        self.index_dir.join(format!("{segment_no:08}.idx"))
    }

    pub(crate) fn archived_index_path(&self, segment_no: u32) -> Option<PathBuf> {
        self.archive.as_ref().map(|(_, index)| index.join(format!("{segment_no:08}.idx")))
    }

    /// The local segments directory.
    pub(crate) fn local_dir(&self) -> &Path {
        &self.dir
    }

    /// The directories holding segments: local, then the archive's.
    fn segment_dirs(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.dir).chain(self.archive.as_ref().map(|(segments, _)| segments))
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
        for dir in self.segment_dirs() {
            for entry in std::fs::read_dir(dir)? {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                if let Some(n) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
                    out.push(n);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn open(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(OsFile(OpenOptions::new().read(true).write(true).open(self.path(segment_no))?)))
    }

    fn create(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(self.local_path(segment_no))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Arc::new(OsFile(file)))
    }

    fn describe(&self, segment_no: u32) -> String {
        self.path(segment_no).display().to_string()
    }

    fn read_index(&self, segment_no: u32, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        for path in std::iter::once(self.index_path(segment_no)).chain(self.archived_index_path(segment_no)) {
            match File::open(path) {
                Ok(mut file) => return io::Read::read_to_end(&mut file, buf).map(|_| true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn write_index(&self, segment_no: u32, bytes: &[u8]) -> io::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(&self.index_dir)?;
        // A name of its own per writer: two writers of the same index never interleave.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = self.index_dir.join(format!("{segment_no:08}.idx.{}-{n}.tmp", std::process::id()));
        let written = (|| {
            let mut file = File::create(&tmp)?;
            io::Write::write_all(&mut file, bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, self.index_path(segment_no))?;
            File::open(&self.index_dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    fn remove_index(&self, segment_no: u32) -> io::Result<()> {
        if let Some(archived) = self.archived_index_path(segment_no) {
            remove_if_present(&archived)?;
        }
        remove_if_present(&self.index_path(segment_no))?;
        File::open(&self.index_dir)
            .and_then(|d| d.sync_all())
            .or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
    }

    fn stage_segment(&self, segment_no: u32, bytes: &[u8]) -> io::Result<()> {
        let path = self.staged_path(segment_no);
        let written = (|| {
            let mut file = File::create(&path)?;
            io::Write::write_all(&mut file, bytes)?;
            file.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        written
    }

    fn install_staged(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        let path = self.path(segment_no);
        std::fs::rename(self.staged_path(segment_no), &path)?;
        File::open(path.parent().unwrap_or(&self.dir))?.sync_all()?;
        self.open(segment_no)
    }

    fn discard_staged(&self) -> io::Result<()> {
        for dir in self.segment_dirs() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "staged" || e == "archiving") {
                    remove_if_present(&path)?;
                }
            }
        }
        self.settle_archive()
    }

    fn archive(&self, segment_no: u32) -> io::Result<Arc<dyn SegmentFile>> {
        crate::archive::copy_to_archive(self, segment_no)
    }

    fn drop_local(&self, segment_no: u32) -> io::Result<()> {
        crate::archive::drop_local(self, segment_no)
    }

    fn is_archived(&self, segment_no: u32) -> bool {
        self.archive_path(segment_no).is_some_and(|a| a.exists()) && !self.local_path(segment_no).exists()
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads a whole segment (errors name the file).
pub(crate) fn read_segment(storage: &dyn Storage, no: u32, file: &dyn SegmentFile) -> chronicle_core::Result<Vec<u8>> {
    let fail = |what: &str| {
        let name = storage.describe(no);
        let what = what.to_owned();
        move |e| chronicle_core::Error::io(format!("{what} {name}"), e)
    };
    let len = file.len().map_err(fail("sizing"))?;
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut buf, 0).map_err(fail("reading"))?;
    Ok(buf)
}
