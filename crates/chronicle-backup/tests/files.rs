//! File-level backups of the file engine: segments copied as they are, an
//! incremental part copying only the segments that changed (a scavenge
//! rewrote some), and restores — whole and to the first part's position,
//! where the events the scavenge removed later are still there.

use chronicle_backup::{BackupOptions, RestoreOptions, Until, backup, restore};
use chronicle_core::{ExpectedVersion as Ev, ExportRange, LogItem, StreamMetadata, canonical};
use chronicle_file::{FileOptions, FileStore};
use chronicle_testkit::{event, sid, transfer};
use std::sync::Arc;

fn small() -> FileOptions {
    FileOptions { segment_size_bytes: 16 * 1024, ..FileOptions::default() }
}

fn quiet() -> chronicle_backup::Progress {
    Box::new(|_, _| {})
}

async fn export_through(store: &transfer::Store, through: u64) -> Vec<LogItem> {
    let mut items = transfer::export(store, ExportRange { after: 0, through }).await;
    canonical(&mut items);
    items
}

/// Equal item lists, or a panic naming the first difference.
fn same(a: &[LogItem], b: &[LogItem]) {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    assert!(
        at.is_none() && a.len() == b.len(),
        "first difference at {at:?}: {:?} vs {:?} (lengths {}, {})",
        at.map(|i| &a[i]),
        at.map(|i| &b[i]),
        a.len(),
        b.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_file_level_backups_restore_whole_and_to_a_point() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let file = FileStore::open(&data, small()).unwrap();
    let store: transfer::Store = Arc::new(file.clone());
    transfer::build(&store).await;
    let trim = sid("trim-1");
    for n in 0..300 {
        store.append(&trim, Ev::Any, vec![event("Filler", n)]).await.unwrap();
    }
    let options = || BackupOptions { incremental: true, source: "file".into(), data_dir: Some((data.clone(), None)) };
    let dir = work.path().join("bk");
    let first = backup(store.clone(), &dir, options(), quiet()).await.unwrap();
    let first_files = first.files.as_ref().unwrap().len();
    assert_eq!((first.after, first.through), (0, 312));
    assert!(first_files > 4, "several segments and index files: {first:?}");
    let at_first = export_through(&store, 312).await;

    store.set_stream_metadata(&trim, StreamMetadata { max_count: Some(5), ..Default::default() }).await.unwrap();
    assert!(file.scavenge(|_, _| {}).unwrap().events_removed > 100);
    store.append(&sid("late-1"), Ev::NoStream, vec![event("Late", 1)]).await.unwrap();
    let second = backup(store.clone(), &dir, options(), quiet()).await.unwrap();
    assert_eq!((second.after, second.through), (312, 313));
    assert!(!second.files.as_ref().unwrap().is_empty());
    let items = BackupOptions { incremental: true, ..BackupOptions::default() };
    let err = backup(store.clone(), &dir, items, quiet()).await.unwrap_err();
    assert!(matches!(err, chronicle_backup::BackupError::Mixed { held: "file-level", .. }), "{err}");

    let whole: transfer::Store = Arc::new(FileStore::open(&work.path().join("whole"), small()).unwrap());
    restore(&dir, whole.clone(), RestoreOptions::default(), quiet()).await.unwrap();
    same(&export_through(&whole, 313).await, &export_through(&store, 313).await);
    assert!(export_through(&whole, 313).await.iter().any(|i| matches!(i, LogItem::Removed { .. })));

    // To the first part's position: the events the scavenge removed afterwards are back.
    let early: transfer::Store = Arc::new(FileStore::open(&work.path().join("early"), small()).unwrap());
    restore(&dir, early.clone(), RestoreOptions { until: Until::Position(312), ..RestoreOptions::default() }, quiet()).await.unwrap();
    let mut got = export_through(&early, 312).await;
    let mut want = at_first.clone();
    // The settings and checkpoint items of the later state differ only where the log was cut.
    got.retain(|i| !i.is_state());
    want.retain(|i| !i.is_state());
    same(&got, &want);
    assert!(!got.iter().any(|i| matches!(i, LogItem::Removed { .. })));

    // To a time: the log through the last event committed by then.
    let t = at_first.iter().find_map(|i| match i {
        LogItem::Event(e) if e.global_position == 200 => Some(e.recorded_at),
        _ => None,
    });
    let timed: transfer::Store = Arc::new(FileStore::open(&work.path().join("timed"), small()).unwrap());
    restore(&dir, timed.clone(), RestoreOptions { until: Until::Time(t.unwrap()), ..RestoreOptions::default() }, quiet()).await.unwrap();
    let head = timed.head().await.unwrap();
    let times: Vec<_> =
        at_first.iter().filter_map(|i| if let LogItem::Event(e) = i { Some((e.global_position, e.recorded_at)) } else { None }).collect();
    assert!(head >= 200 && times.iter().all(|(p, at)| (*p <= head) == (*at <= t.unwrap())), "cut at {head}");
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".restore")), "cleaned up");
}
