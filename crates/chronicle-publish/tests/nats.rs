//! The NATS JetStream sink against a real `nats-server` of the test's own
//! (so it can be killed and restarted mid-way): every event ends up in
//! the JetStream stream exactly once after `Nats-Msg-Id` deduplication,
//! in global order.

mod common;

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
use chronicle_memory::MemoryStore;
use chronicle_publish::RelayState;
use common::*;
use std::{sync::Arc, time::Duration};

const EVENTS: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_in_order_across_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut nats) = PrivateNats::start(dir.path()).await else { return };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let text = format!(
        r#"[[sinks]]
name = "orders-nats"
kind = "nats"
url = "{}"
subject = "relaytest.{{category}}.{{event_type}}"
create_stream = {{ name = "RELAYTEST", subjects = ["relaytest.>"] }}
timeout_ms = 2000
retry_base_ms = 50
retry_max_ms = 500
"#,
        nats.url()
    );
    let publisher = publisher(&store, &text);
    publisher.start();

    // Writers keep appending while the relay runs and the broker restarts.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..EVENTS / 10 {
                let events = (0..10).map(|i| NewEvent::json("Placed", &serde_json::json!({"n": chunk * 10 + i})).unwrap()).collect();
                let stream = StreamId::new(format!("order-{}", chunk % 50)).unwrap();
                store.append(&stream, ExpectedVersion::Any, events).await.unwrap();
                if chunk % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    wait_for(60, "3,000 events delivered", || async { status(&publisher).await.delivered >= 3_000 }).await;
    nats.kill();
    wait_for(20, "a disconnected relay", || async { status(&publisher).await.state == RelayState::Disconnected }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused_at = status(&publisher).await.checkpoint;
    assert!(paused_at < EVENTS, "the relay waits for the broker");
    nats.restart().await.unwrap();
    writer.await.unwrap();
    wait_for(120, "every event delivered", || async { status(&publisher).await.lag == 0 }).await;
    let s = status(&publisher).await;
    assert_eq!((s.dlq_size, s.checkpoint), (0, EVENTS), "a broker outage is not a poison event: {s:?}");
    assert!(s.failures == 0 || s.last_error.is_some());
    publisher.stop().await;

    // The stream: every position once, in global order.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("RELAYTEST").await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    let first = stream.info().await.unwrap().state.first_sequence;
    assert_eq!(messages, EVENTS, "exactly once after Nats-Msg-Id deduplication");
    let mut last = 0;
    for seq in first..first + messages {
        let m = stream.get_raw_message(seq).await.unwrap();
        let position: u64 = m.headers.get("Chronicle-Position").unwrap().as_str().parse().unwrap();
        assert_eq!(position, last + 1, "global order at stream sequence {seq}");
        let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(body["global_position"], position);
        assert_eq!(m.headers.get("Nats-Msg-Id").unwrap().as_str(), body["event_id"].as_str().unwrap());
        assert_eq!(m.subject.as_str(), "relaytest.order.Placed");
        last = position;
    }
    eprintln!("duplicates reported by JetStream: {}, failures: {}", s.duplicates, s.failures);
}

#[derive(Debug)]
struct RefuseEvery500th;
impl chronicle_publish::PublishHook for RefuseEvery500th {
    fn before_publish(&self, _sink: &str, event: &mut chronicle_core::RecordedEvent) -> chronicle_publish::Verdict {
        let n = serde_json::from_slice::<serde_json::Value>(event.data.as_bytes()).unwrap()["n"].as_u64().unwrap();
        if n % 500 == 7 { chronicle_publish::Verdict::Fail(format!("n = {n}")) } else { chronicle_publish::Verdict::Deliver }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_goes_to_the_dlq_while_publishes_are_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = PrivateNats::start(dir.path()).await else { return };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let text = format!(
        "[[sinks]]\nname = \"n\"\nkind = \"nats\"\nurl = \"{}\"\nsubject = \"refusals.{{category}}\"\ncreate_stream = {{ name = \"REFUSALS\", subjects = [\"refusals.>\"] }}\n",
        nats.url()
    );
    append(&store, 0..2_000, |_| false).await;
    let publisher = publisher(&store, &text).with_hook(Arc::new(RefuseEvery500th));
    publisher.start();
    wait_for(60, "a drained log", || async { status(&publisher).await.lag == 0 }).await;
    let s = status(&publisher).await;
    assert_eq!((s.delivered, s.dead_lettered, s.dlq_size), (1_996, 4, 4), "{s:?}");
    let parked: Vec<u64> = publisher.dlq_list("n").await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(parked, [8, 508, 1008, 1508]);
    publisher.stop().await;
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let mut stream = js.get_stream("REFUSALS").await.unwrap();
    let info = stream.info().await.unwrap().state.clone();
    assert_eq!(info.messages, 1_996);
    let mut positions = Vec::new();
    for seq in info.first_sequence..info.first_sequence + info.messages {
        let m = stream.get_raw_message(seq).await.unwrap();
        positions.push(m.headers.get("Chronicle-Position").unwrap().as_str().parse::<u64>().unwrap());
    }
    assert_eq!(positions, (1..=2_000).filter(|p| !parked.contains(p)).collect::<Vec<_>>(), "the rest once, in order");
}
