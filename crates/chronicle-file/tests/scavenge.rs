//! Compressed sealed segments and `scavenge`: sealed segments are rewritten
//! as zstd frames and still answer every read exactly as before; a scavenge
//! removes what deletes and retention hid (and superseded snapshots),
//! changes no answer, survives a reopen and `verify`, and what it removed
//! stays invisible when retention is relaxed afterwards.

mod common;

use chronicle_core::{EventStore, ExpectedVersion as Ev, ReadStream, StreamMetadata};
use chronicle_file::{FileOptions, FileStore, VerifyOptions, verify_with};
use chronicle_testkit::{event, sid};
use common::{answers, fill, fill_with, options};

fn uncompressed() -> FileOptions {
    FileOptions { compress_sealed: false, ..options() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_segments_are_compressed_and_answer_like_plain_ones() {
    let (plain, packed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fill_with(plain.path(), uncompressed()).await;
    fill_with(packed.path(), options()).await;
    let plain_store = FileStore::open(plain.path(), uncompressed()).unwrap();
    let packed_store = FileStore::open(packed.path(), options()).unwrap();
    let (p, c) = (plain_store.stats().unwrap(), packed_store.stats().unwrap());
    assert_eq!((p.compressed_segments, c.compressed_segments), (0, c.sealed_segments), "{p:?} {c:?}");
    assert!(c.sealed_bytes * 2 < p.sealed_bytes, "compressed {} vs plain {}", c.sealed_bytes, p.sealed_bytes);
    // Event ids differ between the two stores: compare shapes, not bytes.
    let strip = |s: String| s.split("event_id").count();
    assert_eq!(strip(answers(&packed_store).await), strip(answers(&plain_store).await));
    let report = verify_with(packed.path(), VerifyOptions::default(), |_, _| {}).unwrap();
    assert_eq!((report.events, report.indexed_segments), (600, c.sealed_segments), "{report:?}");
    // Index files of compressed segments are used by the next open.
    drop(packed_store);
    let reopened = FileStore::open(packed.path(), options()).unwrap();
    assert_eq!(reopened.stats().unwrap().indexed_on_open, c.sealed_segments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scavenge_reclaims_hidden_events_and_changes_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path()).await;
    let store = FileStore::open(dir.path(), options()).unwrap();
    // Snapshots superseded by later ones, sealed behind more events.
    for v in 1..=3 {
        let state = chronicle_core::RawJson::parse(format!(r#"{{"v":{v}}}"#).into_bytes()).unwrap();
        store.save_snapshot(chronicle_core::Snapshot { stream_id: sid("acct-5"), version: v, schema_version: 1, state }).await.unwrap();
    }
    for i in 0..100 {
        store.append(&sid("acct-9"), Ev::Any, vec![event("Moved", i)]).await.unwrap();
    }
    let before = answers(&store).await;
    let bytes_before = store.stats().unwrap().sealed_bytes;
    let mut seen = Vec::new();
    let report = store.scavenge(|done, total| seen.push((done, total))).unwrap();
    assert!(report.events_removed > 50 && report.snapshots_dropped >= 1 && report.rewritten > 0, "{report:?}");
    assert_eq!(seen.last(), Some(&(report.sealed_segments, report.sealed_segments)));
    assert_eq!(answers(&store).await, before, "a scavenge changes no answer");
    assert!(store.stats().unwrap().sealed_bytes < bytes_before);
    // Appends continue: a soft-deleted stream keeps its version numbers.
    let info = store.stream_info(&sid("acct-2")).await.unwrap();
    let r = store.append(&sid("acct-2"), Ev::Exact(info.last_version), vec![event("Reopened", 1)]).await.unwrap();
    let after = store.read_stream(&sid("acct-2"), ReadStream::backward().limit(1)).await.unwrap();
    assert_eq!((r.first_version, after[0].version), (info.last_version + 1, info.last_version + 1));
    drop(store);

    let report2 = verify_with(dir.path(), VerifyOptions::default(), |_, _| {}).unwrap();
    assert_eq!((report2.events, report2.removed), (701, report.events_removed), "{report2:?}");
    let reopened = FileStore::open(dir.path(), options()).unwrap();
    let sealed = reopened.stats().unwrap().sealed_segments;
    assert_eq!(reopened.stats().unwrap().indexed_on_open, sealed, "the scavenge wrote index files");
    let again = reopened.scavenge(|_, _| {}).unwrap();
    assert_eq!((again.events_removed, again.rewritten), (0, 0), "nothing left to do: {again:?}");

    // Relaxing retention does not bring removed events back (nor errors).
    let kept = reopened.read_stream(&sid("acct-1"), ReadStream::forward()).await.unwrap();
    reopened.set_stream_metadata(&sid("acct-1"), StreamMetadata::default()).await.unwrap();
    let relaxed = reopened.read_stream(&sid("acct-1"), ReadStream::forward()).await.unwrap();
    assert!(relaxed.len() >= kept.len() && relaxed.len() < 40, "{} events visible", relaxed.len());
    assert!(relaxed.windows(2).all(|w| w[1].version == w[0].version + 1), "a suffix of the stream, no holes");
    drop(reopened);
    let scanned = FileStore::open_read_only(dir.path(), options()).unwrap();
    assert_eq!(scanned.read_stream(&sid("acct-1"), ReadStream::forward()).await.unwrap(), relaxed);
}

#[tokio::test]
async fn a_read_only_store_cannot_scavenge() {
    let dir = tempfile::tempdir().unwrap();
    FileStore::open(dir.path(), options()).unwrap().append(&sid("a"), Ev::Any, vec![event("T", 1)]).await.unwrap();
    let ro = FileStore::open_read_only(dir.path(), options()).unwrap();
    assert!(matches!(ro.scavenge(|_, _| {}), Err(chronicle_core::Error::Unavailable { .. })));
}
