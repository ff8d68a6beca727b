//! Crash test: a child process appends (single events and multi-event
//! batches, several concurrent writers) and prints each acknowledged
//! append; the parent SIGKILLs it at a random moment, reopens the store and
//! checks that every acknowledged event is present and intact, positions
//! are gapless, and no batch is partly visible. Many rounds on one store.

use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, Uuid};
use chronicle_file::{FileOptions, FileStore, verify};
use chronicle_testkit::sid;
use std::{collections::HashMap, time::Duration};

const CHILD_ENV: &str = "CHRONICLE_CRASH_CHILD_DIR";

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 32 * 1024, ..FileOptions::default() }
}

/// The child: append until killed (run only by its parent, with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of its parent crash test, run with --ignored by it"]
async fn crash_child_writer() {
    let dir = std::env::var(CHILD_ENV).expect("run by its parent crash test, which sets the data directory");
    let store = FileStore::open(dir.as_ref(), options()).expect("child open");
    let mut tasks = Vec::new();
    for w in 0..6u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0u64.. {
                let n = if (w + k) % 3 == 0 { 1 + (k % 7) as usize } else { 1 };
                let batch = Uuid::now_v7();
                let events: Vec<NewEvent> = (0..n)
                    .map(|i| NewEvent::json("Tick", &serde_json::json!({"batch": batch, "n": n, "i": i, "pad": "x".repeat(40)})).unwrap())
                    .collect();
                let r = store.append(&sid(&format!("w-{w}")), ExpectedVersion::Any, events).await.expect("child append");
                println!("ack {batch} {n} {} {}", r.first_position, r.last_position);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn run_child_and_kill(dir: &std::path::Path, after: Duration) -> Vec<(String, usize, u64, u64)> {
    let lines = chronicle_testkit::crash::run_child_and_kill("crash_child_writer", CHILD_ENV, dir, after);
    let parse = |l: &String| {
        let mut f = l.strip_prefix("ack ")?.split(' ');
        Some((f.next()?.to_owned(), f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    };
    lines.iter().filter_map(parse).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_an_acknowledged_event() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(String, usize, u64, u64)> = Vec::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..12 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(60 + seed % 250);
        let new = run_child_and_kill(dir.path(), wait);
        assert!(!new.is_empty() || round > 0, "child acknowledged nothing in {wait:?}");
        acked.extend(new);

        verify(dir.path(), |_, _| {}).unwrap_or_else(|e| panic!("round {round}: verify failed: {e}"));
        let store = FileStore::open(dir.path(), options()).unwrap();
        let events = store.read_all(&ReadAll::forward()).await.unwrap().events;
        let positions: Vec<u64> = events.iter().map(|e| e.global_position).collect();
        assert_eq!(positions, (1..=events.len() as u64).collect::<Vec<_>>(), "round {round}: gap in positions");
        let mut batches: HashMap<String, (usize, Vec<u64>)> = HashMap::new();
        for e in &events {
            let d = e.data.to_value().unwrap();
            let entry = batches.entry(d["batch"].as_str().unwrap().to_owned()).or_insert((d["n"].as_u64().unwrap() as usize, vec![]));
            entry.1.push(e.global_position);
        }
        for (batch, (n, positions)) in &batches {
            assert_eq!(positions.len(), *n, "round {round}: batch {batch} partly visible");
        }
        for (batch, n, first, last) in &acked {
            let (stored_n, positions) = batches.get(batch).unwrap_or_else(|| panic!("round {round}: acknowledged batch {batch} lost"));
            assert_eq!((stored_n, positions.first(), positions.last()), (n, Some(first), Some(last)), "round {round}: batch {batch} moved");
        }
        drop(store);
    }
    assert!(acked.len() > 100, "only {} acknowledged appends over all rounds", acked.len());
}
