//! Persisted indexes: one index file per sealed segment (see
//! [`crate::format::decode_index`]) holding every record of the segment
//! without its payload, so an open applies them instead of reading and
//! checking the segment. Written when a segment is sealed (by a background
//! thread), by the writer's open for any sealed segment that lacks one,
//! and by `chronicle verify --rebuild-index`; never by read-only opens.

use crate::{
    format::{CheckedIndex, IndexEntry, IndexWriter, SEGMENT_HEADER_LEN, SegmentHeader, decode_index_header},
    io::read_segment,
    io::{SegmentFile, Storage},
    scan::{Scanned, check_segment_no, scan_segment},
};
use chronicle_core::{Error, Result};
use std::{
    sync::{
        Arc,
        mpsc::{Receiver, Sender, channel, sync_channel},
    },
    thread::Scope,
};

/// Reads and checks the index file of sealed segment `no` into `bytes` (a
/// buffer to reuse): accepted when it exists, its header describes the
/// segment as it is now (number, first position, length) and its body
/// checksum holds; otherwise the buffer comes back and the caller scans the
/// segment. Never an error: a bad index file only costs a scan, and is
/// replaced by the writer.
pub(crate) fn load(storage: &dyn Storage, no: u32, file: &dyn SegmentFile, mut bytes: Vec<u8>) -> Result<CheckedIndex, Vec<u8>> {
    let name = || storage.describe(no);
    match storage.read_index(no, &mut bytes) {
        Ok(true) => {}
        Ok(false) => return Err(bytes),
        Err(e) => {
            tracing::warn!(segment = %name(), error = %e, "index file unreadable; scanning the segment");
            return Err(bytes);
        }
    }
    let mut head = [0u8; SEGMENT_HEADER_LEN];
    let Some(segment) = file.read_exact_at(&mut head, 0).ok().and_then(|()| SegmentHeader::decode(&head).ok()) else { return Err(bytes) };
    let Ok(len) = file.len() else { return Err(bytes) };
    match decode_index_header(&bytes) {
        Ok(h) if h.segment_no == no && h.first_position == segment.first_position && h.segment_len == len => {}
        Ok(_) => {
            tracing::info!(segment = %name(), "index file describes another version of the segment; scanning it");
            return Err(bytes);
        }
        Err(e) => {
            tracing::warn!(segment = %name(), error = %e.reason, "index file damaged; scanning the segment");
            return Err(bytes);
        }
    }
    CheckedIndex::check(bytes).map_err(|(e, bytes)| {
        tracing::warn!(segment = %name(), error = %e.reason, "index file damaged; scanning the segment");
        bytes
    })
}

/// The entries of an index file [`load`] accepted, one at a time, as the
/// scanner would hand them over. An entry that does not decode although
/// the checksum held is an error (the file was written wrong, not damaged
/// since).
pub(crate) fn entries<'a>(index: &'a CheckedIndex, name: &'a str) -> impl Iterator<Item = Result<Scanned<'a>>> {
    index.entries().map(move |entry| {
        entry
            .map(|IndexEntry { record, offset, len }| Scanned { record, offset, len })
            .map_err(|e| Error::Corrupted { location: format!("the index file of {name} at offset {}", e.offset), reason: e.reason })
    })
}

/// The index files of a run of sealed segments, read and checked ([`load`])
/// one segment ahead of the open that applies them, on a thread of its own
/// (reading and checksumming a large store's index files is a fifth of its
/// open); in line for fewer than two files (not worth a thread) or when no
/// thread can be started.
#[derive(Debug)]
pub(crate) struct Prefetch<'a> {
    ahead: Option<Ahead>,
    storage: &'a dyn Storage,
    files: std::slice::Iter<'a, (u32, Arc<dyn SegmentFile>)>,
    spare: Vec<u8>,
}

/// The reading thread's channels: accepted index files in, spare buffers out.
type Ahead = (Receiver<Option<CheckedIndex>>, Sender<Vec<u8>>);

impl<'a> Prefetch<'a> {
    /// Starts reading the index files of `files`, in order.
    pub(crate) fn start<'scope>(
        scope: &'scope Scope<'scope, 'a>,
        storage: &'a dyn Storage,
        files: &'a [(u32, Arc<dyn SegmentFile>)],
    ) -> Self {
        let in_line = Self { ahead: None, storage, files: files.iter(), spare: Vec::new() };
        if files.len() < 2 {
            return in_line;
        }
        let (tx, rx) = sync_channel::<Option<CheckedIndex>>(1);
        let (spare_tx, spare_rx) = channel::<Vec<u8>>();
        let ahead = std::thread::Builder::new().name("chr-open-read".into()).spawn_scoped(scope, move || {
            for (no, file) in files {
                let bytes = spare_rx.try_recv().unwrap_or_default();
                // A send fails once the open stopped (an error): nothing left to do.
                if tx.send(load(storage, *no, &**file, bytes).ok()).is_err() {
                    return;
                }
            }
        });
        match ahead {
            Ok(_) => Self { ahead: Some((rx, spare_tx)), ..in_line },
            Err(e) => {
                tracing::warn!(error = %e, "could not start a thread to read index files; reading them in line");
                in_line
            }
        }
    }

    /// The accepted index file of the next segment of `files`, if any.
    pub(crate) fn next(&mut self) -> Option<CheckedIndex> {
        let (no, file) = self.files.next()?;
        match &self.ahead {
            Some((rx, _)) => rx.recv().ok().flatten(),
            None => load(self.storage, *no, &**file, std::mem::take(&mut self.spare)).map_err(|bytes| self.spare = bytes).ok(),
        }
    }

    /// Gives back an index file's buffer, for the next file.
    pub(crate) fn recycle(&mut self, bytes: Vec<u8>) {
        match &self.ahead {
            Some((_, spare)) => {
                let _ = spare.send(bytes);
            }
            None => self.spare = bytes,
        }
    }
}

/// Scans the sealed segment held in `buf` and returns its header and its
/// index file, calling `visit` with every record on the way (so a caller
/// that scans anyway builds the index for free).
pub(crate) fn build(
    buf: &[u8],
    name: &str,
    mut visit: impl FnMut(&crate::format::BlockHeader, Vec<Scanned<'_>>) -> Result<()>,
) -> Result<(SegmentHeader, Vec<u8>)> {
    let mut writer = IndexWriter::new();
    let (header, _) = scan_segment(buf, name, false, |block, records| {
        records.iter().for_each(|s| writer.push(&s.record, s.offset, s.len));
        visit(block, records)
    })?;
    Ok((header, writer.finish(header, buf.len() as u64)))
}

/// Reads sealed segment `no`, builds its index file and writes it.
pub(crate) fn index_sealed(storage: &dyn Storage, no: u32) -> Result<()> {
    let file = storage.open(no).map_err(|e| Error::io(format!("opening {}", storage.describe(no)), e))?;
    let buf = read_segment(storage, no, &*file)?;
    let (header, bytes) = build(&buf, &storage.describe(no), |_, _| Ok(()))?;
    check_segment_no(&header, no, &storage.describe(no))?;
    storage.write_index(no, &bytes).map_err(|e| Error::io(format!("writing the index of {}", storage.describe(no)), e))
}
