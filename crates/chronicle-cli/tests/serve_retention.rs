//! Retention through `chronicle serve`, on the file store and on
//! PostgreSQL (real server): rules by category (count), by stream pattern
//! (age) and a keep tag remove exactly the expected events from every read
//! path (streams, `GET /events` with filters, correlation look-ups, events
//! by id, subscriptions from the start); the space is reclaimed (segment
//! bytes on disk; PostgreSQL rows and reuse of the freed space); a dry run
//! changes nothing; a live subscriber running through a pass sees every
//! live event once, in order; each pass is recorded, audited and counted.

mod served;

use chronicle::{EventStore, ExpectedVersion, Filter, NewEvent, ReadAll, ReadStream, RemoteStore, StreamId, SubscribeFrom};
use served::{Schema, Server, free_port, pg_url, serve, serve_pg, wait};
use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

const POLICY: &str = r#"
[retention]
interval = "1h"
[[retention.rules]]
category = "telemetry"
max_count = 5
[[retention.rules]]
streams = "tmp-*"
max_age = "4s"
[[retention.keep]]
tags = ["hold"]
"#;

fn sid(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}

/// `n` events of about 1 KiB each; version `hold` (if any) tagged `hold`.
fn readings(n: u64, hold: Option<u64>) -> Vec<NewEvent> {
    (1..=n)
        .map(|i| {
            let tags: Vec<&str> = if hold == Some(i) { vec!["hold"] } else { vec![] };
            let pad: String = (0..16).map(|_| chronicle::Uuid::now_v7().simple().to_string()).collect();
            NewEvent::json("Reading", &serde_json::json!({"i": i, "pad": pad}))
                .unwrap()
                .with_metadata(&serde_json::json!({"correlation_id": "c-1", "tags": tags}))
                .unwrap()
        })
        .collect()
}

async fn versions(store: &RemoteStore, stream: &str) -> Vec<u64> {
    store.read_stream(&sid(stream), ReadStream::forward()).await.unwrap().iter().map(|e| e.version).collect()
}

fn bytes_of_segments(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += bytes_of_segments(&path);
        } else if path.extension().is_some_and(|e| e == "seg") {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}

/// What the store holds before a pass, and what survives it.
struct Expected {
    /// Positions of every event that survives, in order.
    survivors: Vec<u64>,
    /// An event id the pass removes.
    removed_id: chronicle::Uuid,
}

/// Fills the store: telemetry-1 (200 readings), telemetry-2 (10, version 4
/// held), tmp-1 (6, then aged past 4 s, then 2 young ones), order-1
/// (unbound, 80 events that also seal the telemetry segments).
async fn fill(store: &RemoteStore) -> Expected {
    store.append(&sid("tmp-1"), ExpectedVersion::Any, readings(6, None)).await.unwrap();
    let first = store.append(&sid("telemetry-1"), ExpectedVersion::Any, readings(200, None)).await.unwrap();
    store.append(&sid("telemetry-2"), ExpectedVersion::Any, readings(10, Some(4))).await.unwrap();
    store.append(&sid("order-1"), ExpectedVersion::Any, readings(80, None)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(4300)).await;
    store.append(&sid("tmp-1"), ExpectedVersion::Any, readings(2, None)).await.unwrap();
    let removed_id = store.read_stream(&sid("telemetry-1"), ReadStream::forward().limit(1)).await.unwrap()[0].event_id;
    assert_eq!(first.first_version, 1);
    let all = store.read_all(&ReadAll::forward()).await.unwrap().events;
    let survives = |e: &chronicle::RecordedEvent| match e.stream_id.as_str() {
        "telemetry-1" => e.version > 195,
        "telemetry-2" => e.version >= 4,
        "tmp-1" => e.version > 6,
        _ => true,
    };
    Expected { survivors: all.iter().filter(|e| survives(e)).map(|e| e.global_position).collect(), removed_id }
}

