//! `restore`: a backup (or a point in it) into an empty store, with the
//! same positions, versions, ids and times.

use crate::files::Assembled;
use crate::{
    BackupError, Progress, Result,
    manifest::{Manifest, Part},
    parts::{PartReader, check},
    pit::{PointInTime, Until},
};
use chronicle_core::{EventStore, ExportRange, LogItem, LogReader};
use std::{path::Path, sync::Arc};
use tokio::sync::mpsc;

/// How to restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Where to stop (default: everything).
    pub until: Until,
    /// Items per import (each import is atomic).
    pub batch: usize,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self { until: Until::End, batch: 1000 }
    }
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    /// Parts read.
    pub parts: usize,
    /// Items written.
    pub items: u64,
    /// The restored store's head.
    pub head: u64,
}

/// The parts a restore to `until` reads, after checking the point is in
/// the backup.
fn chosen(dir: &Path, manifest: &Manifest, until: Until) -> Result<Vec<Part>> {
    let through = manifest.through();
    match until {
        Until::Position(0) => return Err(BackupError::OutOfRange("--to-position must be at least 1".into())),
        Until::Position(n) if n > through => {
            return Err(BackupError::OutOfRange(format!("position {n} is past the backup's last position {through} ({})", dir.display())));
        }
        // File-level parts record no first time: checked on the restored files.
        Until::Time(_) if manifest.parts.iter().any(|p| p.files.is_some()) => {}
        Until::Time(t) => match manifest.first_recorded_at() {
            Some(first) if t < first => {
                return Err(BackupError::OutOfRange(format!("{t} is before the backup's first event (recorded at {first})")));
            }
            None => return Err(BackupError::OutOfRange("the backup holds no event to restore to a time".into())),
            Some(_) => {}
        },
        _ => {}
    }
    // Parts in order up to the one that reaches the point: a later part
    // may hold segments a scavenge rewrote after it.
    let mut chosen = Vec::new();
    for part in &manifest.parts {
        chosen.push(part.clone());
        let reaches = match until {
            Until::Position(n) => part.through >= n,
            Until::Time(t) => part.last_recorded_at.is_some_and(|last| last >= t),
            Until::End => false,
        };
        if reaches {
            break;
        }
    }
    Ok(chosen)
}

/// Fails unless `store` holds nothing at all.
pub async fn ensure_empty(store: &dyn EventStore) -> Result<()> {
    let head = store.head().await?;
    let mut reader = store.export_log(ExportRange { after: 0, through: 0 }).await?;
    let mut other = 0usize;
    while let Some(item) = reader.next().await {
        item?;
        other += 1;
    }
    if head == 0 && other == 0 {
        return Ok(());
    }
    let more = if other > 0 { format!(", {other} stream settings, snapshots or checkpoints") } else { String::new() };
    Err(BackupError::TargetNotEmpty { head, more })
}

/// Restores the backup in `dir` into `target`, which must be empty.
/// Every part is checked before anything is written.
pub async fn restore(dir: &Path, target: Arc<dyn EventStore>, options: RestoreOptions, mut progress: Progress) -> Result<RestoreReport> {
    let manifest = Manifest::require(dir)?;
    let parts = chosen(dir, &manifest, options.until)?;
    let (checked_dir, to_check) = (dir.to_owned(), parts.clone());
    tokio::task::spawn_blocking(move || to_check.iter().try_for_each(|p| check(&checked_dir, p)))
        .await
        .map_err(|e| BackupError::io("the checking thread", std::io::Error::other(e.to_string())))??;
    ensure_empty(&*target).await?;
    let total = match options.until {
        Until::Position(n) => n,
        _ => manifest.through(),
    };
    let mut report = RestoreReport { parts: parts.len(), ..RestoreReport::default() };
    let mut filter = PointInTime::new(options.until);
    let mut batch = Vec::with_capacity(options.batch.max(1));
    // Item parts are read one by one. File-level parts are laid over each
    // other (the latest copy of each segment wins): the whole backup is the
    // store all of them make; a point in it takes each part's positions
    // from the store the parts up to it made, so events a later scavenge
    // removed are still there.
    let files = parts.first().is_some_and(|p| p.files.is_some());
    let sources: Vec<(&[Part], bool)> = match (files, options.until) {
        (true, Until::End) => vec![(parts.as_slice(), true)],
        (true, _) => (1..=parts.len()).filter_map(|n| parts.get(..n)).map(|layers| (layers, false)).collect(),
        (false, _) => parts.chunks(1).map(|part| (part, false)).collect(),
    };
    for (layers, whole) in sources {
        let mut items = items_of(dir, layers, whole, options.until).await?;
        while let Some(item) = items.next().await {
            if let Some(item) = filter.admit(item?) {
                batch.push(item);
            }
            if batch.len() >= options.batch.max(1) {
                import(&*target, &mut batch, &mut report, &mut progress, total).await?;
            }
        }
    }
    import(&*target, &mut batch, &mut report, &mut progress, total).await?;
    report.head = target.head().await?;
    Ok(report)
}

