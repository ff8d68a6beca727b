//! Publish hooks: `before:event.publish` may drop an event for one sink,
//! transform it or fail it (it goes to the DLQ); `after:event.publish`
//! observes acknowledged deliveries. The configurable built-ins filter by
//! category, event type and tag, and drop metadata fields.

use crate::SinkConfig;
use chronicle_core::{RawJson, RecordedEvent};
use std::{collections::HashSet, fmt, sync::Arc};

/// What `before_publish` decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver (the possibly transformed) event.
    Deliver,
    /// Not for this sink: skip it (the checkpoint still moves past it).
    Skip,
    /// Refuse it: it goes to the DLQ at once, with this reason.
    Fail(String),
}

/// A hook around every delivery of a sink.
pub trait PublishHook: Send + Sync + fmt::Debug {
    /// Runs before `event` is delivered to `sink`; may change it.
    fn before_publish(&self, sink: &str, event: &mut RecordedEvent) -> Verdict;

    /// Runs after the broker acknowledged `events` (in order).
    fn after_publish(&self, _sink: &str, _events: &[RecordedEvent]) {}
}

/// The built-in filter: categories, event types, tags (each empty = any).
#[derive(Debug, Default)]
pub struct SinkFilter {
    categories: HashSet<String>,
    event_types: HashSet<String>,
    tags: Vec<String>,
}

impl SinkFilter {
    /// The filter a sink's configuration asks for.
    pub fn of(config: &SinkConfig) -> Self {
        Self {
            categories: config.toml.categories.iter().cloned().collect(),
            event_types: config.toml.event_types.iter().cloned().collect(),
            tags: config.toml.tags.clone(),
        }
    }
}

impl PublishHook for SinkFilter {
    fn before_publish(&self, _sink: &str, event: &mut RecordedEvent) -> Verdict {
        let category_ok = self.categories.is_empty() || self.categories.contains(event.stream_id.category());
        let type_ok = self.event_types.is_empty() || self.event_types.contains(&*event.event_type);
        let tags_ok = self.tags.is_empty()
            || event.well_known_metadata().is_ok_and(|meta| meta.tags.iter().any(|t| self.tags.iter().any(|want| want == t)));
        if category_ok && type_ok && tags_ok { Verdict::Deliver } else { Verdict::Skip }
    }
}

/// The built-in transform: removes metadata fields before delivery.
#[derive(Debug, Default)]
pub struct DropMetadata {
    fields: Vec<String>,
}

impl DropMetadata {
    /// Drops `fields` from every event's metadata.
    pub fn new(fields: impl IntoIterator<Item = String>) -> Self {
        Self { fields: fields.into_iter().collect() }
    }
}

impl PublishHook for DropMetadata {
    fn before_publish(&self, _sink: &str, event: &mut RecordedEvent) -> Verdict {
        let Ok(serde_json::Value::Object(mut map)) = event.metadata.to_value() else {
            return Verdict::Deliver;
        };
        let before = map.len();
        self.fields.iter().for_each(|f| {
            map.remove(f);
        });
        if map.len() != before {
            match serde_json::to_vec(&serde_json::Value::Object(map)).map(RawJson::parse) {
                Ok(Ok(raw)) => event.metadata = raw,
                _ => return Verdict::Fail("could not re-encode the metadata without the dropped fields".into()),
            }
        }
        Verdict::Deliver
    }
}

/// The hooks of one sink, in order: the built-ins, then the caller's.
#[derive(Clone, Debug, Default)]
pub struct HookChain {
    hooks: Vec<Arc<dyn PublishHook>>,
}

impl HookChain {
    /// The built-in hooks a sink's configuration asks for.
    pub fn of(config: &SinkConfig) -> Self {
        let mut hooks: Vec<Arc<dyn PublishHook>> = Vec::new();
        let t = &config.toml;
        if !(t.categories.is_empty() && t.event_types.is_empty() && t.tags.is_empty()) {
            hooks.push(Arc::new(SinkFilter::of(config)));
        }
        if !t.drop_metadata.is_empty() {
            hooks.push(Arc::new(DropMetadata::new(t.drop_metadata.iter().cloned())));
        }
        Self { hooks }
    }

    /// Adds a hook after the others.
    pub fn push(&mut self, hook: Arc<dyn PublishHook>) {
        self.hooks.push(hook);
    }

    /// Runs every `before_publish` until one does not deliver.
    pub fn before(&self, sink: &str, event: &mut RecordedEvent) -> Verdict {
        for hook in &self.hooks {
            match hook.before_publish(sink, event) {
                Verdict::Deliver => {}
                other => return other,
            }
        }
        Verdict::Deliver
    }

    /// Runs every `after_publish`.
    pub fn after(&self, sink: &str, events: &[RecordedEvent]) {
        self.hooks.iter().for_each(|h| h.after_publish(sink, events));
    }
}
