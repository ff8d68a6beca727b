//! Reads: stream reads, filtered global reads, paging, lookups.

use super::{Store, all, positions};
use crate::{event, event_with_meta, sid};
use chronicle_core::{Direction, Error, ExpectedVersion as Ev, Filter, ReadAll, ReadStream, StreamId, Timestamp, Uuid};
use serde_json::json;
use std::time::Duration;

async fn versions(store: &Store, s: &StreamId, opts: ReadStream) -> Vec<u64> {
    store.read_stream(s, opts).await.unwrap().iter().map(|e| e.version).collect()
}

/// Forward/backward, inclusive `from`, limits; unknown streams read empty.
pub async fn read_stream_directions_from_and_limit(store: Store) {
    let s = sid("rs-1");
    store.append(&s, Ev::Any, (1..=10).map(|n| event("T", n)).collect()).await.unwrap();
    store.append(&sid("rs-2"), Ev::Any, vec![event("T", 0)]).await.unwrap();
    assert_eq!(versions(&store, &s, ReadStream::forward()).await, (1..=10).collect::<Vec<_>>());
    assert_eq!(versions(&store, &s, ReadStream::forward().from(4).limit(3)).await, vec![4, 5, 6]);
    assert_eq!(versions(&store, &s, ReadStream::forward().from(10)).await, vec![10]);
    assert!(versions(&store, &s, ReadStream::forward().from(11)).await.is_empty());
    assert_eq!(versions(&store, &s, ReadStream::backward().limit(3)).await, vec![10, 9, 8]);
    assert_eq!(versions(&store, &s, ReadStream::backward().from(2)).await, vec![2, 1]);
    assert_eq!(versions(&store, &s, ReadStream::backward().from(99).limit(1)).await, vec![10]);
    assert!(versions(&store, &sid("nobody-1"), ReadStream::forward()).await.is_empty());
    let err = store.read_stream(&s, ReadStream::forward().limit(0)).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "limit"), "{err:?}");
    let e = &store.read_stream(&s, ReadStream::forward().from(3).limit(1)).await.unwrap()[0];
    assert_eq!((e.event_type.as_ref(), e.data.as_bytes(), e.global_position), ("T", &br#"{"n":3}"#[..], 3));
}

async fn matching(store: &Store, filter: Filter) -> Vec<u64> {
    positions(&store.read_all(&ReadAll::forward().filter(filter)).await.unwrap().events)
}

/// Every read_all filter, alone and combined.
pub async fn read_all_filters(store: Store) {
    let meta =
        |corr: &str, actor: &str, tags: &[&str]| json!({"correlation_id": corr, "actor": {"type": "user", "id": actor}, "tags": tags});
    store.append(&sid("order-1"), Ev::Any, vec![event_with_meta("Placed", 1, meta("c1", "ann", &["vip"]))]).await.unwrap();
    store.append(&sid("order-2"), Ev::Any, vec![event_with_meta("Paid", 2, meta("c2", "bob", &["vip", "eu"]))]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mid = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store.append(&sid("orderline-1"), Ev::Any, vec![event_with_meta("Placed", 3, meta("c1", "bob", &["eu"]))]).await.unwrap();
    store.append(&sid("user-1"), Ev::Any, vec![event("Registered", 4)]).await.unwrap();

    let f = Filter::default;
    assert_eq!(matching(&store, f()).await, vec![1, 2, 3, 4]);
    assert_eq!(matching(&store, Filter { event_types: vec!["Placed".into()], ..f() }).await, vec![1, 3]);
    assert_eq!(matching(&store, Filter { event_types: vec!["Placed".into(), "Registered".into()], ..f() }).await, vec![1, 3, 4]);
    assert_eq!(matching(&store, Filter { category: Some("order".into()), ..f() }).await, vec![1, 2]);
    assert_eq!(matching(&store, Filter { stream_prefix: Some("order".into()), ..f() }).await, vec![1, 2, 3]);
    assert_eq!(matching(&store, Filter { stream_id: Some(sid("order-2")), ..f() }).await, vec![2]);
    assert_eq!(matching(&store, Filter { correlation_id: Some("c1".into()), ..f() }).await, vec![1, 3]);
    assert_eq!(matching(&store, Filter { actor_id: Some("bob".into()), ..f() }).await, vec![2, 3]);
    assert_eq!(matching(&store, Filter { actor_type: Some("service".into()), ..f() }).await, Vec::<u64>::new());
    assert_eq!(matching(&store, Filter { tags: vec!["vip".into()], ..f() }).await, vec![1, 2]);
    assert_eq!(matching(&store, Filter { tags: vec!["vip".into(), "eu".into()], ..f() }).await, vec![2]);
    assert_eq!(matching(&store, Filter { since: Some(mid), ..f() }).await, vec![3, 4]);
    assert_eq!(matching(&store, Filter { until: Some(mid), ..f() }).await, vec![1, 2]);
    let combined = Filter { event_types: vec!["Placed".into()], actor_id: Some("bob".into()), since: Some(mid), ..f() };
    assert_eq!(matching(&store, combined).await, vec![3]);
    let back = store.read_all(&ReadAll::backward().filter(Filter { tags: vec!["eu".into()], ..f() })).await.unwrap();
    assert_eq!(positions(&back.events), vec![3, 2]);
}

/// Paging with `next` visits every matching event exactly once, both ways.
pub async fn read_all_cursor_paging_covers_everything_once(store: Store) {
    for i in 0..25u64 {
        let t = if i % 3 == 0 { "Fizz" } else { "Other" };
        store.append(&sid(&format!("p-{}", i % 5)), Ev::Any, vec![event(t, i)]).await.unwrap();
    }
    for (direction, filter) in [
        (Direction::Forward, Filter::default()),
        (Direction::Backward, Filter::default()),
        (Direction::Forward, Filter { event_types: vec!["Fizz".into()], ..Filter::default() }),
        (Direction::Backward, Filter { event_types: vec!["Fizz".into()], ..Filter::default() }),
    ] {
        let mut read = ReadAll { direction, limit: Some(4), filter: filter.clone(), ..ReadAll::default() };
        let mut seen = Vec::new();
        loop {
            let page = store.read_all(&read).await.unwrap();
            assert!(page.events.len() <= 4);
            assert_eq!(page.head, 25);
            seen.extend(positions(&page.events));
            match page.next {
                Some(next) => read.from = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<u64> = (1..=25).filter(|p| filter.event_types.is_empty() || (p - 1) % 3 == 0).collect();
        if direction == Direction::Backward {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{direction:?} {filter:?}");
    }
    let mid = store.read_all(&ReadAll::forward().from(24)).await.unwrap();
    assert_eq!((positions(&mid.events), mid.next), (vec![24, 25], None));
    let past = store.read_all(&ReadAll::forward().from(26)).await.unwrap();
    assert!(past.events.is_empty() && past.next.is_none());
}

/// Lookup by event id and by correlation id.
pub async fn get_event_and_by_correlation(store: Store) {
    let id = Uuid::now_v7();
    store.append(&sid("g-1"), Ev::Any, vec![event_with_meta("A", 1, json!({"correlation_id": "k"})).with_id(id)]).await.unwrap();
    store.append(&sid("g-2"), Ev::Any, vec![event("B", 2)]).await.unwrap();
    store
        .append(&sid("g-3"), Ev::Any, vec![event_with_meta("C", 3, json!({"correlation_id": "k", "causation_id": id.to_string()}))])
        .await
        .unwrap();
    let e = store.get_event(id).await.unwrap().expect("stored event");
    assert_eq!((e.global_position, e.stream_id.as_str(), e.event_id), (1, "g-1", id));
    assert_eq!(e.well_known_metadata().unwrap().correlation_id.as_deref(), Some("k"));
    assert!(store.get_event(Uuid::now_v7()).await.unwrap().is_none());
    let correlated = store.read_by_correlation("k").await.unwrap();
    assert_eq!(positions(&correlated), vec![1, 3]);
    assert_eq!(correlated[1].well_known_metadata().unwrap().causation_id, Some(id.to_string()));
    assert_eq!(all(&store).await.len(), 3);
}
