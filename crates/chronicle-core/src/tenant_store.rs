//! [`TenantStore`]: any store as one tenant sees it — its own streams,
//! under their own names, and nothing of any other tenant: not in reads,
//! look-ups, subscriptions, listings, `head`, cursors, errors or ids.

use crate::{
    AppendContext, AppendRequest, AppendResult, DeleteMode, Direction, Error, EventPage, EventStore, ExpectedVersion, ExportRange, Filter,
    Health, ListStreams, LogItem, LogReader, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId, StreamInfo,
    StreamMetadata, StreamPage, SubscribeFrom, Subscription, TenantSpace, Uuid, async_trait,
};
use std::sync::Arc;

/// A store as the callers of one tenant see it (see [`TenantSpace`] for
/// how names are stored). Whole-log operations (export, import) and the
/// store's metrics span tenants: they are refused.
///
/// ```
/// use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, StreamId, TenantStore};
/// use std::sync::Arc;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> chronicle_core::Result<()> {
/// let store = Arc::new(chronicle_memory::MemoryStore::new());
/// let (acme, globex) = (TenantStore::new(store.clone(), "acme"), TenantStore::new(store.clone(), "globex"));
/// let order = StreamId::new("order-1")?;
/// let id = chronicle_core::Uuid::now_v7();
/// for tenant in [&acme, &globex] {
///     tenant.append(&order, ExpectedVersion::NoStream, vec![NewEvent::raw("Placed", &b"{}"[..]).with_id(id)]).await?;
/// }
/// let page = acme.read_all(&ReadAll::forward()).await?;
/// assert_eq!((page.events.len(), page.events[0].stream_id.as_str(), page.events[0].event_id), (1, "order-1", id));
/// assert_eq!(page.head, 1, "globex's event at position 2 is not acme's head");
/// assert_eq!(store.read_all(&ReadAll::forward()).await?.events[1].stream_id.as_str(), "@globex/order-1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TenantStore {
    inner: Arc<dyn EventStore>,
    space: TenantSpace,
    metrics: bool,
}

impl TenantStore {
    /// `inner` as the callers of `tenant` see it.
    pub fn new(inner: Arc<dyn EventStore>, tenant: &str) -> Self {
        Self { inner, space: TenantSpace::new(tenant), metrics: false }
    }

    /// Also reports the whole store's metrics (they count every tenant's
    /// operations): for a caller that owns the store, never for a
    /// tenant's client.
    pub fn with_store_metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    fn events_out(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        events.into_iter().filter_map(|e| self.space.event_out(e)).collect()
    }

    fn spans_tenants(&self, operation: &str) -> Error {
        Error::Forbidden { action: operation.into(), stream: "the whole log".into(), token: format!("of tenant {}", self.space.tenant()) }
    }

    /// The position of the tenant's last event (0: none).
    async fn tenant_head(&self) -> Result<u64> {
        let last =
            ReadAll { from: None, direction: Direction::Backward, limit: Some(1), filter: self.space.filter_in(&Filter::default())? };
        Ok(self.inner.read_all(&last).await?.events.first().map_or(0, |e| e.global_position))
    }

    fn out<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| self.space.error_out(e))
    }
}

#[async_trait]
impl EventStore for TenantStore {
    async fn append_with(&self, context: &AppendContext, mut request: AppendRequest) -> Result<Vec<AppendResult>> {
        for part in &mut request.streams {
            part.stream = self.space.stream_in(&part.stream)?;
            for event in &mut part.events {
                event.event_id = event.event_id.map(|id| self.space.id_in(id));
            }
        }
        if let Some(condition) = &mut request.condition {
            condition.query = self.space.query_in(&condition.query);
        }
        let mut results = self.out(self.inner.append_with(context, request).await)?;
        for r in &mut results {
            r.stream_id = self.space.stream_out(&r.stream_id).unwrap_or_else(|| r.stream_id.clone());
        }
        Ok(results)
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        let stored = self.space.stream_in(stream)?;
        Ok(self.events_out(self.out(self.inner.read_stream(&stored, options).await)?))
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        let stored = ReadAll { filter: self.space.filter_in(&read.filter)?, ..read.clone() };
        let page = self.out(self.inner.read_all(&stored).await)?;
        let head = match (page.next, read.direction) {
            (None, Direction::Forward) => page.events.last().map_or(self.tenant_head().await?, |e| e.global_position),
            _ => self.tenant_head().await?,
        };
        Ok(EventPage { events: self.events_out(page.events), next: page.next, head })
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        let found = self.out(self.inner.get_event(self.space.id_in(event_id)).await)?;
        Ok(found.and_then(|e| self.space.event_out(e)))
    }

    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        Ok(self.events_out(self.out(self.inner.read_by_correlation(id).await)?))
    }

    async fn head(&self) -> Result<u64> {
        self.tenant_head().await
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let subscription = self.out(self.inner.subscribe(from, self.space.filter_in(&filter)?).await)?;
        let space = self.space.clone();
        Ok(subscription.filter_map(move |e| space.event_out(e)))
    }

    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        let mut page = self.out(self.inner.list_streams(&self.space.listing_in(query)).await)?;
        page.streams.retain_mut(|s| match self.space.stream_out(&s.stream_id) {
            Some(view) => {
                s.stream_id = view;
                true
            }
            None => false,
        });
        page.next = page.next.and_then(|n| n.strip_prefix(self.space.prefix()).map(str::to_owned));
        Ok(page)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        let stored = self.space.stream_in(stream)?;
        self.out(self.inner.stream_info(&stored).await)
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        let stored = self.space.stream_in(stream)?;
        self.out(self.inner.set_stream_metadata(&stored, metadata).await)
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        let stored = self.space.stream_in(stream)?;
        self.out(self.inner.delete_stream(&stored, expected, mode).await)
    }

    async fn save_snapshot(&self, mut snapshot: Snapshot) -> Result<()> {
        snapshot.stream_id = self.space.stream_in(&snapshot.stream_id)?;
        self.out(self.inner.save_snapshot(snapshot).await)
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        let stored = self.space.stream_in(stream)?;
        let snapshot = self.out(self.inner.load_snapshot(&stored).await)?;
        Ok(snapshot.map(|s| Snapshot { stream_id: stream.clone(), ..s }))
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        crate::validate_consumer_name(consumer)?;
        self.out(self.inner.save_checkpoint(&self.space.consumer_in(consumer), position).await)
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        crate::validate_consumer_name(consumer)?;
        self.out(self.inner.load_checkpoint(&self.space.consumer_in(consumer)).await)
    }

    async fn health(&self) -> Health {
        self.inner.health().await
    }

    /// The store's counters span every tenant: a tenant sees none
    /// (unless [`TenantStore::with_store_metrics`]).
    async fn metrics(&self) -> StoreMetrics {
        match self.metrics {
            true => self.inner.metrics().await,
            false => StoreMetrics::default(),
        }
    }

    async fn export_log(&self, _: ExportRange) -> Result<LogReader> {
        Err(self.spans_tenants("export"))
    }

    async fn import_log(&self, _: Vec<LogItem>) -> Result<()> {
        Err(self.spans_tenants("import"))
    }
}
