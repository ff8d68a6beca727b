//! Upcaster chains on read (v1→v2→v3) and the eager migration into a new
//! store, verified event for event.

#[path = "../examples/orders/domain.rs"]
mod domain;

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, StreamId};
use chronicle_file::{FileOptions, FileStore};
use chronicle_toolkit::{Repository, migrate};
use domain::*;
use serde_json::json;
use std::sync::Arc;

async fn seed_old_events(store: &dyn EventStore) {
    let v1 = json!({"customer_id": "ann", "items": [{"sku": "apple", "quantity": 1, "price_cents": 100}], "total_cents": 100, "shipping_address": "x"});
    let mut v2 = v1.clone();
    v2["currency"] = "GBP".into();
    let o1 = StreamId::new("order-1").unwrap();
    let o2 = StreamId::new("order-2").unwrap();
    store.append(&o1, ExpectedVersion::NoStream, vec![NewEvent::json("OrderCreated", &v1).unwrap().with_schema_version(1)]).await.unwrap();
    store.append(&o2, ExpectedVersion::NoStream, vec![NewEvent::json("OrderCreated", &v2).unwrap().with_schema_version(2)]).await.unwrap();
    store
        .append(
            &o1,
            ExpectedVersion::Exact(1),
            vec![NewEvent::json("OrderConfirmed", &json!({"payment_id": "p-1"})).unwrap().with_metadata(&json!({"tags": ["x"]})).unwrap()],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn old_events_load_through_the_chain() {
    let store: Arc<dyn EventStore> = Arc::new(FileStore::open_temporary(FileOptions::default()).unwrap());
    seed_old_events(&*store).await;
    let plain = Repository::<Order>::new(store.clone());
    assert!(plain.load("1").await.is_err(), "v1 data lacks fields: without upcasters it does not decode");
    let repo = Repository::<Order>::new(store.clone()).with_upcasters(order_upcasters());
    let o1 = repo.load("1").await.unwrap();
    assert_eq!((o1.state.currency.as_str(), o1.state.status, o1.version), ("USD", OrderStatus::Confirmed, 2));
    let o2 = repo.load("2").await.unwrap();
    assert_eq!(o2.state.currency, "GBP", "a v2 event only gets the v2→v3 step");
    let up = order_upcasters();
    let raw = store.read_all(&ReadAll::forward()).await.unwrap().events;
    let (v, data) = up.upcast("OrderCreated", 1, &raw[0].data).unwrap();
    assert_eq!(
        (v, data.to_value().unwrap()["tax_cents"].as_u64(), data.to_value().unwrap()["currency"].as_str()),
        (3, Some(0), Some("USD"))
    );
}

#[tokio::test]
async fn eager_migration_copies_through_the_upcasters_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let source = FileStore::open(&dir.path().join("source"), FileOptions::default()).unwrap();
    seed_old_events(&source).await;
    let before = source.read_all(&ReadAll::forward()).await.unwrap();
    let target = FileStore::open(&dir.path().join("target"), FileOptions::default()).unwrap();
    let report = migrate(&source, &target, &order_upcasters()).await.unwrap();
    assert_eq!((report.events, report.upcast, report.streams), (3, 2, 2));
    let copied = target.read_all(&ReadAll::forward()).await.unwrap().events;
    for (old, new) in before.events.iter().zip(&copied) {
        assert_eq!((old.event_id, &old.stream_id, old.version, &old.metadata), (new.event_id, &new.stream_id, new.version, &new.metadata));
    }
    assert!(
        copied
            .iter()
            .filter(|e| &*e.event_type == "OrderCreated")
            .all(|e| e.schema_version == 3 && e.data.to_value().unwrap()["tax_cents"] == 0)
    );
    assert_eq!(source.read_all(&ReadAll::forward()).await.unwrap(), before, "the source is untouched");
    // The migrated store loads without upcasters.
    let repo = Repository::<Order>::new(Arc::new(target.clone()));
    assert_eq!(repo.load("1").await.unwrap().state.currency, "USD");
    // A non-empty target is refused.
    assert!(migrate(&source, &target, &order_upcasters()).await.is_err());
}
