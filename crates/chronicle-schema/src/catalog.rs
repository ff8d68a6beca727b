//! [`Catalog`]: the schemas and upcasters a store runs with, shared (and
//! changed live, when one is registered) by the append hook and the
//! readers; [`SchemaHook`]: the check on append.

use crate::{Result, Schemas, Step, Upcasters};
use chronicle_core::{AppendContext, AppendHook, Error, PreparedAppend, RecordedEvent};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What the append check does with an event that fails its schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No check.
    Off,
    /// Log a warning (naming the event and the pointer) and store it.
    Warn,
    /// Refuse the whole append (HTTP 422).
    #[default]
    Enforce,
}

/// What the append check does with an event type no schema is registered for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Store it unchecked.
    #[default]
    Allow,
    /// Refuse it, as a failed check (system `$` streams are never refused).
    Reject,
}

#[derive(Debug, Default)]
struct Inner {
    schemas: Schemas,
    upcasters: Upcasters,
}

/// Schemas and upcasters, shared.
#[derive(Debug, Default)]
pub struct Catalog {
    inner: RwLock<Inner>,
    mode: Mode,
    unknown: Unknown,
}

impl Catalog {
    /// An empty catalog checking with `mode` and `unknown`.
    pub fn new(mode: Mode, unknown: Unknown) -> Self {
        Self { inner: RwLock::default(), mode, unknown }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The check mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What happens to unknown types.
    pub fn unknown(&self) -> Unknown {
        self.unknown
    }

    /// Registers a schema (see [`Schemas::register`]).
    pub fn register_schema(&self, event_type: &str, version: u32, schema: serde_json::Value) -> Result<bool> {
        self.write().schemas.register(event_type, version, schema)
    }

    /// Registers declarative upcast steps (see [`Upcasters::register_steps`]).
    pub fn register_steps(&self, event_type: &str, from: u32, to: u32, steps: Vec<Step>) -> Result<()> {
        self.write().upcasters.register_steps(event_type, from, to, steps)
    }

    /// Adds upcasters written in code by an embedding application.
    pub fn add_upcasters(&self, upcasters: &Upcasters) {
        self.write().upcasters.merge(upcasters);
    }

    /// A copy of the registered schemas.
    pub fn schemas(&self) -> Schemas {
        self.read().schemas.clone()
    }

    /// A copy of the upcasters.
    pub fn upcasters(&self) -> Upcasters {
        self.read().upcasters.clone()
    }

    /// Whether reads need any work.
    pub fn upcasts(&self) -> bool {
        !self.read().upcasters.is_empty()
    }

    /// `event` in its current shape. An upcaster that fails leaves it as
    /// stored (its `schema_version` says so) and logs an error: readers are
    /// served, the operator is told.
    pub fn shape(&self, event: RecordedEvent) -> RecordedEvent {
        shape_with(&self.read().upcasters, event)
    }

    /// Every event of `events` in its current shape (one lock for all).
    pub fn shape_all(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        let inner = self.read();
        if inner.upcasters.is_empty() {
            return events;
        }
        events.into_iter().map(|e| shape_with(&inner.upcasters, e)).collect()
    }

    /// Checks every event of `append` (see [`SchemaHook`]).
    fn check(&self, append: &PreparedAppend) -> chronicle_core::Result<()> {
        let inner = self.read();
        if self.mode == Mode::Off || (inner.schemas.is_empty() && self.unknown == Unknown::Allow) {
            return Ok(());
        }
        let single = append.streams.len() == 1;
        for (j, part) in append.streams.iter().enumerate() {
            if part.stream.as_str().starts_with('$') {
                continue;
            }
            for (i, event) in part.events.iter().enumerate() {
                let (t, v) = (&*event.event_type, event.schema_version);
                let failure = match inner.schemas.knows(t) {
                    false if self.unknown == Unknown::Allow => continue,
                    false => Some(("".to_owned(), "no schema is registered for this event type (schemas.unknown = \"reject\")".to_owned())),
                    true if inner.schemas.get(t, v).is_none() => Some((
                        "".to_owned(),
                        format!("no schema is registered for this version (registered: {:?})", inner.schemas.versions(t)),
                    )),
                    true => {
                        let data: serde_json::Value =
                            event.data.to_value().map_err(|e| Error::invalid("data", format!("not JSON: {e}")))?;
                        inner.schemas.check(t, v, &data).map(|f| (f.pointer, f.reason))
                    }
                };
                let Some((pointer, reason)) = failure else { continue };
                let field = if single { format!("events[{i}].data") } else { format!("streams[{j}].events[{i}].data") };
                if self.mode == Mode::Warn {
                    tracing::warn!(field, event_type = t, schema_version = v, pointer, "stored although it fails its schema: {reason}");
                    continue;
                }
                return Err(Error::SchemaViolation { field, event_type: t.to_owned(), schema_version: v, pointer, reason });
            }
        }
        Ok(())
    }
}

fn shape_with(upcasters: &Upcasters, mut event: RecordedEvent) -> RecordedEvent {
    let Some(lifted) = upcasters.lift(&event.event_type, event.schema_version, &event.data) else { return event };
    match lifted {
        Ok((version, data)) => {
            (event.schema_version, event.data) = (version, data);
            event
        }
        Err(e) => {
            tracing::error!(event_id = %event.event_id, position = event.global_position, "served as stored: {e}");
            event
        }
    }
}

/// The append check (`before:event.store`, stage 2 of the pipeline): an
/// event whose type has schemas must match the one of its
/// `schema_version`, else the whole append fails with
/// [`Error::SchemaViolation`] naming the event and the JSON Pointer of the
/// first failing value (never the value). System streams (`$…`) pass.
#[derive(Debug, Clone)]
pub struct SchemaHook(pub Arc<Catalog>);

impl AppendHook for SchemaHook {
    fn before_store(&self, _context: &AppendContext, append: &mut PreparedAppend) -> chronicle_core::Result<()> {
        self.0.check(append)
    }

    fn observes_commits(&self) -> bool {
        false
    }
}
