//! Damage inside committed data makes `verify` fail and stops the open (or,
//! in a sealed segment the open knows from its index file, the read of the
//! damaged record), naming the file and the offset; it is never mistaken
//! for a torn tail.

use chronicle_core::{Error, EventStore, ExpectedVersion as Ev};
use chronicle_file::{FileOptions, FileStore, verify};
use chronicle_testkit::{event, sid};
use std::path::{Path, PathBuf};

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 8 * 1024, ..FileOptions::default() }
}

async fn fill(dir: &Path) -> Vec<PathBuf> {
    let store = FileStore::open(dir, options()).unwrap();
    for i in 0..300u64 {
        store.append(&sid(&format!("s-{}", i % 7)), Ev::Any, vec![event("T", i), event("T", i + 1)]).await.unwrap();
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x5A;
    std::fs::write(path, bytes).unwrap();
}

fn assert_names(err: &Error, path: &Path) {
    let Error::Corrupted { location, .. } = err else { panic!("expected Corrupted, got {err:?}") };
    assert!(location.contains(&path.display().to_string()) && location.contains("offset"), "{location}");
}

#[tokio::test]
async fn flipped_byte_in_a_sealed_segment() {
    let dir = tempfile::tempdir().unwrap();
    let files = fill(dir.path()).await;
    assert!(files.len() > 3);
    let victim = &files[1];
    // Sealed segments are compressed: the byte lands in a zstd frame.
    flip(victim, std::fs::metadata(victim).unwrap().len() as usize / 2);
    assert_names(&verify(dir.path(), |_, _| {}).unwrap_err(), victim);
    // The open trusts the sealed segment's index file (it does not read the
    // segment); reading the damaged record reports it.
    let store = FileStore::open(dir.path(), options()).unwrap();
    let err = store.read_all(&chronicle_core::ReadAll::forward().limit(10_000)).await.unwrap_err();
    assert_names(&err, victim);
    drop(store);
    // Without index files the open scans the segment and refuses.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    assert_names(&FileStore::open(dir.path(), options()).unwrap_err(), victim);
}

#[tokio::test]
async fn flipped_bytes_in_the_last_committed_block_are_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let files = fill(dir.path()).await;
    let last = files.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len() as usize;
    for offset in [len - 3, len - 40] {
        flip(last, offset);
        assert_names(&verify(dir.path(), |_, _| {}).unwrap_err(), last);
        assert_names(&FileStore::open(dir.path(), options()).unwrap_err(), last);
        flip(last, offset);
    }
    assert_eq!(verify(dir.path(), |_, _| {}).unwrap().events, 600);
}

#[tokio::test]
async fn damaged_segment_header_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let files = fill(dir.path()).await;
    flip(&files[0], 3);
    assert_names(&verify(dir.path(), |_, _| {}).unwrap_err(), &files[0]);
}
