//! Decoding an index file's entries (both formats), one at a time.

use super::{
    EventRecord, FormatError, Reader, Record,
    index_file::{ENTRY_EVENT, ENTRY_RECORD, INDEX_HEADER_LEN, IndexEntry, IndexHeader},
    records::decode_record_covered,
};

/// The entries of an index file, from [`index_entries`](super::index_entries)
/// or [`CheckedIndex::entries`](super::CheckedIndex::entries).
#[derive(Debug)]
pub struct IndexEntries<'a> {
    body: Reader<'a>,
    /// Format 2: the stream ids and event types entries refer to.
    names: Vec<&'a str>,
    version: u32,
    expected: u32,
    seen: u32,
    done: bool,
}

impl<'a> IndexEntries<'a> {
    /// Entries of `file` (checksums checked by the caller), of format `version`.
    pub(super) fn new(file: &'a [u8], header: IndexHeader, version: u32) -> Self {
        let body = file.get(INDEX_HEADER_LEN..).unwrap_or_default();
        Self { body: Reader { buf: body, pos: 0 }, names: Vec::new(), version, expected: header.entry_count, seen: 0, done: false }
    }

    fn read_names(&mut self) -> Result<(), FormatError> {
        let b = &mut self.body;
        let count = b.u32()?;
        // Each name takes at least 2 bytes: cap the allocation by what the body holds.
        self.names.reserve((count as usize).min(b.buf.len() / 2));
        for _ in 0..count {
            let len = b.u16()?;
            self.names.push(b.str(len.into())?);
        }
        Ok(())
    }

    fn next_entry(&mut self) -> Result<IndexEntry<'a>, FormatError> {
        let b = &mut self.body;
        let (offset, len) = (b.u64()?, b.u32()?);
        // Format 1 has no kind byte: every entry is a framed record.
        let kind = if self.version == 1 { ENTRY_RECORD } else { b.u8()? };
        let record = match kind {
            ENTRY_EVENT => Record::Event(event_entry(b, &self.names)?),
            ENTRY_RECORD => {
                let (record, used) = decode_record_covered(b.buf.get(b.pos..).unwrap_or_default()).map_err(|e| rel(e, b.pos))?;
                b.pos += used;
                record
            }
            kind => return Err(FormatError { offset: b.pos - 1, reason: format!("unknown index entry kind {kind}") }),
        };
        Ok(IndexEntry { record, offset, len })
    }
}

/// The event of a format-2 event entry (after its kind byte); stream and
/// type are numbers in the file's name table `names`.
fn event_entry<'a>(b: &mut Reader<'a>, names: &[&'a str]) -> Result<EventRecord<'a>, FormatError> {
    let (global_position, version, event_id) = (b.u64()?, b.u64()?, chronicle_core::Uuid::from_bytes(b.array()?));
    let (recorded_at, schema_version) = (b.i64()?, b.u32()?);
    let mut name = || {
        let at = b.pos;
        let n = b.u32()?;
        names.get(n as usize).copied().ok_or_else(|| FormatError { offset: at, reason: format!("name {n} is not in the table") })
    };
    let (stream, event_type) = (name()?, name()?);
    let metadata_len = b.u32()?;
    let metadata = b.take(metadata_len as usize)?;
    Ok(EventRecord { global_position, version, event_id, recorded_at, schema_version, stream, event_type, metadata, data: &[] })
}

impl<'a> Iterator for IndexEntries<'a> {
    type Item = Result<IndexEntry<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.version != 1
            && self.body.pos == 0
            && let Err(e) = self.read_names()
        {
            self.done = true;
            return Some(Err(rel(e, INDEX_HEADER_LEN)));
        }
        if self.body.pos >= self.body.buf.len() {
            self.done = true;
            return (self.seen != self.expected).then(|| {
                Err(FormatError {
                    offset: INDEX_HEADER_LEN,
                    reason: format!("index holds {} entries, header says {}", self.seen, self.expected),
                })
            });
        }
        let entry = self.next_entry().map_err(|e| rel(e, INDEX_HEADER_LEN));
        self.seen = self.seen.saturating_add(1);
        self.done = entry.is_err();
        Some(entry)
    }
}

/// An error found `by` bytes further in.
fn rel(e: FormatError, by: usize) -> FormatError {
    FormatError { offset: e.offset + by, reason: e.reason }
}
