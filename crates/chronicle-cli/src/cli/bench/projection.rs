//! `projection`: a projection rebuilding from position 1 over the dataset
//! (next to a bare replay of the same log in the same run), and the live
//! lag (append → applied) of a projection while 8 writers append.

use super::{Sizes, Target, append::bench_event, reads::Dataset, report::BenchResult, subscribe::sequence};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{ExpectedVersion, RecordedEvent, StreamId};
use chronicle_toolkit::{MemoryProjection, ProjectionRunner};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

/// Events and data bytes per stream: a small but real read model.
type PerStream = HashMap<String, (u64, u64)>;

fn per_stream(model: &mut PerStream, e: &RecordedEvent) -> Result<(), String> {
    match model.get_mut(e.stream_id.as_str()) {
        Some((n, bytes)) => (*n, *bytes) = (*n + 1, *bytes + e.data.len() as u64),
        None => drop(model.insert(e.stream_id.as_str().to_owned(), (1, e.data.len() as u64))),
    }
    Ok(())
}

/// Rebuilds the per-stream model from the whole dataset; `replay_rate` is
/// the bare `read_all` rate over the same log, measured in the same run.
pub(crate) async fn rebuild(data: &Dataset, target: &Target, replay_rate: f64) -> CliResult<BenchResult> {
    let store = data.store();
    let head = store.head().await?;
    let model = Arc::new(MemoryProjection::new("bench-rebuild", per_stream));
    let start = Instant::now();
    let running = ProjectionRunner::new(store).start(model.clone());
    running.wait_for(head).await?;
    let secs = start.elapsed().as_secs_f64();
    running.stop().await?;
    let events: u64 = model.model().values().map(|(n, _)| n).sum();
    let result = BenchResult {
        workload: "projection",
        backend: target.backend,
        events: Some(events),
        events_per_sec: Some(events as f64 / secs),
        ..BenchResult::default()
    };
    Ok(result.baseline("bare replay (read_all) of the same log, same run", replay_rate))
}

const WRITERS: u64 = 8;

/// Live lag: 8 writers append single events; the projection records, per
/// event, the time from the start of its append to its application.
pub(crate) async fn live(target: &Target, sizes: &Sizes) -> CliResult<BenchResult> {
    let store = target.store("projection-live").await?.store;
    let n = sizes.subscribe_events;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let lags = Arc::new(Mutex::new(Vec::with_capacity(n as usize)));
    let start = Instant::now();
    let (s, l) = (sent.clone(), lags.clone());
    let model = Arc::new(MemoryProjection::new("bench-live", move |m: &mut PerStream, e| {
        let now = start.elapsed().as_micros() as u64;
        if let Some(at) = sequence(e.data.as_bytes()).and_then(|i| s.get(i as usize)) {
            l.lock().map_err(|_| "lag samples poisoned".to_owned())?.push(now.saturating_sub(at.load(Relaxed)));
        }
        per_stream(m, e)
    }));
    let running = ProjectionRunner::new(store.clone()).start(model.clone());
    let bar = progress_bar(n, "projection live");
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, sent, next, bar) = (store.clone(), sent.clone(), next.clone(), bar.clone());
        writers.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("live-{w}"))?;
            let mut last = 0;
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    return Ok::<_, chronicle::Error>(last);
                }
                if let Some(s) = sent.get(i as usize) {
                    s.store(start.elapsed().as_micros() as u64, Relaxed);
                }
                last = last.max(store.append(&stream, ExpectedVersion::Any, vec![bench_event(i, 300)]).await?.last_position);
                bar.inc(1);
            }
        }));
    }
    let mut last = 0;
    for w in writers {
        last = last.max(w.await.map_err(|e| CliError::Usage(format!("bench task failed: {e}")))??);
    }
    let append_secs = start.elapsed().as_secs_f64();
    running.wait_for(last).await?;
    let secs = start.elapsed().as_secs_f64();
    running.stop().await?;
    bar.finish_and_clear();
    let samples = std::mem::take(&mut *lags.lock().map_err(|_| CliError::Usage("lag samples poisoned".into()))?);
    let result = BenchResult {
        workload: "proj-live",
        backend: target.backend,
        writers: Some(WRITERS as usize),
        batch: Some(1),
        events: Some(samples.len() as u64),
        events_per_sec: Some(samples.len() as f64 / secs),
        ..BenchResult::default()
    }
    .latencies(samples);
    Ok(result.baseline("append rate in the same run (lag = append start → applied)", n as f64 / append_secs))
}
