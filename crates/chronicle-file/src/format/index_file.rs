//! Index files: what a sealed segment contributes to the index, so an open
//! need not read the segment.
//!
//! ```text
//! index_file := header(48 B) entry*
//! header := "CHRNIDX1" | format u32 | segment_no u32 | first_position u64
//!           | segment_len u64 | entry_count u32 | body_crc u32 | reserved u32 | header_crc u32
//! entry  := offset u64 | len u32 | record          the segment's record at `offset`
//!                                                  (framed length `len`), re-encoded
//!                                                  without event data or snapshot state
//! ```
//!
//! Entries are in log order, one per record of the segment, so applying
//! them reproduces exactly what scanning the segment would. An index file
//! is only used when its header names the segment's number, first position
//! and current length; otherwise the segment is scanned.

use super::{FORMAT_VERSION, FormatError, Reader, Record, SegmentHeader, decode_record, encode_record, err};

/// Index file magic.
pub const INDEX_MAGIC: [u8; 8] = *b"CHRNIDX1";
/// Size of the index file header.
pub const INDEX_HEADER_LEN: usize = 48;

/// Which segment an index file describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexHeader {
    /// The segment's number.
    pub segment_no: u32,
    /// The segment's first position (from its header).
    pub first_position: u64,
    /// The segment's length in bytes when indexed.
    pub segment_len: u64,
    /// Entries in the file.
    pub entry_count: u32,
}

/// Builds an index file entry by entry.
#[derive(Debug, Default)]
pub struct IndexWriter {
    entry_count: u32,
    body: Vec<u8>,
}

impl IndexWriter {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the record found at `offset` (framed length `len`), without its
    /// event data or snapshot state.
    pub fn push(&mut self, record: &Record<'_>, offset: u64, len: u32) {
        self.body.extend_from_slice(&offset.to_le_bytes());
        self.body.extend_from_slice(&len.to_le_bytes());
        let stripped = match record {
            Record::Event(e) => Record::Event(super::EventRecord { data: &[], ..e.clone() }),
            Record::Snapshot { stream, version, schema_version, .. } => {
                Record::Snapshot { stream, version: *version, schema_version: *schema_version, state: &[] }
            }
            other => other.clone(),
        };
        encode_record(&stripped, &mut self.body);
        self.entry_count += 1;
    }

    /// The whole file, for the segment with header `segment` and `segment_len` bytes.
    pub fn finish(self, segment: SegmentHeader, segment_len: u64) -> Vec<u8> {
        let h = IndexHeader {
            segment_no: segment.segment_no,
            first_position: segment.first_position,
            segment_len,
            entry_count: self.entry_count,
        };
        let mut out = Vec::with_capacity(INDEX_HEADER_LEN + self.body.len());
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&h.segment_no.to_le_bytes());
        out.extend_from_slice(&h.first_position.to_le_bytes());
        out.extend_from_slice(&h.segment_len.to_le_bytes());
        out.extend_from_slice(&h.entry_count.to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&self.body).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// One decoded entry: the record and where it lives in the segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry<'a> {
    /// The record (no event data, no snapshot state).
    pub record: Record<'a>,
    /// Offset of the record in the segment.
    pub offset: u64,
    /// Framed length of the record in the segment.
    pub len: u32,
}

/// Decodes and checks an index file's header only (magic, checksum,
/// version): enough to tell which segment it describes. Never panics.
pub fn decode_index_header(buf: &[u8]) -> Result<IndexHeader, FormatError> {
    decode_header(buf).map(|(header, _)| header)
}

/// The header and the body checksum it records.
fn decode_header(buf: &[u8]) -> Result<(IndexHeader, u32), FormatError> {
    let mut r = Reader { buf, pos: 0 };
    if r.array::<8>()? != INDEX_MAGIC {
        return err(0, "not a Chronicle index file (bad magic)");
    }
    let version = r.u32()?;
    let header = IndexHeader { segment_no: r.u32()?, first_position: r.u64()?, segment_len: r.u64()?, entry_count: r.u32()? };
    let body_crc = r.u32()?;
    let _reserved = r.u32()?;
    let header_crc = r.u32()?;
    if header_crc != crc32c::crc32c(buf.get(..INDEX_HEADER_LEN - 4).unwrap_or_default()) {
        return err(INDEX_HEADER_LEN - 4, "index header checksum mismatch");
    }
    if version != FORMAT_VERSION {
        return err(8, format!("unsupported index format version {version}"));
    }
    Ok((header, body_crc))
}

