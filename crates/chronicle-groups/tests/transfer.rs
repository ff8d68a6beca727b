//! A consumer group travels with its store: exported from a store whose
//! groups one node serves (the registry and progress in the log), imported
//! into PostgreSQL (whose groups live in rows), and back. Each side goes
//! on exactly where the other stopped: nothing handled is delivered
//! again, nothing unhandled is lost, retry counts and settings survive.
#![cfg(feature = "postgres")]

use chronicle_core::{AppendPipeline, EventStore, ExpectedVersion, ExportRange, Leases, NewEvent, StreamId};
use chronicle_groups::{Consumer, GroupSpec, Groups, NackAction, StartFrom, Strategy};
use chronicle_postgres::PgStore;
use std::{collections::BTreeSet, sync::Arc, time::Duration};

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn copy(from: &dyn EventStore, to: &dyn EventStore) {
    let through = from.head().await.unwrap();
    let mut reader = from.export_log(ExportRange { after: 0, through }).await.unwrap();
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        items.push(item.unwrap());
    }
    to.import_log(items).await.unwrap();
}

/// Takes what the consumer is sent until it goes quiet: positions handled
/// (acked) and every delivery as (position, retry count).
async fn take(consumer: &Consumer, ack: impl Fn(u64) -> bool, retry: u64) -> (BTreeSet<u64>, Vec<(u64, u32)>) {
    let (mut acked, mut seen) = (BTreeSet::new(), Vec::new());
    while let Ok(Ok(batch)) = tokio::time::timeout(Duration::from_secs(2), consumer.next()).await {
        for d in batch {
            let position = d.event.global_position;
            seen.push((position, d.retry_count));
            if position == retry && d.retry_count == 0 {
                consumer.nack(&[d.event.event_id], NackAction::Retry).await.unwrap();
            } else if ack(position) {
                consumer.ack(&[d.event.event_id]).await.unwrap();
                acked.insert(position);
            }
        }
    }
    (acked, seen)
}

fn spec() -> GroupSpec {
    GroupSpec { from: StartFrom::Start, strategy: Strategy::RoundRobin, max_in_flight: 100, ack_timeout_ms: 60_000, ..GroupSpec::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_goes_on_where_it_stopped_across_backends() {
    let Some(pg) = chronicle_testkit::service_or_skip("PostgreSQL", PgStore::connect_temporary(&url(), AppendPipeline::default()).await)
    else {
        return;
    };
    let local: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    for n in 0..30u64 {
        let stream = StreamId::new(format!("order-{}", n % 4)).unwrap();
        local.append(&stream, ExpectedVersion::Any, vec![NewEvent::json("Placed", &serde_json::json!({"n": n})).unwrap()]).await.unwrap();
    }
    let groups = Groups::open(local.clone()).await.unwrap();
    assert!(groups.put("billing", spec()).await.unwrap());
    let positions: Vec<u64> = {
        let all = local.read_all(&chronicle_core::ReadAll::forward()).await.unwrap();
        all.events.iter().filter(|e| e.stream_id.as_str().starts_with("order-")).map(|e| e.global_position).collect()
    };
    let (first, last) = (positions[0], *positions.last().unwrap());
    // Handle the first five and two more further on; position first+6 is retried once, the rest is left.
    let handled_first = |p: u64| p < first + 5 || p == first + 8 || p == first + 12;
    let consumer = groups.connect("billing").await.unwrap();
    let (acked, _) = take(&consumer, handled_first, first + 6).await;
    assert_eq!(acked.len(), 7);
    drop(consumer);
    groups.shutdown(Duration::from_secs(2)).await;
    drop(groups);

    copy(local.as_ref(), &pg).await;
    let on_pg = Groups::postgres(pg.clone(), Arc::new(pg.leases()) as Arc<dyn Leases>, "node-a").await.unwrap();
    let status = on_pg.status("billing").await.unwrap();
    assert_eq!(status.checkpoint, first + 4, "{status:?}");
    assert_eq!(status.spec, spec());
    let consumer = on_pg.connect("billing").await.unwrap();
    let handled_second = |p: u64| p < first + 20;
    let (acked_pg, seen) = take(&consumer, handled_second, u64::MAX).await;
    let delivered: BTreeSet<u64> = seen.iter().map(|(p, _)| *p).collect();
    let expected: BTreeSet<u64> = positions.iter().copied().filter(|p| !acked.contains(p)).collect();
    assert_eq!(delivered, expected, "exactly what was not handled");
    assert!(seen.iter().any(|&(p, r)| p == first + 6 && r >= 1), "the retried event keeps its count: {seen:?}");
    drop(consumer);

    let back: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    copy(&pg, back.as_ref()).await;
    let groups = Groups::open(back.clone()).await.unwrap();
    assert_eq!(groups.status("billing").await.unwrap().spec, spec());
    let consumer = groups.connect("billing").await.unwrap();
    let (_, seen) = take(&consumer, |_| true, u64::MAX).await;
    let delivered: BTreeSet<u64> = seen.iter().map(|(p, _)| *p).collect();
    let left: BTreeSet<u64> = expected.iter().copied().filter(|p| !acked_pg.contains(p)).collect();
    assert_eq!(delivered, left, "the copy back delivers only what PostgreSQL had not handled");
    assert!(left.contains(&last) && !left.is_empty());
}
