//! Projection runner: crash mid-stream and restart, poison events parked
//! and replayed, rebuild-and-swap, state records.

use chronicle_core::{EventStore, ExpectedVersion as Ev, RecordedEvent, async_trait};
use chronicle_testkit::{event, sid};
use chronicle_toolkit::{
    MemoryProjection, OnFailure, Projection, ProjectionRunner, ProjectionStatus, Result, RunnerOptions, StoreCheckpointed, latest_states,
    parked,
};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

type Model = BTreeMap<String, u64>;

fn count(model: &mut Model, e: &RecordedEvent) -> std::result::Result<(), String> {
    *model.entry(e.stream_id.to_string()).or_default() += e.global_position;
    Ok(())
}

async fn filled(n: u64) -> Arc<dyn EventStore> {
    let store: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    for i in 0..n {
        store.append(&sid(&format!("s-{}", i % 7)), Ev::Any, vec![event(if i % 10 == 3 { "Poison" } else { "T" }, i)]).await.unwrap();
    }
    store
}

fn fast() -> RunnerOptions {
    RunnerOptions { retries: 3, backoff: Duration::from_millis(1), record_every: Duration::from_millis(20), ..RunnerOptions::default() }
}

async fn rebuilt(store: &Arc<dyn EventStore>) -> Model {
    let fresh = Arc::new(MemoryProjection::new("reference", count));
    let running = ProjectionRunner::new(store.clone()).start(fresh.clone());
    running.wait_for(store.head().await.unwrap()).await.unwrap();
    running.stop().await.unwrap();
    fresh.model()
}

/// Wraps a projection; at `hang_at` (once) it applies the event and then
/// never returns — the runner is aborted there, like a process dying
/// between the read-model write and the checkpoint.
struct HangAfterApply<P> {
    inner: P,
    hang_at: u64,
    hung: AtomicBool,
    reached: Arc<AtomicU64>,
}

