//! The parking lot: markers take entries out, replays wait for redelivery.

use chronicle_core::{ParkedEntry, ParkingLot, ParkingView, Selection, StreamId, Uuid};
use chronicle_memory::MemoryStore;
use std::sync::Arc;

fn lot(name: &str) -> ParkingLot {
    ParkingLot::new(Arc::new(MemoryStore::new()), StreamId::new(format!("$dlq-{name}")).unwrap())
}

fn entry(n: u64) -> ParkedEntry {
    ParkedEntry {
        event_id: Uuid::now_v7(),
        position: n,
        stream_id: format!("order-{n}"),
        event_type: "OrderPlaced".into(),
        attempts: 4,
        last_error: "HTTP 500".into(),
        dead_lettered_at: None,
    }
}

#[tokio::test]
async fn markers_take_entries_out_and_replays_wait_for_redelivery() {
    let dlq = lot("hooks");
    let (a, b, c) = (entry(1), entry(2), entry(3));
    for e in [&a, &b, &c] {
        dlq.add(e).await.unwrap();
    }
    assert_eq!(dlq.view().await.unwrap().size(), 3);

    assert_eq!(dlq.replay(&Selection::Ids(vec![b.event_id])).await.unwrap(), vec![b.event_id]);
    let view = dlq.view().await.unwrap();
    assert_eq!(view.entries().iter().map(|e| e.position).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(view.replay_queue()[0].event_id, b.event_id);

    // Unknown ids are refused whole: nothing is marked.
    let err = dlq.discard(&Selection::Ids(vec![a.event_id, b.event_id])).await.unwrap_err();
    assert!(matches!(err, chronicle_core::Error::NotFound { ref what } if what.ends_with(&b.event_id.to_string())), "{err}");
    assert_eq!(dlq.view().await.unwrap().size(), 2);

    dlq.redelivered(b.event_id).await.unwrap();
    assert_eq!(dlq.discard(&Selection::All).await.unwrap().len(), 2);
    let view = dlq.view().await.unwrap();
    assert_eq!((view.size(), view.replay_queue().len()), (0, 0));
    assert!(dlq.replay(&Selection::All).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refresh_reads_only_what_is_new_and_dead_lettering_twice_keeps_one_entry() {
    let dlq = lot("s");
    let mut view = ParkingView::default();
    let a = entry(7);
    dlq.add(&a).await.unwrap();
    dlq.refresh(&mut view).await.unwrap();
    dlq.add(&ParkedEntry { attempts: 9, ..a.clone() }).await.unwrap();
    dlq.refresh(&mut view).await.unwrap();
    assert_eq!(view.size(), 1);
    assert_eq!(view.entries()[0].attempts, 9);
    assert!(view.entries()[0].dead_lettered_at.is_some());
}
