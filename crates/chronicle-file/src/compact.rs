//! Rewriting one sealed segment as a compressed segment (format 2),
//! leaving out what a scavenge may drop: events invisible forever (each
//! leaves only its position and version behind, in a `Removed` record)
//! and superseded snapshots. Pure: bytes in, bytes out; installing the
//! result is [`crate::scavenge`]'s job.

use crate::{
    format::{
        BLOCK_HEADER_LEN, BlockHeader, FRAME_TARGET, IndexWriter, MAX_REMOVED_ITEMS, Record, RemovedRun, SegmentHeader, encode_frame,
        encode_record, pack_offset,
    },
    scan::scan_segment,
};
use chronicle_core::{Error, Result, StreamId, Uuid};
use std::collections::{HashMap, HashSet};

/// zstd level of sealed segments: fast to write, about as small as 3.
const LEVEL: i32 = 1;

/// Per stream: versions up to this one may be removed.
pub(crate) type Removable = HashMap<StreamId, u64, foldhash::fast::RandomState>;

/// A rewritten segment and how its content moved.
#[derive(Debug, Default)]
pub(crate) struct Rewritten {
    /// The new segment file.
    pub(crate) segment: Vec<u8>,
    /// Its index file.
    pub(crate) index: Vec<u8>,
    /// Kept events: position, new offset, framed length.
    pub(crate) moved: Vec<(u64, u64, u32)>,
    /// Kept snapshots: old offset, new offset, framed length.
    pub(crate) snapshots: Vec<(u64, u64, u32)>,
    /// Positions of the events removed now.
    pub(crate) removed: Vec<u64>,
    /// Per stream, the last version removed now.
    pub(crate) removed_through: HashMap<StreamId, u64>,
    /// Ids of the events removed now.
    pub(crate) removed_ids: Vec<Uuid>,
    /// Snapshot records dropped.
    pub(crate) dropped_snapshots: u64,
    /// Whether the input was already compressed.
    pub(crate) was_compressed: bool,
}

impl Rewritten {
    /// True when the rewrite changes nothing but the encoding of an
    /// already compressed segment (not worth installing).
    pub(crate) fn is_noop(&self) -> bool {
        self.was_compressed && self.removed.is_empty() && self.dropped_snapshots == 0
    }
}

/// Builds frames: records gathered into one block until it reaches
/// [`FRAME_TARGET`] bytes, then compressed.
struct Frames {
    out: Vec<u8>,
    block: Vec<u8>,
    records: u32,
    events: u32,
    block_first: u64,
    next_position: u64,
    index: IndexWriter,
}

impl Frames {
    fn new(header: SegmentHeader) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&SegmentHeader { compressed: true, ..header }.encode());
        let position = header.first_position;
        Self {
            out,
            block: vec![0; BLOCK_HEADER_LEN],
            records: 0,
            events: 0,
            block_first: position,
            next_position: position,
            index: IndexWriter::new(),
        }
    }

    /// Adds a record holding `events` positions; returns its packed offset and length.
    fn add(&mut self, record: &Record<'_>, events: u32) -> Result<(u64, u32)> {
        let inside = self.block.len();
        encode_record(record, &mut self.block);
        let len = (self.block.len() - inside) as u32;
        let offset = pack_offset(self.out.len() as u64, inside);
        self.index.push(record, offset, len);
        (self.records, self.events, self.next_position) = (self.records + 1, self.events + events, self.next_position + u64::from(events));
        if self.block.len() >= FRAME_TARGET {
            self.flush()?;
        }
        Ok((offset, len))
    }

    fn flush(&mut self) -> Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        let body_len = (self.block.len() - BLOCK_HEADER_LEN) as u32;
        let header = BlockHeader { body_len, record_count: self.records, event_count: self.events, first_position: self.block_first };
        if let Some(slot) = self.block.get_mut(..BLOCK_HEADER_LEN) {
            slot.copy_from_slice(&header.encode());
        }
        encode_frame(&self.block, self.block_first, LEVEL, &mut self.out).map_err(|e| Error::io("compressing a segment frame", e))?;
        self.block.truncate(BLOCK_HEADER_LEN);
        (self.records, self.events, self.block_first) = (0, 0, self.next_position);
        Ok(())
    }
}

