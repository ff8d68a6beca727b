//! The sequence trap: 16 writers on 16 streams append — some with stale
//! expected versions that roll back, some DCB conditions that fail — while
//! a subscriber follows the global log. It must see every position exactly
//! once, in order, with no gap, every round.

use chronicle_core::{EventStore, ExpectedVersion, Filter, NewEvent, StreamId, SubscribeFrom};
use chronicle_postgres::PgStore;
use std::time::Duration;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_sees_every_position_once_in_order_despite_rollbacks() {
    let Some(store) = chronicle_testkit::service_or_skip(
        "PostgreSQL",
        PgStore::connect_temporary(&url(), chronicle_core::AppendPipeline::default()).await,
    ) else {
        return;
    };
    for round in 0..4u64 {
        let start = store.head().await.unwrap() + 1;
        let mut sub = store.subscribe(SubscribeFrom::Position(start), Filter::default()).await.unwrap();
        let mut writers = Vec::new();
        for w in 0..16u64 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let stream = StreamId::new(format!("g{round}-{w}")).unwrap();
                let mut ok = 0u64;
                for i in 0..12u64 {
                    let event = NewEvent::json("T", &serde_json::json!({"w": w, "i": i})).unwrap();
                    // Every third append expects a stale version: it conflicts and rolls back.
                    let expected = if i % 3 == 2 { ExpectedVersion::Exact(ok + 7) } else { ExpectedVersion::Exact(ok) };
                    let expected = if ok == 0 && i % 3 != 2 { ExpectedVersion::NoStream } else { expected };
                    match store.append(&stream, expected, vec![event]).await {
                        Ok(_) => ok += 1,
                        Err(chronicle_core::Error::WrongExpectedVersion { .. }) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
                ok
            }));
        }
        let mut total = 0;
        for w in writers {
            total += w.await.unwrap();
        }
        assert_eq!(total, 16 * 8, "two of every three appends succeed");
        for expected in start..start + total {
            let e = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.expect("subscriber stalled").unwrap().unwrap();
            assert_eq!(e.global_position, expected, "round {round}: gap or reorder");
        }
        let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert!(extra.is_err(), "round {round}: duplicate or phantom delivery {extra:?}");
        assert_eq!(store.head().await.unwrap(), start + total - 1, "no holes: the head counts committed events only");
    }
}