async fn post_retention(http: &reqwest::Client, port: u16, dry_run: bool) -> serde_json::Value {
    let r = http.post(format!("http://127.0.0.1:{port}/admin/retention?dry_run={dry_run}")).send().await.unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn rule_counts(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    let rules = report["rules"].as_array().unwrap();
    rules.iter().map(|r| (r["rule"].as_str().unwrap().to_owned(), r["streams"].as_u64().unwrap(), r["events"].as_u64().unwrap())).collect()
}

/// Appends to `live-1` every 2 ms (and to the bound telemetry-9, which the
/// pass cuts while it grows) until `stop`; returns how many went to `live-1`.
async fn writer(store: RemoteStore, stop: Arc<tokio::sync::Notify>, count: Arc<AtomicU64>) -> u64 {
    let mut n = 0;
    loop {
        tokio::select! {
            () = stop.notified() => return n,
            () = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
        n += 1;
        count.store(n, Ordering::SeqCst);
        let event = NewEvent::json("Tick", &serde_json::json!({"n": n})).unwrap();
        store.append(&sid("live-1"), ExpectedVersion::Any, vec![event]).await.unwrap();
        store
            .append(&sid("telemetry-9"), ExpectedVersion::Any, vec![NewEvent::json("Tick", &serde_json::json!({"n": n})).unwrap()])
            .await
            .unwrap();
    }
}

/// Every event of the log (page after page), positions ≤ `last` only.
async fn positions(store: &RemoteStore, filter: Filter, last: u64) -> Vec<u64> {
    let (mut out, mut from) = (Vec::new(), 1);
    loop {
        let page = store.read_all(&ReadAll::forward().from(from).limit(500).filter(filter.clone())).await.unwrap();
        out.extend(page.events.iter().map(|e| e.global_position).filter(|p| *p <= last));
        match page.next {
            Some(next) if next <= last => from = next,
            _ => return out,
        }
    }
}

/// The whole proof on a served store: `storage()` measures the backend's
/// storage, `space(report, before, after)` checks it around the real pass.
async fn prove(port: u16, storage: impl AsyncFn() -> u64, space: impl AsyncFnOnce(&serde_json::Value, u64, u64)) {
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let store = RemoteStore::new(&url, None).unwrap();
    wait(30, "the server", async || store.head().await.is_ok()).await;
    let expected = fill(&store).await;

    // A dry run reports exactly what goes, and changes nothing.
    let dry = post_retention(&http, port, true).await;
    let want = [("category=telemetry".to_owned(), 2, 195 + 3), ("streams=tmp-*".to_owned(), 1, 6)];
    assert_eq!(rule_counts(&dry), want, "{dry}");
    assert!(dry["reclaimed"].is_null(), "{dry}");
    assert_eq!(versions(&store, "telemetry-1").await.len(), 200, "a dry run changes nothing");

    // A live subscriber and a writer run through the real pass.
    let mut live = store.subscribe(SubscribeFrom::End, Filter { stream_prefix: Some("live-".into()), ..Filter::default() }).await.unwrap();
    let stop = Arc::new(tokio::sync::Notify::new());
    let count = Arc::new(AtomicU64::new(0));
    let writing = tokio::spawn(writer(RemoteStore::new(&url, None).unwrap(), stop.clone(), count.clone()));
    wait(10, "the writer's first events", async || count.load(Ordering::SeqCst) >= 5).await;
    let before = storage().await;
    let done = post_retention(&http, port, false).await;
    let after = storage().await;
    let at_end = count.load(Ordering::SeqCst);
    wait(10, "the writer's events after the pass", async || count.load(Ordering::SeqCst) >= at_end + 5).await;
    stop.notify_one();
    let written = writing.await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < written as usize {
        let event = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("every live event arrives").unwrap().unwrap();
        seen.push(event.version);
    }
    assert_eq!(seen, (1..=written).collect::<Vec<_>>(), "every live event once, in order");

    let counts = rule_counts(&done);
    assert_eq!((counts[1].clone(), counts[0].0.as_str()), (want[1].clone(), "category=telemetry"), "{done}");
    assert!(counts[0].1 >= 2 && counts[0].2 >= 198, "telemetry-9, which the writer grows, may be cut too: {done}");
    space(&done, before, after).await;

    // Every read path shows exactly the survivors (of what was there before the writer).
    assert_eq!(versions(&store, "telemetry-2").await, (4..=10).collect::<Vec<_>>(), "the held version 4 stops the cut");
    assert_eq!(versions(&store, "tmp-1").await, [7, 8], "only the young ones");
    assert_eq!(versions(&store, "order-1").await.len(), 80, "no rule binds order-1");
    let last = *expected.survivors.last().unwrap();
    assert_eq!(positions(&store, Filter::default(), last).await, expected.survivors);
    let readings = positions(&store, Filter { event_types: vec!["Reading".into()], ..Filter::default() }, last).await;
    assert_eq!(readings, expected.survivors);
    let by_correlation: Vec<u64> = http
        .get(format!("{url}/correlations/c-1"))
        .send()
        .await
        .unwrap()
        .json::<Vec<serde_json::Value>>()
        .await
        .unwrap()
        .iter()
        .map(|e| e["global_position"].as_u64().unwrap())
        .filter(|p| *p <= last)
        .collect();
    assert_eq!(by_correlation, expected.survivors);
    let telemetry = positions(&store, Filter { category: Some("telemetry".into()), ..Filter::default() }, last).await;
    assert_eq!(telemetry.len(), 5 + 7, "{telemetry:?}");
    assert_eq!(http.get(format!("{url}/events/{}", expected.removed_id)).send().await.unwrap().status(), 404);
    let mut from_start = store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    let mut delivered = Vec::new();
    while delivered.last().is_none_or(|p| *p < last) {
        let event = tokio::time::timeout(Duration::from_secs(10), from_start.next()).await.unwrap().unwrap().unwrap();
        delivered.push(event.global_position);
    }
    assert_eq!(delivered, expected.survivors, "a subscription from the start delivers only the survivors");

    // Recorded, audited, counted; a second pass finds nothing.
    let passes = store.read_stream(&sid("$retention"), ReadStream::forward()).await.unwrap();
    assert_eq!(passes.len(), 1, "the real pass is recorded, the dry run is not");
    let audit: Vec<serde_json::Value> = http.get(format!("{url}/audit?limit=1000")).send().await.unwrap().json().await.unwrap();
    let audited = audit.iter().filter(|r| r["path"] == "/admin/retention" && r["method"] == "POST").count();
    assert_eq!(audited, 2, "both passes are in the audit log");
    let metrics = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_retention_removed_total{rule=\"streams=tmp-*\"} 6"), "{metrics}");
    assert!(metrics.contains("chronicle_retention_last_run_timestamp_seconds "), "{metrics}");
    assert!(metrics.contains("chronicle_retention_next_run_timestamp_seconds "), "{metrics}");
    let again = rule_counts(&post_retention(&http, port, false).await);
    assert!(again.iter().all(|(rule, streams, _)| rule == "category=telemetry" && *streams == 1), "only telemetry-9 grew since: {again:?}");
}

fn write_config(dir: &Path, extra: &str) {
    std::fs::write(dir.join("chronicle.toml"), format!("{extra}\n{POLICY}")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_on_the_file_store_removes_exactly_the_expired_events_and_reclaims_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[file]\nsegment_size_bytes = 65536\ncompress_sealed = false");
    let port = free_port();
    let _server: Server = serve(dir.path(), port);
    let data = dir.path().join("chronicle-data");
    prove(
        port,
        async || bytes_of_segments(&data),
        async |report, before, after| {
            let reclaimed = &report["reclaimed"];
            assert!(reclaimed["rewritten"].as_u64().unwrap() >= 1, "{report}");
            assert!(reclaimed["events_removed"].as_u64().unwrap() >= 150, "most cut events sit in sealed segments: {report}");
            assert!(reclaimed["bytes_freed"].as_u64().unwrap() > 80_000, "{report}");
            assert!(after + 60_000 < before, "the segment files on disk shrank: {before} → {after} bytes");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_on_postgres_deletes_the_expired_rows_and_their_space_is_reused() {
    let Some(schema) = Schema::fresh("retention").await else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &format!("backend = \"postgres\"\n[postgres]\nschema = \"{}\"", schema.0));
    let port = free_port();
    let _server: Server = serve_pg(dir.path(), port);
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let s = schema.0.clone();
    let size = async || -> u64 {
        let row = client.query_one(&format!("SELECT pg_total_relation_size('{s}.events')"), &[]).await.unwrap();
        row.get::<_, i64>(0) as u64
    };
    prove(port, size, async |report, _, _| {
        let reclaimed = &report["reclaimed"];
        let removed: u64 = rule_counts(report).iter().map(|r| r.2).sum();
        assert_eq!(reclaimed["events_removed"].as_u64(), Some(removed), "every cut row is deleted: {report}");
        assert!(reclaimed["bytes_freed"].as_u64().unwrap() > 100_000, "{report}");
        let hidden: i64 = client
            .query_one(&format!("SELECT count(*) FROM {s}.events WHERE stream_id = 'telemetry-1' AND version <= 195"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(hidden, 0, "no expired row is left behind");
    })
    .await;
    // The freed space is reused: as many new readings as were removed fit
    // (nearly) within the table's present size.
    let before = size().await;
    let store = RemoteStore::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    store.append(&sid("order-2"), ExpectedVersion::Any, readings(150, None)).await.unwrap();
    let grown = size().await - before;
    assert!(grown < 150 * 1024 / 2, "150 KiB of new rows grew the table by {grown} bytes: the freed space was not reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_enforces_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chronicle.toml"),
        "[retention]\ninterval = \"1s\"\n[[retention.rules]]\nstreams = \"tmp-*\"\nmax_count = 1\n",
    )
    .unwrap();
    let port = free_port();
    let _server = serve(dir.path(), port);
    let store = RemoteStore::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    wait(30, "the server", async || store.head().await.is_ok()).await;
    store.append(&sid("tmp-1"), ExpectedVersion::Any, readings(3, None)).await.unwrap();
    wait(10, "a scheduled pass", async || versions(&store, "tmp-1").await == [3]).await;
    let passes = store.read_stream(&sid("$retention"), ReadStream::forward()).await.unwrap();
    let report: serde_json::Value = serde_json::from_slice(passes[0].data.as_bytes()).unwrap();
    assert_eq!(report["trigger"], "schedule", "{report}");
}
