//! Index files: what a sealed segment contributes to the index, so an open
//! need not read the segment.
//!
//! ```text
//! index_file := header(48 B) body
//! header := "CHRNIDX1" | format u32 | segment_no u32 | first_position u64
//!           | segment_len u64 | entry_count u32 | body_crc u32 | reserved u32 | header_crc u32
//!
//! format 2 (written since the compact index):
//! body   := name_count u32 | name* | entry*
//! name   := len u16 | UTF-8 bytes          each stream id and event type of the segment, once
//! entry  := offset u64 | len u32 | kind u8 | …    the segment's record at `offset` (framed length `len`)
//!   kind 1, an event: position u64 | version u64 | event_id [16] | recorded_at i64 | schema_version u32
//!                     | stream u32 | event_type u32 | metadata_len u32 | metadata   (names by number)
//!   kind 0, any other record: the record, framed as in a segment, without snapshot state
//!
//! format 1 (still read):
//! body   := entry*
//! entry  := offset u64 | len u32 | record  the record re-encoded without event data or snapshot state
//! ```
//!
//! Entries are in log order, one per record of the segment, so applying
//! them reproduces exactly what scanning the segment would. The body is
//! covered by one checksum, so an entry carries none of its own. An index
//! file is only used when its header names the segment's number, first
//! position and current length; otherwise the segment is scanned.

pub use super::index_entries::IndexEntries;
use super::{FormatError, Reader, Record, SegmentHeader, encode_record, err};
use std::collections::HashMap;

/// Index file magic.
pub const INDEX_MAGIC: [u8; 8] = *b"CHRNIDX1";
/// Size of the index file header.
pub const INDEX_HEADER_LEN: usize = 48;
/// The index format this build writes (it reads 1 and 2).
pub const INDEX_FORMAT_VERSION: u32 = 2;
/// Entry kind of an event (format 2).
pub(super) const ENTRY_EVENT: u8 = 1;
/// Entry kind of any other record, framed (format 2).
pub(super) const ENTRY_RECORD: u8 = 0;

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

/// Builds an index file (format 2) entry by entry.
#[derive(Debug, Default)]
pub struct IndexWriter {
    entry_count: u32,
    names: HashMap<String, u32>,
    name_table: Vec<u8>,
    body: Vec<u8>,
}

impl IndexWriter {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn name(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.names.get(name) {
            return n;
        }
        let n = self.names.len() as u32;
        // Names are validated to ≤ 255 bytes (stream ids, event types) before they are stored.
        self.name_table.extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.name_table.extend_from_slice(name.as_bytes());
        self.names.insert(name.to_owned(), n);
        n
    }

    /// Adds the record found at `offset` (framed length `len`), without its
    /// event data or snapshot state.
    pub fn push(&mut self, record: &Record<'_>, offset: u64, len: u32) {
        self.body.extend_from_slice(&offset.to_le_bytes());
        self.body.extend_from_slice(&len.to_le_bytes());
        match record {
            Record::Event(e) => {
                let (stream, event_type) = (self.name(e.stream), self.name(e.event_type));
                let b = &mut self.body;
                b.push(ENTRY_EVENT);
                b.extend_from_slice(&e.global_position.to_le_bytes());
                b.extend_from_slice(&e.version.to_le_bytes());
                b.extend_from_slice(e.event_id.as_bytes());
                b.extend_from_slice(&e.recorded_at.to_le_bytes());
                b.extend_from_slice(&e.schema_version.to_le_bytes());
                b.extend_from_slice(&stream.to_le_bytes());
                b.extend_from_slice(&event_type.to_le_bytes());
                b.extend_from_slice(&(e.metadata.len() as u32).to_le_bytes());
                b.extend_from_slice(e.metadata);
            }
            other => {
                let stripped = match other {
                    Record::Snapshot { stream, version, schema_version, .. } => {
                        Record::Snapshot { stream, version: *version, schema_version: *schema_version, state: &[] }
                    }
                    other => other.clone(),
                };
                self.body.push(ENTRY_RECORD);
                encode_record(&stripped, &mut self.body);
            }
        }
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
        let mut body = Vec::with_capacity(4 + self.name_table.len() + self.body.len());
        body.extend_from_slice(&(self.names.len() as u32).to_le_bytes());
        body.extend_from_slice(&self.name_table);
        body.extend_from_slice(&self.body);
        let mut out = Vec::with_capacity(INDEX_HEADER_LEN + body.len());
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&INDEX_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&h.segment_no.to_le_bytes());
        out.extend_from_slice(&h.first_position.to_le_bytes());
        out.extend_from_slice(&h.segment_len.to_le_bytes());
        out.extend_from_slice(&h.entry_count.to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&body);
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
    decode_header(buf).map(|(header, _, _)| header)
}

