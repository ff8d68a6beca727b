//! What the file-engine tests that compare whole stores share: a log with
//! every kind of record in its sealed segments, and every answer a reader
//! can get from it.
#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use chronicle_core::{DeleteMode, EventStore, ExpectedVersion as Ev, RawJson, ReadAll, ReadStream, Snapshot, StreamInfo, StreamMetadata};
use chronicle_file::{FileOptions, FileStore};
use chronicle_testkit::{event, event_with_meta, sid};
use std::path::Path;

pub fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 8 * 1024, ..FileOptions::default() }
}

/// A log whose sealed segments hold events, metadata changes, deletes,
/// snapshots and checkpoints, interleaved.
pub async fn fill(dir: &Path) {
    fill_with(dir, options()).await
}

/// [`fill`] with other options.
pub async fn fill_with(dir: &Path, options: FileOptions) {
    let store = FileStore::open(dir, options).unwrap();
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
pub async fn answers(store: &FileStore) -> String {
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

pub fn index_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("index")).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    files.sort();
    files
}
