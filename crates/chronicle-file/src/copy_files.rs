//! A file-level copy of a store's directory (what a backup of the file
//! engine is): sealed segments copied as they are, with their index files,
//! and the tail segment up to its last committed block. Works next to a
//! running writer (no lock): each file is read through one handle, so a
//! segment that a scavenge or the sealer replaces meanwhile is copied in
//! one of its two versions, which hold the same positions.

use crate::{
    format::Record,
    io::{OsStorage, Storage},
    scan::scan_segment,
};
use chronicle_core::{Error, Result};
use ring::digest::{Context, SHA256};
use std::{
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
};

/// One file of a copy, by its path relative to the data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedFile {
    /// `segments/NNNNNNNN.seg` or `index/NNNNNNNN.idx`.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// What [`copy_files`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesCopy {
    /// Files written into the destination.
    pub copied: Vec<CopiedFile>,
    /// Files the caller already holds (`known`), not written again.
    pub kept: Vec<CopiedFile>,
    /// The last position the copy holds.
    pub through: u64,
    /// Commit time of the last event of the tail segment, if it holds one.
    pub last_recorded_at: Option<chronicle_core::Timestamp>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// SHA-256 of `bytes`, hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&SHA256, bytes).as_ref())
}

/// The SHA-256 (hex) and size of the file at `path`, read in 1 MiB pieces.
pub fn file_sha256(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(io(format!("opening {}", path.display())))?;
    let (mut hash, mut buf, mut bytes) = (Context::new(&SHA256), vec![0u8; 1 << 20], 0u64);
    loop {
        let n = file.read(&mut buf).map_err(io(format!("reading {}", path.display())))?;
        if n == 0 {
            return Ok((hex(hash.finish().as_ref()), bytes));
        }
        hash.update(buf.get(..n).unwrap_or_default());
        bytes += n as u64;
    }
}

/// Copies `from` into `to` (fsynced), hashing on the way.
fn copy_one(from: &Path, to: &Path, name: &str) -> Result<CopiedFile> {
    let mut src = File::open(from).map_err(io(format!("opening {}", from.display())))?;
    let mut dst = File::create(to).map_err(io(format!("creating {}", to.display())))?;
    let (mut hash, mut buf, mut bytes) = (Context::new(&SHA256), vec![0u8; 1 << 20], 0u64);
    loop {
        let n = src.read(&mut buf).map_err(io(format!("reading {}", from.display())))?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else { break };
        hash.update(piece);
        dst.write_all(piece).map_err(io(format!("writing {}", to.display())))?;
        bytes += n as u64;
    }
    dst.sync_all().map_err(io(format!("syncing {}", to.display())))?;
    Ok(CopiedFile { name: name.to_owned(), bytes, sha256: hex(hash.finish().as_ref()) })
}

