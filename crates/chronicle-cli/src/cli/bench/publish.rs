//! `publish`: relay throughput and append→broker-ack latency to NATS
//! JetStream and to a local webhook while 8 writers append single events,
//! next to the same run's append rate and append→local-subscriber latency.

use super::{
    Target,
    report::BenchResult,
    subscribe::{SentAt, join, sequence, subscriber, write},
};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{RecordedEvent, Uuid};
use chronicle_publish::{PublishHook, PublishSettings, Publisher, Verdict};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// Records each acknowledged event's append→ack latency.
#[derive(Debug)]
struct AckClock {
    sent: SentAt,
    start: Instant,
    acks: Mutex<Vec<u64>>,
    first_ack: AtomicU64,
}

impl PublishHook for AckClock {
    fn before_publish(&self, _sink: &str, _event: &mut RecordedEvent) -> Verdict {
        Verdict::Deliver
    }

    fn after_publish(&self, _sink: &str, events: &[RecordedEvent]) {
        let now = self.start.elapsed().as_micros() as u64;
        let _ = self.first_ack.compare_exchange(0, now, Relaxed, Relaxed);
        let mut acks = self.acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for e in events {
            let at = sequence(e.data.as_bytes()).and_then(|i| self.sent.get(i as usize)).map_or(now, |s| s.load(Relaxed));
            acks.push(now.saturating_sub(at));
        }
    }
}

/// Both sinks, each on a fresh store.
pub(crate) async fn run(target: &Target, quick: bool, events: Option<u64>) -> CliResult<Vec<BenchResult>> {
    let n = events.unwrap_or(if quick { 2_000 } else { 20_000 });
    let mut rows = Vec::new();
    for kind in ["nats", "webhook"] {
        rows.extend(one(target, kind, n).await?);
    }
    Ok(rows)
}

/// A local webhook endpoint answering 204 to every POST.
async fn webhook() -> CliResult<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route("/events", axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/events"))
}

fn nats_url() -> String {
    std::env::var("CHRONICLE_BENCH_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

async fn one(target: &Target, kind: &'static str, n: u64) -> CliResult<Vec<BenchResult>> {
    let opened = target.store(&format!("publish-{kind}")).await?;
    let unique = Uuid::now_v7().simple().to_string();
    let sink = match kind {
        "nats" => format!(
            "kind = \"nats\"\nurl = \"{}\"\nsubject = \"bench{unique}.{{category}}\"\ncreate_stream = {{ name = \"BENCH{unique}\", subjects = [\"bench{unique}.>\"] }}\n",
            nats_url()
        ),
        _ => format!("kind = \"webhook\"\nurl = \"{}\"\nsecret = \"bench\"\n", webhook().await?),
    };
    let table: toml::Table = toml::from_str(&format!("[[sinks]]\nname = \"bench\"\n{sink}")).map_err(|e| CliError::Usage(e.to_string()))?;
    let settings = PublishSettings::from_table(&table)?;
    let (sent, start): (SentAt, Instant) = (Arc::new((0..n).map(|_| AtomicU64::new(0)).collect()), Instant::now());
    let clock = Arc::new(AckClock { sent: sent.clone(), start, acks: Mutex::default(), first_ack: AtomicU64::new(0) });
    let publisher = Publisher::new(opened.store.clone(), opened.leases.clone(), &settings, "bench").with_hook(clock.clone());
    publisher.start();
    let local = subscriber(&opened.store, n, &sent, start).await?;
    let bar = progress_bar(n, &format!("publish to {kind}"));
    let (append_secs, _) = write(std::slice::from_ref(&opened.store), 8, n, &sent, start, &bar).await?;
    bar.finish_and_clear();
    let acked = wait_for_acks(&clock, n, &publisher).await;
    let last_ack = start.elapsed().as_secs_f64();
    publisher.stop().await;
    if kind == "nats" {
        drop_stream(&format!("BENCH{unique}")).await;
    }
    acked?;
    let (local_latencies, _) = local.await.map_err(join)??;
    let local_row = BenchResult {
        workload: "publish-local",
        backend: target.backend,
        writers: Some(8),
        batch: Some(1),
        events: Some(n),
        ..BenchResult::default()
    }
    .latencies(local_latencies);
    let first_ack = clock.first_ack.load(Relaxed) as f64 / 1e6;
    let acks = std::mem::take(&mut *clock.acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let row = BenchResult {
        workload: if kind == "nats" { "publish-nats" } else { "publish-webhook" },
        backend: target.backend,
        writers: Some(8),
        batch: Some(1),
        events: Some(n),
        events_per_sec: Some(n as f64 / (last_ack - first_ack).max(1e-6)),
        ..BenchResult::default()
    }
    .latencies(acks);
    let ratio_p99 = match (row.p99_us, local_row.p99_us) {
        (Some(a), Some(l)) if l > 0 => format!("{:.1}", a as f64 / l as f64),
        _ => "-".into(),
    };
    let row = row.baseline(
        format!("append rate of the same run; ack p99 / local-subscriber p99 = {ratio_p99} ({kind} sink, {} events)", n),
        n as f64 / append_secs.max(1e-6),
    );
    Ok(vec![row, local_row])
}

async fn wait_for_acks(clock: &AckClock, n: u64, publisher: &Publisher) -> CliResult {
    let deadline = Instant::now() + Duration::from_secs(120);
    while (clock.acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() as u64) < n {
        if Instant::now() > deadline {
            let status = publisher.status().await?;
            return Err(CliError::Usage(format!("the relay did not deliver every event within 2 minutes: {:?}", status.first())));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn drop_stream(name: &str) {
    if let Ok(client) = async_nats::connect(nats_url()).await {
        let _ = async_nats::jetstream::new(client).delete_stream(name).await;
    }
}
