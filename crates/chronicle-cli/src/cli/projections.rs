//! `chronicle projections`: the latest state record of every projection
//! and saga (from `$projections`); `projections parked NAME`: the events a
//! projection parked and not yet replayed; `projections rebuild NAME` and
//! `projections replay-parked NAME`: requests the running projection
//! carries out (see `chronicle_toolkit::requests`).

use super::{CliError, CliResult, output};
use chronicle::{Config, EventStore, open, open_read_only};
use chronicle_toolkit::{
    ProjectionState, latest_states, parked,
    requests::{self, Request},
};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub(crate) struct ProjectionsArgs {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Print JSON (one array) instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// List the events projection NAME parked (dead-lettered) and not yet replayed.
    Parked {
        /// The projection's name (`saga-{NAME}` for a saga).
        name: String,
    },
    /// Ask the running projection NAME to rebuild in place: empty its read
    /// model and replay the log into it (status `rebuilding` meanwhile).
    Rebuild(RequestArgs),
    /// Ask the running projection NAME to apply its parked events again.
    ReplayParked(RequestArgs),
}

#[derive(Debug, clap::Args)]
struct RequestArgs {
    /// The projection's name (as `chronicle projections` lists it).
    name: String,
    /// Wait up to SECONDS for the projection's answer (exit 1 if none came).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

pub(crate) async fn run(config: &Config, args: ProjectionsArgs) -> CliResult {
    let text = match args.command {
        None => {
            let states = latest_states(&*open_read_only(config).await?).await?;
            if args.json { json(&states)? } else { table(&states) }
        }
        Some(Sub::Parked { name }) => {
            let events = parked::list(&*open_read_only(config).await?, &name).await?;
            if args.json { json(&events)? } else { parked_table(&name, &events) }
        }
        Some(Sub::Rebuild(request)) => ask(config, Request::Rebuild, request).await?,
        Some(Sub::ReplayParked(request)) => ask(config, Request::ReplayParked, request).await?,
    };
    Ok(output::print(text.as_bytes())?)
}

fn parked_table(name: &str, events: &[parked::ParkedEvent]) -> String {
    let mut text = format!("{:>9}  {:<24} {:<24} {:<27}  ERROR\n", "POSITION", "STREAM", "TYPE", "PARKED_AT");
    for e in events {
        let _ = writeln!(text, "{:>9}  {:<24} {:<24} {:<27}  {}", e.position, e.stream_id, e.event_type, e.parked_at.to_string(), e.error);
    }
    let _ = writeln!(text, "{} parked event(s) for {name}", events.len());
    text
}

/// Appends a request for projection `args.name` (known by its state
/// record) and, with `--wait`, prints the running projection's answer.
async fn ask(config: &Config, request: Request, args: RequestArgs) -> CliResult<String> {
    let store = open(config).await?;
    let known = latest_states(&*store).await?;
    if !known.iter().any(|s| s.name == args.name) {
        let names: Vec<&str> = known.iter().map(|s| s.name.as_str()).collect();
        return Err(CliError::Usage(format!(
            "no projection named {:?} has recorded a state (known: {})",
            args.name,
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    }
    let what = match request {
        Request::Rebuild => "rebuild",
        Request::ReplayParked => "replay of parked events",
    };
    let version = requests::request(&*store, &args.name, request).await?;
    let mut text = format!("{what} of {} requested (request {version}); its running projection carries it out\n", args.name);
    if let Some(seconds) = args.wait {
        match wait(&*store, &args.name, version, seconds).await? {
            Some(outcome) => text = format!("{}: {outcome}\n", args.name),
            None => {
                return Err(CliError::Usage(format!(
                    "{what} of {} requested (request {version}) but not answered within {seconds} s: is the projection running?",
                    args.name
                )));
            }
        }
    }
    Ok(text)
}

async fn wait(store: &dyn EventStore, name: &str, version: u64, seconds: u64) -> CliResult<Option<String>> {
    Ok(requests::wait_done(store, name, version, Duration::from_secs(seconds)).await?.map(|d| d.outcome))
}

fn json<T: serde::Serialize>(value: &T) -> CliResult<String> {
    Ok(serde_json::to_string(value).map_err(std::io::Error::other)? + "\n")
}

fn table(states: &[ProjectionState]) -> String {
    let mut text = format!(
        "{:<24} {:<10} {:>10} {:>10} {:>9} {:>8} {:>9} {:>7}  {:<27}  LAST_ERROR\n",
        "NAME", "STATUS", "POSITION", "HEAD", "LAG", "LAG_S", "APPLIED", "PARKED", "RECORDED_AT"
    );
    for s in states {
        let status = serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(
            text,
            "{:<24} {:<10} {:>10} {:>10} {:>9} {:>8.1} {:>9} {:>7}  {:<27}  {}",
            s.name,
            status,
            s.position,
            s.head,
            s.lag_events,
            s.lag_seconds,
            s.applied,
            s.parked,
            s.recorded_at.to_string(),
            s.last_error.as_deref().unwrap_or("-")
        );
    }
    if states.is_empty() {
        text.push_str("no projection has recorded a state yet\n");
    }
    text
}
