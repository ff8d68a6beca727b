//! Turning index entries into events: coalesced positional reads, checksum
//! verified, data and metadata sliced out of the read buffer (no copy, no
//! JSON parsing).

use crate::{
    format::{Record, decode_record, unpack_offset},
    shared::{Loc, SegmentsView},
};
use chronicle_core::{Error, IndexedEvent, RawJson, RecordedEvent, Result, Timestamp};

/// Entries closer than this are read with one positional read.
const COALESCE_GAP: u64 = 64 * 1024;
/// Largest single read.
const MAX_READ: u64 = 4 * 1024 * 1024;

/// Reads the events of `entries`, in the given order.
pub(crate) fn read_events(segments: &SegmentsView<'_>, entries: &[IndexedEvent<Loc>]) -> Result<Vec<RecordedEvent>> {
    let mut out = Vec::with_capacity(entries.len());
    let mut i = 0;
    while let Some(first) = entries.get(i) {
        let loc = first.payload;
        if let Some((frame, _)) = unpack_offset(loc.offset) {
            // A compressed segment: every following entry of the same frame
            // is decoded from one decompressed block.
            let block = segments.read_frame(loc.segment, frame)?;
            let mut j = i;
            while let Some(e) = entries.get(j).filter(|e| e.payload.segment == loc.segment) {
                let Some((f, inside)) = unpack_offset(e.payload.offset).filter(|&(f, _)| f == frame) else { break };
                out.push(decode_event(segments, &block, inside, e, f)?);
                j += 1;
            }
            i = j;
            continue;
        }
        // Extend the run while entries stay ascending, close, in one segment.
        let (mut start, mut end, mut j) = (loc.offset, loc.offset + u64::from(loc.len), i + 1);
        while let Some(next) = entries.get(j) {
            let l = next.payload;
            let new_end = end.max(l.offset + u64::from(l.len));
            if l.segment != loc.segment || l.offset < start || l.offset > end + COALESCE_GAP || new_end - start > MAX_READ {
                break;
            }
            (start, end, j) = (start.min(l.offset), new_end, j + 1);
        }
        let buf = segments.read_range(loc.segment, start, (end - start) as usize)?;
        for e in entries.get(i..j).unwrap_or_default() {
            let at = (e.payload.offset - start) as usize;
            out.push(decode_event(segments, &buf, at, e, e.payload.offset)?);
        }
        i = j;
    }
    Ok(out)
}

/// Decodes the event `e` found `at` bytes into `buf` (`offset`: where in
/// the segment, for errors).
fn decode_event(segments: &SegmentsView<'_>, buf: &bytes::Bytes, at: usize, e: &IndexedEvent<Loc>, offset: u64) -> Result<RecordedEvent> {
    let location = || format!("{} at offset {offset}", segments.describe(e.payload.segment));
    let frame = buf.get(at..at + e.payload.len as usize).unwrap_or_default();
    let (record, _) = decode_record(frame).map_err(|f| Error::Corrupted { location: location(), reason: f.reason })?;
    let Record::Event(r) = record else {
        return Err(Error::Corrupted { location: location(), reason: "index points at a non-event record".into() });
    };
    if r.global_position != e.position || r.event_id != e.event_id {
        return Err(Error::Corrupted {
            location: location(),
            reason: format!("record holds position {}, index says {}", r.global_position, e.position),
        });
    }
    Ok(RecordedEvent {
        global_position: e.position,
        stream_id: e.stream.clone(),
        version: e.version,
        event_id: e.event_id,
        event_type: e.event_type.clone(),
        schema_version: r.schema_version,
        data: RawJson::from_trusted(buf.slice_ref(r.data)),
        metadata: RawJson::from_trusted(buf.slice_ref(r.metadata)),
        recorded_at: Timestamp::from_micros(r.recorded_at),
    })
}
