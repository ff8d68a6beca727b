//! Two ready-made [`Projection`]s: an in-process model whose checkpoint
//! sits beside it under one lock, and an adapter that keeps the checkpoint
//! in the event store for models kept anywhere else.

use crate::{Error, Projection, Result};
use chronicle_core::{EventStore, Filter, RecordedEvent, async_trait};
use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};

type Handler<S> = dyn Fn(&mut S, &RecordedEvent) -> std::result::Result<(), String> + Send + Sync;

/// An in-process read model `S` folded by a handler; the model and its
/// checkpoint change together under one lock, so a crash (or a dropped
/// runner) between "applied" and "checkpointed" is impossible.
///
/// The handler updates the model in place (no copy per event, so large
/// models rebuild in linear time); a handler that returns `Err` must do so
/// before changing anything — validate and decode first, then mutate.
///
/// ```
/// # use chronicle_toolkit::{MemoryProjection, Projection};
/// # use std::collections::BTreeMap;
/// let counts = MemoryProjection::new("counts", |m: &mut BTreeMap<String, u64>, e| {
///     *m.entry(e.event_type.to_string()).or_default() += 1;
///     Ok(())
/// });
/// assert_eq!(counts.name(), "counts");
/// assert!(counts.model().is_empty());
/// ```
pub struct MemoryProjection<S> {
    name: String,
    filter: Filter,
    inner: Mutex<(S, u64)>,
    handler: Box<Handler<S>>,
}

impl<S> fmt::Debug for MemoryProjection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryProjection").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<S: Default + Clone + Send + 'static> MemoryProjection<S> {
    /// A projection named `name` folding every event with `handler`.
    pub fn new(
        name: impl Into<String>,
        handler: impl Fn(&mut S, &RecordedEvent) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self { name: name.into(), filter: Filter::default(), inner: Mutex::new((S::default(), 0)), handler: Box::new(handler) }
    }

    /// Only the events `filter` matches are delivered.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    fn lock(&self) -> MutexGuard<'_, (S, u64)> {
        // A poisoned lock means a handler panicked mid-update; the model
        // is still the last consistent one only if the handler is pure up
        // to its panic, which we cannot know — but refusing all reads
        // forever would be worse for an in-memory model.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies `event` synchronously (what [`Projection::apply`] does);
    /// the test kit's [`History::project`](crate::History::project) uses it.
    pub fn apply_now(&self, event: &RecordedEvent) -> Result<()> {
        let mut guard = self.lock();
        if event.global_position <= guard.1 {
            return Ok(()); // already applied
        }
        (self.handler)(&mut guard.0, event).map_err(|reason| handler_error(&self.name, event, reason))?;
        guard.1 = event.global_position;
        Ok(())
    }

    /// A copy of the model.
    pub fn model(&self) -> S {
        self.lock().0.clone()
    }
}

#[async_trait]
impl<S: Default + Clone + Send + 'static> Projection for MemoryProjection<S> {
    fn name(&self) -> &str {
        &self.name
    }
    fn filter(&self) -> Filter {
        self.filter.clone()
    }
    async fn checkpoint(&self) -> Result<u64> {
        Ok(self.lock().1)
    }
    async fn apply(&self, event: &RecordedEvent) -> Result<()> {
        self.apply_now(event)
    }
    async fn replay_parked(&self, event: &RecordedEvent) -> Result<()> {
        (self.handler)(&mut self.lock().0, event).map_err(|reason| handler_error(&self.name, event, reason))
    }
    async fn reset(&self) -> Result<()> {
        *self.lock() = (S::default(), 0);
        Ok(())
    }
}

pub(crate) fn handler_error(name: &str, event: &RecordedEvent, reason: String) -> Error {
    Error::Handler { what: format!("{name} at position {} ({})", event.global_position, event.event_type), reason }
}

/// A projection whose model lives outside Chronicle and outside any
/// transaction we control: the checkpoint is saved in the event store
/// after each event, so after a crash the last event may be delivered
/// again — the wrapped projection's `apply` must be idempotent.
#[derive(Debug)]
pub struct StoreCheckpointed<P> {
    inner: P,
    store: Arc<dyn EventStore>,
}

impl<P: Projection> StoreCheckpointed<P> {
    /// Keeps `inner`'s checkpoint in `store` under its name.
    pub fn new(inner: P, store: Arc<dyn EventStore>) -> Self {
        Self { inner, store }
    }

    /// The wrapped projection.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

#[async_trait]
impl<P: Projection> Projection for StoreCheckpointed<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn filter(&self) -> Filter {
        self.inner.filter()
    }
    async fn checkpoint(&self) -> Result<u64> {
        Ok(self.store.load_checkpoint(self.inner.name()).await?.unwrap_or(0))
    }
    async fn apply(&self, event: &RecordedEvent) -> Result<()> {
        self.inner.apply(event).await?;
        Ok(self.store.save_checkpoint(self.inner.name(), event.global_position).await?)
    }
    async fn replay_parked(&self, event: &RecordedEvent) -> Result<()> {
        self.inner.replay_parked(event).await
    }
    async fn reset(&self) -> Result<()> {
        self.inner.reset().await?;
        Ok(self.store.save_checkpoint(self.inner.name(), 0).await?)
    }
    async fn promote(&self) -> Result<()> {
        self.inner.promote().await
    }
}
