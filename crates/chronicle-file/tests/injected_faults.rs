//! Through the I/O seam: a torn write and a failed fdatasync each behave as
//! specified — the append fails (never a silent success), the store stops
//! accepting writes, and a reopen keeps every acknowledged event and none of
//! the torn batch.

use chronicle_core::{Error, EventStore, ExpectedVersion as Ev, ReadAll};
use chronicle_file::{FileOptions, FileStore, OsStorage, fault::FaultyStorage, verify};
use chronicle_testkit::{event, sid};
use std::sync::{Arc, atomic::Ordering::SeqCst};

async fn positions(store: &FileStore) -> Vec<u64> {
    store.read_all(&ReadAll::forward()).await.unwrap().events.iter().map(|e| e.global_position).collect()
}

#[tokio::test]
async fn torn_write_fails_the_append_and_is_truncated_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (storage, faults) = FaultyStorage::new(Arc::new(OsStorage::new(dir.path()).unwrap()));
        let store = FileStore::open_with_storage(dir.path(), Arc::new(storage), FileOptions::default()).unwrap();
        store.append(&sid("a-1"), Ev::Any, vec![event("T", 1), event("T", 2)]).await.unwrap();
        faults.tear_next_write_at.store(50, SeqCst);
        let err = store.append(&sid("a-1"), Ev::Any, (3..10).map(|n| event("T", n)).collect()).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        // Writes stay stopped; reads still serve what was committed.
        let again = store.append(&sid("a-1"), Ev::Any, vec![event("T", 10)]).await.unwrap_err();
        assert!(matches!(again, Error::Unavailable { .. }), "{again:?}");
        assert!(!store.health().await.ready);
        assert_eq!(positions(&store).await, vec![1, 2]);
    }
    let report = verify(dir.path(), |_, _| {}).unwrap();
    assert_eq!(report.events, 2);
    let (_, offset, bytes) = report.torn_tail.expect("verify reports the torn tail");
    assert_eq!(bytes, 50, "torn at offset {offset}");

    let store = FileStore::open(dir.path(), FileOptions::default()).unwrap();
    assert_eq!(store.stats().unwrap().truncated_on_open, 50);
    assert_eq!(positions(&store).await, vec![1, 2]);
    let r = store.append(&sid("a-1"), Ev::Exact(2), vec![event("T", 3)]).await.unwrap();
    assert_eq!(r.first_position, 3);
    assert!(verify(dir.path(), |_, _| {}).unwrap().torn_tail.is_none());
}

#[tokio::test]
async fn failed_fsync_is_an_error_to_every_waiting_append() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, faults) = FaultyStorage::new(Arc::new(OsStorage::new(dir.path()).unwrap()));
    let store = FileStore::open_with_storage(dir.path(), Arc::new(storage), FileOptions::default()).unwrap();
    store.append(&sid("b-1"), Ev::Any, vec![event("T", 0)]).await.unwrap();
    faults.fail_next_sync.store(true, SeqCst);
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.append(&sid(&format!("b-{w}")), Ev::Any, vec![event("T", w)]).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(matches!(e, Error::Unavailable { .. }), "{e:?}"),
        }
    }
    // Appends that were batched before the failing fdatasync may have
    // succeeded; none after it, and none of the failed batch did.
    let visible = positions(&store).await;
    assert_eq!(visible.len(), 1 + ok, "every success is visible, nothing else");
    assert!(!store.health().await.ready);
    let err = store.append(&sid("b-1"), Ev::Any, vec![event("T", 99)]).await.unwrap_err();
    assert!(err.to_string().contains("reopen"), "{err}");
}
