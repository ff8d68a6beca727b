//! [`Upcasters`]: `(event_type, from_version) → (to_version, transform)`,
//! applied in chain when events are read — transforms written in Rust by
//! an embedding application, or lists of declarative [`Step`]s from
//! configuration and the API. One mechanism for the toolkit's aggregates
//! and the server's readers.

use crate::{Result, SchemaError, Step};
use chronicle_core::{RawJson, RecordedEvent};
use serde_json::Value;
use std::{collections::HashMap, fmt, sync::Arc};

type Transform = Arc<dyn Fn(Value) -> std::result::Result<Value, String> + Send + Sync>;

/// One link of a chain.
#[derive(Clone)]
struct Link {
    to: u32,
    transform: Transform,
    /// The declarative steps, when it was declared (listed by the catalog).
    steps: Option<Vec<Step>>,
    /// When every step sets a top-level default: the fast path.
    defaults: Option<crate::defaults::Defaults>,
}

/// A registry of upcasters.
///
/// ```
/// use chronicle_schema::Upcasters;
/// use chronicle_core::RawJson;
/// let up = Upcasters::new()
///     .register("OrderCreated", 1, 2, |mut d| { d["currency"] = "USD".into(); Ok(d) })
///     .register("OrderCreated", 2, 3, |mut d| { d["tax"] = 0.into(); Ok(d) });
/// let (v, data) = up.upcast("OrderCreated", 1, &RawJson::parse(&br#"{"total":5}"#[..]).unwrap()).unwrap();
/// assert_eq!((v, data.as_bytes()), (3, &br#"{"currency":"USD","tax":0,"total":5}"#[..]));
/// ```
#[derive(Clone, Default)]
pub struct Upcasters {
    /// By event type, then by the version a link starts from (looked up
    /// for every event read: a fast hash).
    links: HashMap<String, HashMap<u32, Link, Fast>, Fast>,
}

type Fast = foldhash::fast::RandomState;

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.chains().into_iter().map(|(t, from, to, _)| format!("{t} v{from}→v{to}")).collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}

impl Upcasters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, event_type: &str, from: u32, link: Link) {
        self.links.entry(event_type.to_owned()).or_default().insert(from, link);
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
        self.insert(event_type, from, Link { to, transform: Arc::new(transform), steps: None, defaults: None });
        self
    }

    /// Registers declarative steps taking `event_type` from `from` to `to`;
    /// refused when `to` is not above `from` or a step's pointer is bad.
    pub fn register_steps(&mut self, event_type: &str, from: u32, to: u32, steps: Vec<Step>) -> Result<()> {
        if to <= from {
            return Err(SchemaError::invalid("to", format!("an upcaster must raise the version ({from} → {to})")));
        }
        let run = steps
            .iter()
            .enumerate()
            .map(|(i, step)| step.compile().map_err(|reason| SchemaError::invalid(format!("steps[{i}]"), reason)))
            .collect::<Result<Vec<_>>>()?;
        let transform: Transform = Arc::new(move |mut data| {
            for step in &run {
                step.apply(&mut data)?;
            }
            Ok(data)
        });
        let defaults = crate::defaults::of(&steps);
        self.insert(event_type, from, Link { to, transform, steps: Some(steps), defaults });
        Ok(())
    }

    /// Adds every upcaster of `other` (its links replace ours where both start alike).
    pub fn merge(&mut self, other: &Upcasters) {
        for (t, links) in &other.links {
            for (from, link) in links {
                self.insert(t, *from, link.clone());
            }
        }
    }

    /// True when nothing is registered (reads skip all work).
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Every link: (event type, from, to, declarative steps if declared), sorted.
    pub fn chains(&self) -> Vec<(String, u32, u32, Option<Vec<Step>>)> {
        let mut out: Vec<_> = self
            .links
            .iter()
            .flat_map(|(t, l)| l.iter().map(move |(from, link)| (t.clone(), *from, link.to, link.steps.clone())))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    /// Applies the chain starting at `version`; returns the final version
    /// and data (unchanged when no upcaster applies).
    pub fn upcast(&self, event_type: &str, version: u32, data: &RawJson) -> Result<(u32, RawJson)> {
        self.lift(event_type, version, data).unwrap_or_else(|| Ok((version, data.clone())))
    }

    /// The chain starting at `version` applied, or `None` when no link starts there.
    pub(crate) fn lift(&self, event_type: &str, version: u32, data: &RawJson) -> Option<Result<(u32, RawJson)>> {
        let links = self.links.get(event_type)?;
        let first = links.get(&version)?;
        Some(Self::run(links, event_type, version, first, data))
    }

    fn run(links: &HashMap<u32, Link, Fast>, event_type: &str, version: u32, first: &Link, data: &RawJson) -> Result<(u32, RawJson)> {
        let chain = std::iter::successors(Some(first), |l| links.get(&l.to));
        if let Some(defaults) = chain.clone().map(|l| l.defaults.as_ref()).collect::<Option<Vec<_>>>()
            && let Some(out) = crate::defaults::apply(data.as_bytes(), defaults.into_iter())
        {
            let to = chain.last().map_or(version, |l| l.to);
            return Ok((to, RawJson::from_trusted(out.into())));
        }
        let fail = |from: u32, reason: String| SchemaError::Upcast { event_type: event_type.to_owned(), from, reason };
        let mut value: Value = data.to_value().map_err(|e| fail(version, e.to_string()))?;
        let (mut current, mut link) = (version, Some(first));
        while let Some(l) = link {
            value = (l.transform)(value).map_err(|reason| fail(current, reason))?;
            current = l.to;
            link = links.get(&current);
        }
        // Room for what the steps added, so the buffer is not grown while writing.
        let mut out = Vec::with_capacity(data.as_bytes().len() + data.as_bytes().len() / 4 + 64);
        serde_json::to_writer(&mut out, &value).map_err(|e| fail(current, e.to_string()))?;
        Ok((current, RawJson::from_trusted(out.into())))
    }

    /// An event with its data upcast (schema version updated).
    pub fn upcast_event(&self, mut event: RecordedEvent) -> Result<RecordedEvent> {
        if let Some(lifted) = self.lift(&event.event_type, event.schema_version, &event.data) {
            (event.schema_version, event.data) = lifted?;
        }
        Ok(event)
    }
}
