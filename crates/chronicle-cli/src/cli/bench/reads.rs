//! Read-side workloads over one dataset: `read-stream`, `replay`, `open`,
//! `storage`.

use super::{Sizes, Target, append::bench_event, raw, report::BenchResult};
use crate::cli::{CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, Maintenance, Opened, ReadAll, ReadStream, StreamAppend, StreamId};
use std::{sync::Arc, time::Instant};

/// Events per stream chunk when building a dataset (streams interleave).
const CHUNK: u64 = 10;

/// A store of `sizes.dataset` events over `sizes.streams` streams, in
/// chunks of 10 events per stream, 1,000 events per atomic append.
pub(crate) struct Dataset {
    store: Arc<dyn EventStore>,
    maintenance: Arc<dyn Maintenance>,
    name: String,
    events: u64,
}

impl Dataset {
    /// The store handle.
    pub(crate) fn store(&self) -> Arc<dyn EventStore> {
        self.store.clone()
    }

    pub(crate) async fn build(target: &Target, sizes: &Sizes) -> CliResult<Self> {
        Self::build_named(target, sizes, "dataset").await
    }

    pub(crate) async fn build_named(target: &Target, sizes: &Sizes, name: &str) -> CliResult<Self> {
        let Opened { store, maintenance, .. } = target.store(name).await?;
        let bar = progress_bar(sizes.dataset, "building dataset");
        let streams = sizes.streams.max(1);
        let (mut n, mut chunk) = (0u64, 0u64);
        while n < sizes.dataset {
            let mut parts = Vec::new();
            while n < sizes.dataset && (parts.len() as u64) < streams.min(100) {
                let stream = StreamId::new(format!("ds-{}", chunk % streams))?;
                let count = CHUNK.min(sizes.dataset - n);
                parts.push(StreamAppend::new(
                    stream,
                    ExpectedVersion::Any,
                    (n..n + count).map(|i| bench_event(i, sizes.event_size)).collect(),
                ));
                (n, chunk) = (n + count, chunk + 1);
            }
            store.append_multi(parts).await?;
            bar.set_position(n);
        }
        bar.finish_and_clear();
        Ok(Self { store, maintenance, name: name.to_owned(), events: sizes.dataset })
    }
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Reads whole streams (~100 events each by default) at random.
pub(crate) async fn read_stream(target: &Target, sizes: &Sizes) -> CliResult<BenchResult> {
    let streams = sizes.streams.clamp(1, 1000);
    let data = Dataset::build_named(target, &Sizes { dataset: streams * 100, streams, ..*sizes }, "read-stream").await?;
    let bar = progress_bar(sizes.reads, "read-stream");
    let (mut latencies, mut events, mut x) = (Vec::with_capacity(sizes.reads as usize), 0u64, 0x2545_F491_4F6C_DD1Du64);
    let start = Instant::now();
    for _ in 0..sizes.reads {
        let stream = StreamId::new(format!("ds-{}", xorshift(&mut x) % streams))?;
        let t = Instant::now();
        events += data.store.read_stream(&stream, ReadStream::forward()).await?.len() as u64;
        latencies.push(t.elapsed().as_micros() as u64);
        bar.inc(1);
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let result = BenchResult {
        workload: "read-stream",
        backend: target.backend,
        events: Some(events),
        events_per_sec: Some(events as f64 / elapsed),
        ..BenchResult::default()
    }
    .latencies(latencies);
    let Some(bytes) = data.maintenance.storage_bytes() else { return Ok(result) };
    let per_stream = events / sizes.reads.max(1);
    let record = bytes / data.events.max(1);
    let reads_per_sec = raw::random_reads(&target.dir("read-stream").join("segments"), (per_stream * record) as usize, sizes.reads)?;
    Ok(result.baseline(format!("raw pread of the same bytes ({per_stream} events per read)"), reads_per_sec * per_stream as f64))
}

/// Reads the whole log from position 1 in pages of 10,000.
pub(crate) async fn replay(data: &Dataset, target: &Target) -> CliResult<BenchResult> {
    let bar = progress_bar(data.events, "replay");
    let start = Instant::now();
    let (mut read, mut events) = (ReadAll::forward().limit(10_000), 0u64);
    loop {
        let page = data.store.read_all(&read).await?;
        events += page.events.len() as u64;
        bar.set_position(events);
        match page.next {
            Some(next) => read.from = Some(next),
            None => break,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let result = BenchResult {
        workload: "replay",
        backend: target.backend,
        events: Some(events),
        events_per_sec: Some(events as f64 / elapsed),
        ..BenchResult::default()
    };
    if data.maintenance.storage_bytes().is_none() {
        return Ok(result);
    }
    let secs = raw::read_dir_sequential(&target.dir(&data.name).join("segments"))?;
    Ok(result.baseline("raw sequential read of the segment files", events as f64 / secs))
}

/// Closes the dataset store and times reopening it (file backend only).
pub(crate) async fn open(target: &Target, data: &mut Dataset) -> CliResult<Option<BenchResult>> {
    if target.backend != "file" {
        return Ok(None);
    }
    let dir = target.dir(&data.name);
    // Release the directory (the last handles), then reopen it.
    data.maintenance = Arc::new(chronicle::NoMaintenance("closed"));
    data.store = Arc::new(chronicle::MemoryStore::new());
    let start = Instant::now();
    let Opened { store, maintenance, .. } = target.reopen(&data.name).await?;
    let secs = start.elapsed().as_secs_f64();
    (data.store, data.maintenance) = (store, maintenance);
    let raw = raw::read_dir_sequential(&dir.join("segments"))?;
    let result = BenchResult {
        workload: "open",
        backend: target.backend,
        events: Some(data.events),
        events_per_sec: Some(data.events as f64 / secs),
        p50_us: Some((secs * 1e6) as u64),
        ..BenchResult::default()
    };
    Ok(Some(result.baseline("raw sequential read of the segment files", data.events as f64 / raw)))
}

/// Bytes on disk per event (file backend only).
pub(crate) fn storage(data: &Dataset, sizes: &Sizes) -> CliResult<Option<BenchResult>> {
    let Some(bytes) = data.maintenance.storage_bytes() else { return Ok(None) };
    let bytes = bytes as f64 / data.events.max(1) as f64;
    let json = super::append::payload(0, sizes.event_size).len() as f64;
    Ok(Some(BenchResult {
        workload: "storage",
        backend: "file",
        events: Some(data.events),
        bytes_per_event: Some(bytes),
        baseline: Some("the event's JSON data alone".into()),
        baseline_bytes_per_event: Some(json),
        ratio: Some(bytes / json),
        ..BenchResult::default()
    }))
}
