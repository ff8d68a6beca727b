//! Checks on imported items ([`LogItem`]) before an in-process backend
//! stores any of them: the import is all or nothing.

use super::LogIndex;
use crate::{Error, LogItem, Result, StreamId, Timestamp};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

fn misplaced(what: String) -> Error {
    Error::invalid("items", what)
}

impl<P> LogIndex<P> {
    /// The position of `version` of `stream`, when stored (removed
    /// versions included).
    pub fn position_of(&self, stream: &StreamId, version: u64) -> Option<u64> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.streams.get(stream)?.positions.get(index).copied()
    }

    /// Checks that `items` continue this log: events and removed events
    /// take the next positions in order with their streams' next versions,
    /// no event id is stored already or twice, times never go back, and
    /// settings are valid. Changes nothing.
    pub fn check_import(&self, items: &[LogItem]) -> Result<()> {
        let mut next_position = self.len() + 1;
        let mut versions: HashMap<&StreamId, u64> = HashMap::new();
        let mut ids: HashSet<Uuid> = HashSet::new();
        let mut last_time: Timestamp = self.last_recorded_at();
        for item in items {
            let (position, stream, version) = match item {
                LogItem::Event(e) => {
                    if self.ids.get(&e.event_id).is_some() || !ids.insert(e.event_id) {
                        return Err(Error::DuplicateEventId { event_id: e.event_id });
                    }
                    if e.recorded_at < last_time {
                        return Err(misplaced(format!("position {} was recorded before the event ahead of it", e.global_position)));
                    }
                    last_time = e.recorded_at;
                    (e.global_position, &e.stream_id, e.version)
                }
                LogItem::Removed { position, stream, version } => (*position, stream, *version),
                LogItem::Metadata { metadata, .. } => {
                    metadata.validate()?;
                    continue;
                }
                LogItem::Group { name, .. } => {
                    crate::GroupProgress::stream(name)?;
                    continue;
                }
                LogItem::Delete { .. } | LogItem::Snapshot(_) | LogItem::Checkpoint { .. } => continue,
            };
            let next_version =
                versions.entry(stream).or_insert_with(|| self.streams.get(stream).map_or(0, |r| r.positions.len() as u64) + 1);
            if position != next_position || version != *next_version {
                return Err(misplaced(format!(
                    "position {position} (version {version} of {stream}) where position {next_position} / version {} was next",
                    *next_version
                )));
            }
            next_position += 1;
            *next_version += 1;
        }
        Ok(())
    }
}

impl<P> LogIndex<P> {
    /// Whether version `version` of `stream` was stored at or before
    /// position `through` (an export keeps the snapshots that were).
    pub fn stored_by(&self, stream: &StreamId, version: u64, through: u64) -> bool {
        self.position_of(stream, version).is_some_and(|p| p <= through)
    }

    /// Every checkpoint as an export item, clamped to `through`.
    pub fn checkpoint_items(&self, through: u64) -> Vec<LogItem> {
        self.checkpoints().map(|(c, p)| LogItem::Checkpoint { consumer: c.clone(), position: (*p).min(through) }).collect()
    }

    /// Whether the entry at `position` was removed from storage by a
    /// scavenge (only its stream and version remain).
    pub fn is_removed(&self, position: u64) -> bool {
        self.entry(position).is_some_and(|e| self.streams.get(&e.stream).is_some_and(|r| r.scavenged_through >= e.version))
    }
}
