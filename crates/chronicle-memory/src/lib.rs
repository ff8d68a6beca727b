//! # chronicle-memory
//!
//! The in-memory backend: the reference implementation of
//! [`EventStore`]. Everything lives behind one lock in process memory and
//! is gone when the last handle drops — use it in tests and as the oracle
//! the other backends are compared against.
//!
//! ```
//! use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, StreamId};
//! use chronicle_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> chronicle_core::Result<()> {
//! let store = MemoryStore::new();
//! let s = StreamId::new("cart-9")?;
//! store.append(&s, ExpectedVersion::Any, vec![NewEvent::raw("ItemAdded", &b"{\"sku\":\"a\"}"[..])]).await?;
//! let page = store.read_all(&ReadAll::forward()).await?;
//! assert_eq!(page.events.len(), 1);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod state;

use chronicle_core::{
    AppendContext, AppendPipeline, AppendPlan, AppendRequest, AppendResult, Committed, DeleteMode, EventPage, EventStore, ExpectedVersion,
    Filter, Health, Limits, Metrics, PreparedAppend, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId,
    StreamInfo, StreamMetadata, SubscribeFrom, Subscription, Uuid, async_trait, plan_append, validate_consumer_name,
};
use chronicle_core::{ExportRange, ListStreams, LogItem, LogReader, StreamPage};
use state::State;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// The in-memory event store. Cheap to clone: clones share one store.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: RwLock<State>,
    head: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    pipeline: AppendPipeline,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with default limits.
    pub fn new() -> Self {
        Self::with_pipeline(AppendPipeline::new(Limits::default()))
    }

    /// An empty store with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self::with_pipeline(AppendPipeline::new(limits))
    }

    /// An empty store whose appends go through `pipeline` (limits, hooks).
    pub fn with_pipeline(pipeline: AppendPipeline) -> Self {
        Self {
            inner: Arc::new(Inner { state: RwLock::new(State::default()), head: watch::Sender::new(0), metrics: Arc::default(), pipeline }),
        }
    }

    // A panic while holding the lock cannot leave the state half-updated:
    // every mutation is decided before the first write. So a poisoned lock
    // is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The backend's commit step: decide against the index and store.
    fn commit(&self, prepared: PreparedAppend) -> Result<Committed> {
        let mut state = self.write();
        let results = match plan_append(&state.index, &prepared)? {
            AppendPlan::AlreadyStored(results) => return Ok(Committed { results, idempotent: true, events: Vec::new() }),
            AppendPlan::Write(results) => results,
        };
        let events = state.commit(&prepared, &results);
        let head = state.index.visible_head();
        drop(state);
        self.inner.head.send_replace(head);
        Ok(Committed { results, idempotent: false, events })
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        // Nothing here awaits: yield so appending loops share the runtime.
        tokio::task::yield_now().await;
        let inner = &self.inner;
        inner.pipeline.run(context, request, &inner.metrics, |prepared, _| std::future::ready(self.commit(prepared))).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let events: Vec<_> = self.read().index.read_stream(stream, options)?.into_iter().map(|e| e.payload.clone()).collect();
        self.inner.metrics.record_read(events.len());
        Ok(events)
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let state = self.read();
        let page = state.index.read_all(read)?;
        let events: Vec<_> = page.entries.into_iter().map(|e| e.payload.clone()).collect();
        self.inner.metrics.record_read(events.len());
        Ok(EventPage { events, next: page.next, head: page.head })
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let event = self.read().index.get(&event_id).map(|e| e.payload.clone());
        self.inner.metrics.record_read(usize::from(event.is_some()));
        Ok(event)
    }

    async fn head(&self) -> Result<u64> {
        Ok(self.read().index.visible_head())
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let gauge = self.inner.metrics.subscription_opened();
        Ok(Subscription::spawn(Arc::new(self.clone()), self.inner.head.subscribe(), from, filter, gauge))
    }

    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        self.read().index.list_streams(query)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        Ok(self.read().index.visible_stream_info(stream))
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        let mut state = self.write();
        let change = state.index.plan_metadata(stream, metadata)?;
        state.change(change);
        Ok(())
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        let mut state = self.write();
        let change = state.index.plan_delete(stream, expected, mode == DeleteMode::Tombstone)?;
        state.change(change);
        Ok(())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.write().save_snapshot(snapshot);
        Ok(())
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        Ok(self.read().snapshot(stream))
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        validate_consumer_name(consumer)?;
        self.write().index.set_checkpoint(consumer.to_owned(), position);
        Ok(())
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        validate_consumer_name(consumer)?;
        Ok(self.read().index.checkpoint(consumer))
    }

    async fn health(&self) -> Health {
        Health::ok("memory backend")
    }

    async fn metrics(&self) -> StoreMetrics {
        self.inner.metrics.snapshot(self.read().index.visible_head())
    }

    async fn export_log(&self, range: ExportRange) -> Result<LogReader> {
        Ok(LogReader::from_items(self.read().export(range)))
    }

    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        let mut state = self.write();
        state.import(items)?;
        let head = state.index.visible_head();
        drop(state);
        self.inner.head.send_replace(head);
        Ok(())
    }
}
