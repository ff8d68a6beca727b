//! `chronicle retention run [--dry-run] [--json]`: one enforcement pass of
//! the `[retention]` policies over the configured store, reclaiming the
//! space after it; with `CHRONICLE_BACKEND=remote`, the server's pass
//! (`POST /admin/retention`, its policies; an admin token).

use super::{CliResult, output};
use chronicle::{BackendKind, Config, open_remote, open_with};
use chronicle_retention::{PassReport, Retention, RetentionSettings};
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
    let report = if config.backend == BackendKind::Remote {
        let query = [("dry_run", if dry_run { "true" } else { "false" })];
        open_remote(config).await?.post_query::<PassReport>(&["admin", "retention"], &query).await?
    } else {
        let settings = RetentionSettings::from_table(&config.retention)?;
        if !settings.is_active() {
            return Ok(output::print(b"no retention policy: [retention] sets no default and no rule; nothing is ever removed\n")?);
        }
        let opened = open_with(config, config.pipeline()).await?;
        Retention::new(opened.store, opened.maintenance, settings).run("cli", dry_run).await?
    };
    let text = if json { serde_json::to_string(&report).map_err(std::io::Error::other)? + "\n" } else { table(&report) };
    Ok(output::print(text.as_bytes())?)
}

fn table(report: &PassReport) -> String {
    let mut text = format!("{:<32} {:>9} {:>12} {:>14}\n", "RULE", "STREAMS", "EVENTS", "BYTES");
    for r in &report.rules {
        let _ = writeln!(text, "{:<32} {:>9} {:>12} {:>14}", r.rule, r.streams, r.events, r.bytes);
    }
    let verb = if report.dry_run { "would remove" } else { "removed" };
    let _ =
        writeln!(text, "{} stream(s) examined; {verb} {} event(s) in {} ms", report.streams_examined, report.events(), report.duration_ms);
    if let Some(r) = &report.reclaimed {
        let _ = writeln!(text, "reclaimed: {} event(s) removed from storage, {} bytes freed", r.events_removed, r.bytes_freed);
    }
    text
}
