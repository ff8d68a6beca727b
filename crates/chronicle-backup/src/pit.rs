//! Point-in-time restore: which items of a backup a restore "to position
//! N" or "to time T" keeps.

use chronicle_core::{LogItem, StreamId, Timestamp};
use std::collections::HashMap;

/// Where a restore stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Until {
    /// Everything the backup holds.
    #[default]
    End,
    /// The log through this position.
    Position(u64),
    /// The log through the last event committed at or before this time
    /// (positions a scavenge emptied carry no time: they go with the
    /// events around them; stream changes are placed by position).
    Time(Timestamp),
}

/// Filters a backup's items, in order, down to those of the chosen point.
#[derive(Debug, Default)]
pub(crate) struct PointInTime {
    until: Until,
    /// The last position kept.
    last: u64,
    /// Set once the cut is known and passed: nothing of the log after it.
    cut: bool,
    /// Each stream's last version kept.
    versions: HashMap<StreamId, u64>,
}

impl PointInTime {
    pub(crate) fn new(until: Until) -> Self {
        Self { until, ..Self::default() }
    }

    fn keep_position(&mut self, position: u64, time: Option<Timestamp>) -> bool {
        if self.cut {
            return false;
        }
        let keep = match self.until {
            Until::End => true,
            Until::Position(n) => position <= n,
            Until::Time(t) => time.is_none_or(|time| time <= t),
        };
        if keep {
            self.last = position;
        } else {
            self.cut = true;
        }
        keep
    }

    /// Whether `item` is part of the restored store (a checkpoint or a
    /// group's progress comes back clamped to the cut).
    pub(crate) fn admit(&mut self, item: LogItem) -> Option<LogItem> {
        match &item {
            LogItem::Event(e) => {
                let keep = self.keep_position(e.global_position, Some(e.recorded_at));
                keep.then(|| self.versions.insert(e.stream_id.clone(), e.version));
                keep.then_some(item)
            }
            LogItem::Removed { position, stream, version } => {
                let keep = self.keep_position(*position, None);
                keep.then(|| self.versions.insert(stream.clone(), *version));
                keep.then_some(item)
            }
            // A change comes right after the event at its head: it belongs
            // to the restore unless the log was cut before it.
            LogItem::Metadata { .. } | LogItem::Delete { .. } => (!self.cut).then_some(item),
            LogItem::Snapshot(s) => {
                let stored = self.versions.get(&s.stream_id).is_some_and(|v| *v >= s.version);
                (stored || matches!(self.until, Until::End)).then_some(item)
            }
            LogItem::Checkpoint { consumer, position } => match self.until {
                Until::End => Some(item),
                _ => Some(LogItem::Checkpoint { consumer: consumer.clone(), position: (*position).min(self.last) }),
            },
            LogItem::Group { name, progress } => match self.until {
                Until::End => Some(item),
                _ => Some(LogItem::Group { name: name.clone(), progress: progress.clone().clamped(self.last) }),
            },
        }
    }
}
