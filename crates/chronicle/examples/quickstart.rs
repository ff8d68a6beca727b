//! Quickstart: append to two streams, hit a version conflict, read back,
//! subscribe — on a fresh store, so it can be rerun any time.
//!
//! Run from the repository root: `cargo run --example quickstart`.

use chronicle::{
    Config, Error, EventStore, ExpectedVersion, FileStore, Filter, NewEvent, ReadAll, ReadStream, StreamId, SubscribeFrom, file_options,
};
use serde_json::json;
use std::{sync::Arc, time::Duration};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh embedded file store in a temporary directory (deleted at the
    // end), with the default configuration: durable group commit.
    let file = FileStore::open_temporary(file_options(&Config::default()))?;
    println!("opened a fresh file store in {}", file.dir().display());
    let store: Arc<dyn EventStore> = Arc::new(file);

    let order = StreamId::new("order-42")?;
    let payment = StreamId::new("payment-42")?;
    let meta = json!({"correlation_id": "checkout-42", "actor": {"type": "user", "id": "ann"}});

    let placed = NewEvent::json("OrderPlaced", &json!({"items": 3, "total": 120}))?.with_metadata(&meta)?;
    let r = store.append(&order, ExpectedVersion::NoStream, vec![placed]).await?;
    println!("appended OrderPlaced to {order}: version {}, position {}", r.last_version, r.last_position);

    let requested = NewEvent::json("PaymentRequested", &json!({"amount": 120}))?.with_metadata(&meta)?;
    let r = store.append(&payment, ExpectedVersion::NoStream, vec![requested]).await?;
    println!("appended PaymentRequested to {payment}: version {}, position {}", r.last_version, r.last_position);

    // Two writers both believe the order is at version 1; the second loses.
    let confirm = NewEvent::json("OrderConfirmed", &json!({}))?.with_metadata(&meta)?;
    store.append(&order, ExpectedVersion::Exact(1), vec![confirm]).await?;
    let cancel = NewEvent::json("OrderCancelled", &json!({"reason": "changed mind"}))?;
    match store.append(&order, ExpectedVersion::Exact(1), vec![cancel]).await {
        Err(e @ Error::WrongExpectedVersion { .. }) => println!("conflict, as expected: {e}"),
        other => return Err(format!("expected a version conflict, got {other:?}").into()),
    }

    println!("stream {order}:");
    for e in store.read_stream(&order, ReadStream::forward()).await? {
        println!("  v{} {} {}", e.version, e.event_type, e.data);
    }
    let correlated = store.read_by_correlation("checkout-42").await?;
    println!("events correlated with checkout-42: {}", correlated.len());

    // Subscribe from the start: catch up on history, then receive live events.
    let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await?;
    let shipped = NewEvent::json("OrderShipped", &json!({"carrier": "dhl"}))?;
    store.append(&order, ExpectedVersion::Exact(2), vec![shipped]).await?;
    let head = store.head().await?;
    println!("subscription (history, then live):");
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), sub.next()).await?.ok_or("subscription ended")??;
        println!("  #{} {} {}", e.global_position, e.stream_id, e.event_type);
        if e.global_position == head {
            break;
        }
    }
    let all = store.read_all(&ReadAll::forward()).await?;
    println!("done: {} events in the log, head at position {}", all.events.len(), all.head);
    Ok(())
}
