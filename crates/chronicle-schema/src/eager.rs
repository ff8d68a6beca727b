//! Eager upcasting: every stored event lifted to its current shape and
//! checked against the schema of that version — counted first
//! ([`census`], what `chronicle upcast --dry-run` and `chronicle catalog`
//! print), then copied into a new store by the lossless copy of
//! `chronicle-backup` with [`Lifter::lift_item`] as its transform (what
//! `chronicle upcast --apply` runs). The source is only read: rolling back
//! is to keep using it.

use crate::{Catalog, Schemas, Upcasters};
use chronicle_core::{Error, EventStore, ExportRange, LogItem, RecordedEvent};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many events of one type and stored version there are, and the
/// version reads (and an eager migration) lift them to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The event type.
    pub event_type: String,
    /// The stored schema version.
    pub version: u32,
    /// The version they are served (and migrated) as.
    pub current: u32,
    /// How many.
    pub events: u64,
}

/// An event that cannot be lifted, or whose lifted shape fails the schema
/// of its version: where, never the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiftFailure {
    /// Its position.
    pub position: u64,
    /// Its type.
    pub event_type: String,
    /// Its stored version.
    pub schema_version: u32,
    /// JSON Pointer of the failing value (`""`: the whole data).
    pub pointer: String,
    /// Why.
    pub reason: String,
}

/// What [`census`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Census {
    /// Events read.
    pub events: u64,
    /// Events whose shape changes.
    pub upcast: u64,
    /// Per type and stored version.
    pub counts: Vec<Count>,
    /// The first failures (at most the limit asked for).
    pub failures: Vec<LiftFailure>,
    /// All failures.
    pub failed: u64,
}

/// The catalog's upcasters and schemas as of now, applied to one event at
/// a time (no lock taken per event).
#[derive(Debug, Clone)]
pub struct Lifter {
    upcasters: Upcasters,
    schemas: Schemas,
}

impl Lifter {
    /// What `catalog` holds now.
    pub fn of(catalog: &Catalog) -> Self {
        Self { upcasters: catalog.upcasters(), schemas: catalog.schemas() }
    }

    /// `event` in its current shape, checked against the schema of that
    /// version when one is registered.
    pub fn lift(&self, event: RecordedEvent) -> Result<RecordedEvent, LiftFailure> {
        // Failures name the event as stored.
        let (position, event_type, schema_version) = (event.global_position, event.event_type.clone(), event.schema_version);
        let fail =
            |pointer: String, reason: String| LiftFailure { position, event_type: event_type.to_string(), schema_version, pointer, reason };
        let lifted = self.upcasters.upcast_event(event).map_err(|e| fail(String::new(), e.to_string()))?;
        if self.schemas.get(&lifted.event_type, lifted.schema_version).is_some() {
            let data: serde_json::Value = lifted.data.to_value().map_err(|e| fail(String::new(), format!("not JSON: {e}")))?;
            if let Some(f) = self.schemas.check(&lifted.event_type, lifted.schema_version, &data) {
                return Err(fail(f.pointer, format!("as v{}: {}", lifted.schema_version, f.reason)));
            }
        }
        Ok(lifted)
    }

    /// An export item through [`Lifter::lift`]: events lifted (a failure
    /// stops a copy, naming the position and pointer), snapshots dropped
    /// (their state was folded from the old shapes), everything else kept.
    pub fn lift_item(&self, item: LogItem) -> chronicle_core::Result<Option<LogItem>> {
        match item {
            LogItem::Event(e) => match self.lift(e) {
                Ok(e) => Ok(Some(LogItem::Event(e))),
                Err(f) => Err(Error::SchemaViolation {
                    field: format!("position {}", f.position),
                    event_type: f.event_type,
                    schema_version: f.schema_version,
                    pointer: f.pointer,
                    reason: f.reason,
                }),
            },
            LogItem::Snapshot(_) => Ok(None),
            other => Ok(Some(other)),
        }
    }
}

/// Reads every event `store` holds (as stored) and counts them per type
/// and version, lifting and checking each; keeps the first
/// `max_failures` failures.
pub async fn census(store: &dyn EventStore, catalog: &Catalog, max_failures: usize) -> chronicle_core::Result<Census> {
    let through = store.head().await?;
    let mut reader = store.export_log(ExportRange { after: 0, through }).await?;
    let mut counts: BTreeMap<(String, u32), Count> = BTreeMap::new();
    let mut census = Census::default();
    let lifter = Lifter::of(catalog);
    while let Some(item) = reader.next().await.transpose()? {
        let LogItem::Event(event) = item else { continue };
        census.events += 1;
        let key = (event.event_type.to_string(), event.schema_version);
        let entry = counts.entry(key.clone()).or_insert(Count { event_type: key.0, version: key.1, current: key.1, events: 0 });
        entry.events += 1;
        match lifter.lift(event) {
            Ok(lifted) => {
                entry.current = lifted.schema_version;
                census.upcast += u64::from(lifted.schema_version != entry.version);
            }
            Err(f) => {
                census.failed += 1;
                if census.failures.len() < max_failures {
                    census.failures.push(f);
                }
            }
        }
    }
    census.counts = counts.into_values().collect();
    Ok(census)
}
