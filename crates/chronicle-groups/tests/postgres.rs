//! Consumer groups on PostgreSQL, two nodes in process (two stores and two
//! `Groups` on one schema, as two `chronicle serve` would have): consumers
//! of both nodes share a pinned group without duplicates beyond
//! redeliveries and in per-stream order, a dropped consumer's events go to
//! the others, a poison event is parked after its retries and replayed
//! from the other node, and deleting the group ends its consumers.
#![cfg(feature = "postgres")]

use chronicle_core::{AppendPipeline, EventStore, ExpectedVersion, Leases, NewEvent, Selection, StreamId};
use chronicle_groups::{Consumer, GroupError, GroupSpec, Groups, NackAction, StartFrom, Strategy};
use chronicle_postgres::{PgOptions, PgStore};
use chronicle_testkit::tally::{self, Handled};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const EVENTS: u64 = 3_000;
const POISON: u64 = 1_234;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

type Log = Arc<Mutex<Vec<Handled>>>;

/// Handles (records, then acks) everything; nacks the poison for a retry until `fixed`; stops after `limit`.
async fn consume(consumer: Consumer, log: Log, fixed: Arc<AtomicBool>, limit: Option<usize>) -> Option<GroupError> {
    let mut count = 0;
    loop {
        let batch = match tokio::time::timeout(Duration::from_secs(8), consumer.next()).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => return Some(e),
            Err(_) => return None, // idle: done
        };
        for d in batch {
            let data: serde_json::Value = serde_json::from_slice(d.event.data.as_bytes()).unwrap();
            if data["poison"] == true && !fixed.load(Ordering::SeqCst) {
                consumer.nack(&[d.event.event_id], NackAction::Retry).await.unwrap();
                continue;
            }
            log.lock().unwrap().push(Handled::now(data["n"].as_u64().unwrap(), d.event.stream_id.as_str(), d.event.version, d.retry_count));
            consumer.ack(&[d.event.event_id]).await.unwrap();
            count += 1;
            if limit.is_some_and(|l| count >= l) {
                return None; // dropped mid-way, holding whatever else it was sent
            }
        }
    }
}

async fn until(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_pinned_group() {
    let Some(a) = chronicle_testkit::service_or_skip("PostgreSQL", PgStore::connect_temporary(&url(), AppendPipeline::default()).await)
    else {
        return;
    };
    let options = PgOptions { url: url(), schema: a.schema().to_owned(), pool_size: 8, pipeline: AppendPipeline::default() };
    let b = PgStore::connect(options).await.unwrap();
    for chunk in 0..EVENTS / 100 {
        for s in 0..4 {
            let events = (chunk * 100 + s * 25..chunk * 100 + (s + 1) * 25).map(|n| {
                let data = if n == POISON { serde_json::json!({"n": n, "poison": true}) } else { serde_json::json!({"n": n}) };
                NewEvent::json("Placed", &data).unwrap()
            });
            let stream = StreamId::new(format!("order-{}", (chunk * 4 + s) % 30)).unwrap();
            a.append(&stream, ExpectedVersion::Any, events.collect()).await.unwrap();
        }
    }
    let node_a = Groups::postgres(a.clone(), Arc::new(a.leases()) as Arc<dyn Leases>, "node-a").await.unwrap();
    let node_b = Groups::postgres(b.clone(), Arc::new(b.leases()) as Arc<dyn Leases>, "node-b").await.unwrap();
    let spec = GroupSpec {
        from: StartFrom::Start,
        strategy: Strategy::PinnedByStream,
        max_retries: 2,
        ack_timeout_ms: 2_000,
        max_in_flight: 40,
        ..GroupSpec::default()
    };
    assert!(node_a.put("billing", spec.clone()).await.unwrap(), "created");
    assert!(!node_b.put("billing", spec.clone()).await.unwrap(), "the other node sees it");
    let other_filter = GroupSpec { from: StartFrom::End, ..spec.clone() };
    assert!(matches!(node_b.put("billing", other_filter).await, Err(GroupError::Conflict { .. })));

    let fixed = Arc::new(AtomicBool::new(false));
    let logs: Vec<Log> = (0..4).map(|_| Log::default()).collect();
    let mut tasks = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        let limit = (i == 3).then_some(300); // one consumer of node B leaves mid-way
        tasks.push(tokio::spawn(consume(node.connect("billing").await.unwrap(), log.clone(), fixed.clone(), limit)));
    }
    until(90, "every event handled but the poison", async || {
        let s = node_b.status("billing").await.unwrap();
        s.lag == 0 && s.parked == 1
    })
    .await;
    let parked = node_a.parked("billing").await.unwrap();
    assert_eq!((parked.len(), parked[0].attempts), (1, 3), "{parked:?}");
    fixed.store(true, Ordering::SeqCst);
    assert_eq!(node_b.replay_parked("billing", &Selection::All).await.unwrap().len(), 1);
    until(30, "the replayed poison handled", async || logs.iter().any(|l| l.lock().unwrap().iter().any(|h| h.n == POISON))).await;
    until(10, "an empty parking lot", async || node_a.status("billing").await.unwrap().parked == 0).await;

    until(10, "the checkpoint at the head (the parking lot's records scanned too)", async || {
        let s = node_a.status("billing").await.unwrap();
        s.checkpoint == s.head && s.buffered == 0
    })
    .await;
    let status = node_a.status("billing").await.unwrap();
    let per_consumer: Vec<Vec<Handled>> = logs.iter().map(|l| l.lock().unwrap().clone()).collect();
    for (node, pair) in [("A", [0, 2]), ("B", [1, 3])] {
        assert!(pair.iter().any(|i| !per_consumer[*i].is_empty()), "node {node}'s consumers took part");
    }
    let summary = tally::check(&per_consumer, EVENTS, Some(POISON), true);
    eprintln!("handled per consumer: {:?}; {summary:?}; {status:?}", per_consumer.iter().map(Vec::len).collect::<Vec<_>>());

    node_a.delete("billing").await.unwrap();
    for task in tasks {
        let ended = tokio::time::timeout(Duration::from_secs(10), task).await.expect("consumers end").unwrap();
        assert!(matches!(ended, None | Some(GroupError::Deleted(_))), "{ended:?}");
    }
    assert!(matches!(node_b.status("billing").await, Err(GroupError::NotFound(_))));
}
