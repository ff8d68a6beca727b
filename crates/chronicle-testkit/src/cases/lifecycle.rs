//! Stream lifecycle, snapshots, checkpoints, validation, health.

use super::{Store, all, positions};
use crate::{event, sid};
use chronicle_core::{
    DeleteMode, Error, ExpectedVersion as Ev, Filter, NewEvent, RawJson, ReadAll, ReadStream, Snapshot, StreamMetadata, StreamStatus,
};
use std::time::Duration;

/// Soft delete hides events; appending recreates the stream with continued versions.
pub async fn soft_delete_hides_and_recreate_continues_versions(store: Store) {
    let s = sid("soft-1");
    let first = store.append(&s, Ev::Any, vec![event("T", 1), event("T", 2)]).await.unwrap();
    store.append(&sid("keep-1"), Ev::Any, vec![event("T", 3)]).await.unwrap();
    let err = store.delete_stream(&s, Ev::Exact(1), DeleteMode::Soft).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { actual: Some(2), .. }), "{err:?}");
    store.delete_stream(&s, Ev::Exact(2), DeleteMode::Soft).await.unwrap();
    assert!(store.read_stream(&s, ReadStream::forward()).await.unwrap().is_empty());
    assert_eq!(positions(&all(&store).await), vec![3]);
    assert!(store.get_event(store.read_all(&ReadAll::forward()).await.unwrap().events[0].event_id).await.unwrap().is_some());
    let info = store.stream_info(&s).await.unwrap();
    assert_eq!((info.status, info.last_version, info.current_version()), (StreamStatus::SoftDeleted, 2, None));
    let err = store.append(&s, Ev::StreamExists, vec![event("T", 4)]).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { actual: None, .. }), "{err:?}");
    let again = store.append(&s, Ev::NoStream, vec![event("T", 4)]).await.unwrap();
    assert_eq!((again.first_version, again.first_position), (3, 4));
    let visible: Vec<_> = store.read_stream(&s, ReadStream::forward()).await.unwrap().iter().map(|e| e.version).collect();
    assert_eq!(visible, vec![3]);
    assert_eq!(positions(&all(&store).await), vec![3, 4]);
    assert_eq!(first.first_position, 1);
    assert_eq!(store.stream_info(&s).await.unwrap().status, StreamStatus::Active);
}

/// A tombstoned stream can never be read or appended to again.
pub async fn tombstone_is_final(store: Store) {
    let s = sid("gone-1");
    store.append(&s, Ev::Any, vec![event("T", 1)]).await.unwrap();
    store.append(&sid("other-1"), Ev::Any, vec![event("T", 2)]).await.unwrap();
    store.delete_stream(&s, Ev::Any, DeleteMode::Tombstone).await.unwrap();
    for result in [
        store.read_stream(&s, ReadStream::forward()).await.map(|_| ()),
        store.append(&s, Ev::Any, vec![event("T", 3)]).await.map(|_| ()),
        store.append(&s, Ev::NoStream, vec![event("T", 3)]).await.map(|_| ()),
        store.delete_stream(&s, Ev::Any, DeleteMode::Soft).await,
        store.set_stream_metadata(&s, StreamMetadata::default()).await,
    ] {
        assert!(matches!(result, Err(Error::StreamDeleted { .. })), "{result:?}");
    }
    assert_eq!(positions(&all(&store).await), vec![2]);
    assert_eq!(store.stream_info(&s).await.unwrap().status, StreamStatus::Tombstoned);
    // A never-written stream can be tombstoned to reserve its name.
    store.delete_stream(&sid("never-1"), Ev::NoStream, DeleteMode::Tombstone).await.unwrap();
    assert!(store.append(&sid("never-1"), Ev::Any, vec![event("T", 0)]).await.is_err());
    assert_eq!(store.head().await.unwrap(), 2);
}

/// max_count, truncate_before and max_age hide events on every read path.
pub async fn stream_metadata_retention_is_honoured_on_read(store: Store) {
    let s = sid("ret-1");
    store.append(&s, Ev::Any, (1..=6).map(|n| event("T", n)).collect()).await.unwrap();
    let versions = |events: Vec<chronicle_core::RecordedEvent>| events.iter().map(|e| e.version).collect::<Vec<_>>();
    let set = |m: StreamMetadata| {
        let (store, s) = (store.clone(), s.clone());
        async move { store.set_stream_metadata(&s, m).await.unwrap() }
    };
    set(StreamMetadata { max_count: Some(2), ..Default::default() }).await;
    assert_eq!(versions(store.read_stream(&s, ReadStream::forward()).await.unwrap()), vec![5, 6]);
    assert_eq!(versions(store.read_stream(&s, ReadStream::backward()).await.unwrap()), vec![6, 5]);
    assert_eq!(versions(store.read_all(&ReadAll::forward()).await.unwrap().events), vec![5, 6]);
    set(StreamMetadata { truncate_before: Some(3), ..Default::default() }).await;
    assert_eq!(versions(store.read_stream(&s, ReadStream::forward().limit(2)).await.unwrap()), vec![3, 4]);
    assert_eq!(store.stream_info(&s).await.unwrap().metadata.truncate_before, Some(3));
    set(StreamMetadata { max_age: Some(1), ..Default::default() }).await;
    assert_eq!(versions(store.read_stream(&s, ReadStream::forward()).await.unwrap()).len(), 6);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.append(&s, Ev::Any, vec![event("T", 7)]).await.unwrap();
    assert_eq!(versions(store.read_stream(&s, ReadStream::forward()).await.unwrap()), vec![7]);
    let filter = Filter { stream_id: Some(s.clone()), ..Filter::default() };
    assert_eq!(versions(store.read_all(&ReadAll::forward().filter(filter)).await.unwrap().events), vec![7]);
    let bad = store.set_stream_metadata(&s, StreamMetadata { max_count: Some(0), ..Default::default() }).await;
    assert!(matches!(bad, Err(Error::Invalid { ref field, .. }) if field == "metadata.max_count"), "{bad:?}");
    set(StreamMetadata::default()).await;
    assert_eq!(versions(store.read_stream(&s, ReadStream::forward()).await.unwrap()).len(), 7);
}

