//! Export and import (backup, restore, migration) on the real PostgreSQL:
//! the shared transfer cases, plus a reclaimed store whose removed
//! positions come out of an export, and a store migrated from schema 3
//! whose stream settings are exported from the rows they were in.

use chronicle_core::{AppendPipeline, DeleteMode, ExpectedVersion as Ev, LogItem, StreamMetadata};
use chronicle_postgres::PgStore;
use chronicle_testkit::{event, service_or_skip, sid, transfer};
use std::sync::Arc;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn temporary() -> Option<PgStore> {
    service_or_skip("PostgreSQL", PgStore::connect_temporary(&url(), AppendPipeline::default()).await)
}

chronicle_testkit::transfer_conformance!(temporary);

/// A reclaimed store: the emptied positions are exported as removed (with
/// their streams and versions), and a copy answers alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaimed_positions_are_exported_and_copied() {
    let (Some(source), Some(target)) = (temporary().await, temporary().await) else { return };
    let a: transfer::Store = Arc::new(source.clone());
    transfer::build(&a).await;
    let (trim, gone) = (sid("trim-1"), sid("dropped-1"));
    for n in 0..40 {
        let s = if n % 3 == 0 { &gone } else { &trim };
        a.append(s, Ev::Any, vec![event("Filler", n)]).await.unwrap();
    }
    a.set_stream_metadata(&trim, StreamMetadata { max_count: Some(5), ..Default::default() }).await.unwrap();
    a.delete_stream(&gone, Ev::Any, DeleteMode::Tombstone).await.unwrap();
    let report = source.reclaim(&mut |_, _| {}).await.unwrap();
    assert!(report.events_removed > 30, "{report:?}");
    let items = transfer::export_all(&a).await;
    let removed = items.iter().filter(|i| matches!(i, LogItem::Removed { .. })).count() as u64;
    assert_eq!(removed, report.events_removed);
    let b: transfer::Store = Arc::new(target);
    b.import_log(items.clone()).await.unwrap();
    transfer::assert_same_reads(&a, &b).await;
    assert_eq!(transfer::export_all(&b).await, items);
}
