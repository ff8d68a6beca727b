//! [`ShapedStore`]: any store, read in the current shape — every event
//! passes the [`Catalog`]'s upcasters on the way out (`read_stream`,
//! `read_all`, `get_event`, correlation look-ups, subscriptions), so every
//! reader built on it (HTTP, SSE, WebSocket, consumer groups, publishing)
//! serves the latest `schema_version`. Writes, exports and imports pass
//! through untouched: what is stored (and backed up, hashed or signed)
//! stays the stored shape.

use crate::Catalog;
use chronicle_core::{
    AppendContext, AppendRequest, AppendResult, DeleteMode, EventPage, EventStore, ExpectedVersion, ExportRange, Filter, Health,
    ListStreams, LogItem, LogReader, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId, StreamInfo,
    StreamMetadata, StreamPage, SubscribeFrom, Subscription, Uuid, async_trait,
};
use std::sync::Arc;

/// A store whose reads serve the current shape of every event.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
/// use chronicle_schema::{Catalog, ShapedStore, Step};
/// use std::sync::Arc;
/// let raw: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
/// let catalog = Arc::new(Catalog::default());
/// catalog.register_steps("OrderCreated", 1, 2, vec![Step::Set { path: "/currency".into(), value: "USD".into() }]).unwrap();
/// let shaped = ShapedStore::new(raw.clone(), catalog);
/// let s = StreamId::new("order-1").unwrap();
/// shaped.append(&s, ExpectedVersion::Any, vec![NewEvent::raw("OrderCreated", &br#"{"total":5}"#[..])]).await.unwrap();
/// let read = shaped.read_stream(&s, ReadStream::forward()).await.unwrap();
/// assert_eq!((read[0].schema_version, read[0].data.as_bytes()), (2, &br#"{"total":5,"currency":"USD"}"#[..]));
/// let stored = raw.read_stream(&s, ReadStream::forward()).await.unwrap();
/// assert_eq!(stored[0].schema_version, 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ShapedStore {
    inner: Arc<dyn EventStore>,
    catalog: Arc<Catalog>,
}

impl ShapedStore {
    /// `inner`, read through `catalog`'s upcasters.
    pub fn new(inner: Arc<dyn EventStore>, catalog: Arc<Catalog>) -> Self {
        Self { inner, catalog }
    }

    /// The store as stored (reads give the stored shape).
    pub fn raw(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    fn shape_all(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        self.catalog.shape_all(events)
    }
}

#[async_trait]
impl EventStore for ShapedStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        self.inner.append_with(context, request).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        Ok(self.shape_all(self.inner.read_stream(stream, options).await?))
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        let mut page = self.inner.read_all(read).await?;
        page.events = self.shape_all(std::mem::take(&mut page.events));
        Ok(page)
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        Ok(self.inner.get_event(event_id).await?.map(|e| self.catalog.shape(e)))
    }

    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        Ok(self.shape_all(self.inner.read_by_correlation(id).await?))
    }

    async fn head(&self) -> Result<u64> {
        self.inner.head().await
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let subscription = self.inner.subscribe(from, filter).await?;
        if !self.catalog.upcasts() {
            return Ok(subscription);
        }
        let catalog = self.catalog.clone();
        Ok(subscription.map(move |e| catalog.shape(e)))
    }

    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        self.inner.list_streams(query).await
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        self.inner.stream_info(stream).await
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        self.inner.set_stream_metadata(stream, metadata).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        self.inner.delete_stream(stream, expected, mode).await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.inner.save_snapshot(snapshot).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        self.inner.load_snapshot(stream).await
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        self.inner.save_checkpoint(consumer, position).await
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        self.inner.load_checkpoint(consumer).await
    }

    async fn health(&self) -> Health {
        self.inner.health().await
    }

    async fn metrics(&self) -> StoreMetrics {
        self.inner.metrics().await
    }

    async fn export_log(&self, range: ExportRange) -> Result<LogReader> {
        self.inner.export_log(range).await
    }

    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        self.inner.import_log(items).await
    }
}