/// Copies the store in `data_dir` into `dest` (its `segments/` and
/// `index/` are created): every sealed segment and index file, except
/// those whose SHA-256 equals the one `known` gives for their name (files
/// an earlier copy holds; only those are hashed before copying), then the
/// tail segment up to its last committed block (a block being written is
/// left out).
/// Segments archived to `archive` (`[file] archive_dir`) are copied from
/// there, under the same names.
pub fn copy_files(
    data_dir: &Path,
    archive: Option<&Path>,
    dest: &Path,
    known: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<FilesCopy> {
    let storage =
        OsStorage::new(data_dir).and_then(|s| s.with_archive(archive)).map_err(io(format!("opening {}/segments", data_dir.display())))?;
    let segments = storage.list().map_err(io(format!("listing {}/segments", data_dir.display())))?;
    let Some((&tail, sealed)) = segments.split_last() else {
        return Err(Error::invalid("data_dir", format!("no Chronicle store at {}", data_dir.display())));
    };
    for sub in ["segments", "index"] {
        std::fs::create_dir_all(dest.join(sub)).map_err(io(format!("creating {}/{sub}", dest.display())))?;
    }
    let mut out = FilesCopy::default();
    // (name in the copy, where it is now): segments and index files may be archived.
    let mut names: Vec<(String, PathBuf)> = sealed
        .iter()
        .flat_map(|&no| {
            let index = Some(storage.index_path(no)).filter(|p| p.exists()).or_else(|| storage.archived_index_path(no));
            [(format!("segments/{no:08}.seg"), storage.path(no)), (format!("index/{no:08}.idx"), index.unwrap_or_default())]
        })
        .collect();
    // Largest first, so that alternating between the threads balances them.
    names.sort_by_cached_key(|(_, from)| std::cmp::Reverse(std::fs::metadata(from).map_or(0, |m| m.len())));
    // Hashing is the CPU part of a copy: two threads, each every other file.
    let halves = std::thread::scope(|scope| {
        let half = |parity: usize| {
            let names = &names;
            scope.spawn(move || {
                let mine = names.iter().skip(parity).step_by(2);
                mine.map(|(name, from)| copy_sealed(from, dest, name, known)).collect::<Result<Vec<_>>>()
            })
        };
        let (even, odd) = (half(0), half(1));
        [even.join(), odd.join()]
    });
    for half in halves {
        let copied = half.map_err(|_| Error::io("copying segments", std::io::Error::other("a copying thread panicked")))??;
        for (file, kept) in copied.into_iter().flatten() {
            if kept { out.kept.push(file) } else { out.copied.push(file) }
        }
    }
    out.copied.sort_by(|a, b| a.name.cmp(&b.name));
    out.kept.sort_by(|a, b| a.name.cmp(&b.name));
    let (tail_file, through, last_recorded_at) = committed_tail(&storage, tail)?;
    let name = format!("segments/{tail:08}.seg");
    let to = dest.join(&name);
    let mut file = File::create(&to).map_err(io(format!("creating {}", to.display())))?;
    file.write_all(&tail_file).and_then(|()| file.sync_all()).map_err(io(format!("writing {}", to.display())))?;
    out.copied.push(CopiedFile { name, bytes: tail_file.len() as u64, sha256: sha256(&tail_file) });
    for dir in [dest.join("segments"), dest.join("index"), dest.to_owned()] {
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io(format!("syncing {}", dir.display())))?;
    }
    (out.through, out.last_recorded_at) = (through, last_recorded_at);
    Ok(out)
}

/// Copies one file of a sealed segment, unless `known` holds it with the
/// same SHA-256: `(file, kept)`, or `None` when it does not exist (an
/// index file not written yet: the restored store writes it).
fn copy_sealed(
    from: &Path,
    dest: &Path,
    name: &str,
    known: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Option<(CopiedFile, bool)>> {
    if from.as_os_str().is_empty() || !from.exists() {
        return Ok(None);
    }
    if let Some(held) = known(name) {
        let (sha, bytes) = file_sha256(from)?;
        if sha == held {
            return Ok(Some((CopiedFile { name: name.to_owned(), bytes, sha256: sha }, true)));
        }
    }
    copy_one(from, &dest.join(name), name).map(|f| Some((f, false)))
}

/// The tail segment's committed bytes, the last position they hold and
/// the commit time of their last event.
fn committed_tail(storage: &OsStorage, tail: u32) -> Result<(Vec<u8>, u64, Option<chronicle_core::Timestamp>)> {
    let file = storage.open_read_only(tail).map_err(io(format!("opening {}", storage.describe(tail))))?;
    let mut buf = crate::io::read_segment(storage, tail, &*file)?;
    let (mut last, mut time) = (None, None);
    let (header, end) = scan_segment(&buf, &storage.describe(tail), true, |_, records| {
        for s in records {
            match &s.record {
                Record::Event(e) => {
                    last = Some(e.global_position);
                    time = Some(chronicle_core::Timestamp::from_micros(e.recorded_at));
                }
                Record::Removed(run) => last = run.events().last().map(|(p, _, _)| p).or(last),
                _ => {}
            }
        }
        Ok(())
    })?;
    buf.truncate(usize::try_from(end.valid_len).unwrap_or(buf.len()));
    Ok((buf, last.unwrap_or(header.first_position.saturating_sub(1)), time))
}
