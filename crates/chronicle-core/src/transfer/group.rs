//! A consumer group's progress as every backend keeps and carries it.
//! Groups served by one node keep it as the snapshot of `$group-{name}`
//! (a versioned blob, not tied to events); PostgreSQL groups keep it in
//! rows. An export carries it as [`LogItem::Group`], so a backup, a
//! restore or a migration between backends keeps how far each group got.

use super::LogItem;
use crate::{Error, RawJson, Result, Snapshot, StreamId};
use serde::{Deserialize, Serialize};

/// The prefix of the stream whose snapshot holds a group's progress.
const PREFIX: &str = "$group-";

/// How far a consumer group got. Two equivalent forms: positions beyond
/// `checkpoint` listed as handled (`acked`), or — when `read_through` is
/// set — every position up to it handled except those in `unhandled`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupProgress {
    /// Every position up to here is handled.
    pub checkpoint: u64,
    /// Acknowledged positions beyond the checkpoint.
    #[serde(default)]
    pub acked: Vec<u64>,
    /// Retry counts of positions beyond the checkpoint.
    #[serde(default)]
    pub retries: Vec<(u64, u32)>,
    /// When set, positions up to here that `unhandled` does not list are
    /// handled too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_through: Option<u64>,
    /// Positions up to `read_through` still to be handled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhandled: Vec<u64>,
}

/// The snapshot state: the progress under one key, so more may follow.
#[derive(Serialize, Deserialize)]
struct Saved {
    progress: GroupProgress,
}

impl GroupProgress {
    /// The stream whose snapshot holds the progress of group `name`.
    pub fn stream(name: &str) -> Result<StreamId> {
        StreamId::new(format!("{PREFIX}{name}"))
    }

    /// The group whose progress a snapshot of `stream` holds, if any.
    pub fn group_of(stream: &StreamId) -> Option<&str> {
        stream.as_str().strip_prefix(PREFIX)
    }

    /// The progress as the snapshot state of its stream.
    pub fn to_state(&self) -> Result<RawJson> {
        let bytes = serde_json::to_vec(&Saved { progress: self.clone() }).map_err(|e| Error::invalid("progress", e.to_string()))?;
        RawJson::parse(bytes).map_err(|e| Error::invalid("progress", e.to_string()))
    }

    /// The progress a snapshot state holds.
    pub fn from_state(state: &RawJson) -> Result<Self> {
        serde_json::from_slice::<Saved>(state.as_bytes())
            .map(|s| s.progress)
            .map_err(|e| Error::Corrupted { location: "group progress snapshot".into(), reason: e.to_string() })
    }

    /// The progress as of position `through`: nothing beyond it handled.
    pub fn clamped(mut self, through: u64) -> Self {
        self.checkpoint = self.checkpoint.min(through);
        self.acked.retain(|p| *p <= through);
        self.retries.retain(|(p, _)| *p <= through);
        self.unhandled.retain(|p| *p <= through);
        self.read_through = self.read_through.map(|r| r.min(through));
        self
    }

    /// The export item of a stored snapshot when it holds a group's
    /// progress (clamped to `through`); `None` for any other snapshot
    /// (one of a `$group-` stream that holds no progress included).
    pub fn item_of(snapshot: &Snapshot, through: u64) -> Option<LogItem> {
        let name = Self::group_of(&snapshot.stream_id)?;
        let progress = Self::from_state(&snapshot.state).ok()?;
        Some(LogItem::Group { name: name.to_owned(), progress: progress.clamped(through) })
    }

    /// The snapshot that stores an imported group's progress, newer than
    /// `current` (the version stored now, if any).
    pub fn snapshot(&self, name: &str, current: Option<u64>) -> Result<Snapshot> {
        Ok(Snapshot { stream_id: Self::stream(name)?, version: current.unwrap_or(0) + 1, schema_version: 1, state: self.to_state()? })
    }

    /// Import items with each group's progress replaced by the snapshot
    /// that stores it; `current` tells the version stored now. Fails on a
    /// group name no stream can carry, before anything is stored.
    pub fn as_snapshots(items: Vec<LogItem>, current: impl Fn(&StreamId) -> Option<u64>) -> Result<Vec<LogItem>> {
        items
            .into_iter()
            .map(|item| match item {
                LogItem::Group { name, progress } => {
                    let version = current(&Self::stream(&name)?);
                    progress.snapshot(&name, version).map(LogItem::Snapshot)
                }
                other => Ok(other),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_other_streams_are_not_groups() {
        let progress = GroupProgress { checkpoint: 4, acked: vec![6], retries: vec![(5, 2)], read_through: None, unhandled: vec![] };
        let snap = progress.snapshot("billing", Some(7)).expect("snapshot");
        assert_eq!((snap.stream_id.as_str(), snap.version), ("$group-billing", 8));
        match GroupProgress::item_of(&snap, 100) {
            Some(LogItem::Group { name, progress: p }) => assert_eq!((name.as_str(), p), ("billing", progress)),
            other => panic!("{other:?}"),
        }
        let other = Snapshot { stream_id: StreamId::new("order-1").expect("id"), ..snap };
        assert!(GroupProgress::item_of(&other, 100).is_none());
    }

    #[test]
    fn clamping_forgets_what_lies_beyond() {
        let p = GroupProgress {
            checkpoint: 10,
            acked: vec![12, 20],
            retries: vec![(11, 1), (30, 2)],
            read_through: Some(25),
            unhandled: vec![11, 22],
        };
        let c = p.clamped(15);
        assert_eq!(
            c,
            GroupProgress { checkpoint: 10, acked: vec![12], retries: vec![(11, 1)], read_through: Some(15), unhandled: vec![11] }
        );
        assert_eq!(GroupProgress { checkpoint: 10, ..Default::default() }.clamped(3).checkpoint, 3);
    }
}
