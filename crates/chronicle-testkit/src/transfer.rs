//! Conformance of [`EventStore::export_log`] / [`EventStore::import_log`]:
//! what backup, restore and migration stand on. Every backend runs
//! [`transfer_conformance!`](crate::transfer_conformance) with a factory
//! of fresh, empty stores.

use crate::{event, event_with_meta, sid};
use chronicle_core::{
    DeleteMode, Error, EventStore, ExpectedVersion as Ev, ExportRange, GroupProgress, ListStreams, LogItem, RawJson, ReadAll, ReadStream,
    RecordedEvent, Snapshot, StreamId, StreamMetadata, Timestamp, Uuid, canonical,
};
use std::sync::Arc;

/// The store handle the cases receive.
pub type Store = Arc<dyn EventStore>;

/// Generates one `#[tokio::test]` per transfer case, each against fresh
/// stores from `$factory` (an async closure returning `Option<store>`:
/// `None` skips, as in [`conformance_suite!`](crate::conformance_suite)).
#[macro_export]
macro_rules! transfer_conformance {
    ($factory:expr) => {
        $crate::transfer_conformance!(@cases $factory; export_then_import_answers_every_read_alike, import_keeps_removed_positions,
            bad_imports_store_nothing, point_in_export_range_is_honoured, group_progress_is_kept_as_imported);
    };
    (@cases $factory:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let f = $factory;
                let Some(a) = f().await else { return };
                let Some(b) = f().await else { return };
                $crate::transfer::$case(::std::sync::Arc::new(a), ::std::sync::Arc::new(b)).await;
            }
        )*
    };
}

/// Every item of `store`'s export of `range`, in order.
pub async fn export(store: &Store, range: ExportRange) -> Vec<LogItem> {
    let mut reader = store.export_log(range).await.expect("export_log");
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        items.push(item.expect("export item"));
    }
    items
}

/// The whole export of `store`, canonical.
pub async fn export_all(store: &Store) -> Vec<LogItem> {
    let head = store.head().await.expect("head");
    let mut items = export(store, ExportRange { after: 0, through: head }).await;
    canonical(&mut items);
    items
}

/// Streams, snapshots and checkpoints `build` creates.
const STREAMS: [&str; 5] = ["order-1", "order-2", "gone-1", "soft-1", "kept-1"];
const CONSUMERS: [&str; 2] = ["projector", "mailer"];

/// Fills `store` with every kind of fact: events with metadata, a soft
/// delete and a re-creation, a tombstone, retention, snapshots and
/// checkpoints.
pub async fn build(store: &Store) {
    let [o1, o2, gone, soft, kept] = STREAMS.map(sid);
    let meta = serde_json::json!({"correlation_id": "c-1", "tags": ["vip"], "actor": {"type": "user", "id": "u1"}});
    store.append(&o1, Ev::NoStream, vec![event_with_meta("Placed", 1, meta), event("Paid", 2)]).await.unwrap();
    store.append(&o2, Ev::NoStream, vec![event("Placed", 3)]).await.unwrap();
    store.set_stream_metadata(&kept, StreamMetadata { max_count: Some(2), ..Default::default() }).await.unwrap();
    store.append(&kept, Ev::Any, (0..4).map(|n| event("Kept", 10 + n)).collect()).await.unwrap();
    store.append(&soft, Ev::Any, vec![event("S", 20), event("S", 21)]).await.unwrap();
    store.delete_stream(&soft, Ev::Exact(2), DeleteMode::Soft).await.unwrap();
    store.append(&soft, Ev::NoStream, vec![event("S", 22)]).await.unwrap();
    store.append(&gone, Ev::Any, vec![event("G", 30)]).await.unwrap();
    store.delete_stream(&gone, Ev::Any, DeleteMode::Tombstone).await.unwrap();
    store.append(&o1, Ev::Exact(2), vec![event("Shipped", 4)]).await.unwrap();
    let state = RawJson::parse(&b"{\"total\":42}"[..]).unwrap();
    store.save_snapshot(Snapshot { stream_id: o1.clone(), version: 2, schema_version: 1, state }).await.unwrap();
    store.save_checkpoint(CONSUMERS[0], 5).await.unwrap();
    store.save_checkpoint(CONSUMERS[1], 9).await.unwrap();
    store.save_snapshot(billing().snapshot("billing", None).unwrap()).await.unwrap();
    store.set_stream_metadata(&o2, StreamMetadata { truncate_before: Some(1), ..Default::default() }).await.unwrap();
}

/// The progress of the consumer group `billing` that [`build`] stores.
pub fn billing() -> GroupProgress {
    GroupProgress { checkpoint: 3, acked: vec![5, 8], retries: vec![(4, 2)], ..GroupProgress::default() }
}

