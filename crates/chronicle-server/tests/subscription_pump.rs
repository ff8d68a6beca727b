//! The one subscription pump behind SSE and `/ws`: no store call per
//! delivered event (checked on PostgreSQL, where each call is SQL), and the
//! same start (`from`, `since`) on both transports.

mod common;

use chronicle_core::{
    AppendContext, AppendRequest, AppendResult, DeleteMode, EventPage, EventStore, ExpectedVersion, Filter, Health, ListStreams, ReadAll,
    ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamAppend, StreamId, StreamInfo, StreamMetadata, StreamPage,
    SubscribeFrom, Subscription, Uuid, async_trait,
};
use futures_util::StreamExt;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

/// Counts the calls the server makes into the store.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    heads: AtomicU64,
    reads: AtomicU64,
    subscribes: AtomicU64,
}

#[async_trait]
impl<S: EventStore> EventStore for Counting<S> {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        self.inner.append_with(context, request).await
    }
    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        self.reads.fetch_add(1, Relaxed);
        self.inner.read_stream(stream, options).await
    }
    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        self.reads.fetch_add(1, Relaxed);
        self.inner.read_all(read).await
    }
    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        self.reads.fetch_add(1, Relaxed);
        self.inner.get_event(event_id).await
    }
    async fn head(&self) -> Result<u64> {
        self.heads.fetch_add(1, Relaxed);
        self.inner.head().await
    }
    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        self.subscribes.fetch_add(1, Relaxed);
        self.inner.subscribe(from, filter).await
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
}

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn fill(store: &dyn EventStore, streams: usize, per: usize) {
    let parts = (0..streams)
        .map(|s| {
            let events = (0..per).map(|i| chronicle_testkit::event("T", i as u64)).collect();
            StreamAppend::new(chronicle_testkit::sid(&format!("p-{s}")), ExpectedVersion::Any, events)
        })
        .collect();
    store.append_multi(parts).await.unwrap();
}

/// Reads SSE `id:` lines until `want` events arrived; the last id seen.
async fn sse_ids(s: &common::Running, query: &str, want: usize) -> Vec<u64> {
    let response = s.http.get(s.at(&format!("/subscribe?{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let (mut ids, mut text) = (Vec::new(), String::new());
    while ids.len() < want {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), body.next()).await.unwrap().unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            if let Some(id) = line.strip_prefix("id:") {
                ids.push(id.trim().parse().unwrap());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_on_postgres_makes_no_store_call_per_event() {
    let opened = chronicle_postgres::PgStore::connect_temporary(&url(), Default::default()).await;
    let Some(pg) = chronicle_testkit::service_or_skip("PostgreSQL", opened) else { return };
    fill(&pg, 12, 100).await;
    let counting = Arc::new(Counting { inner: pg, heads: AtomicU64::new(0), reads: AtomicU64::new(0), subscribes: AtomicU64::new(0) });
    let s = common::start_with(counting.clone(), |s| s).await;
    let ids = sse_ids(&s, "from=1", 1200).await;
    assert_eq!(ids, (1..=1200).collect::<Vec<_>>());
    // The store reads its pages itself (512 events each); the server asks
    // nothing per delivered event: one subscribe, no head, no read.
    let calls = (counting.subscribes.load(Relaxed), counting.heads.load(Relaxed), counting.reads.load(Relaxed));
    assert_eq!(calls, (1, 0, 0), "(subscribe, head, read) calls while delivering 1,200 events");
    let metrics = s.http.get(s.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_subscriber_lag_events "), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_and_ws_start_alike_from_a_position_or_a_time() {
    let s = common::start().await;
    fill(&*s.store, 1, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = chronicle_core::Timestamp::now();
    fill(&*s.store, 1, 2).await;
    let since = since.to_string();
    assert_eq!(sse_ids(&s, &format!("since={since}"), 2).await, [4, 5], "since starts at the first event at or after it");
    assert_eq!(sse_ids(&s, "from=2", 4).await, [2, 3, 4, 5]);
    let ws_first = |query: String| {
        let url = s.at(&format!("/ws?{query}")).replacen("http", "ws", 1);
        async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let message = socket.next().await.unwrap().unwrap();
            let event: serde_json::Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
            event["global_position"].as_u64().unwrap()
        }
    };
    assert_eq!(ws_first(format!("since={since}")).await, 4);
    assert_eq!(ws_first("from=2".into()).await, 2);
}
