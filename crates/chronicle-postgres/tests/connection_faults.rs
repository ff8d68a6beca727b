//! Fault test: the store's connections are killed mid-stream
//! (pg_terminate_backend); appends fail cleanly or succeed, the store
//! recovers on its own, and no acknowledged event is lost.

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, StreamId};
use chronicle_postgres::PgStore;
use std::time::Duration;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_lose_no_acknowledged_event() {
    let Some(store) = chronicle_testkit::service_or_skip(
        "PostgreSQL",
        PgStore::connect_temporary(&url(), chronicle_core::AppendPipeline::default()).await,
    ) else {
        return;
    };
    let (admin, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failures = 0;
            for i in 0..400u64 {
                let event = NewEvent::json("T", &serde_json::json!({"i": i})).unwrap();
                let id = chronicle_core::Uuid::now_v7();
                match store.append(&StreamId::new(format!("f-{}", i % 4)).unwrap(), ExpectedVersion::Any, vec![event.with_id(id)]).await {
                    Ok(r) => acked.push((id, r.first_position)),
                    Err(_) => failures += 1,
                }
            }
            (acked, failures)
        })
    };
    // Kill the store's connections (pool and listener) a few times while the writer runs.
    let name = chronicle_postgres::application_name(store.schema());
    let mut killed = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let rows =
            admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&name]).await.unwrap();
        killed += rows.len();
    }
    assert!(killed > 0, "no connection of the store was found to kill");
    let (acked, failures) = writer.await.unwrap();
    assert!(acked.len() > 100, "only {} appends succeeded ({failures} failed)", acked.len());
    // The store works again and has every acknowledged event where it said.
    let mut healthy = false;
    for _ in 0..50 {
        if store.health().await.ready {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the store did not recover");
    let events = store.read_all(&ReadAll::forward()).await.unwrap().events;
    let positions: Vec<u64> = events.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (1..=events.len() as u64).collect::<Vec<_>>(), "gapless after the faults");
    for (id, position) in &acked {
        let e = store.get_event(*id).await.unwrap().expect("an acknowledged event was lost");
        assert_eq!(e.global_position, *position);
    }
    store.append(&StreamId::new("after-1").unwrap(), ExpectedVersion::NoStream, vec![NewEvent::raw("T", &b"1"[..])]).await.unwrap();
}