/// Asserts that `a` and `b` answer every read of [`build`]'s content alike.
pub async fn assert_same_reads(a: &Store, b: &Store) {
    assert_eq!(a.head().await.unwrap(), b.head().await.unwrap(), "head");
    let all_a = a.read_all(&ReadAll::forward().limit(1000)).await.unwrap();
    let all_b = b.read_all(&ReadAll::forward().limit(1000)).await.unwrap();
    assert_eq!(all_a.events, all_b.events, "read_all");
    assert_eq!(all_a.head, all_b.head, "read_all head");
    for name in STREAMS {
        let s = sid(name);
        assert_eq!(a.stream_info(&s).await.unwrap(), b.stream_info(&s).await.unwrap(), "stream_info {name}");
        let (ra, rb) = (a.read_stream(&s, ReadStream::forward()).await, b.read_stream(&s, ReadStream::forward()).await);
        assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "read_stream {name}");
        assert_eq!(a.load_snapshot(&s).await.unwrap(), b.load_snapshot(&s).await.unwrap(), "snapshot {name}");
    }
    for consumer in CONSUMERS {
        assert_eq!(a.load_checkpoint(consumer).await.unwrap(), b.load_checkpoint(consumer).await.unwrap(), "checkpoint {consumer}");
    }
    let page = |s: &Store| {
        let s = s.clone();
        async move { s.list_streams(&ListStreams::default()).await.unwrap().streams }
    };
    assert_eq!(page(a).await, page(b).await, "list_streams");
    for e in &all_a.events {
        assert_eq!(b.get_event(e.event_id).await.unwrap().as_ref(), Some(e), "get_event {}", e.event_id);
    }
    assert_eq!(a.read_by_correlation("c-1").await.unwrap(), b.read_by_correlation("c-1").await.unwrap(), "read_by_correlation");
}

/// An export imported into an empty store answers every read alike, and
/// exports the same items; both go on taking appends at the same positions.
pub async fn export_then_import_answers_every_read_alike(a: Store, b: Store) {
    build(&a).await;
    let items = export_all(&a).await;
    assert!(items.iter().any(|i| matches!(i, LogItem::Delete { tombstone: true, .. })), "{items:?}");
    b.import_log(items.clone()).await.unwrap();
    assert_same_reads(&a, &b).await;
    assert_eq!(export_all(&b).await, items, "the copy exports the same items");
    let next = sid("order-3");
    let (ra, rb) =
        (a.append(&next, Ev::NoStream, vec![event("Placed", 5)]).await, b.append(&next, Ev::NoStream, vec![event("Placed", 5)]).await);
    assert_eq!(ra.unwrap().first_position, rb.unwrap().first_position);
    // A retried append of an imported event id is recognised.
    let first = a.read_all(&ReadAll::forward()).await.unwrap().events.remove(0);
    let retry = event("Placed", 1).with_id(first.event_id);
    let again = b.append(&first.stream_id, Ev::Any, vec![retry]).await.unwrap();
    assert_eq!(again.first_position, first.global_position, "an imported id is idempotent");
}

fn recorded(position: u64, stream: &StreamId, version: u64, n: u64) -> RecordedEvent {
    RecordedEvent {
        global_position: position,
        stream_id: stream.clone(),
        version,
        event_id: Uuid::now_v7(),
        event_type: "T".into(),
        schema_version: 1,
        data: RawJson::parse(format!("{{\"n\":{n}}}")).unwrap(),
        metadata: RawJson::empty_object(),
        recorded_at: Timestamp::from_micros(1_700_000_000_000_000 + position as i64),
    }
}

/// Removed positions (what a scavenge left) survive an import: they keep
/// their place, stay invisible and come back out of an export.
pub async fn import_keeps_removed_positions(a: Store, _b: Store) {
    let (s, t) = (sid("trim-1"), sid("other-1"));
    let items = vec![
        LogItem::Removed { position: 1, stream: s.clone(), version: 1 },
        LogItem::Event(recorded(2, &t, 1, 2)),
        LogItem::Removed { position: 3, stream: s.clone(), version: 2 },
        LogItem::Metadata { head: 3, stream: s.clone(), metadata: StreamMetadata { truncate_before: Some(3), ..Default::default() } },
        LogItem::Event(recorded(4, &s, 3, 4)),
    ];
    a.import_log(items.clone()).await.unwrap();
    let visible: Vec<_> = a.read_all(&ReadAll::forward()).await.unwrap().events.iter().map(|e| e.global_position).collect();
    assert_eq!(visible, vec![2, 4]);
    assert_eq!(a.stream_info(&s).await.unwrap().last_version, 3);
    assert_eq!(export_all(&a).await, items);
    let next = a.append(&s, Ev::Exact(3), vec![event("T", 5)]).await.unwrap();
    assert_eq!((next.first_position, next.first_version), (5, 4));
}

