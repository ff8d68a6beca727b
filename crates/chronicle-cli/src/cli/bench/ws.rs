//! `ws-fanout`: K WebSocket subscribers on an in-process server receive
//! every one of N events appended in batches of 100 (delivered events/s
//! over all subscribers, append→receive latency), next to K in-process
//! subscriptions fed the same way in the same run.

use super::{Target, append::bench_event, report::BenchResult, subscribe::sequence};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, Filter, StreamId, SubscribeFrom};
use chronicle_server::Server;
use futures_util::StreamExt;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

const BATCH: u64 = 100;

/// What one run measured: delivered events/s and the latency samples.
struct Fanout {
    rate: f64,
    latencies: Vec<u64>,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("ws-fanout: {e}"))
}

async fn feed(store: &Arc<dyn EventStore>, n: u64, sent: &[AtomicU64], start: Instant) -> CliResult {
    let stream = StreamId::new("fan-1")?;
    let mut i = 0;
    while i < n {
        let count = BATCH.min(n - i);
        let now = start.elapsed().as_micros() as u64;
        (i..i + count).filter_map(|k| sent.get(k as usize)).for_each(|s| s.store(now, Relaxed));
        store.append(&stream, ExpectedVersion::Any, (i..i + count).map(|k| bench_event(k, 300)).collect()).await?;
        i += count;
    }
    Ok(())
}

fn lag(data: &[u8], sent: &[AtomicU64], start: Instant) -> u64 {
    let now = start.elapsed().as_micros() as u64;
    sequence(data).and_then(|i| sent.get(i as usize)).map_or(0, |s| now.saturating_sub(s.load(Relaxed)))
}

async fn in_process(target: &Target, k: usize, n: u64) -> CliResult<Fanout> {
    let store = target.store("ws-fanout-inproc").await?.store;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..k {
        let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await?;
        let sent = sent.clone();
        readers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(n as usize);
            while (samples.len() as u64) < n {
                let Some(e) = sub.next().await else { break };
                samples.push(lag(e?.data.as_bytes(), &sent, start));
            }
            Ok::<_, chronicle::Error>(samples)
        }));
    }
    feed(&store, n, &sent, start).await?;
    collect(readers, k, n, start).await
}

async fn collect<E: std::fmt::Display>(
    readers: Vec<tokio::task::JoinHandle<Result<Vec<u64>, E>>>,
    k: usize,
    n: u64,
    start: Instant,
) -> CliResult<Fanout> {
    let mut latencies = Vec::with_capacity(k * n as usize);
    for r in readers {
        let samples = r.await.map_err(fail)?.map_err(fail)?;
        if samples.len() as u64 != n {
            return Err(fail(format!("a subscriber received {} of {n} events", samples.len())));
        }
        latencies.extend(samples);
    }
    Ok(Fanout { rate: (k as u64 * n) as f64 / start.elapsed().as_secs_f64(), latencies })
}

async fn over_websocket(target: &Target, k: usize, n: u64) -> CliResult<Fanout> {
    let store = target.store("ws-fanout").await?.store;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(CliError::Output)?;
    let url = format!("ws://{}/ws?from=1", listener.local_addr().map_err(CliError::Output)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(store.clone()).serve(listener, async move {
        let _ = stopped.await;
    }));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let bar = progress_bar(k as u64, "ws-fanout: connecting");
    let mut readers = Vec::new();
    for _ in 0..k {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.map_err(fail)?;
        bar.inc(1);
        let sent = sent.clone();
        readers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(n as usize);
            while (samples.len() as u64) < n {
                match socket.next().await {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => samples.push(lag(text.as_bytes(), &sent, start)),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => break,
                }
            }
            Ok(samples)
        }));
    }
    bar.finish_and_clear();
    let start_feed = Instant::now();
    feed(&store, n, &sent, start).await?;
    let result = collect(readers, k, n, start_feed).await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

pub(crate) async fn run(target: &Target, quick: bool) -> CliResult<BenchResult> {
    let (k, n) = if quick { (100, 1_000) } else { (100, 10_000) };
    let baseline = in_process(target, k, n).await?;
    let ws = over_websocket(target, k, n).await?;
    let result = BenchResult {
        workload: "ws-fanout",
        backend: target.backend,
        writers: Some(k),
        batch: Some(BATCH as usize),
        events: Some(k as u64 * n),
        events_per_sec: Some(ws.rate),
        ..BenchResult::default()
    }
    .latencies(ws.latencies);
    Ok(result.baseline(format!("{k} in-process subscriptions, same run (writers = subscribers; events = deliveries)"), baseline.rate))
}
