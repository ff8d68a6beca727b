//! Everything acknowledged survives a close and reopen: events across many
//! sealed segments, stream lifecycle, snapshots, checkpoints.

use chronicle_core::{DeleteMode, EventStore, ExpectedVersion as Ev, RawJson, ReadAll, ReadStream, Snapshot, StreamMetadata, StreamStatus};
use chronicle_file::{FileOptions, FileStore, verify};
use chronicle_testkit::{event, event_with_meta, sid};

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 16 * 1024, ..FileOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_preserves_events_lifecycle_snapshots_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = FileStore::open(dir.path(), options()).unwrap();
        for i in 0..400u64 {
            let meta = serde_json::json!({"correlation_id": format!("c{}", i % 5), "tags": ["t"]});
            store.append(&sid(&format!("acct-{}", i % 10)), Ev::Any, vec![event_with_meta("Moved", i, meta)]).await.unwrap();
        }
        store.set_stream_metadata(&sid("acct-1"), StreamMetadata { max_count: Some(3), ..Default::default() }).await.unwrap();
        store.delete_stream(&sid("acct-2"), Ev::Any, DeleteMode::Soft).await.unwrap();
        store.delete_stream(&sid("acct-3"), Ev::Any, DeleteMode::Tombstone).await.unwrap();
        store.append(&sid("acct-2"), Ev::NoStream, vec![event("Reopened", 0)]).await.unwrap();
        let state = RawJson::parse(&br#"{"balance":12}"#[..]).unwrap();
        store.save_snapshot(Snapshot { stream_id: sid("acct-4"), version: 40, schema_version: 3, state }).await.unwrap();
        store.save_checkpoint("proj", 377).await.unwrap();
        assert!(store.stats().unwrap().segments > 3, "small segments must roll over");
        store.read_all(&ReadAll::forward()).await.unwrap()
    };
    let report = verify(dir.path(), |_, _| {}).unwrap();
    assert_eq!((report.events, report.torn_tail.clone()), (401, None), "{report:?}");

    let store = FileStore::open(dir.path(), options()).unwrap();
    assert_eq!(store.read_all(&ReadAll::forward()).await.unwrap(), before);
    assert_eq!(store.read_stream(&sid("acct-1"), ReadStream::forward()).await.unwrap().len(), 3);
    let acct2 = store.read_stream(&sid("acct-2"), ReadStream::forward()).await.unwrap();
    assert_eq!(acct2.iter().map(|e| e.version).collect::<Vec<_>>(), vec![41]);
    assert_eq!(store.stream_info(&sid("acct-3")).await.unwrap().status, StreamStatus::Tombstoned);
    let snap = store.load_snapshot(&sid("acct-4")).await.unwrap().unwrap();
    assert_eq!((snap.version, snap.schema_version, snap.state.as_bytes()), (40, 3, &br#"{"balance":12}"#[..]));
    assert_eq!(store.load_checkpoint("proj").await.unwrap(), Some(377));
    assert_eq!(store.read_by_correlation("c3").await.unwrap().len(), 40, "acct-3 (tombstoned) hides half of c3");
    // Appending continues the log where it stopped.
    let r = store.append(&sid("acct-5"), Ev::Exact(40), vec![event("Moved", 1)]).await.unwrap();
    assert_eq!((r.first_position, r.first_version), (402, 41));
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FileStore::open(dir.path(), FileOptions::default()).unwrap();
    let err = FileStore::open(dir.path(), FileOptions::default()).unwrap_err();
    assert!(matches!(err, chronicle_core::Error::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("in use"), "{err}");
}
