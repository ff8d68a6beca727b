//! Scanning segments block by block: shared by recovery (which builds the
//! index and truncates a torn tail) and `verify` (read-only).

use crate::format::{
    BLOCK_HEADER_LEN, BlockHeader, FRAME_HEADER_LEN, FormatError, FrameHeader, Record, SEGMENT_HEADER_LEN, SegmentHeader, decode_frame,
    decode_record, pack_offset,
};
use chronicle_core::Error;

/// One committed record as the scanner hands it over.
#[derive(Debug)]
pub(crate) struct Scanned<'a> {
    /// The decoded record.
    pub(crate) record: Record<'a>,
    /// Offset of the record (its length prefix) in the segment.
    pub(crate) offset: u64,
    /// Framed length.
    pub(crate) len: u32,
}

/// How a segment scan ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// End of the last committed block.
    pub(crate) valid_len: u64,
    /// Offset where uncommitted (torn) bytes start, if there are any.
    pub(crate) torn_at: Option<u64>,
}

fn corrupted(file: &str, offset: u64, reason: impl std::fmt::Display) -> Error {
    Error::Corrupted { location: format!("{file} at offset {offset}"), reason: format!("{reason}; run `chronicle verify`") }
}

/// A block's records with their offsets and lengths.
type BlockRecords<'a> = Vec<(Record<'a>, usize, usize)>;

/// Checks one block at `at`; returns its header and records, or the
/// offset and reason of the fault.
fn block_at(buf: &[u8], at: usize) -> Result<(BlockHeader, BlockRecords<'_>), (usize, String)> {
    let rest = buf.get(at..).unwrap_or_default();
    let header = BlockHeader::decode(rest).map_err(|e| (at + e.offset, e.reason))?;
    let body_end = BLOCK_HEADER_LEN.checked_add(header.body_len as usize).filter(|&e| e <= rest.len());
    let Some(body_end) = body_end else { return Err((at, "block extends past the end of the file".into())) };
    let mut records = Vec::with_capacity(header.record_count as usize);
    let mut off = BLOCK_HEADER_LEN;
    while off < body_end {
        let (record, len) = decode_record(rest.get(off..body_end).unwrap_or_default()).map_err(|e| (at + off + e.offset, e.reason))?;
        records.push((record, at + off, len));
        off += len;
    }
    if records.len() != header.record_count as usize {
        return Err((at, format!("block holds {} records, header says {}", records.len(), header.record_count)));
    }
    Ok((header, records))
}

/// Whether a complete, valid block starts anywhere after `from` (then the
/// fault at `from` is inside committed data, not a torn tail).
fn valid_block_after(buf: &[u8], from: usize) -> bool {
    let magic = crate::format::BLOCK_MAGIC.to_le_bytes();
    (from + 1..buf.len().saturating_sub(BLOCK_HEADER_LEN - 1))
        .filter(|&i| buf.get(i..i + 4) == Some(&magic[..]))
        .any(|i| block_at(buf, i).is_ok())
}

/// Whether an invalid block at `at` (fault at `fault`) has the signature of
/// an interrupted write rather than of damaged committed data: the block
/// is incomplete (the file ends inside it), or the faulty bytes are zeros
/// (pages that were never written). Flipped bits in a complete block are
/// damage: recovery must not discard them as if they were never
/// acknowledged.
fn looks_torn(buf: &[u8], at: usize, fault: usize) -> bool {
    let rest = buf.get(at..).unwrap_or_default();
    let zeros = |b: &[u8]| b.iter().all(|&x| x == 0);
    match BlockHeader::decode(rest) {
        Err(_) => rest.len() < BLOCK_HEADER_LEN || zeros(rest.get(..BLOCK_HEADER_LEN).unwrap_or_default()),
        Ok(h) => {
            let incomplete = BLOCK_HEADER_LEN + h.body_len as usize > rest.len();
            incomplete || zeros(buf.get(fault..(fault + crate::format::RECORD_PREFIX_LEN).min(buf.len())).unwrap_or_default())
        }
    }
}

/// Where a run of blocks ended: the end of the last valid block, and the
/// fault that stopped the scan, if any (offset, reason).
#[derive(Debug)]
pub(crate) struct BlocksEnd {
    pub(crate) end: usize,
    pub(crate) fault: Option<(usize, String)>,
}

