//! A read-only open works beside a writer (another process, or here another
//! handle): it sees what was committed, follows new commits across segment
//! roll-overs, wakes subscribers, and never writes.

use chronicle_core::{Error, EventStore, ExpectedVersion as Ev, Filter, ReadAll, SubscribeFrom};
use chronicle_file::{FileOptions, FileStore};
use chronicle_testkit::{event, sid};
use std::time::Duration;

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 4 * 1024, ..FileOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_follows_a_live_writer() {
    let dir = tempfile::tempdir().unwrap();
    let writer = FileStore::open(dir.path(), options()).unwrap();
    for i in 0..50 {
        writer.append(&sid("f-1"), Ev::Any, vec![event("T", i)]).await.unwrap();
    }
    let reader = FileStore::open_read_only(dir.path(), options()).unwrap();
    assert_eq!(reader.head().await.unwrap(), 50);
    let mut sub = reader.subscribe(SubscribeFrom::Position(45), Filter::default()).await.unwrap();
    for i in 50..400 {
        writer.append(&sid(&format!("f-{}", i % 3)), Ev::Any, vec![event("T", i)]).await.unwrap();
    }
    assert!(writer.stats().unwrap().segments > 5, "the writer rolled over segments");
    // 400 events were written; the subscription from 45 must see all 356,
    // and once it has seen the last one the reader's index holds it too.
    let mut got = Vec::new();
    while got.len() < 356 {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.expect("follower stalled").unwrap().unwrap();
        got.push(e.global_position);
    }
    assert_eq!(got, (45..=400).collect::<Vec<_>>());
    let all = reader.read_all(&ReadAll::forward()).await.unwrap();
    assert_eq!(all, writer.read_all(&ReadAll::forward()).await.unwrap());
    let err = reader.append(&sid("f-1"), Ev::Any, vec![event("T", 0)]).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
}

#[test]
fn read_only_open_of_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileStore::open_read_only(&dir.path().join("nope"), options()).unwrap_err();
    assert!(err.to_string().contains("no Chronicle store"), "{err}");
}
