//! `mixed`: W single-event writers and W stream readers at once, each side
//! compared with itself running alone in the same run.

use super::{Sizes, Target, append::bench_event, reads::Dataset, report::BenchResult};
use crate::cli::{CliError, CliResult};
use chronicle::{EventStore, ExpectedVersion, ReadStream, StreamId};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

async fn phase(store: &Arc<dyn EventStore>, writers: usize, readers: usize, streams: u64, secs: f64) -> CliResult<(f64, f64)> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for w in 0..writers + readers {
        let store = store.clone();
        let is_writer = w < writers;
        tasks.push(tokio::spawn(async move {
            let (mut n, mut x) = (0u64, 0x9E37_79B9u64 + w as u64);
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let stream = StreamId::new(format!("ds-{}", x % streams.max(1)))?;
                if is_writer {
                    store.append(&stream, ExpectedVersion::Any, vec![bench_event(x, 300)]).await?;
                    n += 1;
                } else {
                    n += store.read_stream(&stream, ReadStream::backward().limit(100)).await?.len() as u64;
                }
            }
            Ok::<_, chronicle::Error>((is_writer, n))
        }));
    }
    let (mut wrote, mut read) = (0u64, 0u64);
    for t in tasks {
        let (is_writer, n) = t.await.map_err(|e| CliError::Usage(format!("bench task failed: {e}")))??;
        *if is_writer { &mut wrote } else { &mut read } += n;
    }
    Ok((wrote as f64 / secs, read as f64 / secs))
}

pub(crate) async fn run(target: &Target, sizes: &Sizes, writers: usize) -> CliResult<Vec<BenchResult>> {
    let streams = (sizes.streams / 10).max(1);
    let data = Dataset::build_named(target, &Sizes { dataset: streams * 100, streams, ..*sizes }, "mixed").await?;
    let store = data.store();
    let half = sizes.mixed_secs / 2.0;
    let (write_alone, _) = phase(&store, writers, 0, streams, half).await?;
    let (_, read_alone) = phase(&store, 0, writers, streams, half).await?;
    let (write_mixed, read_mixed) = phase(&store, writers, writers, streams, sizes.mixed_secs).await?;
    let row = |workload, rate, alone: f64, what: &str| {
        BenchResult {
            workload,
            backend: target.backend,
            writers: Some(writers),
            batch: Some(1),
            events_per_sec: Some(rate),
            ..BenchResult::default()
        }
        .baseline(format!("{what} alone, same run"), alone)
    };
    Ok(vec![row("mixed", write_mixed, write_alone, "the writers"), row("mixed-read", read_mixed, read_alone, "the readers")])
}
