//! `copy` (what `chronicle migrate` runs) and `verify` between stores: a
//! copy answers alike and verifies; an interrupted copy resumes; a target
//! that diverges is refused; verification names the first difference.

use chronicle_backup::{BackupError, CopyOptions, copy, verify};
use chronicle_core::{ExpectedVersion as Ev, ExportRange};
use chronicle_memory::MemoryStore;
use chronicle_testkit::{event, sid, transfer};
use std::sync::Arc;

fn store() -> transfer::Store {
    Arc::new(MemoryStore::new())
}

fn quiet() -> chronicle_backup::Progress {
    Box::new(|_, _| {})
}

#[tokio::test]
async fn a_copy_answers_alike_and_verifies() {
    let (source, target) = (store(), store());
    transfer::build(&source).await;
    let report = copy(&*source, &*target, CopyOptions { batch: 4 }, quiet()).await.unwrap();
    assert_eq!((report.resumed_from, report.through), (0, 12));
    transfer::assert_same_reads(&source, &target).await;
    let checked = verify(&*source, &*target, quiet()).await.unwrap();
    assert_eq!(checked.positions, 12);
    assert!(checked.changes >= 4 && checked.state == 4, "{checked:?}"); // a snapshot, two checkpoints, a group
    // Nothing new: a second run copies nothing and still verifies.
    let again = copy(&*source, &*target, CopyOptions::default(), quiet()).await.unwrap();
    assert_eq!(again.resumed_from, 12);
    verify(&*source, &*target, quiet()).await.unwrap();
}

#[tokio::test]
async fn an_interrupted_copy_resumes_and_verifies() {
    let (source, target) = (store(), store());
    transfer::build(&source).await;
    // What an interrupted run left: the first seven positions (and the changes among them).
    let mut reader = source.export_log(ExportRange { after: 0, through: 7 }).await.unwrap();
    let mut prefix = Vec::new();
    while let Some(item) = reader.next().await {
        let item = item.unwrap();
        if !item.is_state() {
            prefix.push(item);
        }
    }
    target.import_log(prefix).await.unwrap();
    let report = copy(&*source, &*target, CopyOptions { batch: 3 }, quiet()).await.unwrap();
    assert_eq!(report.resumed_from, 7);
    transfer::assert_same_reads(&source, &target).await;
    verify(&*source, &*target, quiet()).await.unwrap();
}

#[tokio::test]
async fn a_diverging_target_is_refused_and_differences_are_named() {
    let (source, target) = (store(), store());
    transfer::build(&source).await;
    target.append(&sid("order-1"), Ev::NoStream, vec![event("Other", 1)]).await.unwrap();
    let err = copy(&*source, &*target, CopyOptions::default(), quiet()).await.unwrap_err();
    assert!(matches!(err, BackupError::Diverged { position: 1, .. }), "{err}");
    assert_eq!(target.head().await.unwrap(), 1, "nothing was written");

    let exact = store();
    copy(&*source, &*exact, CopyOptions::default(), quiet()).await.unwrap();
    exact.save_checkpoint("mailer", 3).await.unwrap();
    let err = verify(&*source, &*exact, quiet()).await.unwrap_err();
    assert!(matches!(&err, BackupError::Mismatch { at, .. } if at == "the checkpoint of mailer"), "{err}");

    let longer = store();
    let mut reader = source.export_log(ExportRange { after: 0, through: 5 }).await.unwrap();
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        items.push(item.unwrap());
    }
    items.retain(|i| !i.is_state());
    longer.import_log(items).await.unwrap();
    let err = verify(&*source, &*longer, quiet()).await.unwrap_err();
    assert!(matches!(&err, BackupError::Mismatch { at, target_item, .. } if at == "position 6" && target_item == "nothing"), "{err}");
}
