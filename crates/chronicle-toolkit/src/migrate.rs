//! Eager migration: copy a whole store into a new, empty one through the
//! upcasters, then verify the copy event for event. The source is only
//! read — append-only stays true, nothing is changed in place.

use crate::{Error, Result, Upcasters};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, RecordedEvent, StreamId};
use std::collections::HashMap;

/// What a migration did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Events copied.
    pub events: u64,
    /// Events whose data an upcaster changed.
    pub upcast: u64,
    /// Streams copied.
    pub streams: usize,
}

const PAGE: usize = 10_000;

async fn for_each_page(store: &dyn EventStore, mut f: impl AsyncFnMut(Vec<RecordedEvent>) -> Result<()>) -> Result<()> {
    let mut read = ReadAll::forward().limit(PAGE);
    loop {
        let page = store.read_all(&read).await?;
        f(page.events).await?;
        match page.next {
            Some(next) => read.from = Some(next),
            None => return Ok(()),
        }
    }
}

fn to_new(e: &RecordedEvent) -> NewEvent {
    NewEvent::raw(e.event_type.to_string(), e.data.bytes().clone())
        .with_id(e.event_id)
        .with_schema_version(e.schema_version)
        .with_metadata_raw(e.metadata.bytes().clone())
}

/// Copies every visible event of `source` into the empty `target`, in
/// position order, through `upcasters` (ids, types, metadata kept; data and
/// schema versions upcast), then verifies the copy: same order, ids,
/// streams, types, metadata, upcast data and schema versions, and gapless
/// versions per stream. Snapshots and checkpoints are not copied (upcasting
/// invalidates snapshots; positions may change).
pub async fn migrate(source: &dyn EventStore, target: &dyn EventStore, upcasters: &Upcasters) -> Result<MigrationReport> {
    if target.head().await? != 0 {
        return Err(chronicle_core::Error::invalid("target", "the migration target must be an empty store").into());
    }
    let mut report = MigrationReport::default();
    let mut versions: HashMap<StreamId, u64> = HashMap::new();
    for_each_page(source, async |events| {
        let mut run: Vec<NewEvent> = Vec::new();
        let mut run_stream: Option<StreamId> = None;
        for e in events {
            let upcast = upcasters.upcast_event(e.clone())?;
            report.upcast += u64::from(upcast.data != e.data || upcast.schema_version != e.schema_version);
            if run_stream.as_ref().is_some_and(|s| *s != upcast.stream_id) {
                flush(target, &mut versions, run_stream.take(), &mut run).await?;
            }
            run_stream = Some(upcast.stream_id.clone());
            run.push(to_new(&upcast));
            report.events += 1;
        }
        flush(target, &mut versions, run_stream, &mut run).await
    })
    .await?;
    report.streams = versions.len();
    verify(source, target, upcasters, report.events).await?;
    Ok(report)
}

async fn flush(
    target: &dyn EventStore,
    versions: &mut HashMap<StreamId, u64>,
    stream: Option<StreamId>,
    run: &mut Vec<NewEvent>,
) -> Result<()> {
    let Some(stream) = stream else { return Ok(()) };
    if run.is_empty() {
        return Ok(());
    }
    let version = versions.entry(stream.clone()).or_default();
    let expected = if *version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(*version) };
    let result = target.append(&stream, expected, std::mem::take(run)).await?;
    *version = result.last_version;
    Ok(())
}

async fn verify(source: &dyn EventStore, target: &dyn EventStore, upcasters: &Upcasters, expected: u64) -> Result<()> {
    let copied = target.read_all(&ReadAll::forward()).await?.events;
    if copied.len() as u64 != expected {
        return Err(Error::Verification { at: "target".into(), reason: format!("{} events copied, {} expected", copied.len(), expected) });
    }
    let mut index = 0usize;
    let mut versions: HashMap<StreamId, u64> = HashMap::new();
    for_each_page(source, async |events| {
        for e in events {
            let want = upcasters.upcast_event(e)?;
            let got = copied
                .get(index)
                .ok_or_else(|| Error::Verification { at: format!("event #{}", index + 1), reason: "missing from the copy".into() })?;
            let at = || format!("source position {} (event {})", want.global_position, want.event_id);
            let same = got.event_id == want.event_id
                && got.stream_id == want.stream_id
                && got.event_type == want.event_type
                && got.schema_version == want.schema_version
                && got.data == want.data
                && got.metadata == want.metadata;
            if !same {
                return Err(Error::Verification { at: at(), reason: format!("copy differs: {got:?} vs {want:?}") });
            }
            let v = versions.entry(got.stream_id.clone()).or_default();
            if got.version != *v + 1 {
                return Err(Error::Verification { at: at(), reason: format!("version {} follows {}", got.version, v) });
            }
            *v = got.version;
            index += 1;
        }
        Ok(())
    })
    .await
}
