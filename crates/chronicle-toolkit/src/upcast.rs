//! Upcasters: `(event_type, from_version) → (to_version, transform)`,
//! applied in chain when events are read.

use crate::{Error, Result};
use chronicle_core::{RawJson, RecordedEvent};
use serde_json::Value;
use std::{collections::HashMap, fmt, sync::Arc};

type Transform = Arc<dyn Fn(Value) -> std::result::Result<Value, String> + Send + Sync>;

/// A registry of upcasters.
///
/// ```
/// use chronicle_toolkit::Upcasters;
/// use chronicle_core::RawJson;
/// let up = Upcasters::new()
///     .register("OrderCreated", 1, 2, |mut d| { d["currency"] = "USD".into(); Ok(d) })
///     .register("OrderCreated", 2, 3, |mut d| { d["tax"] = 0.into(); Ok(d) });
/// let (v, data) = up.upcast("OrderCreated", 1, &RawJson::parse(&br#"{"total":5}"#[..]).unwrap()).unwrap();
/// assert_eq!((v, data.as_bytes()), (3, &br#"{"currency":"USD","tax":0,"total":5}"#[..]));
/// ```
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), (u32, Transform)>,
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.steps.iter().map(|((t, from), (to, _))| format!("{t} v{from}→v{to}")).collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}

impl Upcasters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a transform of `event_type` data from `from` to `to` (> `from`).
    pub fn register(
        mut self,
        event_type: &str,
        from: u32,
        to: u32,
        transform: impl Fn(Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        debug_assert!(to > from, "an upcaster must raise the version");
        self.steps.insert((event_type.to_owned(), from), (to, Arc::new(transform)));
        self
    }

    /// True when nothing is registered (reads skip all work).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies the chain starting at `version`; returns the final version
    /// and data (unchanged when no upcaster applies).
    pub fn upcast(&self, event_type: &str, version: u32, data: &RawJson) -> Result<(u32, RawJson)> {
        let Some(first) = self.steps.get(&(event_type.to_owned(), version)) else { return Ok((version, data.clone())) };
        let fail = |from: u32, reason: String| Error::Upcast { event_type: event_type.to_owned(), from, reason };
        let mut value: Value = data.to_value().map_err(|e| fail(version, e.to_string()))?;
        let (mut current, mut step) = (version, Some(first));
        while let Some((to, transform)) = step {
            value = transform(value).map_err(|reason| fail(current, reason))?;
            current = *to;
            step = self.steps.get(&(event_type.to_owned(), current));
        }
        let raw = RawJson::from_serialize(&value).map_err(|e| fail(current, e.to_string()))?;
        Ok((current, raw))
    }

    /// An event with its data upcast (schema version updated).
    pub fn upcast_event(&self, mut event: RecordedEvent) -> Result<RecordedEvent> {
        if self.is_empty() {
            return Ok(event);
        }
        let (version, data) = self.upcast(&event.event_type, event.schema_version, &event.data)?;
        event.schema_version = version;
        event.data = data;
        Ok(event)
    }
}