/// Scans the blocks of `buf` from `at` until the end or the first invalid
/// block. Record offsets handed to `visit` are `base` + their offset in
/// `buf` (so a caller scanning a slice of a file sees file offsets).
pub(crate) fn scan_blocks<'a>(
    buf: &'a [u8],
    mut at: usize,
    base: u64,
    mut visit: impl FnMut(&BlockHeader, Vec<Scanned<'a>>) -> Result<(), Error>,
) -> Result<BlocksEnd, Error> {
    while at < buf.len() {
        match block_at(buf, at) {
            Ok((block, records)) => {
                let body =
                    records.into_iter().map(|(record, offset, len)| Scanned { record, offset: base + offset as u64, len: len as u32 });
                visit(&block, body.collect())?;
                at += BLOCK_HEADER_LEN + block.body_len as usize;
            }
            Err(fault) => return Ok(BlocksEnd { end: at, fault: Some(fault) }),
        }
    }
    Ok(BlocksEnd { end: at, fault: None })
}

/// `Err(Corrupted)` unless the segment file `file` numbered `no` says so in
/// its header.
pub(crate) fn check_segment_no(header: &SegmentHeader, no: u32, file: &str) -> Result<(), Error> {
    if header.segment_no == no {
        return Ok(());
    }
    Err(Error::Corrupted { location: format!("{file} at offset 12"), reason: format!("header names segment {}", header.segment_no) })
}

/// Scans a whole segment held in `buf`. `visit` sees every committed block
/// (its header, then its records). A fault in the last block of the last
/// segment that looks like an interrupted write ([`looks_torn`]) and is
/// not followed by a valid block is a torn tail; any other fault is
/// corruption (an error naming `file` and the offset). A compressed
/// segment (always sealed, written whole) is scanned frame by frame; its
/// records carry packed offsets (see [`crate::format::pack_offset`]).
pub(crate) fn scan_segment(
    buf: &[u8],
    file: &str,
    is_last: bool,
    mut visit: impl FnMut(&BlockHeader, Vec<Scanned<'_>>) -> Result<(), Error>,
) -> Result<(SegmentHeader, ScanEnd), Error> {
    let header = SegmentHeader::decode(buf).map_err(|e| corrupted(file, e.offset as u64, e.reason))?;
    if header.compressed {
        scan_frames(buf, file, &mut visit)?;
        return Ok((header, ScanEnd { valid_len: buf.len() as u64, torn_at: None }));
    }
    let blocks = scan_blocks(buf, SEGMENT_HEADER_LEN, 0, visit)?;
    let at = blocks.end;
    if let Some((fault, reason)) = blocks.fault {
        if !is_last || !looks_torn(buf, at, fault) || valid_block_after(buf, at) {
            return Err(corrupted(file, fault as u64, reason));
        }
        return Ok((header, ScanEnd { valid_len: at as u64, torn_at: Some(at as u64) }));
    }
    Ok((header, ScanEnd { valid_len: at as u64, torn_at: None }))
}

/// What scanning hands every committed block to.
type Visit<'v> = dyn FnMut(&BlockHeader, Vec<Scanned<'_>>) -> Result<(), Error> + 'v;

/// Checks, decompresses and scans every frame of a compressed segment.
fn scan_frames(buf: &[u8], file: &str, visit: &mut Visit<'_>) -> Result<(), Error> {
    let mut at = SEGMENT_HEADER_LEN;
    while at < buf.len() {
        let rest = buf.get(at..).unwrap_or_default();
        let (frame, raw) = decode_frame_at(rest).map_err(|e| corrupted(file, (at + e.offset) as u64, e.reason))?;
        let blocks = scan_blocks(&raw, 0, pack_offset(at as u64, 0), &mut *visit)?;
        if let Some((inside, reason)) = blocks.fault {
            return Err(corrupted(file, at as u64, format!("{reason} (at byte {inside} of the decompressed frame)")));
        }
        at += FRAME_HEADER_LEN + frame.comp_len as usize;
    }
    Ok(())
}

/// Decodes the frame at the start of `buf` (header, checksum, zstd).
pub(crate) fn decode_frame_at(buf: &[u8]) -> Result<(FrameHeader, Vec<u8>), FormatError> {
    let frame = FrameHeader::decode(buf)?;
    let end = FRAME_HEADER_LEN.saturating_add(frame.comp_len as usize).min(buf.len());
    let raw = decode_frame(&frame, buf.get(FRAME_HEADER_LEN..end).unwrap_or_default())?;
    Ok((frame, raw))
}