/// The latest snapshot (highest version) wins; older saves are ignored.
pub async fn snapshots_keep_the_latest(store: Store) {
    let s = sid("snap-1");
    assert!(store.load_snapshot(&s).await.unwrap().is_none());
    let snap = |version, state: &str| Snapshot {
        stream_id: s.clone(),
        version,
        schema_version: 2,
        state: RawJson::parse(state.as_bytes().to_vec()).unwrap(),
    };
    store.save_snapshot(snap(10, r#"{"total":10}"#)).await.unwrap();
    store.save_snapshot(snap(5, r#"{"total":5}"#)).await.unwrap();
    assert_eq!(store.load_snapshot(&s).await.unwrap(), Some(snap(10, r#"{"total":10}"#)));
    store.save_snapshot(snap(20, r#"{"total":20}"#)).await.unwrap();
    assert_eq!(store.load_snapshot(&s).await.unwrap().unwrap().version, 20);
    assert!(store.load_snapshot(&sid("snap-2")).await.unwrap().is_none());
}

/// Checkpoints save, overwrite and load per consumer name.
pub async fn checkpoints_round_trip(store: Store) {
    assert_eq!(store.load_checkpoint("projector").await.unwrap(), None);
    store.save_checkpoint("projector", 41).await.unwrap();
    store.save_checkpoint("projector", 42).await.unwrap();
    store.save_checkpoint("mailer", 7).await.unwrap();
    assert_eq!(store.load_checkpoint("projector").await.unwrap(), Some(42));
    assert_eq!(store.load_checkpoint("mailer").await.unwrap(), Some(7));
    let err = store.save_checkpoint("", 1).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "consumer"), "{err:?}");
}

/// Bad input fails with the field named, and nothing is stored.
pub async fn validation_errors_name_the_field_and_store_nothing(store: Store) {
    let s = sid("val-1");
    store.append(&s, Ev::Any, vec![event("T", 0)]).await.unwrap();
    let big = format!("\"{}\"", "x".repeat(100 * 1024 - 1));
    let big_meta = format!("{{\"x\":\"{}\"}}", "y".repeat(10 * 1024));
    let cases: Vec<(Vec<NewEvent>, &str, &str)> = vec![
        (vec![event("T", 1), NewEvent::raw("T", big.into_bytes())], "too_large", "events[1].data"),
        (vec![NewEvent::raw("T", &b"{\"a\":"[..])], "invalid", "events[0].data"),
        (vec![NewEvent::raw("T", &b"{}"[..]).with_metadata_raw(&b"[]"[..])], "invalid", "events[0].metadata"),
        (vec![NewEvent::raw("T", &b"{}"[..]).with_metadata_raw(big_meta.into_bytes())], "too_large", "events[0].metadata"),
        (vec![NewEvent::raw("T", &b"{}"[..]).with_metadata_raw(&br#"{"tags":"x"}"#[..])], "invalid", "events[0].metadata.tags"),
        (vec![NewEvent::raw("Bad Type", &b"{}"[..])], "invalid", "events[0].event_type"),
        (vec![NewEvent::raw("T", &b"{}"[..]).with_schema_version(0)], "invalid", "events[0].schema_version"),
    ];
    for (events, kind, field) in cases {
        let err = store.append(&s, Ev::Any, events).await.unwrap_err();
        let got_field = match &err {
            Error::Invalid { field, .. } | Error::TooLarge { field, .. } => field.as_str(),
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!((err.kind(), got_field), (kind, field), "{err}");
    }
    let exact = format!("\"{}\"", "x".repeat(100 * 1024 - 2));
    store.append(&s, Ev::Any, vec![NewEvent::raw("T", exact.into_bytes())]).await.unwrap();
    assert_eq!(positions(&all(&store).await), vec![1, 2]);
    assert_eq!(store.metrics().await.append_rejections, 7);
}

/// recorded_at never decreases with position.
pub async fn recorded_at_is_non_decreasing(store: Store) {
    for i in 0..200 {
        store.append(&sid(&format!("t-{}", i % 3)), Ev::Any, vec![event("T", i), event("T", i)]).await.unwrap();
    }
    let events = all(&store).await;
    assert!(events.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    let pair = &events[10..12];
    assert_eq!(pair[0].recorded_at, pair[1].recorded_at, "one append shares one commit time");
}

/// Health is ready; metrics count appends, conflicts and reads.
pub async fn health_and_metrics_report(store: Store) {
    let h = store.health().await;
    assert!(h.live && h.ready, "{h:?}");
    let s = sid("met-1");
    store.append(&s, Ev::Any, vec![event("T", 1), event("T", 2)]).await.unwrap();
    let _ = store.append(&s, Ev::NoStream, vec![event("T", 3)]).await;
    store.read_stream(&s, ReadStream::forward()).await.unwrap();
    let m = store.metrics().await;
    assert_eq!((m.appends, m.events_appended, m.append_conflicts, m.head_position), (1, 2, 1, 2));
    assert!(m.reads >= 1 && m.events_read >= 2, "{m:?}");
}
