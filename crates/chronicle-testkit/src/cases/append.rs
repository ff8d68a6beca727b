//! Append semantics: positions, versions, concurrency, idempotency, atomicity, DCB.

use super::{Store, all, positions};
use crate::{event, event_with_meta, sid};
use chronicle_core::{AppendCondition, Error, EventQuery, ExpectedVersion as Ev, ReadStream, StreamAppend, Uuid};
use serde_json::json;

/// First event is position 1 and version 1; positions are gapless across streams.
pub async fn positions_and_versions_start_at_one_and_are_gapless(store: Store) {
    let (a, b) = (sid("a-1"), sid("b-1"));
    let r1 = store.append(&a, Ev::Any, vec![event("T", 1), event("T", 2)]).await.unwrap();
    assert_eq!((r1.first_position, r1.last_position, r1.first_version, r1.last_version), (1, 2, 1, 2));
    let r2 = store.append(&b, Ev::Any, vec![event("T", 3)]).await.unwrap();
    assert_eq!((r2.first_position, r2.first_version), (3, 1));
    let r3 = store.append(&a, Ev::Any, vec![event("T", 4)]).await.unwrap();
    assert_eq!((r3.first_position, r3.first_version), (4, 3));
    let events = all(&store).await;
    assert_eq!(positions(&events), vec![1, 2, 3, 4]);
    let versions: Vec<_> = events.iter().map(|e| (e.stream_id.as_str(), e.version)).collect();
    assert_eq!(versions, vec![("a-1", 1), ("a-1", 2), ("b-1", 1), ("a-1", 3)]);
    assert_eq!(store.head().await.unwrap(), 4);
}

/// NoStream / StreamExists / Exact / Any, and the conflict names the actual version.
pub async fn expected_version_is_enforced_and_conflicts_report_actual(store: Store) {
    let s = sid("acct-1");
    let err = store.append(&s, Ev::StreamExists, vec![event("T", 0)]).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { actual: None, .. }), "{err:?}");
    let err = store.append(&s, Ev::Exact(0), vec![event("T", 0)]).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { actual: None, .. }), "{err:?}");
    store.append(&s, Ev::NoStream, vec![event("T", 1)]).await.unwrap();
    let err = store.append(&s, Ev::NoStream, vec![event("T", 2)]).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { expected: Ev::NoStream, actual: Some(1), .. }), "{err:?}");
    store.append(&s, Ev::StreamExists, vec![event("T", 2)]).await.unwrap();
    let err = store.append(&s, Ev::Exact(1), vec![event("T", 3)]).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { expected: Ev::Exact(1), actual: Some(2), .. }), "{err:?}");
    assert!(err.to_string().contains("expected 1") && err.to_string().contains("actual 2"), "{err}");
    store.append(&s, Ev::Exact(2), vec![event("T", 3)]).await.unwrap();
    store.append(&s, Ev::Any, vec![event("T", 4)]).await.unwrap();
    assert_eq!(store.read_stream(&s, ReadStream::forward()).await.unwrap().len(), 4);
}

