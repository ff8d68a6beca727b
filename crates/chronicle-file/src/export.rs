//! Export (see `chronicle_core::transfer`): the segments are scanned in
//! log order on a thread of their own, so stream changes come out at the
//! head they were made at, exactly as recovery replays them; the state
//! (latest snapshots, checkpoints) comes from the index at the end.
//!
//! No lock is held while scanning: the segment handles are taken once at
//! the start (a scavenge that swaps a segment meanwhile leaves the old file
//! readable through its handle, and both hold the same positions), and
//! only positions up to the published head are exported.

use crate::{
    format::{EventRecord, Record, decode_record},
    io::{SegmentFile, read_segment},
    scan::scan_segment,
    shared::{Loc, Shared, SnapLoc, read},
};
use bytes::Bytes;
use chronicle_core::{
    Error, ExportRange, GroupProgress, LogItem, LogWriter, RawJson, RecordedEvent, Result, Snapshot, StreamId, Timestamp,
};
use std::sync::Arc;

/// Sends the export of `range` to `tx` (an error item if it fails).
pub(crate) fn run(shared: &Shared, range: ExportRange, tx: &LogWriter) {
    let send = |item: LogItem| tx.blocking_send(Ok(item)).map_err(|_| Stop::Gone);
    let result = scan_log(shared, range, &send).and_then(|()| state(shared, range, &send));
    if let Err(Stop::Failed(e)) = result {
        let _ = tx.blocking_send(Err(e));
    }
}

/// Why an export stopped early.
enum Stop {
    /// The reader went away.
    Gone,
    /// Reading failed.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// The segments to scan: from the one holding position `after` (the first
/// when it was removed or `after` is 0).
fn segments(shared: &Shared, after: u64) -> Vec<(u32, Arc<dyn SegmentFile>)> {
    let start = read(&shared.index).entry(after).map(|e| e.payload).filter(|loc| *loc != Loc::REMOVED).map_or(0, |loc| loc.segment);
    read(&shared.segments).range(start..).map(|(no, file)| (*no, file.clone())).collect()
}

fn scan_log(shared: &Shared, range: ExportRange, send: &dyn Fn(LogItem) -> Result<(), Stop>) -> Result<(), Stop> {
    let through = range.through.min(read(&shared.index).visible_head());
    let range = ExportRange { through, ..range };
    let files = segments(shared, range.after);
    let last = files.last().map(|(no, _)| *no);
    for (no, file) in files {
        let buf = read_segment(&*shared.storage, no, &*file)?;
        let name = shared.storage.describe(no);
        let mut done = false;
        let mut head = 0;
        let mut outcome = Ok(());
        let mut out = Vec::new();
        let scanned = scan_segment(&buf, &name, Some(no) == last, |block, records| {
            head = head.max(block.first_position.saturating_sub(1));
            for s in &records {
                if done {
                    break;
                }
                let at = |e: Error| Error::Corrupted { location: format!("{name} at offset {}", s.offset), reason: e.to_string() };
                items(&s.record, &mut head, range, &mut done, &mut out).map_err(at)?;
            }
            for item in out.drain(..) {
                if outcome.is_ok() {
                    outcome = send(item);
                }
            }
            done |= outcome.is_err();
            Ok(())
        });
        scanned?;
        outcome?;
        if done {
            break;
        }
    }
    Ok(())
}

/// Pushes onto `out` what a scanned record exports within `range`;
/// `head` follows the log, `done` is set once past `range.through`.
fn items(record: &Record<'_>, head: &mut u64, range: ExportRange, done: &mut bool, out: &mut Vec<LogItem>) -> Result<()> {
    let mut at = |position: u64| {
        *head = position;
        *done = position > range.through;
        range.holds_position(position)
    };
    match record {
        // `at` follows the head even when the event is outside the range.
        Record::Event(e) if at(e.global_position) => out.push(LogItem::Event(event(e)?)),
        Record::Removed(run) => {
            for (position, name, version) in run.events() {
                if at(position) {
                    out.push(LogItem::Removed { position, stream: StreamId::new(name)?, version });
                }
            }
        }
        Record::StreamMeta { stream, metadata } if range.holds_change(*head) => {
            out.push(LogItem::Metadata { head: *head, stream: StreamId::new(*stream)?, metadata: *metadata });
        }
        Record::Delete { stream, tombstone, deleted_through } if range.holds_change(*head) => out.push(LogItem::Delete {
            head: *head,
            stream: StreamId::new(*stream)?,
            tombstone: *tombstone,
            deleted_through: *deleted_through,
        }),
        _ => {}
    }
    Ok(())
}

fn event(e: &EventRecord<'_>) -> Result<RecordedEvent> {
    Ok(RecordedEvent {
        global_position: e.global_position,
        stream_id: StreamId::new(e.stream)?,
        version: e.version,
        event_id: e.event_id,
        event_type: e.event_type.into(),
        schema_version: e.schema_version,
        data: RawJson::from_trusted(Bytes::copy_from_slice(e.data)),
        metadata: RawJson::from_trusted(Bytes::copy_from_slice(e.metadata)),
        recorded_at: Timestamp::from_micros(e.recorded_at),
    })
}

/// The latest snapshot of `stream` from its record.
pub(crate) fn snapshot_at(shared: &Shared, stream: &StreamId, snap: SnapLoc) -> Result<Snapshot> {
    let buf = shared.segments().read_loc(snap.loc)?;
    let location = || format!("{} at offset {}", shared.storage.describe(snap.loc.segment), snap.loc.offset);
    match decode_record(&buf) {
        Ok((Record::Snapshot { version, schema_version, state, .. }, _)) => {
            Ok(Snapshot { stream_id: stream.clone(), version, schema_version, state: RawJson::from_trusted(buf.slice_ref(state)) })
        }
        Ok(_) => Err(Error::Corrupted { location: location(), reason: "snapshot index points at another record".into() }),
        Err(e) => Err(Error::Corrupted { location: location(), reason: e.reason }),
    }
}

/// The snapshots stored by `range.through`, the checkpoints, then the
/// groups' progress (kept as snapshots of `$group-` streams).
fn state(shared: &Shared, range: ExportRange, send: &dyn Fn(LogItem) -> Result<(), Stop>) -> Result<(), Stop> {
    let (snaps, groups): (Vec<(StreamId, SnapLoc)>, Vec<_>) = {
        let index = read(&shared.index);
        let snaps = read(&shared.snapshots);
        snaps
            .iter()
            .map(|(s, l)| (s.clone(), *l))
            .filter(|(s, l)| GroupProgress::group_of(s).is_some() || index.stored_by(s, l.version, range.through))
            .partition(|(s, _)| GroupProgress::group_of(s).is_none())
    };
    for (stream, snap) in snaps {
        send(LogItem::Snapshot(snapshot_at(shared, &stream, snap)?))?;
    }
    let checkpoints = read(&shared.index).checkpoint_items(range.through);
    for item in checkpoints {
        send(item)?;
    }
    for (stream, snap) in groups {
        if let Some(item) = GroupProgress::item_of(&snapshot_at(shared, &stream, snap)?, range.through) {
            send(item)?;
        }
    }
    Ok(())
}
