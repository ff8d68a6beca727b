//! `aggregate-load`: load a 10,050-event aggregate through the toolkit's
//! repository, from a snapshot at version 10,000 plus a 50-event tail,
//! next to the same load by full replay in the same run.

use super::{Target, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, NewEvent, Snapshot, StreamId};
use chronicle_toolkit::{Aggregate, CommandContext, DomainEvent, Repository, encode_event};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A counter with some state, as aggregates have.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Account {
    balance: i64,
    deposits: u64,
    last_reference: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum AccountEvent {
    Deposited { amount: i64, reference: String },
}

impl DomainEvent for AccountEvent {}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Aggregate for Account {
    type Command = ();
    type Event = AccountEvent;
    type Error = Never;
    const CATEGORY: &'static str = "account";

    fn handle(&self, _: &(), _: &CommandContext) -> Result<Vec<AccountEvent>, Never> {
        Ok(Vec::new())
    }

    fn apply(&mut self, event: &AccountEvent) {
        let AccountEvent::Deposited { amount, reference } = event;
        self.balance += amount;
        self.deposits += 1;
        self.last_reference.clone_from(reference);
    }
}

const EVENTS: u64 = 10_050;
const SNAPSHOT_AT: u64 = 10_000;

async fn fill(store: &dyn EventStore, stream: &StreamId) -> CliResult {
    for chunk in 0..EVENTS.div_ceil(1000) {
        let events = (chunk * 1000..((chunk + 1) * 1000).min(EVENTS))
            .map(|i| {
                let (ty, data) = encode_event(&AccountEvent::Deposited { amount: 10, reference: format!("ref-{i}") })
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                Ok(NewEvent::raw(ty, data.bytes().clone()))
            })
            .collect::<CliResult<Vec<_>>>()?;
        store.append(stream, ExpectedVersion::Any, events).await?;
    }
    Ok(())
}

async fn time_loads(repo: &Repository<Account>, id: &str, loads: usize, label: &str) -> CliResult<(Vec<u64>, f64)> {
    let bar = progress_bar(loads as u64, label);
    let mut samples = Vec::with_capacity(loads);
    let start = Instant::now();
    for _ in 0..loads {
        let t = Instant::now();
        let loaded = repo.load(id).await.map_err(|e| CliError::Usage(e.to_string()))?;
        samples.push(t.elapsed().as_micros() as u64);
        if loaded.version != EVENTS {
            return Err(CliError::Usage(format!("loaded version {} of {EVENTS}", loaded.version)));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((samples, loads as f64 / start.elapsed().as_secs_f64()))
}

pub(crate) async fn run(target: &Target, quick: bool) -> CliResult<BenchResult> {
    let store = target.store("aggregate-load").await?.store;
    let repo = Repository::<Account>::new(store.clone());
    let (with, without) = (
        repo.stream("with").map_err(|e| CliError::Usage(e.to_string()))?,
        repo.stream("without").map_err(|e| CliError::Usage(e.to_string()))?,
    );
    fill(&*store, &with).await?;
    fill(&*store, &without).await?;
    let at = repo.load_at_version("with", SNAPSHOT_AT).await.map_err(|e| CliError::Usage(e.to_string()))?;
    let state = chronicle::RawJson::from_serialize(&at.state).map_err(|e| CliError::Usage(e.to_string()))?;
    store.save_snapshot(Snapshot { stream_id: with, version: SNAPSHOT_AT, schema_version: Account::SNAPSHOT_VERSION, state }).await?;
    let (n_with, n_without) = if quick { (200, 10) } else { (2000, 50) };
    let (samples, rate) = time_loads(&repo, "with", n_with, "aggregate load (snapshot)").await?;
    let (base, base_rate) = time_loads(&repo, "without", n_without, "aggregate load (replay)").await?;
    let baseline = BenchResult::default().latencies(base);
    let result = BenchResult {
        workload: "aggregate-load",
        backend: target.backend,
        events: Some(EVENTS),
        events_per_sec: Some(rate),
        ..BenchResult::default()
    }
    .latencies(samples);
    Ok(result.baseline(format!("full replay of the {EVENTS} events, p95 {} µs", baseline.p95_us.unwrap_or(0)), base_rate))
}
