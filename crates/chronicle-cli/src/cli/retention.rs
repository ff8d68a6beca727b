//! `chronicle retention run [--dry-run] [--json]`: one enforcement pass of
//! the `[retention]` policies over the configured store (the file store
//! must not be open in a server: use `CHRONICLE_BACKEND=remote` then).

use super::{CliResult, output};
use chronicle::{Config, Timestamp, open};
use chronicle_retention::{PassReport, RetentionSettings, enforce};
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct RetentionArgs {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Enforce the policies once: per rule, the streams cut and the events removed.
    Run {
        /// Report what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(config: &Config, args: RetentionArgs) -> CliResult {
    let Sub::Run { dry_run, json } = args.command;
    let settings = RetentionSettings::from_table(&config.retention)?;
    let store = open(config).await?;
    let report = enforce(&*store, &settings, Timestamp::now(), dry_run).await?;
    let text = if json { serde_json::to_string(&report).map_err(std::io::Error::other)? + "\n" } else { table(&report, &settings) };
    Ok(output::print(text.as_bytes())?)
}

fn table(report: &PassReport, settings: &RetentionSettings) -> String {
    if !settings.is_active() {
        return "no retention policy: [retention] sets no default and no rule; nothing is ever removed\n".to_owned();
    }
    let mut text = format!("{:<32} {:>9} {:>12}\n", "RULE", "STREAMS", "EVENTS");
    for r in &report.rules {
        let _ = writeln!(text, "{:<32} {:>9} {:>12}", r.rule, r.streams, r.events);
    }
    let verb = if report.dry_run { "would remove" } else { "removed" };
    let _ = writeln!(text, "{} stream(s) examined; {verb} {} event(s)", report.streams_examined, report.events());
    text
}
