//! Persisted indexes: sealed segments get index files, an open uses them
//! instead of reading the segments, and what it rebuilds is exactly what a
//! scan of the log rebuilds — on every read path. A damaged or stale index
//! file is ignored (the segment is scanned) and rewritten by the writer.

use chronicle_core::{EventStore, ExpectedVersion as Ev};
use chronicle_file::FileStore;
use chronicle_testkit::{event, sid};

mod common;
use common::{answers, fill, index_files, options};

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

/// Event ids are indexed on a thread of their own while a large open runs:
/// after it, a retry of any event (from the first sealed segment, the last
/// one, the tail) is still recognised, and an id reused elsewhere refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_id_is_known_after_an_open_from_index_files() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path()).await;
    let store = FileStore::open(dir.path(), options()).unwrap();
    assert!(store.stats().unwrap().indexed_on_open > 2);
    let all = store.read_all(&chronicle_core::ReadAll::forward()).await.unwrap().events;
    for e in [&all[0], &all[all.len() / 2], &all[all.len() - 1]] {
        let retry = event(&e.event_type, 0).with_id(e.event_id);
        let again = store.append(&e.stream_id, Ev::Any, vec![retry.clone()]).await.unwrap();
        assert_eq!((again.first_position, again.first_version), (e.global_position, e.version), "a retry of {}", e.global_position);
        let elsewhere = store.append(&sid("another"), Ev::Any, vec![retry]).await.unwrap_err();
        assert!(matches!(elsewhere, chronicle_core::Error::DuplicateEventId { .. }), "{elsewhere:?}");
    }
    assert_eq!(store.stats().unwrap().events, 600, "nothing was appended");
}