/// Many writers race on the same expected version; exactly one wins each round.
pub async fn racing_writers_exactly_one_wins_each_version(store: Store) {
    let s = sid("race-1");
    for round in 0..5u64 {
        let mut tasks = Vec::new();
        for w in 0..8u64 {
            let (store, s) = (store.clone(), s.clone());
            let expected = if round == 0 { Ev::NoStream } else { Ev::Exact(round) };
            tasks.push(tokio::spawn(async move { store.append(&s, expected, vec![event("T", w)]).await }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => {
                    wins += 1;
                    assert_eq!(r.first_version, round + 1);
                }
                Err(Error::WrongExpectedVersion { actual, .. }) => assert_eq!(actual, Some(round + 1)),
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
    assert_eq!(positions(&all(&store).await), vec![1, 2, 3, 4, 5]);
}

/// Concurrent appends to many streams leave gapless positions and contiguous versions.
pub async fn concurrent_appends_are_gapless(store: Store) {
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20u64 {
                let s = sid(&format!("c-{}", (w + i) % 4));
                store.append(&s, Ev::Any, vec![event("T", i), event("T", i)]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = all(&store).await;
    assert_eq!(positions(&events), (1..=640).collect::<Vec<_>>());
    for k in 0..4 {
        let s = sid(&format!("c-{k}"));
        let versions: Vec<_> = store.read_stream(&s, ReadStream::forward()).await.unwrap().iter().map(|e| e.version).collect();
        assert_eq!(versions, (1..=160).collect::<Vec<_>>());
    }
}

/// A retried append (same ids) succeeds with the original result and stores nothing,
/// even when its `no-stream` expectation no longer holds.
pub async fn retried_append_is_idempotent(store: Store) {
    let s = sid("idem-1");
    let ids = [Uuid::now_v7(), Uuid::now_v7()];
    let batch = || ids.iter().map(|&id| event("T", 1).with_id(id)).collect::<Vec<_>>();
    store.append(&sid("other-1"), Ev::Any, vec![event("T", 0)]).await.unwrap();
    let first = store.append(&s, Ev::NoStream, batch()).await.unwrap();
    let again = store.append(&s, Ev::NoStream, batch()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!((again.first_position, again.last_position), (2, 3));
    store.append(&s, Ev::Exact(2), vec![event("T", 2)]).await.unwrap();
    let third = store.append(&s, Ev::Exact(0), batch()).await.unwrap();
    assert_eq!(third, first);
    // A retry of only the second event is also a consecutive run.
    let tail = store.append(&s, Ev::Any, vec![event("T", 1).with_id(ids[1])]).await.unwrap();
    assert_eq!((tail.first_version, tail.first_position), (2, 3));
    assert_eq!(store.head().await.unwrap(), 4);
    assert_eq!(store.metrics().await.idempotent_appends, 3);
}

/// Ids that exist only partly, out of order, or in another stream are an error.
pub async fn partial_or_misplaced_duplicates_are_rejected(store: Store) {
    let s = sid("dup-1");
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    store.append(&s, Ev::Any, vec![event("T", 1).with_id(a), event("T", 2).with_id(b)]).await.unwrap();
    let cases = [
        (sid("dup-1"), vec![event("T", 1).with_id(a), event("T", 3)]),
        (sid("dup-1"), vec![event("T", 2).with_id(b), event("T", 1).with_id(a)]),
        (sid("dup-2"), vec![event("T", 1).with_id(a)]),
    ];
    for (stream, events) in cases {
        let err = store.append(&stream, Ev::Any, events).await.unwrap_err();
        assert!(matches!(err, Error::DuplicateEventId { .. }), "{err:?}");
    }
    assert_eq!(store.head().await.unwrap(), 2);
}

/// An append of zero events is invalid.
pub async fn empty_append_is_invalid(store: Store) {
    let err = store.append(&sid("e-1"), Ev::Any, vec![]).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "events"), "{err:?}");
    let err = store.append_multi(vec![]).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(store.head().await.unwrap(), 0);
}

/// A multi-stream append stores every part or none.
pub async fn multi_stream_append_is_atomic(store: Store) {
    let (a, b) = (sid("m-a"), sid("m-b"));
    store.append(&b, Ev::Any, vec![event("T", 0)]).await.unwrap();
    let parts = |eb| {
        vec![
            StreamAppend::new(a.clone(), Ev::NoStream, vec![event("T", 1), event("T", 2)]),
            StreamAppend::new(b.clone(), eb, vec![event("T", 3)]),
        ]
    };
    let err = store.append_multi(parts(Ev::NoStream)).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { ref stream, .. } if *stream == b), "{err:?}");
    assert_eq!(store.head().await.unwrap(), 1);
    assert!(store.read_stream(&a, ReadStream::forward()).await.unwrap().is_empty());
    let results = store.append_multi(parts(Ev::Exact(1))).await.unwrap();
    assert_eq!((results[0].first_position, results[0].last_position), (2, 3));
    assert_eq!((results[1].first_position, results[1].first_version), (4, 2));
    let dup = vec![StreamAppend::new(a.clone(), Ev::Any, vec![event("T", 1)]), StreamAppend::new(a.clone(), Ev::Any, vec![event("T", 1)])];
    let err = store.append_multi(dup).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "streams[1].stream"), "{err:?}");
}

/// A DCB condition fails when a matching event was recorded after the position.
pub async fn dcb_condition_guards_the_append(store: Store) {
    let course = |n| event_with_meta("StudentEnrolled", n, json!({"tags": ["course:7", format!("student:{n}")]}));
    store.append(&sid("course-7"), Ev::Any, vec![course(1)]).await.unwrap();
    store.append(&sid("noise-1"), Ev::Any, vec![event("Other", 0)]).await.unwrap();
    let cond = |after| AppendCondition { query: EventQuery::item(vec!["StudentEnrolled".into()], vec!["course:7".into()]), after };
    let part = || vec![StreamAppend::new(sid("course-7"), Ev::Any, vec![course(2)])];
    let err = store.append_if(cond(None), part()).await.unwrap_err();
    assert!(matches!(err, Error::AppendConditionFailed { position: 1 }), "{err:?}");
    let ok = store.append_if(cond(Some(2)), part()).await.unwrap();
    assert_eq!(ok[0].first_position, 3);
    let err = store.append_if(cond(Some(2)), part()).await.unwrap_err();
    assert!(matches!(err, Error::AppendConditionFailed { position: 3 }), "{err:?}");
    // Tags are ANDed within an item: no event carries both tags.
    let strict = AppendCondition { query: EventQuery::item(vec![], vec!["course:7".into(), "student:9".into()]), after: None };
    store.append_if(strict, part()).await.unwrap();
    assert_eq!(store.head().await.unwrap(), 4);
    // An item with a stream prefix counts only those streams' events (a tenant's query).
    let scoped = |prefix: &str| {
        let mut query = EventQuery::item(vec!["StudentEnrolled".into()], vec!["course:7".into()]);
        query.items[0].stream_prefix = Some(prefix.to_owned());
        AppendCondition { query, after: None }
    };
    store.append_if(scoped("@acme/"), part()).await.unwrap();
    let err = store.append_if(scoped("course-"), part()).await.unwrap_err();
    assert!(matches!(err, Error::AppendConditionFailed { position: 1 }), "{err:?}");
}
