//! The webhook sink end to end against a local HTTP endpoint: signatures,
//! order, retries with growing delays, the DLQ, replay, the bound.

mod common;

use chronicle_core::{EventStore, RecordedEvent};
use chronicle_memory::MemoryStore;
use chronicle_publish::{PublishHook, RelayState, Selection, Verdict};
use common::*;
use std::{sync::Arc, time::Duration};

fn store() -> Arc<dyn EventStore> {
    Arc::new(MemoryStore::new())
}

const SINK: &str = r#"
[[sinks]]
name = "hook"
kind = "webhook"
url = "URL"
secret = "s3cret"
max_retries = 3
retry_base_ms = 40
retry_max_ms = 1000
batch_size = 8
"#;

#[tokio::test]
async fn a_poison_event_is_retried_with_growing_delays_then_dead_lettered_and_replayed() {
    let store = store();
    let (url, endpoint) = endpoint("s3cret").await;
    let publisher = publisher(&store, &SINK.replace("URL", &url));
    append(&store, 1..41, |i| i == 17).await;
    publisher.start();
    wait_for(20, "39 events delivered and 1 dead-lettered", || async {
        let s = status(&publisher).await;
        s.dlq_size == 1 && s.lag == 0
    })
    .await;

    let s = status(&publisher).await;
    assert_eq!((s.state, s.delivered, s.dead_lettered), (RelayState::Running, 39, 1));
    assert!(s.last_error.as_deref().unwrap_or_default().contains("HTTP 500"), "{s:?}");
    let accepted = endpoint.accepted_positions();
    let mut unique = accepted.clone();
    unique.dedup();
    assert!(unique.windows(2).all(|w| w[0] < w[1]), "global order: {accepted:?}");
    assert_eq!(unique, (1..41).filter(|&p| p != 17).collect::<Vec<_>>(), "every event but the poison, once");
    assert!(endpoint.posts().iter().all(|p| p.signature_ok), "every POST is signed with the secret");

    // The poison alone: tried, then retried max_retries times with growing delays.
    let alone: Vec<_> = endpoint.posts().into_iter().filter(|p| p.events.len() == 1 && p.events[0]["global_position"] == 17).collect();
    assert_eq!(alone.len(), 4, "1 attempt + 3 retries of the single event");
    let gaps: Vec<Duration> = alone.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (gap, min_ms) in gaps.iter().zip([40, 80, 160]) {
        assert!(*gap >= Duration::from_millis(min_ms), "delays grow: {gaps:?}");
    }

    let entries = publisher.dlq_list("hook").await.unwrap();
    assert_eq!((entries.len(), entries[0].position, entries[0].attempts), (1, 17, 4));

    // The endpoint is fixed; replay delivers it and empties the DLQ.
    endpoint.fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    let replayed = publisher.dlq_replay("hook", &Selection::All).await.unwrap();
    assert_eq!(replayed, vec![entries[0].event_id]);
    wait_for(10, "the replayed event delivered", || async { endpoint.accepted_positions().contains(&17) }).await;
    wait_for(5, "an empty DLQ", || async { status(&publisher).await.dlq_size == 0 }).await;
    assert!(publisher.dlq_list("hook").await.unwrap().is_empty());
    publisher.stop().await;
}

