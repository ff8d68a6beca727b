//! The on-disk format: segment format 1 (plain, [`FORMAT_VERSION`]) and 2
//! (compressed sealed segments, [`COMPRESSED_FORMAT_VERSION`]). Pure encode/decode over byte slices.
//!
//! ```text
//! segment  := segment_header block*
//! segment_header (32 B) := "CHRNSEG1" | format u32 | segment_no u32 | first_position u64 | reserved u32 | crc u32
//! block    := block_header record*          one group commit (one or more whole appends)
//! block_header (32 B) := magic u32 | format u16 | flags u16 | body_len u32 | record_count u32
//!                        | event_count u32 | first_position u64 | crc u32
//! record   := len u32 | crc u32 | payload[len]          crc = CRC32C(payload)
//! payload  := kind u8 | fields…                          (see `Record`)
//! ```
//!
//! All integers are little-endian. A block is committed iff its header
//! checksum holds and all `record_count` records are present with valid
//! checksums; blocks are written one after another with an fdatasync in
//! between, so only the last block of the last segment can be torn.

use chronicle_core::StreamMetadata;

/// The format version written into every segment and block header.
pub const FORMAT_VERSION: u32 = 1;
/// Segment header magic.
pub const SEGMENT_MAGIC: [u8; 8] = *b"CHRNSEG1";
/// Size of the segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Block header magic ("CBLK").
pub const BLOCK_MAGIC: u32 = 0x4B4C_4243;
/// Size of a block header.
pub const BLOCK_HEADER_LEN: usize = 32;
/// Size of a record's length + checksum prefix.
pub const RECORD_PREFIX_LEN: usize = 8;
/// Largest record payload accepted when decoding (guards against garbage lengths).
pub const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;

/// A decoding failure: what is wrong, at which offset of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// Offset of the fault within the decoded slice.
    pub offset: usize,
    /// What failed.
    pub reason: String,
}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError { offset, reason: reason.into() })
}

/// A little-endian cursor over a byte slice that never panics.
#[derive(Debug)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else { return err(self.pos, format!("truncated: need {n} bytes")) };
        let out = self.buf.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, FormatError> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, FormatError> {
        self.array().map(i64::from_le_bytes)
    }
    fn str(&mut self, n: usize) -> Result<&'a str, FormatError> {
        let at = self.pos;
        std::str::from_utf8(self.take(n)?).or_else(|_| err(at, "string is not UTF-8"))
    }
}

/// The header at the start of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's number (its file name).
    pub segment_no: u32,
    /// Global position of the segment's first event.
    pub first_position: u64,
    /// A sealed segment rewritten as compressed frames (format 2).
    pub compressed: bool,
}

/// The segment format of compressed sealed segments.
pub const COMPRESSED_FORMAT_VERSION: u32 = 2;

impl SegmentHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[..8].copy_from_slice(&SEGMENT_MAGIC);
        let version = if self.compressed { COMPRESSED_FORMAT_VERSION } else { FORMAT_VERSION };
        b[8..12].copy_from_slice(&version.to_le_bytes());
        b[12..16].copy_from_slice(&self.segment_no.to_le_bytes());
        b[16..24].copy_from_slice(&self.first_position.to_le_bytes());
        let crc = crc32c::crc32c(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { buf, pos: 0 };
        if r.array::<8>()? != SEGMENT_MAGIC {
            return err(0, "not a Chronicle segment (bad magic)");
        }
        let version = r.u32()?;
        let segment_no = r.u32()?;
        let first_position = r.u64()?;
        let _reserved = r.u32()?;
        let crc = r.u32()?;
        if crc != crc32c::crc32c(buf.get(..28).unwrap_or_default()) {
            return err(28, "segment header checksum mismatch");
        }
        if version != FORMAT_VERSION && version != COMPRESSED_FORMAT_VERSION {
            return err(
                8,
                format!("unsupported format version {version} (this build reads {FORMAT_VERSION} and {COMPRESSED_FORMAT_VERSION})"),
            );
        }
        Ok(Self { segment_no, first_position, compressed: version == COMPRESSED_FORMAT_VERSION })
    }
}

/// The header of one block (one group commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Bytes of records after the header.
    pub body_len: u32,
    /// Records in the block.
    pub record_count: u32,
    /// Event records in the block.
    pub event_count: u32,
    /// Global position of the block's first event (next position if none).
    pub first_position: u64,
}

impl BlockHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut b = [0u8; BLOCK_HEADER_LEN];
        b[..4].copy_from_slice(&BLOCK_MAGIC.to_le_bytes());
        b[4..6].copy_from_slice(&(FORMAT_VERSION as u16).to_le_bytes());
        b[8..12].copy_from_slice(&self.body_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.record_count.to_le_bytes());
        b[16..20].copy_from_slice(&self.event_count.to_le_bytes());
        b[20..28].copy_from_slice(&self.first_position.to_le_bytes());
        let crc = crc32c::crc32c(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { buf, pos: 0 };
        if r.u32()? != BLOCK_MAGIC {
            return err(0, "bad block magic");
        }
        let version = r.u16()?;
        let _flags = r.u16()?;
        let h = Self { body_len: r.u32()?, record_count: r.u32()?, event_count: r.u32()?, first_position: r.u64()? };
        if r.u32()? != crc32c::crc32c(buf.get(..28).unwrap_or_default()) {
            return err(28, "block header checksum mismatch");
        }
        if u32::from(version) != FORMAT_VERSION {
            return err(4, format!("unsupported block format version {version}"));
        }
        Ok(h)
    }
}

mod frame;
mod index_entries;
mod index_file;
mod records;
mod removed;
pub use frame::{
    COMPRESSED_BIT, FRAME_HEADER_LEN, FRAME_MAGIC, FRAME_SHIFT, FRAME_TARGET, FrameHeader, MAX_FRAME_RAW, decode_frame, encode_frame,
    pack_offset, unpack_offset,
};
pub use removed::{MAX_REMOVED_ITEMS, RemovedRun};

fn put_str16(out: &mut Vec<u8>, s: &str) {
    // Names are validated to ≤ 255 bytes before they reach the encoder.
    out.extend_from_slice(&(s.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
}
pub use index_file::{
    CheckedIndex, INDEX_FORMAT_VERSION, INDEX_HEADER_LEN, INDEX_MAGIC, IndexEntries, IndexEntry, IndexHeader, IndexWriter, decode_index,
    decode_index_header, index_entries,
};
pub use records::{EventRecord, Record, decode_record, encode_record};

/// Options of a stream-metadata record, packed as presence flags + values.
pub(crate) fn pack_metadata(m: &StreamMetadata) -> (u8, [u64; 3]) {
    let fields = [m.max_age, m.max_count, m.truncate_before];
    let flags = fields.iter().enumerate().fold(0u8, |f, (i, v)| if v.is_some() { f | (1 << i) } else { f });
    (flags, fields.map(|v| v.unwrap_or(0)))
}

pub(crate) fn unpack_metadata(flags: u8, values: [u64; 3]) -> StreamMetadata {
    let [age, count, tb] = values;
    let get = |i: u8, v: u64| (flags & (1 << i) != 0).then_some(v);
    StreamMetadata { max_age: get(0, age), max_count: get(1, count), truncate_before: get(2, tb) }
}
