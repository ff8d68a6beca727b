//! One enforcement pass over a real (memory) store: count and age rules,
//! a keep tag stopping a cut, the default, system streams untouched, a
//! dry run that changes nothing, and a second pass that finds nothing.

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId, Timestamp};
use chronicle_memory::MemoryStore;
use chronicle_retention::{Retention, RetentionSettings, enforce, last_pass};

fn sid(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}

async fn append(store: &MemoryStore, stream: &str, n: u64, kept: &[u64]) {
    let events = (1..=n)
        .map(|v| {
            let tags: Vec<&str> = if kept.contains(&v) { vec!["legal-hold"] } else { vec![] };
            NewEvent::json("E", &serde_json::json!({"v": v})).unwrap().with_metadata(&serde_json::json!({"tags": tags})).unwrap()
        })
        .collect();
    store.append(&sid(stream), ExpectedVersion::Any, events).await.unwrap();
}

async fn versions(store: &MemoryStore, stream: &str) -> Vec<u64> {
    store.read_stream(&sid(stream), ReadStream::forward()).await.unwrap().iter().map(|e| e.version).collect()
}

#[tokio::test]
async fn a_pass_hides_each_bound_streams_removable_prefix() {
    let store = MemoryStore::new();
    append(&store, "telemetry-1", 10, &[]).await;
    append(&store, "tmp-1", 5, &[3]).await;
    append(&store, "order-1", 4, &[]).await;
    append(&store, "audit-1", 4, &[]).await;
    append(&store, "$system", 4, &[]).await;
    let settings = RetentionSettings::from_table(
        &toml::from_str(
            r#"
            default = 2
            [[rules]]
            category = "telemetry"
            max_count = 3
            [[rules]]
            streams = "tmp-*"
            max_count = 1
            [[rules]]
            category = "audit"
            max_age = "30d"
            [[keep]]
            tags = ["legal-hold"]
        "#,
        )
        .unwrap(),
    )
    .unwrap();

    let dry = enforce(&store, &settings, Timestamp::now(), true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.events(), 7 + 2 + 2, "telemetry 7, tmp 2 (the kept 3 stops it), order 2 (default)");
    assert_eq!(versions(&store, "telemetry-1").await.len(), 10, "a dry run changes nothing");

    let done = enforce(&store, &settings, Timestamp::now(), false).await.unwrap();
    assert_eq!((done.streams_examined, done.events()), (4, 11), "{done:?}");
    let by_rule: Vec<(&str, u64, u64)> = done.rules.iter().map(|r| (r.rule.as_str(), r.streams, r.events)).collect();
    assert_eq!(by_rule, [("category=telemetry", 1, 7), ("default", 1, 2), ("streams=tmp-*", 1, 2)]);
    assert_eq!(versions(&store, "telemetry-1").await, [8, 9, 10]);
    assert_eq!(versions(&store, "tmp-1").await, [3, 4, 5], "the kept event and everything after it stay");
    assert_eq!(versions(&store, "order-1").await, [3, 4]);
    assert_eq!(versions(&store, "audit-1").await, [1, 2, 3, 4], "younger than 30 days");
    assert_eq!(versions(&store, "$system").await.len(), 4, "system streams are never bound");
    assert_eq!(enforce(&store, &settings, Timestamp::now(), false).await.unwrap().events(), 0, "a second pass finds nothing");

    // A month later the audit rule takes the whole stream; the kept tmp event still stands.
    let later = Timestamp::from_micros(Timestamp::now().as_micros() + 31 * 86_400_000_000);
    let aged = enforce(&store, &settings, later, false).await.unwrap();
    assert_eq!(versions(&store, "audit-1").await, Vec::<u64>::new());
    assert_eq!(aged.rules.iter().find(|r| r.rule == "category=audit").map(|r| r.events), Some(4));
    assert_eq!(versions(&store, "tmp-1").await, [3, 4, 5]);
    // Appends go on after the cut, with the next versions.
    append(&store, "audit-1", 1, &[]).await;
    assert_eq!(versions(&store, "audit-1").await, [5]);
}

#[tokio::test]
async fn scheduled_passes_fire_on_their_interval_and_stop_on_shutdown() {
    let store = std::sync::Arc::new(MemoryStore::new());
    append(&store, "tmp-1", 5, &[]).await;
    let settings =
        RetentionSettings::from_table(&toml::from_str("interval = \"1s\"\n[[rules]]\nstreams = \"tmp-*\"\nmax_count = 2").unwrap())
            .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let leases = std::sync::Arc::new(chronicle_core::LocalLeases::default());
    let maintenance = std::sync::Arc::new(chronicle_core::NoMaintenance("memory"));
    let retention = std::sync::Arc::new(Retention::new(store.clone(), maintenance, settings));
    let task = tokio::spawn(retention.clone().schedule(leases, "node".into(), stopped));
    assert_eq!(versions(&store, "tmp-1").await.len(), 5, "nothing before the first interval");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while versions(&store, "tmp-1").await != [4, 5] {
        assert!(std::time::Instant::now() < deadline, "no pass within 5 s of a 1 s interval");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    append(&store, "tmp-1", 2, &[]).await; // versions 6, 7
    while versions(&store, "tmp-1").await != [6, 7] {
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(3), "no second pass");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(2), task).await.expect("stops on shutdown").unwrap();

    // Each pass that removed something is recorded, and counted per rule.
    let last = last_pass(&*store).await.unwrap().expect("a recorded pass");
    assert_eq!((last.trigger.as_str(), last.events(), last.dry_run), ("schedule", 2, false));
    assert!(last.reclaimed.is_none(), "the memory store keeps no storage to reclaim");
    let metrics = retention.render_prometheus();
    assert!(metrics.contains("chronicle_retention_removed_total{rule=\"streams=tmp-*\"} 5"), "{metrics}");
    assert!(metrics.contains("chronicle_retention_passes_total "), "{metrics}");
    assert!(metrics.contains("chronicle_retention_next_run_timestamp_seconds "), "{metrics}");
    assert!(metrics.contains("chronicle_retention_last_run_duration_seconds "), "{metrics}");
}

#[tokio::test]
async fn a_dry_run_is_neither_recorded_nor_counted() {
    let store = std::sync::Arc::new(MemoryStore::new());
    append(&store, "tmp-1", 5, &[]).await;
    let settings = RetentionSettings::from_table(&toml::from_str("[[rules]]\nstreams = \"tmp-*\"\nmax_count = 2").unwrap()).unwrap();
    let retention = Retention::new(store.clone(), std::sync::Arc::new(chronicle_core::NoMaintenance("memory")), settings);
    let dry = retention.run("cli", true).await.unwrap();
    assert_eq!((dry.events(), dry.trigger.as_str()), (3, "cli"));
    assert_eq!(versions(&store, "tmp-1").await.len(), 5);
    assert!(last_pass(&*store).await.unwrap().is_none());
    assert!(!retention.render_prometheus().contains("rule="));
    let done = retention.run("cli", false).await.unwrap();
    assert_eq!(done.events(), 3);
    assert_eq!(last_pass(&*store).await.unwrap().map(|p| p.events()), Some(3));
    assert_eq!(retention.run("cli", false).await.unwrap().events(), 0);
    assert_eq!(
        store.read_stream(&sid("$retention"), ReadStream::forward()).await.unwrap().len(),
        1,
        "a pass removing nothing is not recorded"
    );
}
