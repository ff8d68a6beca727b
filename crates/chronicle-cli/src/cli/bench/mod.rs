//! `chronicle bench`: reproducible performance figures, each next to a
//! baseline measured in the same run (the machines are shared and noisy:
//! compare ratios, not absolute numbers across runs).

mod aggregate;
mod append;
mod backup;
mod groups;
mod http;
mod mixed;
mod nodes;
mod pg;
mod privacy;
mod projection;
mod publish;
mod raw;
mod reads;
mod report;
mod retention;
mod subscribe;
mod upcast;
mod ws;

use super::{CliError, CliResult, output};
use chronicle::{Config, Opened, SyncMode};
use report::BenchResult;
use std::{path::Path, path::PathBuf, sync::Arc};

/// The workloads, in the order they run.
const WORKLOADS: [&str; 16] = [
    "append",
    "read",
    "read-stream",
    "replay",
    "subscribe",
    "open",
    "storage",
    "mixed",
    "http",
    "aggregate-load",
    "projection",
    "ws-fanout",
    "publish",
    "consumer-group",
    "retention",
    "backup",
];

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Workloads to run (repeatable): append, read (the whole log; --upcast adds the schema rows), read-stream, replay, subscribe, open, storage, mixed, http, aggregate-load, projection, ws-fanout, consumer-group, retention, backup (file; with CHRONICLE_DATABASE_URL also a migration into PostgreSQL), publish (NATS at CHRONICLE_BENCH_NATS_URL, default nats://127.0.0.1:4222, and a local webhook). Default: all.
    #[arg(long = "workload", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    workloads: Vec<String>,
    /// Backend to measure: file, memory or postgres (CHRONICLE_DATABASE_URL; remote once it lands).
    #[arg(long, default_value = "file")]
    backend: String,
    /// Concurrent writers for `append` and `mixed` (default: the standard set).
    #[arg(long)]
    writers: Option<usize>,
    /// Events per append call (with --writers).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Events per workload (default depends on the workload and --quick).
    #[arg(long)]
    events: Option<u64>,
    /// Streams the dataset is spread over.
    #[arg(long)]
    streams: Option<u64>,
    /// Approximate size of each event's JSON data, bytes.
    #[arg(long, default_value_t = 300)]
    event_size: usize,
    /// Seconds the `mixed` workload runs.
    #[arg(long)]
    duration: Option<f64>,
    /// Subscribers for `subscribe`.
    #[arg(long, default_value_t = 4)]
    subscribers: usize,
    /// With `read`: also reads through 2-step upcaster chains (10 % and all events lifted) and 64-writer appends
    /// checked against a JSON Schema, each next to its same-run baseline.
    #[arg(long)]
    upcast: bool,
    /// With `append`: also 64-writer appends with 3 encrypted fields per event, decrypting reads (every event and 10 %
    /// encrypted), each next to its same-run baseline (file or memory).
    #[arg(long)]
    privacy: bool,
    /// With --backend postgres: run the `nodes` comparison only (unless --workload names others): the same HTTP load
    /// through 1 and through N `chronicle serve` nodes on one database, appends/s and subscriber lag (--writers,
    /// default 32; --events, default 20,000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    nodes: Option<u16>,
    /// Every workload at small sizes (well under a minute).
    #[arg(long)]
    quick: bool,
    /// Exactly one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Sizes of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub(crate) dataset: u64,
    pub(crate) streams: u64,
    pub(crate) reads: u64,
    pub(crate) subscribe_events: u64,
    pub(crate) mixed_secs: f64,
    pub(crate) event_size: usize,
}

/// Which backend a workload runs on, and where its files go.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) backend: &'static str,
    pub(crate) config: Config,
    pub(crate) root: PathBuf,
}

impl Target {
    /// A fresh, empty store for one workload, with its maintenance handle
    /// (postgres: a schema of its own, dropped when the store is).
    pub(crate) async fn store(&self, name: &str) -> CliResult<Opened> {
        if self.backend == "postgres" {
            let url = self.database_url()?;
            let store = chronicle::PgStore::connect_temporary(&url, self.config.pipeline()).await?;
            let leases = Arc::new(store.leases());
            let maintenance = Arc::new(chronicle::PgMaintenance::of(store.clone()));
            let raw: Arc<dyn chronicle::EventStore> = Arc::new(store.clone());
            return Ok(Opened {
                store: raw.clone(),
                shaped: raw.clone(),
                raw,
                maintenance,
                leases,
                postgres: Some(store),
                catalog: None,
                privacy: None,
            });
        }
        self.reopen(name).await
    }

    /// Opens (again) the store of workload `name`; acknowledged appends are
    /// always durable (`sync = always`).
    pub(crate) async fn reopen(&self, name: &str) -> CliResult<Opened> {
        self.reopen_with(name, self.config.pipeline()).await
    }

    /// [`Target::reopen`] with `pipeline` (file and memory).
    pub(crate) async fn reopen_with(&self, name: &str, pipeline: chronicle::AppendPipeline) -> CliResult<Opened> {
        let mut config = self.config.clone();
        config.backend = self.backend.parse().map_err(CliError::Usage)?;
        config.data_dir = self.root.join(name);
        config.file.sync = SyncMode::Always;
        Ok(chronicle::open_with(&config, pipeline).await?)
    }

