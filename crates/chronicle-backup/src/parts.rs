//! Writing and reading one part file: zstd-compressed JSON lines, checked
//! by the SHA-256 of the compressed bytes.

use crate::{BackupError, Result, manifest::Part};
use chronicle_core::{LogItem, Timestamp};
use ring::digest::{Context, SHA256};
use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

/// zstd level of part files (fast; JSON compresses well even so).
const LEVEL: i32 = 3;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file writer that hashes what it writes.
struct Hashing {
    file: File,
    hash: Context,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A part being written (to `NAME.tmp`, renamed by [`PartWriter::finish`]).
pub(crate) struct PartWriter {
    path: PathBuf,
    aside: PathBuf,
    out: zstd::Encoder<'static, std::io::BufWriter<Hashing>>,
    line: Vec<u8>,
    pub(crate) part: Part,
}

impl PartWriter {
    /// Starts `part.file` in `dir`.
    pub(crate) fn create(dir: &Path, part: Part) -> Result<Self> {
        let path = dir.join(&part.file);
        let aside = dir.join(format!("{}.tmp", part.file));
        let fail = |e| BackupError::io(format!("creating {}", aside.display()), e);
        let file = File::create(&aside).map_err(fail)?;
        let sink = std::io::BufWriter::with_capacity(1 << 20, Hashing { file, hash: Context::new(&SHA256), bytes: 0 });
        let out = zstd::Encoder::new(sink, LEVEL).map_err(fail)?;
        Ok(Self { path, aside, out, line: Vec::with_capacity(4096), part })
    }

    /// Appends one item.
    pub(crate) fn write(&mut self, item: &LogItem) -> Result<()> {
        self.line.clear();
        item.write_json_line(&mut self.line);
        self.out.write_all(&self.line).map_err(|e| BackupError::io(format!("writing {}", self.aside.display()), e))?;
        self.part.items += 1;
        if let LogItem::Event(e) = item {
            self.part.first_recorded_at.get_or_insert(e.recorded_at);
            self.part.last_recorded_at = Some(e.recorded_at);
        }
        if item.position().is_some() {
            self.part.events += 1;
        }
        Ok(())
    }

    /// Ends the part: compressed, fsynced, renamed to its name; returns
    /// its manifest entry.
    pub(crate) fn finish(self) -> Result<Part> {
        let fail = |e| BackupError::io(format!("writing {}", self.aside.display()), e);
        let sink = self.out.finish().map_err(fail)?;
        let hashing = sink.into_inner().map_err(|e| fail(e.into_error()))?;
        hashing.file.sync_all().map_err(fail)?;
        std::fs::rename(&self.aside, &self.path).map_err(|e| BackupError::io(format!("renaming {}", self.aside.display()), e))?;
        let mut part = self.part;
        part.bytes = hashing.bytes;
        part.sha256 = hex(hashing.hash.finish().as_ref());
        Ok(part)
    }

    /// Drops the unfinished file.
    pub(crate) fn abandon(self) {
        let _ = std::fs::remove_file(&self.aside);
    }
}

/// Checks a part's size and checksum against its manifest entry (each
/// file of a file-level part).
pub(crate) fn check(dir: &Path, part: &Part) -> Result<()> {
    match &part.files {
        Some(files) => files.iter().try_for_each(|f| check_file(&dir.join(&part.file).join(&f.name), f.bytes, &f.sha256)),
        None => check_file(&dir.join(&part.file), part.bytes, &part.sha256),
    }
}

/// Checks one file's size and SHA-256 against what the manifest says.
fn check_file(path: &Path, bytes: u64, sha256: &str) -> Result<()> {
    let damaged = |reason: String| BackupError::Damaged { file: path.to_owned(), reason };
    let (sha, size) = chronicle_file::file_sha256(path).map_err(|e| damaged(format!("cannot be read ({e})")))?;
    if size != bytes {
        return Err(damaged(format!("{size} bytes where the manifest says {bytes}")));
    }
    if sha != sha256 {
        return Err(damaged("its SHA-256 does not match the manifest".into()));
    }
    Ok(())
}

/// Reads a part's items in order.
pub(crate) struct PartReader {
    path: PathBuf,
    lines: BufReader<zstd::Decoder<'static, BufReader<File>>>,
    line: Vec<u8>,
    number: u64,
}

impl PartReader {
    /// Opens a part (check it first with [`check`]).
    pub(crate) fn open(dir: &Path, part: &Part) -> Result<Self> {
        let path = dir.join(&part.file);
        let damaged = |e: std::io::Error| BackupError::Damaged { file: path.clone(), reason: e.to_string() };
        let file = File::open(&path).map_err(damaged)?;
        let lines = BufReader::with_capacity(1 << 20, zstd::Decoder::new(file).map_err(damaged)?);
        Ok(Self { path, lines, line: Vec::with_capacity(4096), number: 0 })
    }

    /// The next item, `None` at the end.
    pub(crate) fn next_item(&mut self) -> Result<Option<LogItem>> {
        self.line.clear();
        self.number += 1;
        let damaged = |reason: String| BackupError::Damaged { file: self.path.clone(), reason };
        let n = self.lines.read_until(b'\n', &mut self.line).map_err(|e| damaged(e.to_string()))?;
        if n == 0 {
            return Ok(None);
        }
        LogItem::parse_json_line(&self.line).map(Some).map_err(|e| damaged(format!("line {}: {e}", self.number)))
    }
}

/// A fresh part entry (counts filled in as items are written).
pub(crate) fn new_part(file: String, source: &str, after: u64, through: u64) -> Part {
    Part {
        file,
        source: source.into(),
        created_at: Timestamp::now(),
        after,
        through,
        items: 0,
        events: 0,
        first_recorded_at: None,
        last_recorded_at: None,
        bytes: 0,
        sha256: String::new(),
        files: None,
    }
}
