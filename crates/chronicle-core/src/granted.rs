//! [`GrantedStore`]: any store, used by one caller — every operation is
//! checked with [`Principal::may`]: reads of a stream it may not read are
//! refused (403), events it may not read are left out of the global log,
//! look-ups, correlations, subscriptions and stream listings (a hidden
//! event is absent, never "forbidden": its id does not leak), and changes
//! need their action granted.

use crate::{
    Action, AppendContext, AppendRequest, AppendResult, DeleteMode, Direction, Error, EventPage, EventStore, ExpectedVersion, ExportRange,
    Filter, Health, ListStreams, LogItem, LogReader, Principal, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics,
    StreamId, StreamInfo, StreamMetadata, StreamPage, SubscribeFrom, Subscription, Uuid, async_trait,
};
use std::sync::Arc;

/// Most events read per step when hidden events must be skipped.
const GATHER_PAGE: usize = 1024;

/// A store as one caller may use it.
///
/// ```
/// use chronicle_core::{Action, EventStore, ExpectedVersion, Grant, GrantedStore, NewEvent, Principal, ReadAll, Role, StreamId};
/// use std::sync::Arc;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> chronicle_core::Result<()> {
/// let store = Arc::new(chronicle_memory::MemoryStore::new());
/// for id in ["order-1", "payment-1"] {
///     store.append(&StreamId::new(id)?, ExpectedVersion::Any, vec![NewEvent::raw("E", &b"{}"[..])]).await?;
/// }
/// let clerk = Principal { token_id: "clerk".into(), role: Role::Writer, tenant: None, grants: vec![Grant::category("order", [Action::Read])], pii: false };
/// let seen = GrantedStore::new(store, clerk);
/// let page = seen.read_all(&ReadAll::forward()).await?;
/// assert_eq!(page.events.len(), 1, "payment-1 is not the clerk's to read");
/// assert!(seen.read_stream(&StreamId::new("payment-1")?, Default::default()).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GrantedStore {
    inner: Arc<dyn EventStore>,
    principal: Principal,
}

impl GrantedStore {
    /// `inner` as `principal` may use it.
    pub fn new(inner: Arc<dyn EventStore>, principal: Principal) -> Self {
        Self { inner, principal }
    }

    fn readable(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        if self.principal.reads_everything() {
            return events;
        }
        events.into_iter().filter(|e| self.principal.may(Action::Read, &e.stream_id)).collect()
    }

    /// Up to `read.limit` readable events, reading on past hidden ones,
    /// and whether the log goes on after the last of them: the caller's
    /// cursor and page size then say nothing of what it may not read.
    async fn gather(&self, read: &ReadAll) -> Result<(Vec<RecordedEvent>, bool)> {
        let want = read.limit.unwrap_or(usize::MAX);
        let mut events = Vec::new();
        let (mut from, mut step) = (read.from, 0);
        loop {
            let room = want - events.len();
            // The first read asks for what the caller asked; later ones (past hidden events) for more.
            let limit = read.limit.map(|_| if step == 0 { room } else { room.max(GATHER_PAGE) });
            step += 1;
            let page = self.inner.read_all(&ReadAll { from, limit, ..read.clone() }).await?;
            let mut readable = self.readable(page.events).into_iter();
            events.extend(readable.by_ref().take(room));
            let left_over = readable.next().is_some();
            match page.next {
                _ if left_over => return Ok((events, true)),
                Some(next) if events.len() < want => from = Some(next),
                next => return Ok((events, next.is_some())),
            }
        }
    }

    /// The position of the last event this caller may read (0: none).
    async fn readable_head(&self) -> Result<u64> {
        // Usually the last event is readable: start small, grow.
        let mut read = ReadAll::backward().limit(16);
        // A confined caller reads nothing outside its tenant's prefix.
        read.filter.stream_prefix = self.principal.confined_tenant().map(|t| crate::TenantSpace::new(t).prefix().to_owned());
        loop {
            let page = self.inner.read_all(&read).await?;
            if let Some(e) = page.events.iter().find(|e| self.principal.may(Action::Read, &e.stream_id)) {
                return Ok(e.global_position);
            }
            match page.next {
                Some(next) => (read.from, read.limit) = (Some(next), read.limit.map(|l| (l * 4).min(GATHER_PAGE))),
                None => return Ok(0),
            }
        }
    }

