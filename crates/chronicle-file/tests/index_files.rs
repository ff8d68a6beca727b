//! Persisted indexes: sealed segments get index files, an open uses them
//! instead of reading the segments, and what it rebuilds is exactly what a
//! scan of the log rebuilds — on every read path. A damaged or stale index
//! file is ignored (the segment is scanned) and rewritten by the writer.

use chronicle_core::{DeleteMode, EventStore, ExpectedVersion as Ev, RawJson, ReadAll, ReadStream, Snapshot, StreamInfo, StreamMetadata};
use chronicle_file::{FileOptions, FileStore};
use chronicle_testkit::{event, event_with_meta, sid};
use std::path::Path;

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 8 * 1024, ..FileOptions::default() }
}

/// A log whose sealed segments hold events, metadata changes, deletes,
/// snapshots and checkpoints, interleaved.
async fn fill(dir: &Path) {
    let store = FileStore::open(dir, options()).unwrap();
    for i in 0..600u64 {
        let n = if i > 300 && i % 13 == 3 { 13 } else { i % 13 }; // acct-3 is tombstoned at 300
        let stream = sid(&format!("acct-{n}"));
        let meta = serde_json::json!({"correlation_id": format!("c{}", i % 7), "actor": {"type": "user", "id": format!("u{}", i % 3)}, "tags": [format!("t{}", i % 2)]});
        let e = if i % 4 == 0 { event("Opened", i) } else { event_with_meta("Moved", i, meta) };
        store.append(&stream, Ev::Any, vec![e]).await.unwrap();
        match i {
            100 => store.set_stream_metadata(&sid("acct-1"), StreamMetadata { max_count: Some(5), ..Default::default() }).await.unwrap(),
            200 => store.delete_stream(&sid("acct-2"), Ev::Any, DeleteMode::Soft).await.unwrap(),
            300 => store.delete_stream(&sid("acct-3"), Ev::Any, DeleteMode::Tombstone).await.unwrap(),
            _ => {}
        }
        if i % 50 == 7 {
            let json = format!(r#"{{"n":{i}}}"#);
            let state = RawJson::parse(json.into_bytes()).unwrap();
            store.save_snapshot(Snapshot { stream_id: stream.clone(), version: 1, schema_version: 1, state }).await.unwrap();
            store.save_checkpoint("proj", i).await.unwrap();
        }
    }
}

/// Everything a reader can ask, as one comparable value.
async fn answers(store: &FileStore) -> String {
    let mut out = format!("{:?}\n", store.read_all(&ReadAll::forward().limit(10_000)).await.unwrap());
    out += &format!("{:?}\n", store.read_all(&ReadAll::backward().limit(50)).await.unwrap());
    for n in 0..14 {
        let s = sid(&format!("acct-{n}"));
        let info: StreamInfo = store.stream_info(&s).await.unwrap();
        out += &format!("{info:?}\n{:?}\n", store.read_stream(&s, ReadStream::backward().limit(3)).await);
        out += &format!("{:?}\n", store.load_snapshot(&s).await.unwrap());
    }
    for c in 0..7 {
        out += &format!("{:?}\n", store.read_by_correlation(&format!("c{c}")).await.unwrap().len());
    }
    let first = store.read_all(&ReadAll::forward().limit(1)).await.unwrap().events[0].event_id;
    out += &format!("{:?} {:?}\n", store.get_event(first).await.unwrap(), store.load_checkpoint("proj").await.unwrap());
    out
}

fn index_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("index")).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_from_index_files_answers_exactly_like_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path()).await;
    let store = FileStore::open(dir.path(), options()).unwrap();
    let stats = store.stats().unwrap();
    assert!(stats.segments > 5, "{stats:?}");
    assert_eq!(stats.indexed_on_open, stats.segments - 1, "every sealed segment was indexed when it was sealed");
    assert_eq!(index_files(dir.path()).len(), stats.segments - 1);
    let from_index = answers(&store).await;
    drop(store);

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let scanned = FileStore::open_read_only(dir.path(), options()).unwrap();
    assert_eq!(scanned.stats().unwrap().indexed_on_open, 0);
    assert_eq!(answers(&scanned).await, from_index, "index files and a scan rebuild the same index");
    drop(scanned);
    assert!(index_files(dir.path()).is_empty(), "a read-only open writes nothing");

    let reopened = FileStore::open(dir.path(), options()).unwrap();
    assert_eq!(reopened.stats().unwrap().indexed_on_open, 0);
    assert_eq!(index_files(dir.path()).len(), stats.segments - 1, "the writer's open rewrote the missing index files");
    let r = reopened.append(&sid("acct-4"), Ev::Any, vec![event("Moved", 1)]).await.unwrap();
    assert_eq!(r.first_position, 601, "appends continue after the indexed log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_stale_index_files_are_ignored_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path()).await;
    let expected = answers(&FileStore::open_read_only(dir.path(), options()).unwrap()).await;
    let files = index_files(dir.path());
    let mut damaged = std::fs::read(&files[1]).unwrap();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    std::fs::write(&files[1], damaged).unwrap();
    std::fs::copy(&files[2], &files[3]).unwrap(); // describes another segment
    std::fs::write(&files[4], b"CHRNIDX1 but nothing else").unwrap();

    let store = FileStore::open(dir.path(), options()).unwrap();
    let segments = store.stats().unwrap().segments;
    assert_eq!(store.stats().unwrap().indexed_on_open, segments - 1 - 3, "the three bad files were not used");
    assert_eq!(answers(&store).await, expected);
    drop(store);
    let store = FileStore::open(dir.path(), options()).unwrap();
    assert_eq!(store.stats().unwrap().indexed_on_open, segments - 1, "the writer replaced them");
    assert_eq!(answers(&store).await, expected);
}