/// The header, the body checksum it records and the format version.
fn decode_header(buf: &[u8]) -> Result<(IndexHeader, u32, u32), FormatError> {
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
    if version != 1 && version != INDEX_FORMAT_VERSION {
        return err(8, format!("unsupported index format version {version}"));
    }
    Ok((header, body_crc, version))
}

/// Decodes and checks an index file: header, body checksum, every entry.
/// Never panics.
pub fn decode_index(buf: &[u8]) -> Result<(IndexHeader, Vec<IndexEntry<'_>>), FormatError> {
    let (header, entries) = index_entries(buf)?;
    Ok((header, entries.collect::<Result<_, _>>()?))
}

/// Checks an index file's header and body checksum and returns an iterator
/// over its entries, decoded one at a time (an open applies a million
/// entries without holding them all). Each entry is checked as it is
/// decoded; the last item is an error when the file holds another number of
/// entries than its header says. Never panics.
pub fn index_entries(buf: &[u8]) -> Result<(IndexHeader, IndexEntries<'_>), FormatError> {
    let (header, version) = check_index(buf)?;
    Ok((header, IndexEntries::new(buf, header, version)))
}

/// Checks an index file's header and body checksum (what the entries'
/// decoding relies on); returns the header and the format version.
fn check_index(buf: &[u8]) -> Result<(IndexHeader, u32), FormatError> {
    let (header, body_crc, version) = decode_header(buf)?;
    if crc32c::crc32c(buf.get(INDEX_HEADER_LEN..).unwrap_or_default()) != body_crc {
        return err(INDEX_HEADER_LEN, "index body checksum mismatch");
    }
    Ok((header, version))
}

/// An index file whose header and body checksum were checked (on one
/// thread, say), so its entries can be decoded later (on another) without
/// checking them again.
#[derive(Debug)]
pub struct CheckedIndex {
    bytes: Vec<u8>,
    header: IndexHeader,
    version: u32,
}

impl CheckedIndex {
    /// Checks `bytes`; on failure, gives them back with the error.
    pub fn check(bytes: Vec<u8>) -> Result<Self, (FormatError, Vec<u8>)> {
        match check_index(&bytes) {
            Ok((header, version)) => Ok(Self { bytes, header, version }),
            Err(e) => Err((e, bytes)),
        }
    }

    /// The header.
    pub fn header(&self) -> IndexHeader {
        self.header
    }

    /// The entries, as [`index_entries`] gives them.
    pub fn entries(&self) -> IndexEntries<'_> {
        IndexEntries::new(&self.bytes, self.header, self.version)
    }

    /// The file's bytes back (to reuse the buffer).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
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

    #[test]
    fn entries_stream_one_at_a_time_and_stop_at_the_first_error() {
        let mut w = IndexWriter::new();
        sample().iter().for_each(|r| w.push(r, 32, 10));
        let file = w.finish(SegmentHeader { segment_no: 1, first_position: 1, compressed: false }, 64);
        let (_, entries) = index_entries(&file).unwrap();
        assert_eq!(
            entries.map(|e| e.unwrap().record).collect::<Vec<_>>(),
            sample()
                .iter()
                .map(|r| match r {
                    Record::Event(e) => Record::Event(EventRecord { data: b"", ..e.clone() }),
                    Record::Snapshot { stream, version, schema_version, .. } =>
                        Record::Snapshot { stream, version: *version, schema_version: *schema_version, state: b"" },
                    other => other.clone(),
                })
                .collect::<Vec<_>>()
        );
        // A header claiming one entry too many (checksums fixed up): the entries, then one error, then nothing.
        let mut bad = file.clone();
        bad[32..36].copy_from_slice(&5u32.to_le_bytes());
        let crc = crc32c::crc32c(&bad[..INDEX_HEADER_LEN - 4]);
        bad[INDEX_HEADER_LEN - 4..INDEX_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        let items: Vec<_> = index_entries(&bad).unwrap().1.collect();
        assert_eq!(items.len(), 5);
        assert!(items[..4].iter().all(Result::is_ok));
        assert!(items[4].as_ref().unwrap_err().reason.contains("header says 5"));
    }
}
