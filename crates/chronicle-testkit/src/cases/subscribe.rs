//! Subscriptions: catch-up, live, start positions, filters, backpressure.

use super::Store;
use crate::{event, sid};
use chronicle_core::{ExpectedVersion as Ev, Filter, RecordedEvent, SubscribeFrom, Subscription, Timestamp};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn take(sub: &mut Subscription, n: usize) -> Vec<RecordedEvent> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let next = tokio::time::timeout(WAIT, sub.next()).await;
        let event = next.expect("subscription stalled").expect("subscription ended").expect("subscription error");
        out.push(event);
    }
    out
}

async fn assert_quiet(sub: &mut Subscription) {
    let extra = tokio::time::timeout(Duration::from_millis(50), sub.next()).await;
    assert!(extra.is_err(), "unexpected extra delivery: {extra:?}");
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.global_position).collect()
}

/// From the start: history, then events appended while (and after) catching up.
pub async fn subscription_crosses_from_history_into_live(store: Store) {
    for i in 0..1200 {
        store.append(&sid(&format!("s-{}", i % 7)), Ev::Any, vec![event("T", i)]).await.unwrap();
    }
    let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                store.append(&sid("live-1"), Ev::Any, vec![event("T", i), event("T", i)]).await.unwrap();
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let got = take(&mut sub, 1800).await;
    writer.await.unwrap();
    assert_eq!(positions(&got), (1..=1800).collect::<Vec<_>>());
    assert_quiet(&mut sub).await;
    store.append(&sid("late-1"), Ev::Any, vec![event("T", 0)]).await.unwrap();
    assert_eq!(take(&mut sub, 1).await[0].global_position, 1801);
    assert_eq!(store.metrics().await.active_subscriptions, 1);
    drop(sub);
}

/// From a position (inclusive), from a timestamp, and from the end.
pub async fn subscription_starts_mid_history(store: Store) {
    let s = sid("mid-1");
    for i in 0..10 {
        store.append(&s, Ev::Any, vec![event("T", i)]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let t = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store.append(&s, Ev::Any, vec![event("T", 10), event("T", 11)]).await.unwrap();

    let mut from_pos = store.subscribe(SubscribeFrom::Position(7), Filter::default()).await.unwrap();
    assert_eq!(positions(&take(&mut from_pos, 6).await), vec![7, 8, 9, 10, 11, 12]);
    let mut from_time = store.subscribe(SubscribeFrom::Timestamp(t), Filter::default()).await.unwrap();
    assert_eq!(positions(&take(&mut from_time, 2).await), vec![11, 12]);
    let mut from_end = store.subscribe(SubscribeFrom::End, Filter::default()).await.unwrap();
    assert_quiet(&mut from_end).await;
    store.append(&s, Ev::Any, vec![event("T", 12)]).await.unwrap();
    for sub in [&mut from_pos, &mut from_time, &mut from_end] {
        assert_eq!(positions(&take(sub, 1).await), vec![13]);
        assert_quiet(sub).await;
    }
}

/// A filtered or single-stream subscription sees only its events, across catch-up and live.
pub async fn subscription_filters_and_streams(store: Store) {
    for i in 0..600u64 {
        let t = if i % 10 == 0 { "Rare" } else { "Common" };
        store.append(&sid(&format!("f-{}", i % 3)), Ev::Any, vec![event(t, i)]).await.unwrap();
    }
    let rare = Filter { event_types: vec!["Rare".into()], ..Filter::default() };
    let mut sub = store.subscribe(SubscribeFrom::Start, rare).await.unwrap();
    let one = Filter { stream_id: Some(sid("f-1")), ..Filter::default() };
    let mut stream_sub = store.subscribe(SubscribeFrom::Start, one).await.unwrap();
    let got = take(&mut sub, 60).await;
    assert!(got.iter().all(|e| &*e.event_type == "Rare"));
    assert_eq!(positions(&got), (0..60).map(|k| k * 10 + 1).collect::<Vec<_>>());
    let got = take(&mut stream_sub, 200).await;
    assert!(got.iter().all(|e| e.stream_id.as_str() == "f-1"));
    assert_eq!(got.iter().map(|e| e.version).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
    store.append(&sid("f-1"), Ev::Any, vec![event("Common", 0), event("Rare", 1)]).await.unwrap();
    assert_eq!(positions(&take(&mut sub, 1).await), vec![602]);
    assert_eq!(positions(&take(&mut stream_sub, 2).await), vec![601, 602]);
    assert_quiet(&mut sub).await;
}

/// A consumer that does not read for a while still gets every event, in order.
pub async fn slow_subscriber_gets_everything_in_order(store: Store) {
    let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    for chunk in 0..40u64 {
        let events = (0..50).map(|i| event("T", chunk * 50 + i)).collect();
        store.append(&sid("slow-1"), Ev::Any, events).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = take(&mut sub, 2000).await;
    assert_eq!(positions(&got), (1..=2000).collect::<Vec<_>>());
    assert_quiet(&mut sub).await;
}