/// A misplaced position, a broken version chain, a reused id or bad
/// settings fail the whole import and store nothing.
pub async fn bad_imports_store_nothing(a: Store, _b: Store) {
    let s = sid("bad-1");
    a.append(&s, Ev::NoStream, vec![event("T", 1)]).await.unwrap();
    let stored = a.read_all(&ReadAll::forward()).await.unwrap().events;
    let before = export_all(&a).await;
    let mut reused = recorded(2, &s, 2, 2);
    reused.event_id = stored[0].event_id;
    let bad_settings = StreamMetadata { max_count: Some(0), ..Default::default() };
    let cases = vec![
        vec![LogItem::Event(recorded(3, &s, 2, 3))],
        vec![LogItem::Event(recorded(2, &s, 3, 2))],
        vec![LogItem::Event(recorded(2, &sid("new-1"), 2, 2))],
        vec![LogItem::Event(recorded(2, &s, 2, 2)), LogItem::Event(recorded(4, &s, 3, 4))],
        vec![LogItem::Event(reused)],
        vec![LogItem::Group { name: "x".repeat(chronicle_core::MAX_STREAM_ID_BYTES), progress: billing() }],
        vec![LogItem::Event(recorded(2, &s, 2, 2)), LogItem::Metadata { head: 2, stream: s.clone(), metadata: bad_settings }],
    ];
    for items in cases {
        let err = a.import_log(items.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { .. } | Error::DuplicateEventId { .. }), "{items:?}: {err:?}");
        assert_eq!(export_all(&a).await, before, "{items:?} stored something");
    }
}

/// An export of a range holds exactly that range's events and changes,
/// and its state is clamped to the range's end.
pub async fn point_in_export_range_is_honoured(a: Store, _b: Store) {
    build(&a).await;
    let items = export(&a, ExportRange { after: 3, through: 6 }).await;
    let positions: Vec<_> = items.iter().filter_map(LogItem::position).collect();
    assert_eq!(positions, vec![4, 5, 6]);
    let mut state: Vec<_> = items.iter().filter(|i| i.is_state()).cloned().collect();
    canonical(&mut state);
    let o1 = sid("order-1");
    // order-1's version 2 is at position 2 ≤ 6: its snapshot belongs; checkpoints are clamped to 6.
    assert!(matches!(&state[0], LogItem::Snapshot(s) if s.stream_id == o1), "{state:?}");
    assert_eq!(
        state[1..],
        [
            LogItem::Checkpoint { consumer: "mailer".into(), position: 6 },
            LogItem::Checkpoint { consumer: "projector".into(), position: 5 },
            LogItem::Group { name: "billing".into(), progress: GroupProgress { acked: vec![5], ..billing() } },
        ]
    );
    // The retention of kept-1 was set at head 3 (inside [3, 6]); the soft delete came later.
    assert!(items.iter().any(|i| matches!(i, LogItem::Metadata { head: 3, .. })), "{items:?}");
    assert!(!items.iter().any(|i| matches!(i, LogItem::Delete { .. })), "{items:?}");
    let early = export(&a, ExportRange { after: 0, through: 1 }).await;
    assert!(!early.iter().any(|i| matches!(i, LogItem::Snapshot(_))), "order-1 v2 is at position 2: {early:?}");
}

/// A group's progress comes back out of an export as it was last
/// imported, and is what the group reads when it starts (the snapshot of
/// its `$group-` stream).
pub async fn group_progress_is_kept_as_imported(a: Store, _b: Store) {
    let later = GroupProgress { checkpoint: 7, read_through: Some(12), unhandled: vec![9, 11], retries: vec![(9, 1)], acked: vec![] };
    a.append(&sid("work-1"), Ev::NoStream, (0..12).map(|n| event("W", n)).collect()).await.unwrap();
    for progress in [billing(), later.clone()] {
        a.import_log(vec![LogItem::Group { name: "billing".into(), progress }]).await.unwrap();
    }
    let state: Vec<_> = export_all(&a).await.into_iter().filter(LogItem::is_state).collect();
    assert_eq!(state, vec![LogItem::Group { name: "billing".into(), progress: later.clone() }]);
    let stream = GroupProgress::stream("billing").unwrap();
    let saved = a.load_snapshot(&stream).await.unwrap().expect("the progress snapshot");
    assert_eq!(GroupProgress::from_state(&saved.state).unwrap(), later);
    assert!(a.read_stream(&stream, ReadStream::forward()).await.unwrap().is_empty(), "no event is written for it");
}