/// Writes `batch` (emptied) into `target`.
async fn import(
    target: &dyn EventStore,
    batch: &mut Vec<LogItem>,
    report: &mut RestoreReport,
    progress: &mut Progress,
    total: u64,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let items = std::mem::take(batch);
    let last = items.iter().rev().find_map(LogItem::position);
    report.items += items.len() as u64;
    target.import_log(items).await?;
    if let Some(last) = last {
        progress(last, total);
    }
    Ok(())
}

/// The items of the last of `parts`, in order (of all of them when
/// `whole`): file-level parts exported from the store they assemble into,
/// or one item part read from its file on a thread of its own.
async fn items_of(dir: &Path, parts: &[Part], whole: bool, until: Until) -> Result<PartItems> {
    let (Some(first), Some(part)) = (parts.first(), parts.last()) else { return Ok(PartItems::Lines(mpsc::channel(1).1)) };
    if part.files.is_some() {
        let assembled = Assembled::new(dir, &parts.iter().collect::<Vec<_>>())?;
        let store = chronicle_file::FileStore::open_read_only(assembled.path(), chronicle_file::FileOptions::default())?;
        if let (Until::Time(t), 0) = (until, part.after) {
            match crate::files::first_recorded_at(&store).await? {
                Some(first) if t < first => {
                    return Err(BackupError::OutOfRange(format!("{t} is before the backup's first event (recorded at {first})")));
                }
                None => return Err(BackupError::OutOfRange("the backup holds no event to restore to a time".into())),
                Some(_) => {}
            }
        }
        // The whole backup at once, or this part's positions.
        let after = if whole { first.after } else { part.after };
        let reader = store.export_log(ExportRange { after, through: part.through }).await?;
        return Ok(PartItems::Files { reader, _store: store, _assembled: assembled });
    }
    let (tx, rx) = mpsc::channel(4096);
    let (dir, part) = (dir.to_owned(), part.clone());
    tokio::task::spawn_blocking(move || {
        let mut file = match PartReader::open(&dir, &part) {
            Ok(file) => file,
            Err(e) => return drop(tx.blocking_send(Err(e))),
        };
        while let Some(item) = file.next_item().transpose() {
            if tx.blocking_send(item).is_err() {
                return;
            }
        }
    });
    Ok(PartItems::Lines(rx))
}

/// A part's items, and what must live while they are read.
enum PartItems {
    /// Exported from the assembled file store.
    Files { reader: LogReader, _store: chronicle_file::FileStore, _assembled: Assembled },
    /// Read from the part's file.
    Lines(mpsc::Receiver<Result<LogItem>>),
}

impl PartItems {
    async fn next(&mut self) -> Option<Result<LogItem>> {
        match self {
            Self::Files { reader, .. } => reader.next().await.map(|r| r.map_err(BackupError::from)),
            Self::Lines(rx) => rx.recv().await,
        }
    }
}
