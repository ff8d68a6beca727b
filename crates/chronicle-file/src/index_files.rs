//! Persisted indexes: one index file per sealed segment (see
//! [`crate::format::decode_index`]) holding every record of the segment
//! without its payload, so an open applies them instead of reading and
//! checking the segment. Written when a segment is sealed (by a background
//! thread), by the writer's open for any sealed segment that lacks one,
//! and by `chronicle verify --rebuild-index`; never by read-only opens.

use crate::{
    format::{IndexEntry, IndexWriter, SEGMENT_HEADER_LEN, SegmentHeader, decode_index, decode_index_header},
    io::{SegmentFile, Storage},
    recovery::read_segment,
    scan::{Scanned, check_segment_no, scan_segment},
};
use chronicle_core::{Error, Result};

/// The index file of sealed segment `no` when it exists and its header
/// describes the segment as it is now (number, first position, length);
/// `None` otherwise (the caller scans the segment). The body is checked
/// when [`entries`] decodes it. Never an error: a bad index file only costs
/// a scan, and is replaced by the writer.
pub(crate) fn load(storage: &dyn Storage, no: u32, file: &dyn SegmentFile) -> Option<Vec<u8>> {
    let bytes = match storage.read_index(no) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(segment = %storage.describe(no), error = %e, "index file unreadable; scanning the segment");
            return None;
        }
    };
    let mut head = [0u8; SEGMENT_HEADER_LEN];
    let segment = file.read_exact_at(&mut head, 0).ok().and_then(|()| SegmentHeader::decode(&head).ok())?;
    let len = file.len().ok()?;
    match decode_index_header(&bytes) {
        Ok(h) if h.segment_no == no && h.first_position == segment.first_position && h.segment_len == len => Some(bytes),
        Ok(_) => {
            tracing::info!(segment = %storage.describe(no), "index file describes another version of the segment; scanning it");
            None
        }
        Err(e) => {
            tracing::warn!(segment = %storage.describe(no), error = %e.reason, "index file damaged; scanning the segment");
            None
        }
    }
}

/// The entries of an index file [`load`] accepted, as the scanner would
/// hand them over; `None` (logged) when its body is damaged.
pub(crate) fn entries<'a>(bytes: &'a [u8], name: &str) -> Option<Vec<Scanned<'a>>> {
    match decode_index(bytes) {
        Ok((_, entries)) => Some(entries.into_iter().map(|IndexEntry { record, offset, len }| Scanned { record, offset, len }).collect()),
        Err(e) => {
            tracing::warn!(segment = %name, error = %e.reason, "index file damaged; scanning the segment");
            None
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