#[tokio::test]
async fn a_full_dlq_pauses_the_sink_and_drops_nothing() {
    let store = store();
    let (url, endpoint) = endpoint("s3cret").await;
    let text = SINK.replace("URL", &url).replace("max_retries = 3", "max_retries = 0\ndlq_max = 2");
    let publisher = publisher(&store, &text);
    append(&store, 1..21, |i| [5, 9, 13].contains(&i)).await;
    publisher.start();
    wait_for(20, "a paused sink", || async { status(&publisher).await.state == RelayState::PausedDlqFull }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = status(&publisher).await;
    assert_eq!((s.state, s.dlq_size, s.checkpoint), (RelayState::PausedDlqFull, 2, 12), "stopped before the third poison: {s:?}");
    assert!(!endpoint.accepted_positions().iter().any(|&p| p > 13), "nothing after the third poison went out");

    // Making room resumes it: the third poison lands in the DLQ, the rest is delivered.
    publisher.dlq_discard("hook", &Selection::All).await.unwrap();
    wait_for(20, "a drained log", || async { status(&publisher).await.lag == 0 }).await;
    let s = status(&publisher).await;
    assert_eq!((s.state, s.dlq_size, s.delivered), (RelayState::Running, 1, 17));
    let mut accepted = endpoint.accepted_positions();
    accepted.dedup();
    assert_eq!(accepted, (1..21).filter(|p| ![5, 9, 13].contains(p)).collect::<Vec<_>>());
    publisher.stop().await;
}

#[derive(Debug)]
struct RefuseSecret;
impl PublishHook for RefuseSecret {
    fn before_publish(&self, _sink: &str, event: &mut RecordedEvent) -> Verdict {
        if event.data.as_bytes().windows(6).any(|w| w == b"secret") { Verdict::Fail("contains a secret".into()) } else { Verdict::Deliver }
    }
}

#[tokio::test]
async fn filters_transforms_and_a_failing_hook() {
    let store = store();
    let (url, endpoint) = endpoint("k").await;
    let text = format!(
        "[[sinks]]\nname = \"f\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"k\"\ncategories = [\"order\"]\ndrop_metadata = [\"ip\"]\n"
    );
    let publisher = publisher(&store, &text).with_hook(Arc::new(RefuseSecret));
    let meta = serde_json::json!({"ip": "10.0.0.1", "correlation_id": "c-1"});
    let put = |stream: &str, data: serde_json::Value| {
        let (store, stream, meta) = (store.clone(), chronicle_core::StreamId::new(stream).unwrap(), meta.clone());
        async move {
            let event = chronicle_core::NewEvent::json("T", &data).unwrap().with_metadata(&meta).unwrap();
            store.append(&stream, chronicle_core::ExpectedVersion::Any, vec![event]).await.unwrap();
        }
    };
    put("order-1", serde_json::json!({"a": 1})).await;
    put("user-1", serde_json::json!({"a": 2})).await;
    put("$system", serde_json::json!({"a": 3})).await;
    put("order-2", serde_json::json!({"note": "secret"})).await;
    put("order-3", serde_json::json!({"a": 5})).await;
    publisher.start();
    wait_for(10, "a drained log", || async { status(&publisher).await.lag == 0 }).await;
    let s = status(&publisher).await;
    assert_eq!((s.delivered, s.dead_lettered), (2, 1));
    let bodies: Vec<serde_json::Value> = endpoint.posts().into_iter().flat_map(|p| p.events).collect();
    assert_eq!(bodies.iter().map(|b| b["global_position"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 5]);
    // The body is exactly `chronicle read --json`, minus the dropped field.
    let mut stored = store.get_event(bodies[0]["event_id"].as_str().unwrap().parse().unwrap()).await.unwrap().unwrap();
    stored.metadata = chronicle_core::RawJson::parse(&br#"{"correlation_id":"c-1"}"#[..]).unwrap();
    assert_eq!(bodies[0], serde_json::from_str::<serde_json::Value>(&stored.to_json()).unwrap());
    assert_eq!(bodies[0].as_object().unwrap().len(), 9);
    let entries = publisher.dlq_list("f").await.unwrap();
    assert_eq!((entries[0].position, entries[0].attempts), (4, 0));
    assert!(entries[0].last_error.contains("contains a secret"));
    publisher.stop().await;
}

#[tokio::test]
async fn an_unreachable_endpoint_backs_off_without_filling_the_dlq() {
    let store = store();
    // A port with nothing listening (bound, then released).
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let text = SINK.replace("URL", &format!("http://{addr}/events")).replace("retry_max_ms = 1000", "retry_max_ms = 100");
    let publisher = publisher(&store, &text);
    append(&store, 1..6, |_| false).await;
    publisher.start();
    wait_for(10, "a disconnected sink", || async { status(&publisher).await.state == RelayState::Disconnected }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = status(&publisher).await;
    assert_eq!((s.state, s.dlq_size, s.checkpoint), (RelayState::Disconnected, 0, 0));
    let (_, endpoint) = endpoint_at(addr, "s3cret").await;
    wait_for(10, "delivery once the endpoint is up", || async { status(&publisher).await.lag == 0 }).await;
    assert_eq!(endpoint.accepted_positions(), [1, 2, 3, 4, 5]);
    publisher.stop().await;
}

#[tokio::test]
async fn the_checkpoint_survives_a_restart_of_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (url, endpoint) = endpoint("s3cret").await;
    let text = SINK.replace("URL", &url);
    {
        let store: Arc<dyn EventStore> = Arc::new(chronicle_file::FileStore::open(dir.path(), Default::default()).unwrap());
        let publisher = publisher(&store, &text);
        append(&store, 1..11, |_| false).await;
        publisher.start();
        wait_for(10, "10 delivered", || async { status(&publisher).await.lag == 0 }).await;
        publisher.stop().await;
    }
    let store: Arc<dyn EventStore> = Arc::new(chronicle_file::FileStore::open(dir.path(), Default::default()).unwrap());
    let publisher = publisher(&store, &text);
    assert_eq!(status(&publisher).await.checkpoint, 10, "stop saved the checkpoint");
    append(&store, 11..16, |_| false).await;
    publisher.start();
    wait_for(10, "5 more delivered", || async { status(&publisher).await.lag == 0 }).await;
    assert_eq!(endpoint.accepted_positions(), (1..16).collect::<Vec<_>>(), "no repeats after a clean stop");
    publisher.stop().await;
}
