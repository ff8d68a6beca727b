//! `consumer-group`: 4 consumers of a server-side consumer group, each
//! acknowledging every event over its WebSocket, next to one plain `/ws`
//! subscription reading the same stored events from the same server in
//! the same run.

use super::{Target, report::BenchResult};
use crate::cli::{CliError, CliResult};
use chronicle::RemoteStore;
use chronicle_groups::{GroupSpec, Groups, StartFrom};
use chronicle_server::Server;
use std::{sync::Arc, time::Instant};

const CONSUMERS: usize = 4;

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("consumer-group bench: {e}"))
}

pub(crate) async fn run(target: &Target, quick: bool, events: Option<u64>) -> CliResult<BenchResult> {
    let n = events.unwrap_or(if quick { 2_000 } else { 50_000 });
    let opened = target.store("consumer-group").await?;
    let store = opened.store.clone();
    super::append::load(&*store, n, "bench", 64, "consumer-group").await?;
    let groups = match opened.postgres {
        Some(pg) => Groups::postgres(pg, opened.leases, "bench").await,
        None => Groups::open(store.clone()).await,
    }
    .map_err(fail)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(CliError::Output)?;
    let url = format!("http://{}", listener.local_addr().map_err(CliError::Output)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(store.clone()).with_groups(groups.clone()).serve(listener, async move {
        let _ = stopped.await;
    }));

    // The baseline: one plain subscription over /ws from the first event,
    // through the same Rust client (events parsed the same way).
    let remote = RemoteStore::new(&url, None)?;
    let start = Instant::now();
    let mut sub = chronicle::EventStore::subscribe(&remote, chronicle::SubscribeFrom::Start, chronicle::Filter::default()).await?;
    let mut seen = 0;
    while seen < n {
        match sub.next().await {
            Some(Ok(e)) if !e.stream_id.as_str().starts_with('$') => seen += 1,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(fail(e)),
            None => return Err(fail("the /ws subscription ended early")),
        }
    }
    let plain = n as f64 / start.elapsed().as_secs_f64();
    drop(sub);

    // The group: 4 consumers, every event acknowledged.
    let spec = GroupSpec { from: StartFrom::Start, max_in_flight: 1000, ..GroupSpec::default() };
    groups.put("bench", spec).await.map_err(fail)?;
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // The run ends when the n-th acknowledgement is sent: the consumers
    // still waiting for deliveries then stop at once (a timeout there would
    // add its wait to the measured time).
    let (finished, done) = tokio::sync::watch::channel(None::<std::time::Duration>);
    let finished = Arc::new(finished);
    let start = Instant::now();
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let (remote, acked, finished, mut done) = (remote.clone(), acked.clone(), finished.clone(), done.clone());
        consumers.push(tokio::spawn(async move {
            let mut consumer = remote.consume("bench").await?;
            let mut latencies = Vec::new();
            loop {
                let batch = tokio::select! {
                    batch = consumer.next_batch(1000) => batch?,
                    _ = done.wait_for(Option::is_some) => break,
                };
                let ids: Vec<_> = batch.iter().map(|d| d.event.event_id).collect();
                let t = Instant::now();
                consumer.ack(&ids).await?;
                latencies.push(t.elapsed().as_micros() as u64);
                let total = acked.fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed) + ids.len() as u64;
                if total >= n {
                    // The first consumer past n stops the clock.
                    finished.send_if_modified(|at| {
                        let first = at.is_none();
                        if first {
                            *at = Some(start.elapsed());
                        }
                        first
                    });
                    break;
                }
            }
            Ok::<_, chronicle::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for c in consumers {
        latencies.extend(c.await.map_err(fail)??);
    }
    let took = (*done.borrow()).unwrap_or_else(|| start.elapsed());
    let grouped = n as f64 / took.as_secs_f64();
    // The server takes the last acknowledgements in a moment.
    let mut status = groups.status("bench").await.map_err(fail)?;
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while status.checkpoint < n && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        status = groups.status("bench").await.map_err(fail)?;
    }
    let _ = stop.send(());
    let _ = server.await;
    if status.checkpoint < n {
        return Err(fail(format!("the group's checkpoint is {} after {n} acks", status.checkpoint)));
    }
    let result = BenchResult {
        workload: "consumer-group",
        backend: target.backend,
        writers: Some(CONSUMERS),
        batch: Some(1),
        events: Some(n),
        events_per_sec: Some(grouped),
        ..BenchResult::default()
    }
    .latencies(latencies);
    Ok(result.baseline("one plain /ws subscription (RemoteStore::subscribe) of the same events, same server, same run (consumers ack what they received together; latency: sending one ack)", plain))
}