    /// Whole-log operations (export, import) are for a caller that may
    /// read everything.
    fn whole_log(&self, action: Action) -> Result<()> {
        match self.principal.reads_everything() {
            true => Ok(()),
            false => {
                Err(Error::Forbidden { action: action.to_string(), stream: "the whole log".into(), token: self.principal.token_id.clone() })
            }
        }
    }
}

#[async_trait]
impl EventStore for GrantedStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        request.streams.iter().try_for_each(|s| self.principal.require(Action::Append, &s.stream))?;
        let context = AppendContext { principal: Some(self.principal.clone()), entry_point: context.entry_point };
        self.inner.append_with(&context, request).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        self.principal.require(Action::Read, stream)?;
        self.inner.read_stream(stream, options).await
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        if self.principal.reads_everything() {
            return self.inner.read_all(read).await;
        }
        let (events, more) = self.gather(read).await?;
        let forward = read.direction == Direction::Forward;
        let next = match (more, events.last()) {
            (true, Some(last)) if forward => Some(last.global_position + 1),
            (true, Some(last)) => Some(last.global_position.saturating_sub(1)).filter(|&p| p > 0),
            _ => None,
        };
        let head = match (forward, next, events.last()) {
            (true, None, Some(last)) => last.global_position,
            _ => self.readable_head().await?,
        };
        Ok(EventPage { events, next, head })
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        Ok(self.inner.get_event(event_id).await?.filter(|e| self.principal.may(Action::Read, &e.stream_id)))
    }

    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        Ok(self.readable(self.inner.read_by_correlation(id).await?))
    }

    async fn head(&self) -> Result<u64> {
        match self.principal.reads_everything() {
            true => self.inner.head().await,
            false => self.readable_head().await,
        }
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let subscription = self.inner.subscribe(from, filter).await?;
        if self.principal.reads_everything() {
            return Ok(subscription);
        }
        let principal = self.principal.clone();
        Ok(subscription.retain(move |e| principal.may(Action::Read, &e.stream_id)))
    }

    /// Pages of readable streams only; the cursor is the last stream
    /// shown, never a hidden one.
    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        if self.principal.reads_everything() {
            return self.inner.list_streams(query).await;
        }
        let size = query.page_size()?;
        let (mut streams, mut after) = (Vec::new(), query.after.clone());
        loop {
            let page = self.inner.list_streams(&ListStreams { after: after.clone(), ..query.clone() }).await?;
            streams.extend(page.streams.into_iter().filter(|s| self.principal.may(Action::Read, &s.stream_id)));
            let more = page.next.is_some() || streams.len() > size;
            if streams.len() >= size || page.next.is_none() {
                streams.truncate(size);
                let next = more.then(|| streams.last().map(|s| s.stream_id.to_string())).flatten();
                return Ok(StreamPage { streams, next });
            }
            after = page.next;
        }
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        self.principal.require(Action::Read, stream)?;
        self.inner.stream_info(stream).await
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        self.principal.require(Action::Metadata, stream)?;
        self.inner.set_stream_metadata(stream, metadata).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        self.principal.require(Action::Delete, stream)?;
        self.inner.delete_stream(stream, expected, mode).await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.principal.require(Action::Snapshot, &snapshot.stream_id)?;
        self.inner.save_snapshot(snapshot).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        self.principal.require(Action::Read, stream)?;
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
        self.whole_log(Action::Read)?;
        self.inner.export_log(range).await
    }

    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        self.whole_log(Action::Append)?;
        self.inner.import_log(items).await
    }
}
