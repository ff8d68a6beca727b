//! One group commit's block, built command by command under the index
//! lock: the encoded records, the held-back answers and the index changes
//! to apply once the block is durable.

use crate::{
    compact::{AddRecord, Pending},
    format::{BLOCK_HEADER_LEN, BlockHeader, EventRecord, Record, encode_record},
    shared::{Loc, SnapLoc},
    writer::{After, AppendReply, Reply},
};
use chronicle_core::{
    AppendPlan, AppendResult, Committed, DeleteMode, ExpectedVersion, IndexedEvent, LogIndex, LogItem, Metadata, PreparedAppend,
    RecordedEvent, Result, Snapshot, StreamChange, StreamId, StreamMetadata, Timestamp, Uuid, compact_meta, plan_append,
};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A block in the making.
pub(crate) struct Block {
    segment: u32,
    /// Offset of the block in the segment.
    at: u64,
    first_position: u64,
    recorded_at: Timestamp,
    /// Header space, then the records.
    buf: Vec<u8>,
    records: u32,
    events: u32,
    replies: Vec<Reply>,
    after: Vec<After>,
}

impl AddRecord for Block {
    fn add_record(&mut self, record: &Record<'_>, events: u32) -> Result<()> {
        self.push_record(record);
        self.events += events;
        Ok(())
    }
}

