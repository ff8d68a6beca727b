//! The append pipeline every backend runs, in this fixed order:
//!
//! 1. validate (limits, JSON, names, ids);
//! 2. schema check (when schemas are configured);
//! 3. stamp metadata and the other before-store hooks, in the order added;
//! 4. encrypt fields (when encryption is configured);
//! 5. the backend decides (expected version, idempotency, DCB) and commits;
//! 6. metrics;
//! 7. after-store hooks, with exactly the committed events.
//!
//! Reads run the mirror image: upcast, then decrypt or mask. Stages 2 and 4
//! are hooks installed by their features; [`AppendPipeline::run`] is the
//! one function that strings the steps together, so no backend can skip
//! one.

use crate::{AppendContext, AppendRequest, AppendResult, Error, Limits, Metrics, PreparedAppend, PreparedStream, RecordedEvent, Result};
use std::{collections::HashSet, fmt, future::Future, sync::Arc};

/// A plug-in point of the append pipeline (`before:event.store` and
/// `after:event.store`).
///
/// `before_store` runs after validation, before the backend decides and
/// commits; it may enrich events (see
/// [`ValidatedEvent::set_metadata`](crate::ValidatedEvent::set_metadata)) or
/// reject the whole append with an error (nothing is stored). `after_store`
/// sees the committed events; it cannot fail the append (it is already
/// durable). Both know who appends ([`AppendContext`]).
pub trait AppendHook: Send + Sync + fmt::Debug {
    /// Inspect, enrich or reject an append before it is stored.
    fn before_store(&self, _context: &AppendContext, _append: &mut PreparedAppend) -> Result<()> {
        Ok(())
    }

    /// Observe committed events.
    fn after_store(&self, _context: &AppendContext, _events: &[RecordedEvent]) {}

    /// Whether [`AppendHook::after_store`] does anything (when no hook
    /// does, backends skip building the committed-event list).
    fn observes_commits(&self) -> bool {
        true
    }
}

/// Stage 4 of the pipeline: rewrites marked fields of validated events
/// (field-level encryption) after the before-store hooks, before the
/// backend decides. Asynchronous, because it may have to create and store
/// keys first; an error fails the append with nothing stored.
#[async_trait::async_trait]
pub trait FieldSealer: Send + Sync + fmt::Debug {
    /// Seals the marked fields of `append` in place.
    async fn seal(&self, context: &AppendContext, append: &mut PreparedAppend) -> Result<()>;
}

/// What a backend's commit step reports to [`AppendPipeline::run`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Committed {
    /// One result per stream part, in request order.
    pub results: Vec<AppendResult>,
    /// The append was a retry of one already stored: nothing was written.
    pub idempotent: bool,
    /// The committed events, when the pipeline asked for them (empty
    /// otherwise, and for a retry).
    pub events: Vec<RecordedEvent>,
}

/// Validation limits plus the hooks, shared by every backend.
///
/// ```
/// use chronicle_core::{AppendContext, AppendPipeline, AppendRequest, ExpectedVersion, NewEvent, StreamAppend, StreamId};
/// let p = AppendPipeline::default();
/// let req = AppendRequest {
///     streams: vec![StreamAppend::new(StreamId::new("a-1").unwrap(), ExpectedVersion::Any,
///         vec![NewEvent::raw("Made", &b"{}"[..])])],
///     condition: None,
/// };
/// assert_eq!(p.prepare(&AppendContext::library(), req).unwrap().event_count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AppendPipeline {
    limits: Limits,
    hooks: Vec<Arc<dyn AppendHook>>,
    sealer: Option<Arc<dyn FieldSealer>>,
}

/// Two pipelines are equal when their limits are and they hold the very
/// same hooks, in the same order.
impl PartialEq for AppendPipeline {
    fn eq(&self, other: &Self) -> bool {
        self.limits == other.limits
            && self.hooks.len() == other.hooks.len()
            && self.hooks.iter().zip(&other.hooks).all(|(a, b)| Arc::ptr_eq(a, b))
            && match (&self.sealer, &other.sealer) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }
}

impl Eq for AppendPipeline {}

impl AppendPipeline {
    /// A pipeline with these limits and no hooks.
    pub fn new(limits: Limits) -> Self {
        Self { limits, hooks: Vec::new(), sealer: None }
    }

    /// Installs the field sealer (stage 4; replaces an earlier one).
    pub fn with_sealer(mut self, sealer: Arc<dyn FieldSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Whether a field sealer is installed.
    pub fn seals(&self) -> bool {
        self.sealer.is_some()
    }

    /// Adds a hook (hooks run in the order added).
    pub fn with_hook(mut self, hook: Arc<dyn AppendHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// The same hooks with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates a request and runs the before-store hooks. Field names in
    /// errors are `events[i]…` for a single-stream append and
    /// `streams[j].events[i]…` otherwise.
    pub fn prepare(&self, context: &AppendContext, request: AppendRequest) -> Result<PreparedAppend> {
        let mut prepared = self.validate(request)?;
        for hook in &self.hooks {
            hook.before_store(context, &mut prepared)?;
        }
        Ok(prepared)
    }

    fn validate(&self, request: AppendRequest) -> Result<PreparedAppend> {
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
        Ok(PreparedAppend { streams, condition: request.condition })
    }

    /// Runs the after-store hooks.
    pub fn after_store(&self, context: &AppendContext, events: &[RecordedEvent]) {
        for hook in &self.hooks {
            hook.after_store(context, events);
        }
    }

    /// Whether any hook observes committed events (backends skip building
    /// the committed-event list otherwise).
    pub fn observes_commits(&self) -> bool {
        self.hooks.iter().any(|h| h.observes_commits())
    }

    /// The whole append: prepare (validation, hooks) → seal marked fields →
    /// `commit` (the
    /// backend decides and stores; asked for the committed events when an
    /// after-store hook wants them) → `metrics` → after-store hooks. Every
    /// backend's append goes through here.
    pub async fn run<F, Fut>(
        &self,
        context: &AppendContext,
        request: AppendRequest,
        metrics: &Metrics,
        commit: F,
    ) -> Result<Vec<AppendResult>>
    where
        F: FnOnce(PreparedAppend, bool) -> Fut,
        Fut: Future<Output = Result<Committed>>,
    {
        let events = request.streams.iter().map(|s| s.events.len()).sum();
        let outcome = match self.prepare(context, request) {
            Ok(mut prepared) => match &self.sealer {
                Some(sealer) => match sealer.seal(context, &mut prepared).await {
                    Ok(()) => commit(prepared, self.observes_commits()).await,
                    Err(e) => Err(e),
                },
                None => commit(prepared, self.observes_commits()).await,
            },
            Err(e) => Err(e),
        };
        let idempotent = matches!(outcome, Ok(Committed { idempotent: true, .. }));
        metrics.record_append(&outcome, events, idempotent);
        let committed = outcome?;
        if !committed.idempotent && !committed.events.is_empty() {
            self.after_store(context, &committed.events);
        }
        Ok(committed.results)
    }
}
