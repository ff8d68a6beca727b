//! `chronicle projections`: the latest state record of every projection
//! and saga (from `$projections`), and `projections parked NAME`: the
//! events a projection parked and not yet replayed.

use super::{CliResult, output};
use chronicle::{Config, open_read_only};
use chronicle_toolkit::{ProjectionState, latest_states, parked};
use std::fmt::Write as _;

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
}

pub(crate) async fn run(config: &Config, args: ProjectionsArgs) -> CliResult {
    let store = open_read_only(config).await?;
    let text = match args.command {
        None => {
            let states = latest_states(&*store).await?;
            if args.json { json(&states)? } else { table(&states) }
        }
        Some(Sub::Parked { name }) => {
            let events = parked::list(&*store, &name).await?;
            if args.json {
                json(&events)?
            } else {
                let mut text = format!("{:>9}  {:<24} {:<24} {:<27}  ERROR\n", "POSITION", "STREAM", "TYPE", "PARKED_AT");
                for e in &events {
                    let _ = writeln!(
                        text,
                        "{:>9}  {:<24} {:<24} {:<27}  {}",
                        e.position,
                        e.stream_id,
                        e.event_type,
                        e.parked_at.to_string(),
                        e.error
                    );
                }
                let _ = writeln!(text, "{} parked event(s) for {name}", events.len());
                text
            }
        }
    };
    Ok(output::print(text.as_bytes())?)
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
