//! Eager migration: copy a whole store into a new, empty one through the
//! upcasters, then verify the copy item for item — the lossless copy of
//! `chronicle-backup` (what `chronicle migrate` runs), with each event
//! upcast on the way. The source is only read — append-only stays true,
//! nothing is changed in place.

use crate::{Error, Result, Upcasters};
use chronicle_backup::{BackupError, CopyOptions, copy_through, ensure_empty, verify_through};
use chronicle_core::{EventStore, LogItem, StreamId};
use std::{collections::HashSet, sync::Mutex};

/// What a migration did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Events copied.
    pub events: u64,
    /// Events whose data an upcaster changed.
    pub upcast: u64,
    /// Streams that hold events.
    pub streams: usize,
}

/// An item through the upcasters: events upcast, snapshots dropped (their
/// state was folded from the old shapes); everything else as it is.
fn upcast_item(upcasters: &Upcasters, item: LogItem) -> chronicle_core::Result<(Option<LogItem>, bool)> {
    match item {
        LogItem::Event(e) => {
            let upcast = upcasters.upcast_event(e.clone()).map_err(|err| match err {
                chronicle_schema::SchemaError::Store(e) => e,
                other => chronicle_core::Error::invalid("data", other.to_string()),
            })?;
            let changed = upcast.data != e.data || upcast.schema_version != e.schema_version;
            Ok((Some(LogItem::Event(upcast)), changed))
        }
        LogItem::Snapshot(_) => Ok((None, false)),
        other => Ok((Some(other), false)),
    }
}

fn toolkit_error(e: BackupError) -> Error {
    match e {
        BackupError::Store(e) => Error::Store(e),
        BackupError::Mismatch { at, source_item, target_item } => {
            Error::Verification { at, reason: format!("expected {source_item}, the copy has {target_item}") }
        }
        other => Error::Verification { at: "target".into(), reason: other.to_string() },
    }
}

/// Copies everything `source` holds into the empty `target` — every
/// event at its position with its id, stream, version, time and metadata
/// (data and schema versions upcast), stream settings, deletes, removed
/// positions and checkpoints; snapshots are dropped (upcasting invalidates
/// them) — then verifies the copy position by position.
pub async fn migrate(source: &dyn EventStore, target: &dyn EventStore, upcasters: &Upcasters) -> Result<MigrationReport> {
    ensure_empty(target).await.map_err(|e| match e {
        BackupError::TargetNotEmpty { .. } => {
            chronicle_core::Error::invalid("target", "the migration target must be an empty store").into()
        }
        other => toolkit_error(other),
    })?;
    let report = Mutex::new((MigrationReport::default(), HashSet::<StreamId>::new()));
    let counting = |item: LogItem| {
        let stream = if let LogItem::Event(e) = &item { Some(e.stream_id.clone()) } else { None };
        let (item, changed) = upcast_item(upcasters, item)?;
        if let Some(stream) = stream {
            let mut r = report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (r.0.events, r.0.upcast) = (r.0.events + 1, r.0.upcast + u64::from(changed));
            r.1.insert(stream);
        }
        Ok(item)
    };
    copy_through(source, target, CopyOptions::default(), &counting, Box::new(|_, _| {})).await.map_err(toolkit_error)?;
    let plain = |item: LogItem| upcast_item(upcasters, item).map(|(item, _)| item);
    verify_through(source, target, &plain, Box::new(|_, _| {})).await.map_err(toolkit_error)?;
    let (mut report, streams) = report.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    report.streams = streams.len();
    Ok(report)
}