    /// The database URL with `[postgres]`'s TLS settings (where the URL
    /// sets none itself).
    pub(crate) fn database_url(&self) -> CliResult<String> {
        let url = self.config.database_url.as_deref().ok_or_else(|| {
            CliError::Usage("bench --backend postgres needs CHRONICLE_DATABASE_URL (or database_url in chronicle.toml)".into())
        })?;
        Ok(chronicle::PgConnector::with_params(url, &self.config.postgres.tls_params()))
    }

    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

fn revision() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) async fn run(config: &Config, data_dir: Option<&Path>, args: BenchArgs) -> CliResult {
    let backend = match args.backend.as_str() {
        "file" => "file",
        "memory" => "memory",
        "postgres" => "postgres",
        other => return Err(CliError::Usage(format!("bench --backend {other}: unsupported (file, memory or postgres)"))),
    };
    let root = match data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::Usage(format!("cannot create {}: {e}", dir.display())))?;
            tempfile::Builder::new().prefix("chronicle-bench-").tempdir_in(dir)
        }
        None => tempfile::Builder::new().prefix("chronicle-bench-").tempdir(),
    }
    .map_err(|e| CliError::Usage(format!("cannot create a benchmark directory: {e}")))?;
    let target = Target { backend, config: config.clone(), root: root.path().to_owned() };
    let q = args.quick;
    let sizes = Sizes {
        dataset: args.events.unwrap_or(if q { 20_000 } else { 1_000_000 }),
        streams: args.streams.unwrap_or(if q { 200 } else { 10_000 }),
        reads: if q { 500 } else { 10_000 },
        subscribe_events: if q { 1_000 } else { 10_000 },
        mixed_secs: args.duration.unwrap_or(if q { 1.0 } else { 5.0 }),
        event_size: args.event_size,
    };
    let selected: Vec<&str> = match (args.workloads.is_empty(), args.nodes) {
        (true, Some(_)) => Vec::new(),
        (true, None) => WORKLOADS.to_vec(),
        (false, _) => args.workloads.iter().map(String::as_str).collect(),
    };
    let mut results: Vec<BenchResult> = Vec::new();
    if let Some(count) = args.nodes {
        results.extend(nodes::run(&target, usize::from(count), q, args.writers, args.events).await?);
    }
    let mut dataset = None;
    for workload in selected {
        match workload {
            "append" => {
                let configs: Vec<(usize, usize, u64)> = match args.writers {
                    Some(w) => vec![(w.max(1), args.batch.max(1), args.events.unwrap_or(20_000))],
                    None if q => vec![(1, 1, 300), (64, 1, 3_200), (1, 1000, 10_000)],
                    None => vec![(1, 1, 5_000), (64, 1, 100_000), (1, 1000, 250_000)],
                };
                for (i, (writers, batch, events)) in configs.into_iter().enumerate() {
                    results.push(append::run(&target, &format!("append-{i}"), writers, batch, events, sizes.event_size).await?);
                }
                if args.privacy {
                    if backend == "postgres" {
                        return Err(CliError::Usage("bench --privacy measures the file and memory backends".into()));
                    }
                    results.extend(privacy::run(&target, q).await?);
                }
            }
            "http" => {
                let configs: Vec<(usize, usize, u64)> =
                    if q { vec![(64, 1, 3_200), (1, 1000, 10_000)] } else { vec![(64, 1, 50_000), (1, 1000, 100_000)] };
                for (i, (writers, batch, events)) in configs.into_iter().enumerate() {
                    results.push(http::run(&target, &format!("http-{i}"), writers, batch, events, sizes.event_size).await?);
                }
                results.push(http::grants(&target, q, sizes.event_size).await?);
                results.push(http::audit(&target, q, sizes.event_size).await?);
            }
            "aggregate-load" => results.push(aggregate::run(&target, q).await?),
            "ws-fanout" => results.push(ws::run(&target, q).await?),
            "publish" => results.extend(publish::run(&target, q, args.events).await?),
            "consumer-group" => results.push(groups::run(&target, q, args.events).await?),
            "retention" => results.extend(retention::run(&target, q, args.events).await?),
            "backup" => results.extend(backup::run(&target, q, args.events).await?),
            "read" => results.extend(upcast::run(&target, q, args.events, args.upcast).await?),
            "read-stream" => results.push(reads::read_stream(&target, &sizes).await?),
            "subscribe" => results.push(subscribe::run(&target, &sizes, args.subscribers).await?),
            "mixed" => results.extend(mixed::run(&target, &sizes, args.writers.unwrap_or(4)).await?),
            "replay" | "open" | "storage" | "projection" => {
                if dataset.is_none() {
                    dataset = Some(reads::Dataset::build(&target, &sizes).await?);
                }
                let Some(data) = &mut dataset else { continue };
                let row = match workload {
                    "replay" => Some(reads::replay(data, &target).await?),
                    "projection" => {
                        let bare = reads::replay(data, &target).await?.events_per_sec.unwrap_or(0.0);
                        results.push(projection::rebuild(data, &target, bare).await?);
                        Some(projection::live(&target, &sizes).await?)
                    }
                    "open" => reads::open(&target, data).await?,
                    _ => reads::storage(data, &sizes)?,
                };
                results.extend(row);
            }
            _ => {}
        }
    }
    drop(dataset);
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let text = if args.json {
        serde_json::json!({"revision": revision(), "cores": cores, "results": results}).to_string() + "\n"
    } else {
        report::table(&results, &revision().unwrap_or_else(|| "unknown".into()), cores)
    };
    Ok(output::print(text.as_bytes())?)
}
