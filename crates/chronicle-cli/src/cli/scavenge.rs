//! `chronicle scavenge`: reclaim what deletes and retention hid (file:
//! rewrite sealed segments; PostgreSQL: delete the rows, then vacuum).

use super::{CliError, CliResult, output, stats::progress_bar};
use chronicle::Config;

#[derive(Debug, clap::Args)]
pub(crate) struct ScavengeArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(config: &Config, args: ScavengeArgs) -> CliResult {
    let maintenance = chronicle::maintenance(config)?;
    let bar = progress_bar(0, "scavenging");
    let report = maintenance.scavenge(&mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        e @ chronicle::Error::Locked { .. } => {
            CliError::Usage(format!("{e}: while `chronicle serve` runs, scavenge through it (POST /admin/scavenge, an admin token)"))
        }
        other => other.into(),
    })?;
    let text = if args.json {
        serde_json::to_string(&report).map_err(|e| CliError::Usage(e.to_string()))? + "\n"
    } else if config.backend == chronicle::BackendKind::Postgres {
        format!(
            "ok: {} events removed, {} bytes of rows freed for new rows (the events table: {} → {} bytes)\n",
            report.events_removed, report.bytes_freed, report.bytes_before, report.bytes_after
        )
    } else {
        let mut text = format!(
            "ok: {} of {} sealed segments rewritten, {} events and {} snapshots removed, {} → {} bytes\n",
            report.rewritten,
            report.sealed_segments,
            report.events_removed,
            report.snapshots_dropped,
            report.bytes_before,
            report.bytes_after
        );
        if report.abandoned > 0 {
            text += &format!(
                "{} segments left as they were: a retention setting was relaxed meanwhile (run scavenge again)\n",
                report.abandoned
            );
        }
        text
    };
    Ok(output::print(text.as_bytes())?)
}