#[async_trait]
impl<P: Projection> Projection for HangAfterApply<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn checkpoint(&self) -> Result<u64> {
        self.inner.checkpoint().await
    }
    async fn apply(&self, e: &RecordedEvent) -> Result<()> {
        self.inner.apply(e).await?;
        self.reached.store(e.global_position, Ordering::SeqCst);
        if e.global_position == self.hang_at && !self.hung.swap(true, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn reset(&self) -> Result<()> {
        self.inner.reset().await
    }
}

#[tokio::test]
async fn crash_between_apply_and_checkpoint_then_restart_equals_a_rebuild() {
    let store = filled(500).await;
    let model = Arc::new(MemoryProjection::new("by-stream", count));
    // The checkpoint lives in the store, written after the model: the
    // window a crash can fall into. The model itself skips positions it
    // has seen, so the redelivery is harmless.
    struct Shared(Arc<MemoryProjection<Model>>);
    #[async_trait]
    impl Projection for Shared {
        fn name(&self) -> &str {
            self.0.name()
        }
        async fn checkpoint(&self) -> Result<u64> {
            self.0.checkpoint().await
        }
        async fn apply(&self, e: &RecordedEvent) -> Result<()> {
            self.0.apply(e).await
        }
        async fn reset(&self) -> Result<()> {
            self.0.reset().await
        }
    }
    let reached = Arc::new(AtomicU64::new(0));
    let hang = HangAfterApply { inner: Shared(model.clone()), hang_at: 237, hung: AtomicBool::new(false), reached: reached.clone() };
    let crashy = Arc::new(StoreCheckpointed::new(hang, store.clone()));
    let runner = ProjectionRunner::new(store.clone()).with_options(fast());
    let running = runner.start(crashy.clone());
    while reached.load(Ordering::SeqCst) < 237 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort();
    assert_eq!(store.load_checkpoint("by-stream").await.unwrap(), Some(236), "crashed before checkpointing 237");
    let running = runner.start(crashy);
    running.wait_for(500).await.unwrap();
    running.stop().await.unwrap();
    assert_eq!(model.model(), rebuilt(&store).await);
}

#[tokio::test]
async fn poison_events_are_retried_parked_and_replayed_after_a_fix() {
    let store = filled(100).await;
    let fixed = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    let (f, a) = (fixed.clone(), attempts.clone());
    let projection = Arc::new(MemoryProjection::new("picky", move |m: &mut Model, e: &RecordedEvent| {
        if &*e.event_type == "Poison" && !f.load(Ordering::SeqCst) {
            a.fetch_add(1, Ordering::SeqCst);
            return Err("cannot digest poison".into());
        }
        count(m, e)
    }));
    let running = ProjectionRunner::new(store.clone()).with_options(fast()).start(projection.clone());
    running.wait_for(100).await.unwrap();
    let state = running.state();
    assert_eq!(state.parked, 10, "{state:?}");
    assert_eq!(state.applied, 90);
    assert_eq!(attempts.load(Ordering::SeqCst), 10 * 4, "each poison event tried once and retried 3 times");
    let open = parked::list(&*store, "picky").await.unwrap();
    assert_eq!(open.iter().map(|p| p.position).collect::<Vec<_>>(), (0..10).map(|k| k * 10 + 4).collect::<Vec<_>>());
    assert!(open[0].error.contains("cannot digest poison"));
    running.stop().await.unwrap();

    fixed.store(true, Ordering::SeqCst);
    let report = parked::replay(&*store, &*projection).await.unwrap();
    assert_eq!(report.replayed.len(), 10);
    assert!(parked::list(&*store, "picky").await.unwrap().is_empty());
    assert_eq!(projection.model(), rebuilt(&store).await);
}

#[tokio::test]
async fn a_full_parked_store_pauses_the_runner_and_drops_nothing() {
    assert_eq!(RunnerOptions::default().retries, 3, "the seeds' default");
    assert_eq!(RunnerOptions::default().max_parked, 1000);
    let store = filled(100).await; // poison at 4, 14, 24, …
    let fixed = Arc::new(AtomicBool::new(false));
    let f = fixed.clone();
    let projection = Arc::new(MemoryProjection::new("bounded", move |m: &mut Model, e: &RecordedEvent| {
        if &*e.event_type == "Poison" && !f.load(Ordering::SeqCst) {
            return Err("cannot digest poison".into());
        }
        count(m, e)
    }));
    let options = RunnerOptions { max_parked: 2, ..fast() };
    let running = ProjectionRunner::new(store.clone()).with_options(options).start(projection.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while running.state().status != ProjectionStatus::Paused {
        assert!(std::time::Instant::now() < deadline, "never paused: {:?}", running.state());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = running.state();
    assert_eq!((state.parked, state.position), (2, 23), "paused before the third poison (24): {state:?}");
    // Replaying the parked events makes room: it resumes, parks the next ones as room allows.
    fixed.store(true, Ordering::SeqCst);
    parked::replay(&*store, &*projection).await.unwrap();
    running.wait_for(100).await.unwrap();
    assert_eq!(running.state().status, ProjectionStatus::Live);
    running.stop().await.unwrap();
    assert_eq!(projection.model(), rebuilt(&store).await, "nothing dropped");
}

#[tokio::test]
async fn on_failure_stop_fails_the_projection_and_records_it() {
    let store = filled(20).await;
    let projection = Arc::new(MemoryProjection::new(
        "strict",
        |_: &mut Model, e: &RecordedEvent| {
            if &*e.event_type == "Poison" { Err("no".into()) } else { Ok(()) }
        },
    ));
    let options = RunnerOptions { on_failure: OnFailure::Stop, ..fast() };
    let running = ProjectionRunner::new(store.clone()).with_options(options).start(projection.clone());
    assert!(running.wait_for(20).await.is_err(), "stops at position 4");
    assert_eq!(projection.checkpoint().await.unwrap(), 3);
    let err = running.stop().await.unwrap_err();
    assert!(err.to_string().contains("no"), "{err}");
    let states = latest_states(&*store).await.unwrap();
    let strict = states.iter().find(|s| s.name == "strict").unwrap();
    assert_eq!(strict.status, ProjectionStatus::Failed);
    assert_eq!(strict.position, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_then_rebuild_and_swap_then_state_records() {
    let store = filled(300).await;
    let live = Arc::new(MemoryProjection::new("summary", count));
    let runner = ProjectionRunner::new(store.clone()).with_options(fast());
    let running = runner.start(live.clone());
    running.wait_for(300).await.unwrap();
    let p = store.append(&sid("s-1"), Ev::Any, vec![event("T", 1)]).await.unwrap().last_position;
    running.wait_for(p).await.unwrap();
    assert_eq!(running.state().status, ProjectionStatus::Live);

    let fresh = Arc::new(MemoryProjection::new("summary", count));
    let running = runner.rebuild(running, fresh.clone()).await.unwrap();
    let p = store.append(&sid("s-2"), Ev::Any, vec![event("T", 2)]).await.unwrap().last_position;
    running.wait_for(p).await.unwrap();
    assert_eq!(fresh.model(), rebuilt(&store).await);
    tokio::time::sleep(Duration::from_millis(60)).await; // a periodic record
    let states = latest_states(&*store).await.unwrap();
    let summary = states.iter().find(|s| s.name == "summary").unwrap();
    assert_eq!((summary.status, summary.lag_events), (ProjectionStatus::Live, 0), "{summary:?}");
    assert!(summary.position >= p, "{summary:?}");
    running.stop().await.unwrap();
    let states = latest_states(&*store).await.unwrap();
    assert_eq!(states.iter().find(|s| s.name == "summary").unwrap().status, ProjectionStatus::Stopped);
}
