//! `restore`: a backup (or a point in it) into an empty store, with the
//! same positions, versions, ids and times.

use crate::{
    BackupError, Progress, Result,
    manifest::{Manifest, Part},
    parts::{PartReader, check},
    pit::{PointInTime, Until},
};
use chronicle_core::{EventStore, ExportRange, LogItem};
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
        Until::Time(t) => match manifest.first_recorded_at() {
            Some(first) if t < first => {
                return Err(BackupError::OutOfRange(format!("{t} is before the backup's first event (recorded at {first})")));
            }
            None => return Err(BackupError::OutOfRange("the backup holds no event to restore to a time".into())),
            Some(_) => {}
        },
        _ => {}
    }
    let needed = |p: &&Part| match until {
        Until::Position(n) => p.after < n,
        Until::Time(t) => p.first_recorded_at.is_none_or(|first| first <= t),
        Until::End => true,
    };
    Ok(manifest.parts.iter().filter(needed).cloned().collect())
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
    let (tx, mut rx) = mpsc::channel::<Result<Vec<LogItem>>>(4);
    let (read_dir, read_parts, batch) = (dir.to_owned(), parts.clone(), options.batch.max(1));
    let reading = tokio::task::spawn_blocking(move || read_batches(&read_dir, &read_parts, options.until, batch, &tx));
    let mut report = RestoreReport { parts: parts.len(), ..RestoreReport::default() };
    while let Some(items) = rx.recv().await {
        let items = items?;
        let last = items.iter().rev().find_map(LogItem::position);
        report.items += items.len() as u64;
        target.import_log(items).await?;
        if let Some(last) = last {
            progress(last, total);
        }
    }
    drop(reading);
    report.head = target.head().await?;
    Ok(report)
}

fn read_batches(dir: &Path, parts: &[Part], until: Until, batch: usize, tx: &mpsc::Sender<Result<Vec<LogItem>>>) {
    let mut filter = PointInTime::new(until);
    let mut items = Vec::with_capacity(batch);
    let send = |items: Vec<LogItem>| tx.blocking_send(Ok(items)).is_ok();
    for part in parts {
        let mut reader = match PartReader::open(dir, part) {
            Ok(reader) => reader,
            Err(e) => return drop(tx.blocking_send(Err(e))),
        };
        loop {
            match reader.next_item() {
                Ok(Some(item)) => {
                    if let Some(item) = filter.admit(item) {
                        items.push(item);
                    }
                    if items.len() >= batch && !send(std::mem::replace(&mut items, Vec::with_capacity(batch))) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => return drop(tx.blocking_send(Err(e))),
            }
        }
    }
    if !items.is_empty() {
        send(items);
    }
}
