//! [`LogIndex::list_streams`]: streams by id, one page at a time.

use super::LogIndex;
use crate::{ListStreams, Result, StreamPage, StreamSummary};

impl<P> LogIndex<P> {
    /// A page of the streams with at least one visible version. Scans the
    /// stream table and sorts the matches (the in-memory table is a hash
    /// map; a page costs O(streams)).
    pub fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        let limit = query.page_size()?;
        let mut candidates: Vec<_> = self
            .streams
            .iter()
            .filter(|(id, _)| query.matches(id.as_str()) && query.is_after_cursor(id.as_str()))
            .filter_map(|(id, record)| {
                let version = self.visible_last(record);
                let position = *record.positions.get(usize::try_from(version).ok()?.checked_sub(1)?)?;
                Some((id, version, position, record.status))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));
        candidates.truncate(limit + 1);
        let streams = candidates
            .into_iter()
            .filter_map(|(id, version, last_position, status)| {
                let last_recorded_at = self.entry(last_position)?.recorded_at;
                Some(StreamSummary { stream_id: id.clone(), version, last_position, last_recorded_at, status })
            })
            .collect();
        Ok(StreamPage::from_sorted(streams, limit))
    }
}
