//! `copy`: any store into any other, everything kept (what `chronicle
//! migrate` runs), resumable; and `verify`: both sides compared item by
//! item.

use crate::{BackupError, Progress, Result};
use chronicle_core::{EventStore, ExportRange, LogItem, LogReader};
use std::collections::BTreeMap;

/// How to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyOptions {
    /// Items per import (each import is atomic, so an interrupted copy
    /// resumes from the target's head).
    pub batch: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self { batch: 1000 }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The target's head before (0, or where an interrupted copy stopped).
    pub resumed_from: u64,
    /// The source's head when the copy started: the target holds
    /// everything through it.
    pub through: u64,
    /// Items written.
    pub items: u64,
}

/// The log item at `position` of `store` (an event or a removed position).
async fn item_at(store: &dyn EventStore, position: u64) -> Result<Option<LogItem>> {
    let mut reader = store.export_log(ExportRange { after: position - 1, through: position }).await?;
    while let Some(item) = reader.next().await {
        let item = item?;
        if item.position() == Some(position) {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// What a copy does to each item on the way: change it (upcast an
/// event), keep it as it is, or drop it (`None`).
pub type Transform<'t> = &'t (dyn Fn(LogItem) -> chronicle_core::Result<Option<LogItem>> + Sync);

/// Keeps every item as it is.
pub fn unchanged(item: LogItem) -> chronicle_core::Result<Option<LogItem>> {
    Ok(Some(item))
}

/// Copies `source` into `target`: everything stored through the source's
/// head when the copy starts. A target that already holds a prefix of the
/// source (an interrupted copy) is continued; one that holds anything
/// else is refused.
pub async fn copy(source: &dyn EventStore, target: &dyn EventStore, options: CopyOptions, progress: Progress) -> Result<CopyReport> {
    copy_through(source, target, options, &unchanged, progress).await
}

/// [`copy`], each item passed through `transform` (the toolkit's eager
/// upcasting migration upcasts events and drops snapshots).
pub async fn copy_through(
    source: &dyn EventStore,
    target: &dyn EventStore,
    options: CopyOptions,
    transform: Transform<'_>,
    mut progress: Progress,
) -> Result<CopyReport> {
    let (through, after) = (source.head().await?, target.head().await?);
    if after > through {
        return Err(BackupError::Diverged {
            position: through + 1,
            reason: format!("the target's head is {after}, the source's {through}"),
        });
    }
    if after > 0 {
        let a = item_at(source, after).await?.map(transform).transpose()?.flatten();
        let b = item_at(target, after).await?;
        if a != b {
            return Err(BackupError::Diverged { position: after, reason: "the target holds another event there".into() });
        }
    }
    let mut reader = source.export_log(ExportRange { after, through }).await?;
    let mut report = CopyReport { resumed_from: after, through, items: 0 };
    let mut batch = Vec::with_capacity(options.batch);
    let total = through - after;
    loop {
        let item = reader.next().await.transpose()?;
        let end = item.is_none();
        if let Some(item) = item.map(transform).transpose()?.flatten() {
            batch.push(item);
        }
        if batch.len() >= options.batch.max(1) || (end && !batch.is_empty()) {
            let last = batch.iter().rev().find_map(LogItem::position);
            report.items += batch.len() as u64;
            target.import_log(std::mem::replace(&mut batch, Vec::with_capacity(options.batch))).await?;
            if let Some(last) = last {
                progress(last - after, total);
            }
        }
        if end {
            return Ok(report);
        }
    }
}

/// What a verification compared.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Positions compared (events and removed positions).
    pub positions: u64,
    /// Stream changes compared.
    pub changes: u64,
    /// Snapshots, checkpoints and groups' progress compared.
    pub state: u64,
}

/// The log part of an export, one item at a time, without repeats of one
/// stream change (a resumed copy may have applied one twice); state items
/// are set aside by key.
struct Side<'t> {
    reader: LogReader,
    transform: Transform<'t>,
    last_change: Option<LogItem>,
    state: BTreeMap<(u8, String), LogItem>,
}

impl Side<'_> {
    async fn next_log(&mut self) -> Result<Option<LogItem>> {
        while let Some(item) = self.reader.next().await.transpose()? {
            let Some(item) = (self.transform)(item)? else { continue };
            match &item {
                LogItem::Snapshot(s) => drop(self.state.insert((0, s.stream_id.to_string()), item)),
                LogItem::Checkpoint { consumer, .. } => drop(self.state.insert((1, consumer.clone()), item)),
                LogItem::Group { name, .. } => drop(self.state.insert((2, name.clone()), item)),
                LogItem::Metadata { .. } | LogItem::Delete { .. } if self.last_change.as_ref() == Some(&item) => {}
                LogItem::Metadata { .. } | LogItem::Delete { .. } => {
                    self.last_change = Some(item.clone());
                    return Ok(Some(item));
                }
                _ => {
                    self.last_change = None;
                    return Ok(Some(item));
                }
            }
        }
        Ok(None)
    }
}

fn summary(item: Option<&LogItem>) -> String {
    let Some(item) = item else { return "nothing".into() };
    let mut line = Vec::new();
    item.write_json_line(&mut line);
    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
    if text.len() > 300 { format!("{}…", text.chars().take(300).collect::<String>()) } else { text }
}

/// Compares everything `source` holds through its head with what
/// `target` holds there: every position, every stream change, every
/// snapshot and checkpoint. The error names the first difference.
pub async fn verify(source: &dyn EventStore, target: &dyn EventStore, progress: Progress) -> Result<VerifyReport> {
    verify_through(source, target, &unchanged, progress).await
}

/// [`verify`] of a [`copy_through`]: each source item is compared after
/// `transform`.
pub async fn verify_through(
    source: &dyn EventStore,
    target: &dyn EventStore,
    transform: Transform<'_>,
    mut progress: Progress,
) -> Result<VerifyReport> {
    let through = source.head().await?;
    let range = ExportRange { after: 0, through };
    let side = |reader, transform| Side { reader, transform, last_change: None, state: BTreeMap::new() };
    let (mut a, mut b) = (side(source.export_log(range).await?, transform), side(target.export_log(range).await?, &unchanged));
    let mut report = VerifyReport::default();
    let mut position = 0;
    loop {
        let (x, y) = (a.next_log().await?, b.next_log().await?);
        if x != y {
            let at = match x.as_ref().or(y.as_ref()).and_then(LogItem::position) {
                Some(p) => format!("position {p}"),
                None => format!("the stream changes after position {position}"),
            };
            return Err(BackupError::Mismatch { at, source_item: summary(x.as_ref()), target_item: summary(y.as_ref()) });
        }
        let Some(item) = x else { break };
        match item.position() {
            Some(p) => {
                position = p;
                report.positions += 1;
                progress(p, through);
            }
            None => report.changes += 1,
        }
    }
    for key in a.state.keys().chain(b.state.keys()) {
        let (x, y) = (a.state.get(key), b.state.get(key));
        if x != y {
            let what = if key.0 == 0 { "the snapshot of" } else { "the checkpoint of" };
            return Err(BackupError::Mismatch { at: format!("{what} {}", key.1), source_item: summary(x), target_item: summary(y) });
        }
    }
    report.state = a.state.len() as u64;
    Ok(report)
}
