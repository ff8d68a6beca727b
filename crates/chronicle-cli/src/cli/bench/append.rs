//! The `append` workload: W writers, each appending batches of B events of
//! ~N bytes to its own streams (durable on the file engine).

use super::{Target, raw, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, NewEvent, Opened, StreamId};
use std::{sync::Arc, time::Instant};

/// An event data payload of about `size` bytes of JSON.
pub(crate) fn payload(i: u64, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"order_id":"order-{i}","customer":"customer-{}","total":{},"note":""#, i % 997, i.wrapping_mul(7) % 10_000);
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad)).into_bytes()
}

/// One benchmark event.
pub(crate) fn bench_event(i: u64, size: usize) -> NewEvent {
    NewEvent::raw("BenchEvent", payload(i, size))
}

/// Loads `n` events of ~300 bytes in appends of 100, spread round-robin
/// over `streams` streams `{prefix}-{i}` (a progress bar named `what`).
pub(crate) async fn load(store: &dyn chronicle::EventStore, n: u64, prefix: &str, streams: u64, what: &str) -> CliResult {
    let bar = progress_bar(n, &format!("{what}: loading"));
    for chunk in 0..n.div_ceil(100) {
        let batch = (chunk * 100..((chunk + 1) * 100).min(n)).map(|i| bench_event(i, 300)).collect();
        store.append(&StreamId::new(format!("{prefix}-{}", chunk % streams.max(1)))?, ExpectedVersion::Any, batch).await?;
        bar.inc(100);
    }
    bar.finish_and_clear();
    Ok(())
}

/// W writers appending `events` in batches of B to their own streams;
/// returns each append's latency (µs) and the seconds it all took.
pub(crate) async fn drive(
    store: Arc<dyn EventStore>,
    writers: usize,
    batch: usize,
    events: u64,
    size: usize,
) -> CliResult<(Vec<u64>, f64)> {
    let calls = (events / batch as u64).max(1);
    let per_writer = calls.div_ceil(writers as u64);
    let bar = progress_bar(per_writer * writers as u64 * batch as u64, &format!("append {writers}x{batch}"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, bar) = (store.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for c in 0..per_writer {
                let stream = StreamId::new(format!("bench-{w}-{}", c % 16))?;
                let events = (0..batch as u64).map(|i| bench_event(c * batch as u64 + i, size)).collect();
                let t = Instant::now();
                store.append(&stream, ExpectedVersion::Any, events).await?;
                latencies.push(t.elapsed().as_micros() as u64);
                bar.inc(batch as u64);
            }
            Ok::<_, chronicle::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| CliError::Usage(format!("bench writer failed: {e}")))??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((latencies, elapsed))
}

pub(crate) async fn run(target: &Target, name: &str, writers: usize, batch: usize, events: u64, size: usize) -> CliResult<BenchResult> {
    let Opened { store, maintenance, .. } = target.store(name).await?;
    let (latencies, elapsed) = drive(store.clone(), writers, batch, events, size).await?;
    let total = latencies.len() as u64 * batch as u64;
    let result = BenchResult {
        workload: "append",
        backend: target.backend,
        writers: Some(writers),
        batch: Some(batch),
        events: Some(total),
        events_per_sec: Some(total as f64 / elapsed),
        ..BenchResult::default()
    }
    .latencies(latencies);
    if target.backend == "postgres" {
        drop(store);
        let rate = super::pg::multi_row_insert(&target.database_url()?, writers, batch, total, size).await?;
        return Ok(result.baseline(format!("plain multi-row INSERT into a seed-001 table, {batch} rows per statement"), rate));
    }
    let Some(bytes) = maintenance.storage_bytes() else { return Ok(result) };
    let record_bytes = bytes as usize / (total as usize).max(1);
    drop((store, maintenance));
    let raw = raw::write_fsync(&target.dir(&format!("{name}.raw")), record_bytes, batch, total)?;
    Ok(result.baseline(format!("raw write+fdatasync, {batch} per sync"), raw))
}
