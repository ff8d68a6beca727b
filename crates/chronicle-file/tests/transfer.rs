//! Export and import (backup, restore, migration) on the file engine: the
//! shared transfer cases, plus what only this engine has — a scavenged log
//! whose removed positions come out of an export, compressed and plain
//! segments, and a reopened copy that replays to the same answers.

use chronicle_core::{DeleteMode, ExpectedVersion as Ev, ReadAll, StreamMetadata};
use chronicle_file::{FileOptions, FileStore};
use chronicle_testkit::{event, sid, transfer};
use std::sync::Arc;

fn small(compress_sealed: bool) -> FileOptions {
    FileOptions { segment_size_bytes: 16 * 1024, compress_sealed, ..FileOptions::default() }
}

chronicle_testkit::transfer_conformance!(|| async { Some(FileStore::open_temporary(small(true)).expect("open a temporary store")) });

/// Many segments (some compressed, some scavenged), copied into a plain
/// store and reopened: every read answers alike and the export is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scavenged_multi_segment_log_copies_exactly() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = FileStore::open(source_dir.path(), small(true)).unwrap();
    let a: transfer::Store = Arc::new(source.clone());
    transfer::build(&a).await;
    let (trim, gone) = (sid("trim-1"), sid("dropped-1"));
    for n in 0..300 {
        let s = if n % 3 == 0 { &gone } else { &trim };
        a.append(s, Ev::Any, vec![event("Filler", n)]).await.unwrap();
    }
    a.set_stream_metadata(&trim, StreamMetadata { max_count: Some(5), ..Default::default() }).await.unwrap();
    a.delete_stream(&gone, Ev::Any, DeleteMode::Tombstone).await.unwrap();
    let report = source.scavenge(|_, _| {}).unwrap();
    assert!(report.events_removed > 0, "{report:?}");
    // Reopened, the index knows removed events by position and version
    // only (their commit time is gone with them), as a copy does.
    drop((a, source));
    let a: transfer::Store = Arc::new(FileStore::open(source_dir.path(), small(true)).unwrap());
    let items = transfer::export_all(&a).await;
    assert!(items.iter().any(|i| matches!(i, chronicle_core::LogItem::Removed { .. })), "the scavenge left removed positions");

    let dir = tempfile::tempdir().unwrap();
    {
        let target = FileStore::open(dir.path(), small(false)).unwrap();
        let b: transfer::Store = Arc::new(target);
        for chunk in items.chunks(97) {
            b.import_log(chunk.to_vec()).await.unwrap();
        }
        transfer::assert_same_reads(&a, &b).await;
    }
    let reopened: transfer::Store = Arc::new(FileStore::open(dir.path(), small(false)).unwrap());
    transfer::assert_same_reads(&a, &reopened).await;
    assert_eq!(transfer::export_all(&reopened).await, items);
    let page = reopened.read_all(&ReadAll::forward().limit(1000)).await.unwrap();
    assert!(page.events.iter().all(|e| e.stream_id != gone), "the tombstoned stream stays hidden");
}
