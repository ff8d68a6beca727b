//! The `EventStore` trait every backend implements.

use crate::{
    AppendCondition, AppendContext, AppendRequest, AppendResult, DeleteMode, Error, EventPage, ExpectedVersion, Filter, Health,
    ListStreams, NewEvent, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamAppend, StreamId, StreamInfo,
    StreamMetadata, StreamPage, SubscribeFrom, Subscription,
    transfer::{ExportRange, LogItem, LogReader},
};
use async_trait::async_trait;
use std::fmt;
use uuid::Uuid;

/// An event store. Every backend (memory, file, postgres, remote)
/// implements this trait and passes the one conformance suite in
/// `chronicle-testkit`.
///
/// Positions and versions start at 1; every `from` is inclusive.
#[async_trait]
pub trait EventStore: Send + Sync + fmt::Debug + 'static {
    /// Appends atomically to one or more streams, optionally guarded by a
    /// DCB condition, on behalf of the caller described by `context` (the
    /// append hooks see it). All parts are stored, or none. Returns one
    /// result per part, in request order. Backends implement this by
    /// running [`AppendPipeline::run`](crate::AppendPipeline::run); the
    /// other append methods are shorthands for it.
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>>;

    /// [`EventStore::append_with`] for an in-process caller
    /// ([`AppendContext::library`]).
    async fn append_atomic(&self, request: AppendRequest) -> Result<Vec<AppendResult>> {
        self.append_with(&AppendContext::library(), request).await
    }

    /// Appends `events` to one stream.
    ///
    /// Fails with [`Error::WrongExpectedVersion`] (reporting the actual
    /// version) when `expected` does not hold; succeeds without storing
    /// anything when every event id is already stored, consecutively, in
    /// this stream (a retry), whatever `expected` says.
    async fn append(&self, stream: &StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Result<AppendResult> {
        self.append_as(&AppendContext::library(), stream, expected, events).await
    }

    /// [`EventStore::append`] on behalf of the caller described by `context`.
    async fn append_as(
        &self,
        context: &AppendContext,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        let request = AppendRequest { streams: vec![StreamAppend::new(stream.clone(), expected, events)], condition: None };
        single(self.append_with(context, request).await?)
    }

    /// Appends to several streams in one atomic operation.
    async fn append_multi(&self, parts: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        self.append_atomic(AppendRequest { streams: parts, condition: None }).await
    }

    /// Appends unless an event matching `condition.query` was recorded after
    /// `condition.after` ([`Error::AppendConditionFailed`]).
    async fn append_if(&self, condition: AppendCondition, parts: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        self.append_atomic(AppendRequest { streams: parts, condition: Some(condition) }).await
    }

    /// Reads one stream. A stream never written or soft-deleted reads as
    /// empty; a tombstoned stream fails with [`Error::StreamDeleted`].
    /// Retention settings of the stream are honoured.
    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>>;

    /// Reads the global log, filtered, one page at a time.
    async fn read_all(&self, read: &ReadAll) -> Result<EventPage>;

    /// The event with this id, if it is stored and visible.
    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>>;

    /// Every visible event whose metadata `correlation_id` is `id`, in
    /// position order.
    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        let filter = Filter { correlation_id: Some(id.to_owned()), ..Filter::default() };
        Ok(self.read_all(&ReadAll::forward().filter(filter)).await?.events)
    }

    /// The last global position (0 for an empty store).
    async fn head(&self) -> Result<u64>;

    /// Subscribes to the global log (optionally filtered, e.g. to one
    /// stream): catch-up from `from`, then live, with no gaps and no
    /// duplicates. A slow consumer slows the subscription down (bounded
    /// buffer); nothing is dropped.
    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription>;

    /// A page of the streams the store holds (those with at least one
    /// visible version, deleted ones included with their status), by id.
    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage>;

    /// Version, lifecycle state and retention settings of a stream.
    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo>;

    /// Replaces a stream's retention settings.
    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()>;

    /// Soft-deletes or tombstones a stream, checking `expected` first.
    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()>;

    /// Stores a snapshot; an older snapshot (lower version) than the one
    /// stored is ignored.
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()>;

    /// The latest snapshot of a stream.
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>>;

    /// Saves a named consumer's position (overwrites).
    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()>;

    /// Loads a named consumer's position.
    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>>;

    /// Liveness and readiness.
    async fn health(&self) -> Health;

    /// Operation counters.
    async fn metrics(&self) -> StoreMetrics;

    /// Every stored fact of `range`, in log order, then the state
    /// (snapshots, checkpoints): what backup and migration copy. See
    /// [`crate::transfer`] for the order and what each item means.
    async fn export_log(&self, range: ExportRange) -> Result<LogReader> {
        let _ = range;
        Err(Error::Unsupported { operation: "export".into(), backend: "this".into(), hint: String::new() })
    }

    /// Stores exported items as they are (positions, versions, ids, times),
    /// atomically: the first event must take the next position, versions
    /// continue their streams, no id may be stored already; otherwise
    /// nothing is stored and the error says why. What restore and
    /// migration write with.
    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        let _ = items;
        Err(Error::Unsupported { operation: "import".into(), backend: "this".into(), hint: String::new() })
    }
}

fn single(mut results: Vec<AppendResult>) -> Result<AppendResult> {
    results.pop().ok_or_else(|| Error::Unavailable { reason: "backend returned no append result".to_owned() })
}

/// Validates a checkpoint consumer name (1..=255 bytes, no control
/// characters); field `consumer`.
pub fn validate_consumer_name(name: &str) -> Result<()> {
    crate::stream_id::check_name("consumer", name, 255)
}
