//! `--nodes N` (PostgreSQL): scaling out costs nothing and keeps one
//! order. The same load runs against one `chronicle serve` node and then
//! against N nodes (separate processes of this binary) on one database,
//! each in a fresh schema, alternating over two rounds and keeping the
//! best of each: writers append single events over HTTP, spread
//! round-robin over the nodes, while N live subscribers (one per node; all
//! on the one node in the baseline) record each event's append→delivery
//! lag. Rows: `nodes-append@K` (appends/s
//! and append latency) and `nodes-lag@K` (delivery lag; every subscriber
//! checks it saw one gapless order).

use super::{
    Target,
    report::BenchResult,
    subscribe::{SentAt, join, subscriber, write},
};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

/// Node processes, killed on drop.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One load's shape.
#[derive(Clone, Copy)]
pub(crate) struct Load {
    pub(crate) writers: u64,
    pub(crate) events: u64,
}

/// What one round measured.
struct Round {
    append: BenchResult,
    lag: BenchResult,
}

/// Starts `count` nodes on `schema` (their configuration in `dir`); their base URLs.
async fn start(target: &Target, dir: &std::path::Path, schema: &str, count: usize) -> CliResult<(Nodes, Vec<String>)> {
    let url = target.database_url()?;
    let mut table = toml::Table::new();
    table.insert("backend".into(), "postgres".into());
    table.insert("database_url".into(), url.into());
    let mut postgres = toml::Table::new();
    postgres.insert("schema".into(), schema.into());
    postgres.insert("pool_size".into(), i64::from(target.config.postgres.pool_size).into());
    table.insert("postgres".into(), postgres.into());
    let config = dir.join(format!("{schema}.toml"));
    std::fs::write(&config, table.to_string()).map_err(CliError::Output)?;
    let exe = std::env::current_exe().map_err(CliError::Output)?;
    let mut nodes = Nodes(Vec::new());
    let mut bases = Vec::new();
    for i in 0..count {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(CliError::Output)?.port();
        let child = Command::new(&exe)
            .args(["--config", &config.to_string_lossy(), "serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--node", &format!("bench-{}", i + 1)])
            .env_remove("CHRONICLE_BACKEND")
            .env_remove("CHRONICLE_DATABASE_URL")
            .env_remove("CHRONICLE_NODE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(CliError::Output)?;
        nodes.0.push(child);
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    let http = reqwest::Client::new();
    for base in &bases {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            if Instant::now() > deadline {
                return Err(CliError::Usage(format!("bench --nodes: the node at {base} did not become ready within 30 s")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok((nodes, bases))
}

/// One round on `count` nodes in a fresh schema, with `subscribers`
/// subscribers spread round-robin over them.
async fn round(target: &Target, count: usize, subscribers: usize, load: Load) -> CliResult<Round> {
    let keeper = chronicle::PgStore::connect_temporary(&target.database_url()?, chronicle::AppendPipeline::default()).await?;
    let (nodes, bases) = start(target, &target.root, keeper.schema(), count).await?;
    let stores: Vec<Arc<dyn chronicle::EventStore>> = bases
        .iter()
        .map(|b| chronicle::RemoteStore::new(b, None).map(|s| Arc::new(s) as Arc<dyn chronicle::EventStore>))
        .collect::<chronicle::Result<_>>()?;
    let n = load.events;
    let sent: SentAt = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let mut subs = Vec::new();
    for store in stores.iter().cycle().take(subscribers) {
        subs.push(subscriber(store, n, &sent, start).await?);
    }
    let bar = progress_bar(n, &format!("{count} node(s)"));
    let (append_secs, latencies) = write(&stores, load.writers, n, &sent, start, &bar).await?;
    bar.finish_and_clear();
    let (mut lags, mut last) = (Vec::new(), 0f64);
    for s in subs {
        let (l, t) = s.await.map_err(join)??;
        if l.len() as u64 != n {
            return Err(CliError::Usage(format!("bench --nodes: a subscriber saw {} of {n} events", l.len())));
        }
        lags.extend(l);
        last = last.max(t);
    }
    drop(nodes);
    // The nodes kept their audit log in a schema beside the events one.
    let audit = format!("DROP SCHEMA IF EXISTS {}_audit CASCADE", keeper.schema());
    chronicle::PgConnector::parse(&target.database_url()?)?
        .connect()
        .await?
        .batch_execute(&audit)
        .await
        .map_err(|e| CliError::Usage(format!("dropping {audit}: {e}")))?;
    let row = |workload, per_sec| BenchResult {
        workload,
        backend: target.backend,
        nodes: Some(count),
        writers: Some(load.writers as usize),
        batch: Some(1),
        events: Some(n),
        events_per_sec: Some(per_sec),
        ..BenchResult::default()
    };
    Ok(Round {
        append: row("nodes-append", n as f64 / append_secs).latencies(latencies),
        lag: row("nodes-lag", n as f64 / last).latencies(lags),
    })
}

/// The best of two alternating rounds on 1 and on `count` nodes.
pub(crate) async fn run(
    target: &Target,
    count: usize,
    quick: bool,
    writers: Option<usize>,
    events: Option<u64>,
) -> CliResult<Vec<BenchResult>> {
    if target.backend != "postgres" {
        return Err(CliError::Usage("bench --nodes runs nodes on one PostgreSQL database: add --backend postgres".into()));
    }
    let load = Load { writers: writers.unwrap_or(32) as u64, events: events.unwrap_or(if quick { 2_000 } else { 20_000 }) };
    let (mut one, mut many): (Option<Round>, Option<Round>) = (None, None);
    for _ in 0..2 {
        for (k, best) in [(1, &mut one), (count, &mut many)] {
            let r = round(target, k, count, load).await?;
            let rate = |r: &Round| r.append.events_per_sec.unwrap_or(0.0);
            if best.as_ref().is_none_or(|b| rate(&r) > rate(b)) {
                *best = Some(r);
            }
        }
    }
    let (Some(one), Some(many)) = (one, many) else { return Ok(Vec::new()) };
    let base = one.append.events_per_sec.unwrap_or(f64::NAN);
    let same = format!("1 node, same run (best of 2 alternating rounds; {count} nodes share the writers round-robin)");
    Ok(vec![one.append, many.append.baseline(same, base), one.lag, many.lag])
}
