//! Consumer groups in process over a real store: competing consumers
//! share a log, a dropped consumer's events go to the others, a poison
//! event is parked after its retries and replayed, and a group's progress
//! survives a reopen.

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, Selection, StreamId};
use chronicle_groups::{Consumer, GroupSpec, Groups, NackAction, StartFrom, Strategy};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

async fn append(store: &Arc<dyn EventStore>, range: std::ops::Range<u64>) {
    for i in range {
        let stream = StreamId::new(format!("order-{}", i % 7)).unwrap();
        let data = if i == 42 { serde_json::json!({"n": i, "poison": true}) } else { serde_json::json!({"n": i}) };
        store.append(&stream, ExpectedVersion::Any, vec![NewEvent::json("Placed", &data).unwrap()]).await.unwrap();
    }
}

type Tally = Arc<Mutex<HashMap<u64, u32>>>;

/// Acks everything but the poison (nacked for retry) until `stop` events were seen.
async fn consume(consumer: Consumer, tally: Tally, limit: Option<usize>) {
    let mut seen = 0;
    loop {
        let Ok(Ok(batch)) = tokio::time::timeout(Duration::from_secs(3), consumer.next()).await else { return };
        for d in batch {
            let data: serde_json::Value = serde_json::from_slice(d.event.data.as_bytes()).unwrap();
            if data["poison"] == true && d.retry_count < 99 {
                consumer.nack(&[d.event.event_id], NackAction::Retry).await.unwrap();
                continue;
            }
            *tally.lock().unwrap().entry(data["n"].as_u64().unwrap()).or_default() += 1;
            consumer.ack(&[d.event.event_id]).await.unwrap();
            seen += 1;
            if limit.is_some_and(|l| seen >= l) {
                return; // dropped mid-way, holding whatever else it was sent
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_consumers_share_a_log_and_park_a_poison() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(chronicle_file::FileStore::open(dir.path(), Default::default()).unwrap());
    append(&store, 0..2_000).await;
    let groups = Groups::open(store.clone()).await.unwrap();
    let spec = GroupSpec {
        from: StartFrom::Start,
        strategy: Strategy::PinnedByStream,
        max_retries: 2,
        ack_timeout_ms: 500,
        max_in_flight: 50,
        ..GroupSpec::default()
    };
    assert!(groups.put("billing", spec.clone()).await.unwrap());
    assert!(!groups.put("billing", spec.clone()).await.unwrap(), "a second PUT with the same settings is a no-op");
    let tally: Tally = Arc::default();
    let quitter = tokio::spawn(consume(groups.connect("billing").await.unwrap(), tally.clone(), Some(100)));
    let a = tokio::spawn(consume(groups.connect("billing").await.unwrap(), tally.clone(), None));
    let b = tokio::spawn(consume(groups.connect("billing").await.unwrap(), tally.clone(), None));
    quitter.await.unwrap();
    let (_, _) = (a.await.unwrap(), b.await.unwrap());
    let status = groups.status("billing").await.unwrap();
    // The head also counts the group's own records ($groups, its parking lot).
    assert_eq!((status.parked, status.checkpoint, status.in_flight), (1, status.head, 0), "{status:?}");
    let tally = tally.lock().unwrap().clone();
    assert_eq!(tally.len(), 1_999, "every event but the poison handled");
    let once = tally.values().filter(|&&n| n == 1).count();
    eprintln!("{once} events acknowledged exactly once, {} more than once (redelivered after the drop)", 1_999 - once);
    assert!(status.redeliveries > 0);

    let parked = groups.parked("billing").await.unwrap();
    assert_eq!((parked[0].position, parked[0].attempts), (43, 3));
    groups.replay_parked("billing", &Selection::All).await.unwrap();
    let c = groups.connect("billing").await.unwrap();
    let batch = tokio::time::timeout(Duration::from_secs(5), c.next()).await.unwrap().unwrap();
    assert_eq!(batch[0].event.global_position, 43, "the replayed poison comes back");
    c.ack(&[batch[0].event.event_id]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(groups.status("billing").await.unwrap().parked, 0);
    groups.shutdown(std::time::Duration::from_secs(1)).await;
    drop((c, groups));

    // Reopen: the group is there, at its checkpoint; new events flow to it.
    let groups = Groups::open(store.clone()).await.unwrap();
    let status = groups.status("billing").await.unwrap();
    assert_eq!(status.checkpoint, status.head);
    append(&store, 2_000..2_010).await;
    let c = groups.connect("billing").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 10 {
        let batch = tokio::time::timeout(Duration::from_secs(5), c.next()).await.unwrap().unwrap();
        c.ack(&batch.iter().map(|d| d.event.event_id).collect::<Vec<_>>()).await.unwrap();
        got.extend(
            batch.into_iter().map(|d| serde_json::from_slice::<serde_json::Value>(d.event.data.as_bytes()).unwrap()["n"].as_u64().unwrap()),
        );
    }
    got.sort_unstable();
    assert_eq!(got, (2_000..2_010).collect::<Vec<_>>(), "only the new events");
    groups.delete("billing").await.unwrap();
    assert!(groups.status("billing").await.is_err());
}