/// Decodes and checks an index file: header, body checksum, every entry.
/// Never panics.
pub fn decode_index(buf: &[u8]) -> Result<(IndexHeader, Vec<IndexEntry<'_>>), FormatError> {
    let (header, body_crc) = decode_header(buf)?;
    let body = buf.get(INDEX_HEADER_LEN..).unwrap_or_default();
    if crc32c::crc32c(body) != body_crc {
        return err(INDEX_HEADER_LEN, "index body checksum mismatch");
    }
    // Each entry takes at least 12 + 9 bytes: cap the allocation by what the body can hold.
    let mut entries = Vec::with_capacity((header.entry_count as usize).min(body.len() / 21));
    let mut b = Reader { buf: body, pos: 0 };
    while b.pos < body.len() {
        let at = INDEX_HEADER_LEN + b.pos;
        let (offset, len) = (b.u64().map_err(|e| shift(e, at))?, b.u32().map_err(|e| shift(e, at))?);
        let (record, used) = decode_record(body.get(b.pos..).unwrap_or_default()).map_err(|e| shift(e, INDEX_HEADER_LEN + b.pos))?;
        b.pos += used;
        entries.push(IndexEntry { record, offset, len });
    }
    if entries.len() != header.entry_count as usize {
        return err(INDEX_HEADER_LEN, format!("index holds {} entries, header says {}", entries.len(), header.entry_count));
    }
    Ok((header, entries))
}

fn shift(e: FormatError, by: usize) -> FormatError {
    FormatError { offset: e.offset + by, reason: e.reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::EventRecord;
    use chronicle_core::{StreamMetadata, Uuid};

    fn sample() -> Vec<Record<'static>> {
        vec![
            Record::Event(EventRecord {
                global_position: 1,
                version: 1,
                event_id: Uuid::from_u128(7),
                recorded_at: 42,
                schema_version: 2,
                stream: "order-1",
                event_type: "Placed",
                metadata: br#"{"correlation_id":"c"}"#,
                data: br#"{"big":"payload"}"#,
            }),
            Record::StreamMeta { stream: "order-1", metadata: StreamMetadata { max_count: Some(3), ..StreamMetadata::default() } },
            Record::Snapshot { stream: "order-1", version: 1, schema_version: 1, state: b"{}" },
            Record::Checkpoint { name: "p", position: 1 },
        ]
    }

    #[test]
    fn round_trips_without_data_and_state() {
        let mut w = IndexWriter::new();
        for (i, r) in sample().iter().enumerate() {
            w.push(r, 32 + i as u64 * 100, 90);
        }
        let file = w.finish(SegmentHeader { segment_no: 3, first_position: 10, compressed: false }, 1_000);
        let (header, entries) = decode_index(&file).unwrap();
        assert_eq!(header, IndexHeader { segment_no: 3, first_position: 10, segment_len: 1_000, entry_count: 4 });
        assert_eq!(decode_index_header(&file).unwrap(), header);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].offset, 132);
        assert_eq!(entries[1].record, sample()[1]);
        let Record::Event(e) = &entries[0].record else { panic!("an event") };
        assert_eq!((e.data, e.metadata, e.event_type), (&b""[..], &br#"{"correlation_id":"c"}"#[..], "Placed"));
        assert!(matches!(entries[2].record, Record::Snapshot { state: b"", version: 1, .. }));
    }

    #[test]
    fn any_flipped_byte_is_detected() {
        let mut w = IndexWriter::new();
        sample().iter().for_each(|r| w.push(r, 32, 10));
        let file = w.finish(SegmentHeader { segment_no: 1, first_position: 1, compressed: false }, 64);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            assert!(decode_index(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(decode_index(&file[..file.len() - 1]).is_err());
    }
}
