//! The read side of [`LogIndex`]: visibility, stream reads, log reads.

use super::{IndexedEvent, LogIndex, StreamRecord};
use crate::{AppendView, Direction, Error, Metadata, ReadAll, ReadStream, Result, StreamId, StreamInfo, StreamStatus, Timestamp};
use uuid::Uuid;

impl StreamRecord {
    /// Whether version `version` recorded at `recorded_at` is visible,
    /// given `last` (the stream's last visible version).
    fn retains(&self, version: u64, recorded_at: Timestamp, last: u64, now: Timestamp) -> bool {
        self.status != StreamStatus::Tombstoned
            && version > self.deleted_through_or_scavenged()
            && self.metadata.retains(version, last, recorded_at, now)
    }
}

/// Entries of one read of the log, plus its cursor.
#[derive(Debug)]
pub struct IndexPage<'a, P> {
    /// The matching entries, in read order.
    pub entries: Vec<&'a IndexedEvent<P>>,
    /// Cursor for the next page (`None` at the end).
    pub next: Option<u64>,
    /// The visible head when read.
    pub head: u64,
}

impl<P> LogIndex<P> {
    /// Last version of `record` that readers may see.
    pub(super) fn visible_last(&self, record: &StreamRecord) -> u64 {
        record.positions.partition_point(|&p| p <= self.visible) as u64
    }

    fn is_visible(&self, e: &IndexedEvent<P>, now: Timestamp) -> bool {
        e.position <= self.visible
            && (!self.restricted
                || self.streams.get(&e.stream).is_none_or(|r| r.retains(e.version, e.recorded_at, self.visible_last(r), now)))
    }

    /// [`AppendView::stream_info`] limited to what readers may see.
    pub fn visible_stream_info(&self, stream: &StreamId) -> StreamInfo {
        let mut info = self.stream_info(stream);
        if let Some(r) = self.streams.get(stream) {
            info.last_version = self.visible_last(r);
            if info.last_version == 0 && info.status == StreamStatus::Active {
                info.status = StreamStatus::Absent;
            }
        }
        info
    }

    /// The visible entries of one stream.
    pub fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<&IndexedEvent<P>>> {
        options.validate()?;
        let Some(record) = self.streams.get(stream) else {
            return Ok(Vec::new());
        };
        if record.status == StreamStatus::Tombstoned {
            return Err(Error::StreamDeleted { stream: stream.clone() });
        }
        let last = self.visible_last(record);
        let limit = options.limit.unwrap_or(usize::MAX);
        let now = Timestamp::now();
        let collect = |versions: &mut dyn Iterator<Item = u64>| -> Vec<&IndexedEvent<P>> {
            versions
                .filter_map(|v| record.positions.get(usize::try_from(v.checked_sub(1)?).ok()?))
                .filter_map(|&p| self.entry(p))
                .filter(|e| !self.restricted || record.retains(e.version, e.recorded_at, last, now))
                .take(limit)
                .collect()
        };
        Ok(match options.direction {
            Direction::Forward => collect(&mut (options.from.unwrap_or(1).max(record.deleted_through_or_scavenged() + 1)..=last)),
            Direction::Backward => collect(&mut (1..=options.from.unwrap_or(last).min(last)).rev()),
        })
    }

    /// One page of the visible log, filtered.
    pub fn read_all(&self, read: &ReadAll) -> Result<IndexPage<'_, P>> {
        read.validate()?;
        let head = self.visible;
        let limit = read.limit.unwrap_or(usize::MAX);
        let now = Timestamp::now();
        let default = Metadata::default();
        let mut entries = Vec::new();
        let mut next = None;
        let positions: Box<dyn Iterator<Item = u64>> = match read.direction {
            Direction::Forward => Box::new(read.from.unwrap_or(1).max(1)..=head),
            Direction::Backward => Box::new((1..=read.from.unwrap_or(head).min(head)).rev()),
        };
        for p in positions {
            if entries.len() == limit {
                next = Some(p);
                break;
            }
            let Some(e) = self.entry(p) else { break };
            let meta = e.meta.as_deref().unwrap_or(&default);
            if read.filter.matches_fields(&e.stream, &e.event_type, e.recorded_at, meta) && self.is_visible(e, now) {
                entries.push(e);
            }
        }
        Ok(IndexPage { entries, next, head })
    }

    /// The visible entry of an event id.
    pub fn get(&self, event_id: &Uuid) -> Option<&IndexedEvent<P>> {
        let e = self.entry(self.locate(event_id)?.position)?;
        self.is_visible(e, Timestamp::now()).then_some(e)
    }
}
