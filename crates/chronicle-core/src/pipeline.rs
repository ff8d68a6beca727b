//! The append pipeline: validate → before-store hooks → (field encryption,
//! later) → backend commit → after-store hooks.

use crate::{AppendRequest, Error, Limits, PreparedAppend, PreparedStream, RecordedEvent, Result};
use std::{collections::HashSet, fmt, sync::Arc};

/// A plug-in point of the append pipeline (`before:event.store` and
/// `after:event.store`).
///
/// `before_store` runs after validation, before the backend decides and
/// commits; it may enrich events (see
/// [`ValidatedEvent::set_metadata`](crate::ValidatedEvent::set_metadata)) or
/// reject the whole append with an error. `after_store` sees the committed
/// events; it cannot fail the append (it is already durable).
pub trait AppendHook: Send + Sync + fmt::Debug {
    /// Inspect, enrich or reject an append before it is stored.
    fn before_store(&self, _append: &mut PreparedAppend) -> Result<()> {
        Ok(())
    }

    /// Observe committed events.
    fn after_store(&self, _events: &[RecordedEvent]) {}
}

/// Validation limits plus the hooks, shared by every backend.
///
/// ```
/// use chronicle_core::{AppendPipeline, AppendRequest, ExpectedVersion, NewEvent, StreamAppend, StreamId};
/// let p = AppendPipeline::default();
/// let req = AppendRequest {
///     streams: vec![StreamAppend::new(StreamId::new("a-1").unwrap(), ExpectedVersion::Any,
///         vec![NewEvent::raw("Made", &b"{}"[..])])],
///     condition: None,
/// };
/// assert_eq!(p.prepare(req).unwrap().event_count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AppendPipeline {
    limits: Limits,
    hooks: Vec<Arc<dyn AppendHook>>,
}

impl AppendPipeline {
    /// A pipeline with these limits and no hooks.
    pub fn new(limits: Limits) -> Self {
        Self { limits, hooks: Vec::new() }
    }

    /// Adds a hook (hooks run in the order added).
    pub fn with_hook(mut self, hook: Arc<dyn AppendHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates a request and runs the before-store hooks. Field names in
    /// errors are `events[i]…` for a single-stream append and
    /// `streams[j].events[i]…` otherwise.
    pub fn prepare(&self, request: AppendRequest) -> Result<PreparedAppend> {
        if request.streams.is_empty() {
            return Err(Error::invalid("streams", "an append needs at least one stream"));
        }
        let single = request.streams.len() == 1;
        let total: usize = request.streams.iter().map(|s| s.events.len()).sum();
        if total > self.limits.max_events_per_append {
            return Err(Error::TooLarge {
                field: if single { "events" } else { "streams" }.to_owned(),
                limit: self.limits.max_events_per_append,
                actual: total,
            });
        }
        let mut seen_ids = HashSet::with_capacity(total);
        let mut seen_streams = HashSet::with_capacity(request.streams.len());
        let mut streams = Vec::with_capacity(request.streams.len());
        for (j, part) in request.streams.into_iter().enumerate() {
            let prefix = if single { String::new() } else { format!("streams[{j}].") };
            if !seen_streams.insert(part.stream.clone()) {
                return Err(Error::invalid(format!("{prefix}stream"), format!("{} appears twice in one append", part.stream)));
            }
            let events = self.limits.validate_events(&format!("{prefix}events"), part.events, &mut seen_ids)?;
            streams.push(PreparedStream { stream: part.stream, expected: part.expected, events });
        }
        let mut prepared = PreparedAppend { streams, condition: request.condition };
        for hook in &self.hooks {
            hook.before_store(&mut prepared)?;
        }
        Ok(prepared)
    }

    /// Runs the after-store hooks.
    pub fn after_store(&self, events: &[RecordedEvent]) {
        for hook in &self.hooks {
            hook.after_store(events);
        }
    }

    /// Whether any after-store hook is installed (lets backends skip
    /// building the committed-event list).
    pub fn has_hooks(&self) -> bool {
        !self.hooks.is_empty()
    }
}
