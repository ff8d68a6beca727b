//! The on-disk format cannot change by accident: stores written by earlier
//! builds are checked in and opened here, with everything they hold.
//! - `tests/fixtures/format-v1`: plain segments (format 1) and index files
//!   of index format 1. Every record re-encodes byte for byte, and its
//!   index files say exactly what this build's would.
//! - `tests/fixtures/format-v2`: the same events, with compressed sealed
//!   segments (format 2) and index format 2: this build rewrites its
//!   index files byte for byte.
//!
//! After a deliberate format change (with a new version number and a
//! reader for the old one), write a new fixture directory with
//! `cargo test -p chronicle-file --test format_fixtures -- --ignored`
//! (it writes `format-v2`: rename it first).

use chronicle_core::{
    DeleteMode, EventStore, ExpectedVersion as Ev, RawJson, ReadAll, ReadStream, Snapshot, StreamMetadata, StreamStatus, Uuid,
};
use chronicle_file::{
    FileOptions, FileStore,
    format::{BLOCK_HEADER_LEN, BlockHeader, SEGMENT_HEADER_LEN, decode_record, encode_record},
    verify,
};
use chronicle_testkit::{event, event_with_meta, sid};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    fixture_named("format-v1")
}

fn fixture_named(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn options() -> FileOptions {
    FileOptions { segment_size_bytes: 2048, ..FileOptions::default() }
}

#[tokio::test]
async fn the_version_1_fixture_opens_with_everything_it_holds() {
    let stats = opens_with_everything_it_holds(&fixture()).await;
    assert_eq!(stats.compressed_segments, 0);
}

#[tokio::test]
async fn the_version_2_fixture_opens_with_everything_it_holds() {
    let stats = opens_with_everything_it_holds(&fixture_named("format-v2")).await;
    assert_eq!(stats.compressed_segments, 2);
}

#[test]
fn the_version_2_fixture_index_files_are_what_this_build_writes() {
    let copy = tempfile::tempdir().unwrap();
    let fixture = fixture_named("format-v2");
    for sub in ["segments", "index"] {
        std::fs::create_dir_all(copy.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(fixture.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, copy.path().join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    let report = chronicle_file::verify_with(copy.path(), chronicle_file::VerifyOptions { rebuild_index: true }, |_, _| {}).unwrap();
    assert_eq!((report.events, report.indexed_segments), (31, 2), "{report:?}");
    for entry in std::fs::read_dir(fixture.join("index")).unwrap() {
        let path = entry.unwrap().path();
        let rebuilt = std::fs::read(copy.path().join("index").join(path.file_name().unwrap())).unwrap();
        assert!(std::fs::read(&path).unwrap() == rebuilt, "{} is not what this build writes", path.display());
    }
}

async fn opens_with_everything_it_holds(dir: &Path) -> chronicle_file::FileStats {
    let store = FileStore::open_read_only(dir, options()).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.events, stats.segments, stats.indexed_on_open), (31, 3, 2), "{stats:?}");
    let all = store.read_all(&ReadAll::forward()).await.unwrap().events;
    assert_eq!(all.len(), 13, "acct-0: 10, acct-1: its last 2 (max_count), acct-2: none (tombstoned), acct-3: 1");
    let first = &all[0];
    assert_eq!((first.global_position, first.stream_id.as_str(), first.version), (1, "acct-0", 1));
    assert_eq!(first.event_id, Uuid::from_u128(1000));
    assert_eq!(first.data.to_string(), r#"{"n":0}"#);
    assert_eq!(first.metadata.to_string(), r#"{"correlation_id":"c0","tags":["t"]}"#);
    assert_eq!(store.read_by_correlation("c0").await.unwrap().len(), 10);
    assert_eq!(store.read_stream(&sid("acct-1"), ReadStream::forward()).await.unwrap().len(), 2);
    assert_eq!(store.stream_info(&sid("acct-2")).await.unwrap().status, StreamStatus::Tombstoned);
    let snap = store.load_snapshot(&sid("acct-0")).await.unwrap().unwrap();
    assert_eq!((snap.version, snap.state.to_string()), (5, r#"{"total":5}"#.to_owned()));
    assert_eq!(store.load_checkpoint("proj").await.unwrap(), Some(31));
    stats
}

#[test]
fn every_record_re_encodes_to_the_same_bytes_and_index_files_match() {
    let mut segments: Vec<_> = std::fs::read_dir(fixture().join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    let mut records = 0;
    for path in &segments {
        let bytes = std::fs::read(path).unwrap();
        let mut at = SEGMENT_HEADER_LEN;
        while at < bytes.len() {
            let header = BlockHeader::decode(&bytes[at..]).unwrap();
            let (mut off, end) = (at + BLOCK_HEADER_LEN, at + BLOCK_HEADER_LEN + header.body_len as usize);
            while off < end {
                let (record, len) = decode_record(&bytes[off..end]).unwrap();
                let mut again = Vec::new();
                encode_record(&record, &mut again);
                assert_eq!(again, &bytes[off..off + len], "{} at {off}", path.display());
                (off, records) = (off + len, records + 1);
            }
            at = end;
        }
    }
    assert_eq!(records, 36, "31 events, a metadata change, a tombstone, a snapshot, two checkpoints");
    let report = verify(&fixture(), |_, _| {}).unwrap();
    assert_eq!((report.events, report.indexed_segments, report.unindexed_segments), (31, 2, 0), "{report:?}");
}

/// Writes the fixture (run by hand after a deliberate format change).
#[tokio::test]
#[ignore]
async fn write_the_fixture() {
    let dir = fixture_named("format-v2");
    let _ = std::fs::remove_dir_all(&dir);
    let store = FileStore::open(&dir, options()).unwrap();
    for n in 0..30u64 {
        let e = event_with_meta("Moved", n, serde_json::json!({"correlation_id": format!("c{}", n % 3), "tags": ["t"]}));
        store.append(&sid(&format!("acct-{}", n % 3)), Ev::Any, vec![e.with_id(Uuid::from_u128(1000 + u128::from(n)))]).await.unwrap();
        if n == 14 {
            store.save_checkpoint("proj", 15).await.unwrap();
        }
    }
    store.set_stream_metadata(&sid("acct-1"), StreamMetadata { max_count: Some(2), ..Default::default() }).await.unwrap();
    store.delete_stream(&sid("acct-2"), Ev::Any, DeleteMode::Tombstone).await.unwrap();
    let state = RawJson::parse(&br#"{"total":5}"#[..]).unwrap();
    store.save_snapshot(Snapshot { stream_id: sid("acct-0"), version: 5, schema_version: 1, state }).await.unwrap();
    store.append(&sid("acct-3"), Ev::NoStream, vec![event("Opened", 30).with_id(Uuid::from_u128(2000))]).await.unwrap();
    store.save_checkpoint("proj", 31).await.unwrap();
    drop(store);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
}
