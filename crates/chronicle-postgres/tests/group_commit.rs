//! Group commit: many concurrent appends on one store are decided one by
//! one inside shared transactions. Each must still get exactly the answer
//! it would get alone — versions in order, one winner for `no-stream`,
//! identical answers for retries of one append — and a failure from
//! another process (a clashing event id) must reach only its own append.

use chronicle_core::{AppendResult, Error, EventStore, ExpectedVersion as Ev, NewEvent, ReadAll, ReadStream, Result, StreamId, Uuid};
use chronicle_postgres::{PgOptions, PgStore};
use std::collections::BTreeSet;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn store() -> Option<PgStore> {
    chronicle_testkit::service_or_skip("PostgreSQL", PgStore::connect_temporary(&url(), chronicle_core::AppendPipeline::default()).await)
}

fn ev(n: u64) -> NewEvent {
    NewEvent::json("T", &serde_json::json!({ "n": n })).unwrap()
}

async fn race<F, Fut>(n: u64, f: F) -> Vec<Result<AppendResult>>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<AppendResult>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_to_one_stream_get_consecutive_versions() {
    let Some(store) = store().await else { return };
    let s = StreamId::new("one").unwrap();
    let results = race(48, |i| {
        let (store, s) = (store.clone(), s.clone());
        async move { store.append(&s, Ev::Any, vec![ev(i)]).await }
    })
    .await;
    let mut versions = BTreeSet::new();
    let mut positions = BTreeSet::new();
    for r in results {
        let r = r.unwrap();
        versions.insert(r.first_version);
        positions.insert(r.first_position);
    }
    assert_eq!(versions, (1..=48).collect());
    assert_eq!(positions, (1..=48).collect());
    let events = store.read_stream(&s, ReadStream::forward()).await.unwrap();
    assert!(events.iter().all(|e| e.version == e.global_position), "version order is position order in one stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_winner_for_no_stream_and_one_answer_for_retries() {
    let Some(store) = store().await else { return };
    let s = StreamId::new("race").unwrap();
    let results = race(24, |i| {
        let (store, s) = (store.clone(), s.clone());
        async move { store.append(&s, Ev::NoStream, vec![ev(i)]).await }
    })
    .await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, Error::WrongExpectedVersion { .. })));

    // The same append (same ids) sent 24 times at once: stored once, one answer.
    let id = Uuid::now_v7();
    let t = StreamId::new("retried").unwrap();
    let results = race(24, |_| {
        let (store, t) = (store.clone(), t.clone());
        async move { store.append(&t, Ev::NoStream, vec![ev(7).with_id(id)]).await }
    })
    .await;
    let first = results[0].as_ref().unwrap().clone();
    assert!(results.iter().all(|r| r.as_ref().ok() == Some(&first)), "{results:?}");
    assert_eq!(store.read_stream(&t, ReadStream::forward()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clash_with_another_process_fails_only_its_own_append() {
    let Some(a) = store().await else { return };
    let schema = a.schema().to_owned();
    let b = PgStore::connect(PgOptions {
        url: url(),
        schema: schema.clone(),
        pool_size: 4,
        pipeline: chronicle_core::AppendPipeline::default(),
    })
    .await
    .unwrap();
    let (mut blocker, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    for round in 0..5u64 {
        // Hold the head row so both stores decide (id not stored yet) and
        // queue their writes; whichever commits second hits the unique id.
        let hold = blocker.transaction().await.unwrap();
        hold.query_one(&format!("SELECT position FROM {schema}.head FOR UPDATE"), &[]).await.unwrap();
        let clash = Uuid::now_v7();
        let tasks: Vec<_> = (0..40u64)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    let stream = StreamId::new(format!("c{round}-{i}")).unwrap();
                    // Writers 0 and 1 (one per store) use the same id in different streams.
                    let e = if i < 2 { ev(i).with_id(clash) } else { ev(i) };
                    store.append(&stream, Ev::NoStream, vec![e]).await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        hold.commit().await.unwrap();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let clashing: Vec<_> = outcomes.iter().take(2).collect();
        assert_eq!(clashing.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {clashing:?}");
        assert!(clashing.iter().any(|r| matches!(r, Err(Error::DuplicateEventId { event_id }) if *event_id == clash)), "{clashing:?}");
        assert!(outcomes.iter().skip(2).all(|r| r.is_ok()), "round {round}: others unaffected: {outcomes:?}");
    }
    let all = a.read_all(&ReadAll::forward()).await.unwrap().events;
    assert_eq!(all.len(), 5 * 39);
    assert!(all.iter().enumerate().all(|(i, e)| e.global_position == i as u64 + 1), "gapless across both stores");
}
