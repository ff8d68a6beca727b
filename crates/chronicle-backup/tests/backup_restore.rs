//! Backup, incremental backup, restore and point-in-time restore on the
//! memory backend (the file and PostgreSQL backends run the same through
//! the CLI's tests), and every bad input refused with nothing written.

use chronicle_backup::{BackupError, BackupOptions, Manifest, RestoreOptions, Until, backup, ensure_empty, restore};
use chronicle_core::{ExpectedVersion as Ev, ReadAll, Timestamp};
use chronicle_memory::MemoryStore;
use chronicle_testkit::{event, sid, transfer};
use std::sync::Arc;

fn store() -> transfer::Store {
    Arc::new(MemoryStore::new())
}

fn quiet() -> chronicle_backup::Progress {
    Box::new(|_, _| {})
}

async fn restored(dir: &std::path::Path, until: Until) -> Result<transfer::Store, BackupError> {
    let target = store();
    restore(dir, target.clone(), RestoreOptions { until, batch: 7 }, quiet()).await?;
    Ok(target)
}

#[tokio::test]
async fn full_and_incremental_backups_restore_everything() {
    let source = store();
    transfer::build(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let first = backup(source.clone(), dir.path(), BackupOptions::default(), quiet()).await.unwrap();
    assert_eq!((first.after, first.through), (0, 12));
    let copy = restored(dir.path(), Until::End).await.unwrap();
    transfer::assert_same_reads(&source, &copy).await;
    assert_eq!(transfer::export_all(&copy).await, transfer::export_all(&source).await);

    // More writes, then an incremental part: the restore reaches the later head.
    source.append(&sid("order-9"), Ev::NoStream, vec![event("Placed", 90), event("Paid", 91)]).await.unwrap();
    source.save_checkpoint("projector", 14).await.unwrap();
    let err = backup(source.clone(), dir.path(), BackupOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(err, BackupError::AlreadyBackedUp { .. }), "{err}");
    let second = backup(source.clone(), dir.path(), BackupOptions { incremental: true, ..Default::default() }, quiet()).await.unwrap();
    assert_eq!((second.after, second.through, second.events), (12, 14, 2));
    assert_eq!(Manifest::require(dir.path()).unwrap().parts.len(), 2);
    let copy = restored(dir.path(), Until::End).await.unwrap();
    transfer::assert_same_reads(&source, &copy).await;
    assert_eq!(copy.load_checkpoint("projector").await.unwrap(), Some(14));
}

#[tokio::test]
async fn point_in_time_restore_to_a_position_and_to_a_time() {
    let source = store();
    let s = sid("order-1");
    for n in 1..=5 {
        source.append(&s, Ev::Any, vec![event("T", n)]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    source.save_checkpoint("projector", 5).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    backup(source.clone(), dir.path(), BackupOptions::default(), quiet()).await.unwrap();
    let events = source.read_all(&ReadAll::forward()).await.unwrap().events;

    let at3 = restored(dir.path(), Until::Position(3)).await.unwrap();
    assert_eq!(at3.head().await.unwrap(), 3);
    assert_eq!(at3.read_all(&ReadAll::forward()).await.unwrap().events, events[..3]);
    assert_eq!(at3.load_checkpoint("projector").await.unwrap(), Some(3), "checkpoints are clamped to the point");

    let at_time = restored(dir.path(), Until::Time(events[1].recorded_at)).await.unwrap();
    assert_eq!(at_time.read_all(&ReadAll::forward()).await.unwrap().events, events[..2]);

    for until in [Until::Position(6), Until::Position(0), Until::Time(Timestamp::from_micros(events[0].recorded_at.as_micros() - 1))] {
        let target = store();
        let err = restore(dir.path(), target.clone(), RestoreOptions { until, batch: 10 }, quiet()).await.unwrap_err();
        assert!(matches!(err, BackupError::OutOfRange(_)), "{until:?}: {err}");
        ensure_empty(&*target).await.unwrap();
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let source = store();
    transfer::build(&source).await;
    let dir = tempfile::tempdir().unwrap();
    backup(source.clone(), dir.path(), BackupOptions::default(), quiet()).await.unwrap();

    // Not a backup: an empty directory, and a directory of other files.
    let empty = tempfile::tempdir().unwrap();
    let err = restore(empty.path(), store(), RestoreOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");
    std::fs::write(empty.path().join("notes.txt"), "hello").unwrap();
    let err = backup(source.clone(), empty.path(), BackupOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");

    // A restore into a store that holds something.
    let busy = store();
    busy.save_checkpoint("x", 1).await.unwrap();
    let err = restore(dir.path(), busy.clone(), RestoreOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(err, BackupError::TargetNotEmpty { head: 0, .. }), "{err}");
    assert_eq!(busy.head().await.unwrap(), 0);

    // A damaged part: named, and nothing restored.
    let part = dir.path().join(&Manifest::require(dir.path()).unwrap().parts[0].file);
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&part, &bytes).unwrap();
    let target = store();
    let err = restore(dir.path(), target.clone(), RestoreOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(&err, BackupError::Damaged { file, .. } if *file == part), "{err}");
    assert!(err.to_string().contains("part-000001.ndjson.zst"), "{err}");
    ensure_empty(&*target).await.unwrap();
}