impl Block {
    /// An empty block at offset `at` of `segment`, after what `index` holds.
    pub(crate) fn new(segment: u32, at: u64, index: &LogIndex<Loc>) -> Self {
        let mut buf = vec![0u8; BLOCK_HEADER_LEN];
        buf.reserve(4096);
        Self {
            segment,
            at,
            first_position: index.len() + 1,
            recorded_at: Timestamp::now().at_least(index.last_recorded_at()),
            buf,
            records: 0,
            events: 0,
            replies: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Where the record started at `start` of the buffer lies.
    fn loc(&self, start: usize) -> Loc {
        Loc { segment: self.segment, len: (self.buf.len() - start) as u32, offset: self.at + start as u64 }
    }

    fn push_record(&mut self, record: &Record<'_>) {
        encode_record(record, &mut self.buf);
        self.records += 1;
    }

    /// The encoded block (its header filled in; `None` when no record was
    /// added), the held-back answers and the changes to apply once durable.
    pub(crate) fn finish(mut self) -> (Option<Vec<u8>>, Vec<Reply>, Vec<After>) {
        if self.records == 0 {
            return (None, self.replies, self.after);
        }
        let body_len = (self.buf.len() - BLOCK_HEADER_LEN) as u32;
        let header = BlockHeader { body_len, record_count: self.records, event_count: self.events, first_position: self.first_position };
        if let Some(slot) = self.buf.get_mut(..BLOCK_HEADER_LEN) {
            slot.copy_from_slice(&header.encode());
        }
        (Some(self.buf), self.replies, self.after)
    }

    /// Decides an append against `index`; when it is to be written,
    /// encodes its events and indexes them (unpublished until durable).
    pub(crate) fn append(
        &mut self,
        index: &mut LogIndex<Loc>,
        append: PreparedAppend,
        want_events: bool,
        tx: oneshot::Sender<AppendReply>,
    ) {
        let results = match plan_append(&*index, &append) {
            Err(e) => return self.replies.push(Reply::Append(tx, Err(e))),
            Ok(AppendPlan::AlreadyStored(results)) => {
                return self.replies.push(Reply::Append(tx, Ok(Committed { results, idempotent: true, events: Vec::new() })));
            }
            Ok(AppendPlan::Write(results)) => results,
        };
        let events = self.encode_events(index, append, &results, want_events);
        self.replies.push(Reply::Append(tx, Ok(Committed { results, idempotent: false, events })));
    }

    fn encode_events(
        &mut self,
        index: &mut LogIndex<Loc>,
        append: PreparedAppend,
        results: &[AppendResult],
        want_events: bool,
    ) -> Vec<RecordedEvent> {
        let recorded_at = self.recorded_at;
        let stored = if want_events { append.recorded(results, recorded_at) } else { Vec::new() };
        for (part, result) in append.streams.into_iter().zip(results) {
            for (i, e) in part.events.into_iter().enumerate() {
                let (position, version) = (result.first_position + i as u64, result.first_version + i as u64);
                let start = self.buf.len();
                let record = EventRecord {
                    global_position: position,
                    version,
                    event_id: e.event_id,
                    recorded_at: recorded_at.as_micros(),
                    schema_version: e.schema_version,
                    stream: part.stream.as_str(),
                    event_type: &e.event_type,
                    metadata: e.metadata().as_bytes(),
                    data: e.data.as_bytes(),
                };
                encode_record(&Record::Event(record), &mut self.buf);
                (self.records, self.events) = (self.records + 1, self.events + 1);
                index.push(IndexedEvent {
                    position,
                    stream: part.stream.clone(),
                    version,
                    event_id: e.event_id,
                    event_type: e.event_type.clone(),
                    recorded_at,
                    meta: compact_meta(e.well_known()),
                    payload: self.loc(start),
                });
            }
        }
        stored
    }

    /// Sets a stream's retention settings.
    pub(crate) fn metadata(&mut self, index: &LogIndex<Loc>, stream: StreamId, metadata: StreamMetadata, tx: oneshot::Sender<Result<()>>) {
        match index.plan_metadata(&stream, metadata) {
            Err(e) => self.replies.push(Reply::Unit(tx, Err(e))),
            Ok(change) => {
                self.push_record(&Record::StreamMeta { stream: stream.as_str(), metadata });
                self.after.push(After::Change(change));
                self.replies.push(Reply::Unit(tx, Ok(())));
            }
        }
    }

    /// Soft-deletes or tombstones a stream.
    pub(crate) fn delete(
        &mut self,
        index: &LogIndex<Loc>,
        stream: StreamId,
        expected: ExpectedVersion,
        mode: DeleteMode,
        tx: oneshot::Sender<Result<()>>,
    ) {
        match index.plan_delete(&stream, expected, mode == DeleteMode::Tombstone) {
            Err(e) => self.replies.push(Reply::Unit(tx, Err(e))),
            Ok(change) => {
                // plan_delete only ever plans a Delete change.
                if let StreamChange::Delete { tombstone, deleted_through, .. } = &change {
                    self.push_record(&Record::Delete { stream: stream.as_str(), tombstone: *tombstone, deleted_through: *deleted_through });
                }
                self.after.push(After::Change(change));
                self.replies.push(Reply::Unit(tx, Ok(())));
            }
        }
    }

    /// Stores a snapshot.
    pub(crate) fn snapshot(&mut self, s: Snapshot, tx: oneshot::Sender<Result<()>>) {
        let start = self.buf.len();
        let record = Record::Snapshot {
            stream: s.stream_id.as_str(),
            version: s.version,
            schema_version: s.schema_version,
            state: s.state.as_bytes(),
        };
        self.push_record(&record);
        self.after.push(After::Snapshot(s.stream_id, SnapLoc { version: s.version, loc: self.loc(start) }));
        self.replies.push(Reply::Unit(tx, Ok(())));
    }

    /// Stores exported items as they are (see `LogIndex::check_import`),
    /// all or none. Stream changes are applied to the index in log order
    /// as they are encoded (later events of the import may re-create a
    /// deleted stream), so a failed write leaves them applied: the store
    /// then refuses writes until it is reopened, which replays the log.
    pub(crate) fn import(&mut self, index: &mut LogIndex<Loc>, items: Vec<LogItem>, tx: oneshot::Sender<Result<()>>) {
        let metas = index.check_import(&items).and_then(|()| {
            let events = items.iter().filter_map(|i| if let LogItem::Event(e) = i { Some(e) } else { None });
            events.map(|e| e.well_known_metadata().map(|m| compact_meta(&m))).collect::<Result<Vec<_>>>()
        });
        let result = metas.and_then(|metas| self.encode_import(index, items, metas));
        self.replies.push(Reply::Unit(tx, result));
    }

    /// Encodes checked items (nothing here fails on the items themselves).
    fn encode_import(&mut self, index: &mut LogIndex<Loc>, items: Vec<LogItem>, metas: Vec<Option<Arc<Metadata>>>) -> Result<()> {
        let mut metas = metas.into_iter();
        let mut removed = Pending::default();
        for item in items {
            if !matches!(item, LogItem::Removed { .. }) {
                removed.flush(self)?;
            }
            match item {
                LogItem::Event(e) => self.import_event(index, e, metas.next().flatten()),
                LogItem::Removed { position, stream, version } => {
                    removed.push(self, position, stream.as_str(), version)?;
                    let (event_type, recorded_at) = ("".into(), index.last_recorded_at());
                    let entry = IndexedEvent {
                        position,
                        stream,
                        version,
                        event_id: Uuid::nil(),
                        event_type,
                        recorded_at,
                        meta: None,
                        payload: Loc::REMOVED,
                    };
                    // check_import placed it.
                    let _ = index.push_scavenged(entry);
                }
                LogItem::Metadata { stream, metadata, .. } => {
                    self.push_record(&Record::StreamMeta { stream: stream.as_str(), metadata });
                    index.apply_change(StreamChange::Metadata { stream, metadata });
                }
                LogItem::Delete { stream, tombstone, deleted_through, .. } => {
                    self.push_record(&Record::Delete { stream: stream.as_str(), tombstone, deleted_through });
                    index.apply_change(StreamChange::Delete { stream, tombstone, deleted_through });
                }
                LogItem::Snapshot(s) => {
                    let (tx, _) = oneshot::channel();
                    self.snapshot(s, tx);
                    // The snapshot's own (unit) answer is not the import's.
                    self.replies.pop();
                }
                LogItem::Checkpoint { consumer, position } => {
                    self.push_record(&Record::Checkpoint { name: &consumer, position });
                    self.after.push(After::Checkpoint(consumer, position));
                }
                LogItem::Group { .. } => {} // the store sends them as snapshots
            }
        }
        removed.flush(self)
    }

    fn import_event(&mut self, index: &mut LogIndex<Loc>, e: RecordedEvent, meta: Option<Arc<Metadata>>) {
        let start = self.buf.len();
        let record = EventRecord {
            global_position: e.global_position,
            version: e.version,
            event_id: e.event_id,
            recorded_at: e.recorded_at.as_micros(),
            schema_version: e.schema_version,
            stream: e.stream_id.as_str(),
            event_type: &e.event_type,
            metadata: e.metadata.as_bytes(),
            data: e.data.as_bytes(),
        };
        encode_record(&Record::Event(record), &mut self.buf);
        (self.records, self.events) = (self.records + 1, self.events + 1);
        index.push(IndexedEvent {
            position: e.global_position,
            stream: e.stream_id,
            version: e.version,
            event_id: e.event_id,
            event_type: e.event_type,
            recorded_at: e.recorded_at,
            meta,
            payload: self.loc(start),
        });
    }

    /// Saves a consumer's checkpoint.
    pub(crate) fn checkpoint(&mut self, name: String, position: u64, tx: oneshot::Sender<Result<()>>) {
        self.push_record(&Record::Checkpoint { name: &name, position });
        self.after.push(After::Checkpoint(name, position));
        self.replies.push(Reply::Unit(tx, Ok(())));
    }
}