/// Where a [`Pending`] run goes: a record and the events it counts.
pub(crate) trait AddRecord {
    /// Writes `record`, which counts `events` positions.
    fn add_record(&mut self, record: &Record<'_>, events: u32) -> Result<()>;
}

impl AddRecord for Frames {
    fn add_record(&mut self, record: &Record<'_>, events: u32) -> Result<()> {
        self.add(record, events).map(drop)
    }
}

/// Events waiting to be written as one `Removed` record.
#[derive(Default)]
pub(crate) struct Pending {
    first_position: u64,
    streams: Vec<String>,
    slots: HashMap<String, u16>,
    items: Vec<(u16, u64)>,
}

impl Pending {
    /// Adds a removed event (position after the previous one's).
    pub(crate) fn push(&mut self, add: &mut impl AddRecord, position: u64, stream: &str, version: u64) -> Result<()> {
        if self.items.len() >= MAX_REMOVED_ITEMS || (self.streams.len() >= usize::from(u16::MAX) && !self.slots.contains_key(stream)) {
            self.flush(add)?;
        }
        if self.items.is_empty() {
            self.first_position = position;
        }
        let slot = match self.slots.get(stream) {
            Some(&slot) => slot,
            None => {
                let slot = self.streams.len() as u16;
                self.streams.push(stream.to_owned());
                self.slots.insert(stream.to_owned(), slot);
                slot
            }
        };
        self.items.push((slot, version));
        Ok(())
    }

    /// Writes the waiting events as one record, if there are any.
    pub(crate) fn flush(&mut self, add: &mut impl AddRecord) -> Result<()> {
        if self.items.is_empty() {
            return Ok(());
        }
        let count = self.items.len() as u32;
        let run = RemovedRun {
            first_position: self.first_position,
            streams: self.streams.iter().map(String::as_str).collect(),
            items: std::mem::take(&mut self.items),
        };
        add.add_record(&Record::Removed(run), count)?;
        self.streams.clear();
        self.slots.clear();
        Ok(())
    }
}

/// Rewrites the sealed segment held in `buf` (plain or compressed) without
/// the events `removable` names and without the snapshot records whose
/// offsets are not in `keep_snapshots` (the latest snapshot of each stream).
pub(crate) fn rewrite(buf: &[u8], name: &str, removable: &Removable, keep_snapshots: &HashSet<u64>) -> Result<Rewritten> {
    let header = SegmentHeader::decode(buf)
        .map_err(|e| Error::Corrupted { location: format!("{name} at offset {}", e.offset), reason: e.reason })?;
    let mut frames = Frames::new(header);
    let mut pending = Pending::default();
    let mut done = Rewritten { was_compressed: header.compressed, ..Rewritten::default() };
    scan_segment(buf, name, false, |_, records| {
        for s in records {
            match &s.record {
                Record::Event(e) if let Some((stream, _)) = removable.get_key_value(e.stream).filter(|(_, t)| e.version <= **t) => {
                    pending.push(&mut frames, e.global_position, e.stream, e.version)?;
                    done.removed.push(e.global_position);
                    done.removed_ids.push(e.event_id);
                    let through = done.removed_through.entry(stream.clone()).or_default();
                    *through = (*through).max(e.version);
                }
                Record::Removed(run) => {
                    run.events().try_for_each(|(position, stream, version)| pending.push(&mut frames, position, stream, version))?;
                }
                Record::Snapshot { .. } if !keep_snapshots.contains(&s.offset) => done.dropped_snapshots += 1,
                record => {
                    pending.flush(&mut frames)?;
                    let events = u32::from(matches!(record, Record::Event(_)));
                    let (offset, len) = frames.add(record, events)?;
                    match record {
                        Record::Event(e) => done.moved.push((e.global_position, offset, len)),
                        Record::Snapshot { .. } => done.snapshots.push((s.offset, offset, len)),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    })?;
    pending.flush(&mut frames)?;
    frames.flush()?;
    done.index = std::mem::take(&mut frames.index).finish(SegmentHeader { compressed: true, ..header }, frames.out.len() as u64);
    done.segment = frames.out;
    Ok(done)
}
