//! Archiving (`[file] archive_dir`, `archive_after`): sealed segments move
//! to another directory with their index files; reads, reopens, scavenges,
//! `verify` and file-level copies go on over both directories; a crash
//! mid-move leaves a store that opens whole.

use chronicle_core::{ExpectedVersion as Ev, ExportRange, ReadAll, StreamMetadata, VerifyOptions, canonical};
use chronicle_file::{ArchiveOptions, FileOptions, FileStore};
use chronicle_testkit::{event, sid, transfer};
use std::{path::Path, sync::Arc, time::Duration};

fn options(archive: &Path) -> FileOptions {
    let archive = Some(ArchiveOptions { dir: archive.to_owned(), after: Duration::ZERO });
    FileOptions { segment_size_bytes: 16 * 1024, archive, ..FileOptions::default() }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    names.sort();
    names
}

async fn everything(store: &transfer::Store) -> Vec<chronicle_core::LogItem> {
    let head = store.head().await.unwrap();
    let mut items = transfer::export(store, ExportRange { after: 0, through: head }).await;
    canonical(&mut items);
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_segments_move_to_the_archive_and_stay_readable() {
    let work = tempfile::tempdir().unwrap();
    let (data, archive) = (work.path().join("data"), work.path().join("archive"));
    let file = FileStore::open(&data, options(&archive)).unwrap();
    let store: transfer::Store = Arc::new(file.clone());
    transfer::build(&store).await;
    let trim = sid("trim-1");
    for n in 0..400 {
        store.append(&trim, Ev::Any, vec![event("Filler", n)]).await.unwrap();
    }
    let before = everything(&store).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files(&archive.join("segments")).len() < 3 {
        assert!(std::time::Instant::now() < deadline, "nothing archived: {:?}", files(&archive.join("segments")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let local = files(&data.join("segments"));
    let archived = files(&archive.join("segments"));
    assert!(archived.iter().all(|a| !local.contains(a)), "a segment lives in one place: {local:?} / {archived:?}");
    assert_eq!(everything(&store).await, before, "reads go on through the archive");
    let stats = file.stats().unwrap();
    assert!(stats.archived_segments >= 3 && stats.archived_bytes > 0 && stats.archived_bytes < stats.bytes, "{stats:?}");

    // A scavenge rewrites archived segments where they are.
    store.set_stream_metadata(&trim, StreamMetadata { max_count: Some(3), ..Default::default() }).await.unwrap();
    assert!(file.scavenge(|_, _| {}).unwrap().events_removed > 100);
    assert!(!files(&archive.join("segments")).iter().any(|n| n.ends_with(".staged")));
    let visible = store.read_all(&ReadAll::forward().limit(1000)).await.unwrap().events;
    let after_scavenge = everything(&store).await;
    drop((store, file));

    // Reopened (writable and read-only) with the archive: the same; verify passes.
    let reopened: transfer::Store = Arc::new(FileStore::open(&data, options(&archive)).unwrap());
    assert_eq!(reopened.read_all(&ReadAll::forward().limit(1000)).await.unwrap().events, visible);
    drop(reopened);
    let report = chronicle_file::verify_in(&data, Some(&archive), VerifyOptions::default(), |_, _| {}).unwrap();
    assert_eq!(report.events, 412);
    let read_only: transfer::Store = Arc::new(FileStore::open_read_only(&data, options(&archive)).unwrap());
    assert_eq!(read_only.read_all(&ReadAll::forward().limit(1000)).await.unwrap().events, visible);

    // A file-level copy takes the archived segments too.
    let copy = work.path().join("copy");
    let copied = chronicle_file::copy_files(&data, Some(&archive), &copy, &|_| None).unwrap();
    assert_eq!(copied.through, 412);
    let restored: transfer::Store = Arc::new(FileStore::open_read_only(&copy, FileOptions::default()).unwrap());
    assert_eq!(everything(&restored).await, after_scavenge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_move_leaves_a_store_that_opens_whole() {
    let work = tempfile::tempdir().unwrap();
    let (data, archive) = (work.path().join("data"), work.path().join("archive"));
    let plain = FileOptions { segment_size_bytes: 16 * 1024, ..FileOptions::default() };
    let store: transfer::Store = Arc::new(FileStore::open(&data, plain.clone()).unwrap());
    for n in 0..300 {
        store.append(&sid("s-1"), Ev::Any, vec![event("E", n)]).await.unwrap();
    }
    let before = everything(&store).await;
    drop(store);
    // Segment 1 copied to the archive but its local file not yet removed;
    // segment 2's copy interrupted before its rename.
    std::fs::create_dir_all(archive.join("segments")).unwrap();
    std::fs::copy(data.join("segments/00000001.seg"), archive.join("segments/00000001.seg")).unwrap();
    std::fs::write(archive.join("segments/00000002.archiving"), b"partial").unwrap();
    let store: transfer::Store = Arc::new(FileStore::open(&data, options(&archive)).unwrap());
    assert_eq!(everything(&store).await, before);
    assert!(!data.join("segments/00000001.seg").exists(), "the archived copy is kept, the local one removed");
    assert!(!archive.join("segments/00000002.archiving").exists(), "the leftover is removed");
}
