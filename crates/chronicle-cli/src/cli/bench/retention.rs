//! `retention`: one pass (cut + reclaim) removing all but the newest event
//! of every `telemetry-*` stream of a loaded store, while 4 single-event
//! writers append to streams no rule binds. Two rows: events removed per
//! second next to the same run's append rate, and the appends during the
//! pass next to the same writers without it (p99 in the baseline text).

use super::{Target, append::bench_event, report::BenchResult};
use crate::cli::{CliError, CliResult};
use chronicle::{EventStore, ExpectedVersion, StreamId};
use chronicle_retention::{Retention, RetentionSettings};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const WRITERS: usize = 4;
const STREAMS: u64 = 64;

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("retention bench: {e}"))
}

/// One append: when it started (µs after the writers did) and how long it took (µs).
type Sample = (u64, u64);

/// 4 writers appending single events until `stop`.
async fn appends(store: &Arc<dyn EventStore>, stop: Arc<AtomicBool>) -> CliResult<Vec<Sample>> {
    let (mut tasks, start) = (Vec::new(), Instant::now());
    for w in 0..WRITERS {
        let (store, stop) = (store.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let stream = StreamId::new(format!("live-{w}"))?;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                store.append(&stream, ExpectedVersion::Any, vec![bench_event(samples.len() as u64, 300)]).await?;
                samples.push(((t - start).as_micros() as u64, t.elapsed().as_micros() as u64));
            }
            Ok::<_, chronicle::Error>(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(fail)??);
    }
    Ok(all)
}

/// The p99 of the samples that started in `from..to` (µs).
fn p99_within(samples: &[Sample], from: u64, to: u64) -> u64 {
    let mut within: Vec<u64> = samples.iter().filter(|(at, _)| (from..to).contains(at)).map(|(_, took)| *took).collect();
    within.sort_unstable();
    super::report::percentile(&within, 99.0).unwrap_or(0)
}

/// Runs the writers for `secs`: (events/s, latencies).
async fn appends_for(store: &Arc<dyn EventStore>, secs: f64) -> CliResult<(f64, Vec<Sample>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let samples = appends(store, stop).await?;
    let _ = timer.await;
    Ok((samples.len() as f64 / secs, samples))
}

pub(crate) async fn run(target: &Target, quick: bool, events: Option<u64>) -> CliResult<Vec<BenchResult>> {
    let n = events.unwrap_or(if quick { 20_000 } else { 500_000 });
    let opened = target.store("retention").await?;
    let store = opened.store.clone();
    super::append::load(&*store, n, "telemetry", STREAMS, "retention").await?;
    let table: toml::Table = toml::from_str("[[rules]]\ncategory = \"telemetry\"\nmax_count = 1").map_err(fail)?;
    let retention = Retention::new(store.clone(), opened.maintenance.clone(), RetentionSettings::from_table(&table).map_err(fail)?);

    // The pass, with the writers running through it.
    let stop = Arc::new(AtomicBool::new(false));
    let writers = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move { appends(&store, stop).await })
    };
    let start = Instant::now();
    let report = retention.run("bench", false).await.map_err(fail)?;
    let took = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = writers.await.map_err(fail)??;
    let during_n = during.len() as u64;
    let removed = report.events();
    if removed + STREAMS.min(n) < n {
        return Err(fail(format!("the pass removed {removed} of {n} events")));
    }
    // The same writers alone, as long as the pass took (at least a second).
    let (alone_rate, alone) = appends_for(&store, took.max(1.0)).await?;
    let cut_us = (report.duration_ms - report.reclaim_ms) * 1000;
    let reclaimed = report.reclaimed.as_ref().map_or(0, |r| r.events_removed);
    let pass = BenchResult {
        workload: "retention",
        backend: target.backend,
        events: Some(removed),
        events_per_sec: Some(removed as f64 / took),
        ..BenchResult::default()
    }
    .baseline(
        format!(
            "appends/s of 4 single-event writers alone, same run (pass {} ms, of which reclaiming {} ms: {reclaimed} events removed from storage)",
            report.duration_ms, report.reclaim_ms
        ),
        alone_rate,
    );
    let during_rate = during_n as f64 / took;
    let appends = BenchResult {
        workload: "retention-append",
        backend: target.backend,
        writers: Some(WRITERS),
        batch: Some(1),
        events: Some(during_n),
        events_per_sec: Some(during_rate),
        ..BenchResult::default()
    }
    .latencies(during.iter().map(|(_, took)| *took).collect())
    .baseline(
        format!(
            "the same writers without retention, same run (p99 {} µs; during the pass: cutting {} µs, reclaiming {} µs)",
            p99_within(&alone, 0, u64::MAX),
            p99_within(&during, 0, cut_us),
            p99_within(&during, cut_us, u64::MAX)
        ),
        alone_rate,
    );
    Ok(vec![pass, appends])
}
