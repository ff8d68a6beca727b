//! The repository on a real file store: snapshot + tail equals a full
//! replay, temporal loads, retries on conflict, metadata propagation.

#[path = "../examples/orders/domain.rs"]
mod domain;

use chronicle_core::{EventStore, ReadStream, Timestamp};
use chronicle_file::{FileOptions, FileStore};
use chronicle_toolkit::{CommandContext, Error, Repository};
use domain::*;
use std::{sync::Arc, time::Duration};

fn store() -> Arc<dyn EventStore> {
    Arc::new(FileStore::open_temporary(FileOptions::default()).unwrap())
}

#[tokio::test]
async fn snapshot_plus_tail_equals_full_replay() {
    let store = store();
    let with = Repository::<Inventory>::new(store.clone()).with_snapshot_every(10);
    let without = Repository::<Inventory>::new(store.clone()).with_snapshot_every(0);
    let ctx = CommandContext::actor("service", "t");
    for i in 0..57u32 {
        let cmd = if i % 3 == 2 {
            InventoryCommand::Reserve { order_id: format!("o-{i}"), quantity: 1 }
        } else {
            InventoryCommand::AddStock { quantity: 2 }
        };
        with.execute("sku-1", cmd, &ctx).await.unwrap();
    }
    let snap = store.load_snapshot(&with.stream("sku-1").unwrap()).await.unwrap().expect("a snapshot was written");
    assert_eq!(snap.version, 50);
    assert_eq!(with.metrics().snapshots.load(std::sync::atomic::Ordering::Relaxed), 5);
    let (fast, full) = (with.load("sku-1").await.unwrap(), without.load("sku-1").await.unwrap());
    assert_eq!(fast, full);
    assert_eq!((full.version, full.state.on_hand, full.state.reserved.len()), (57, 76, 19));
    // An outdated snapshot schema is ignored, not trusted.
    let mut stale = snap.clone();
    stale.schema_version = 99;
    stale.version = 56;
    store.save_snapshot(stale).await.unwrap();
    assert_eq!(with.load("sku-1").await.unwrap(), full);
}

#[tokio::test]
async fn temporal_loads_by_version_and_time() {
    let store = store();
    let repo = Repository::<Inventory>::new(store.clone()).with_snapshot_every(2);
    let ctx = CommandContext::default();
    repo.execute("sku", InventoryCommand::AddStock { quantity: 1 }, &ctx).await.unwrap();
    repo.execute("sku", InventoryCommand::AddStock { quantity: 2 }, &ctx).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mid = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    repo.execute("sku", InventoryCommand::AddStock { quantity: 4 }, &ctx).await.unwrap();
    repo.execute("sku", InventoryCommand::AddStock { quantity: 8 }, &ctx).await.unwrap();
    assert_eq!(repo.load("sku").await.unwrap().state.on_hand, 15);
    for (v, on_hand) in [(0, 0), (1, 1), (2, 3), (3, 7), (4, 15), (9, 15)] {
        let at = repo.load_at_version("sku", v).await.unwrap();
        assert_eq!((at.state.on_hand, at.version), (on_hand, v.min(4)), "as of version {v}");
    }
    assert_eq!(repo.load_at_time("sku", mid).await.unwrap().state.on_hand, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_retried_and_metadata_propagates() {
    let store = store();
    let repo = Repository::<Inventory>::new(store.clone()).with_retries(50);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = CommandContext::actor("user", &format!("u{w}")).correlated(format!("req-{w}"));
            for _ in 0..5 {
                repo.execute("hot", InventoryCommand::AddStock { quantity: 1 }, &ctx).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(repo.load("hot").await.unwrap().state.on_hand, 40, "no lost update");
    let events = store.read_stream(&repo.stream("hot").unwrap(), ReadStream::forward()).await.unwrap();
    assert_eq!(events.len(), 40);
    for e in &events {
        let m = e.well_known_metadata().unwrap();
        let actor = m.actor.unwrap();
        assert_eq!(m.correlation_id.as_deref(), Some(format!("req-{}", &actor.id[1..]).as_str()));
        assert!(m.causation_id.is_some());
        assert_eq!(actor.kind, "user");
    }
    let m = repo.metrics();
    assert_eq!(m.succeeded.load(std::sync::atomic::Ordering::Relaxed), 40);

    // With no retries allowed, racing writers surface Error::Conflict.
    let strict = Repository::<Inventory>::new(store.clone()).with_retries(0);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let strict = strict.clone();
        tasks.push(tokio::spawn(async move {
            strict.execute("race", InventoryCommand::AddStock { quantity: 1 }, &CommandContext::default()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Conflict { retries: 0, .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(strict.load("race").await.unwrap().state.on_hand, ok);
}
