//! `subscribe`: append→delivery latency with K live subscribers while 8
//! writers append single events.

use super::{Sizes, Target, append::bench_event, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{ExpectedVersion, Filter, StreamId, SubscribeFrom};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

const WRITERS: u64 = 8;

pub(crate) async fn run(target: &Target, sizes: &Sizes, subscribers: usize) -> CliResult<BenchResult> {
    let store = target.store("subscribe").await?.store;
    let n = sizes.subscribe_events;
    let sent: SentAt = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let mut subs = Vec::new();
    for _ in 0..subscribers.max(1) {
        subs.push(subscriber(&store, n, &sent, start).await?);
    }
    let bar = progress_bar(n, &format!("subscribe x{subscribers}"));
    let (append_secs, _) = write(std::slice::from_ref(&store), WRITERS, n, &sent, start, &bar).await?;
    bar.finish_and_clear();
    let (mut latencies, mut last) = (Vec::new(), 0f64);
    for s in subs {
        let (l, t) = s.await.map_err(join)??;
        latencies.extend(l);
        last = last.max(t);
    }
    let result = BenchResult {
        workload: "subscribe",
        backend: target.backend,
        writers: Some(WRITERS as usize),
        batch: Some(1),
        events: Some(n),
        events_per_sec: Some(n as f64 / last),
        ..BenchResult::default()
    }
    .latencies(latencies);
    Ok(result.baseline(format!("append rate in the same run ({subscribers} subscribers each receive every event)"), n as f64 / append_secs))
}

/// When each bench event `i` was handed to `append` (µs since the run's start).
pub(crate) type SentAt = Arc<Vec<AtomicU64>>;

/// A live subscriber from the start that records each event's
/// append→delivery latency; ends with (latencies, seconds at the last).
pub(crate) async fn subscriber(
    store: &Arc<dyn chronicle::EventStore>,
    n: u64,
    sent: &SentAt,
    start: Instant,
) -> CliResult<tokio::task::JoinHandle<chronicle::Result<(Vec<u64>, f64)>>> {
    let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await?;
    let sent = sent.clone();
    Ok(tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(n as usize);
        while (latencies.len() as u64) < n {
            let Some(event) = sub.next().await else { break };
            let now = start.elapsed().as_micros() as u64;
            let at = sequence(event?.data.as_bytes()).and_then(|i| sent.get(i as usize)).map_or(now, |s| s.load(Relaxed));
            latencies.push(now.saturating_sub(at));
        }
        Ok((latencies, start.elapsed().as_secs_f64()))
    }))
}

/// `writers` writers append `n` single bench events, writer `w` through
/// `stores[w % stores.len()]`; returns the seconds from `start` to the
/// last acknowledged append, and each append's latency (µs).
pub(crate) async fn write(
    stores: &[Arc<dyn chronicle::EventStore>],
    writers: u64,
    n: u64,
    sent: &SentAt,
    start: Instant,
    bar: &indicatif::ProgressBar,
) -> CliResult<(f64, Vec<u64>)> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let Some(store) = stores.get(w as usize % stores.len().max(1)).cloned() else { break };
        let (sent, next, bar) = (sent.clone(), next.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("sub-{w}"))?;
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    return Ok::<_, chronicle::Error>(latencies);
                }
                let at = start.elapsed().as_micros() as u64;
                if let Some(s) = sent.get(i as usize) {
                    s.store(at, Relaxed);
                }
                store.append(&stream, ExpectedVersion::Any, vec![bench_event(i, 300)]).await?;
                latencies.push((start.elapsed().as_micros() as u64).saturating_sub(at));
                bar.inc(1);
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(join)??);
    }
    Ok((start.elapsed().as_secs_f64(), latencies))
}

pub(crate) fn join(e: tokio::task::JoinError) -> CliError {
    CliError::Usage(format!("bench task failed: {e}"))
}

/// The sequence number `i` of a bench event (`"order_id":"order-{i}"`).
pub(crate) fn sequence(data: &[u8]) -> Option<u64> {
    let at = data.windows(6).position(|w| w == b"order-")? + 6;
    let digits = data.get(at..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(data.get(at..at + digits)?).ok()?.parse().ok()
}
