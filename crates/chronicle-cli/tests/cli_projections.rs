//! `chronicle projections` and `chronicle projections parked NAME` on a
//! file store a projection runner has worked on.

use chronicle::{Config, EventStore, ExpectedVersion, FileStore, NewEvent, StreamId, file_options};
use chronicle_toolkit::{MemoryProjection, OnFailure, ProjectionRunner, RunnerOptions};
use std::{process::Command, sync::Arc, time::Duration};

#[tokio::test]
async fn lists_states_and_parked_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("chronicle-data");
    {
        let store: Arc<dyn EventStore> = Arc::new(FileStore::open(&data, file_options(&Config::default())).unwrap());
        let s = StreamId::new("order-1").unwrap();
        let events = ["Placed", "Poison", "Paid"].map(|t| NewEvent::raw(t, &b"{}"[..])).to_vec();
        store.append(&s, ExpectedVersion::NoStream, events).await.unwrap();
        let counts = Arc::new(MemoryProjection::new("counts", |n: &mut u32, e| {
            if &*e.event_type == "Poison" {
                return Err("cannot digest".to_owned());
            }
            *n += 1;
            Ok(())
        }));
        let options =
            RunnerOptions { retries: 1, backoff: Duration::from_millis(1), on_failure: OnFailure::Park, ..RunnerOptions::default() };
        let running = ProjectionRunner::new(store.clone()).with_options(options).start(counts.clone());
        running.wait_for(3).await.unwrap();
        running.stop().await.unwrap();
        assert_eq!(counts.model(), 2);
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chronicle")).args(args).arg("--data-dir").arg(&data).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let states: serde_json::Value = serde_json::from_str(&run(&["projections", "--json"])).unwrap();
    let counts = &states.as_array().unwrap()[0];
    assert_eq!((counts["name"].as_str(), counts["status"].as_str()), (Some("counts"), Some("stopped")));
    // Its own bookkeeping records (`$` streams) come after position 3 and are passed over.
    assert!(counts["position"].as_u64().unwrap() >= 3, "{counts}");
    assert_eq!((counts["parked"].as_u64(), counts["applied"].as_u64()), (Some(1), Some(2)));
    assert!(counts["last_error"].as_str().unwrap().contains("cannot digest"));
    let table = run(&["projections"]);
    assert!(table.lines().nth(1).unwrap().starts_with("counts "), "{table}");

    let parked: serde_json::Value = serde_json::from_str(&run(&["projections", "parked", "counts", "--json"])).unwrap();
    assert_eq!(parked[0]["position"], 2);
    assert_eq!(parked[0]["event_type"], "Poison");
    assert!(run(&["projections", "parked", "counts"]).contains("1 parked event(s) for counts"));
    assert!(run(&["projections", "parked", "nobody"]).contains("0 parked event(s)"));
}
