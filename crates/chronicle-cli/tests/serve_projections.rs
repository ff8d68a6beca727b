//! `chronicle projections replay-parked NAME` and `chronicle projections
//! rebuild NAME` against a projection running in another process (this
//! test, through the remote client) on a `chronicle serve`: the CLI asks
//! through the store, the running projection carries it out and answers.

mod served;

use chronicle::{EventStore, ExpectedVersion, NewEvent, RemoteStore, StreamId};
use chronicle_toolkit::{MemoryProjection, OnFailure, ProjectionRunner, RunnerOptions};
use served::{cli, free_port, serve, wait};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_asks_a_running_projection_to_replay_its_parked_events_and_to_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = serve(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait(30, "the server", async || http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200)).await;
    let store: Arc<dyn EventStore> = Arc::new(RemoteStore::new(&url, None).unwrap());
    let events = ["Placed", "Poison", "Paid"].map(|t| NewEvent::raw(t, &b"{}"[..])).to_vec();
    store.append(&StreamId::new("order-1").unwrap(), ExpectedVersion::NoStream, events).await.unwrap();

    // Each event weighs `weight`; the poison fails until `fixed`.
    let (fixed, weight) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU32::new(1)));
    let (f, w) = (fixed.clone(), weight.clone());
    let counts = Arc::new(MemoryProjection::new("counts", move |n: &mut u32, e| {
        if &*e.event_type == "Poison" && !f.load(Ordering::SeqCst) {
            return Err("cannot digest".to_owned());
        }
        *n += w.load(Ordering::SeqCst);
        Ok(())
    }));
    let options = RunnerOptions { retries: 1, backoff: Duration::from_millis(1), on_failure: OnFailure::Park, ..RunnerOptions::default() };
    let running = ProjectionRunner::new(store.clone()).with_options(options).start(counts.clone());
    running.wait_for(3).await.unwrap();
    assert_eq!(counts.model(), 2, "the poison is parked");

    let ok = |args: &[&str]| {
        let out = cli(dir.path(), port, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    fixed.store(true, Ordering::SeqCst);
    let answer = ok(&["projections", "replay-parked", "counts", "--wait", "20"]);
    assert!(answer.contains("replayed 1 parked event(s); 0 failed again"), "{answer}");
    assert_eq!(counts.model(), 3);
    assert!(ok(&["projections", "parked", "counts"]).contains("0 parked event(s)"));

    // New logic (weight 10): a rebuild replays the whole log through it, in place.
    weight.store(10, Ordering::SeqCst);
    let answer = ok(&["projections", "rebuild", "counts", "--wait", "30"]);
    assert!(answer.contains("rebuilt: 3 event(s) applied"), "{answer}");
    assert_eq!(counts.model(), 30);
    let states: serde_json::Value = serde_json::from_str(&ok(&["projections", "--json"])).unwrap();
    assert_eq!(states[0]["status"], "live", "{states}");

    let unknown = cli(dir.path(), port, &["projections", "rebuild", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no projection named \"nobody\" has recorded a state (known: counts)"));

    // Asked while nothing runs it: no answer in time (exit 1) ...
    running.stop().await.unwrap();
    let unanswered = cli(dir.path(), port, &["projections", "rebuild", "counts", "--wait", "2"]);
    assert_eq!(unanswered.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unanswered.stderr).contains("not answered within 2 s"), "{unanswered:?}");
    // ... and carried out at the next start.
    weight.store(100, Ordering::SeqCst);
    let running = ProjectionRunner::new(store.clone()).start(counts.clone());
    wait(20, "the pending rebuild carried out at start", async || counts.model() == 300).await;
    running.stop().await.unwrap();
}
