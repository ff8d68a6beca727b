//! `chronicle stats` and `chronicle verify`.

use super::{CliError, CliResult, output};
use chronicle::{Config, open_read_only};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(config: &Config, args: StatsArgs) -> CliResult {
    let maintenance = chronicle::maintenance(config)?;
    let mut stats = tokio::task::spawn_blocking(move || maintenance.stats())
        .await
        .map_err(|e| CliError::Usage(format!("the stats task stopped: {e}")))??;
    stats.insert("backend".into(), config.backend.to_string().into());
    let store = open_read_only(config).await?;
    if !stats.contains_key("head_position") {
        stats.insert("head_position".into(), store.head().await?.into());
    }
    // The policy in force (from this configuration) and the last pass recorded in the store.
    let settings = chronicle_retention::RetentionSettings::from_table(&config.retention)?;
    // `$retention` is a system stream: a token without a grant for it does not see the last pass.
    let last = match chronicle_retention::last_pass(&*store).await {
        Err(chronicle_retention::RetentionError::Store(chronicle::Error::Forbidden { .. })) => None,
        other => other?,
    };
    let freed = |pass: &chronicle_retention::PassReport| pass.reclaimed.as_ref().map_or(0, |r| r.bytes_freed);
    let text = if args.json {
        let mut retention = serde_json::json!({ "summary": settings.summary(), "policy": settings.policy() });
        if let Some(last) = &last {
            retention["last_pass"] = serde_json::json!({
                "started_at": last.started_at,
                "trigger": last.trigger,
                "events": last.events(),
                "bytes_freed": freed(last),
                "duration_ms": last.duration_ms,
            });
        }
        stats.insert("retention".into(), retention);
        serde_json::Value::Object(stats).to_string() + "\n"
    } else {
        let mut text: String =
            stats.iter().map(|(k, v)| format!("{k:<14} {}\n", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect();
        text += &format!("{:<14} {}\n", "retention", settings.summary());
        if let Some(last) = &last {
            let (events, bytes) = (last.events(), freed(last));
            text +=
                &format!("{:<14} {} ({}): {events} event(s) removed, {bytes} bytes freed\n", "last pass", last.started_at, last.trigger);
        }
        text
    };
    Ok(output::print(text.as_bytes())?)
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Rewrite every sealed segment's index file from the log (the store must not be open elsewhere).
    #[arg(long)]
    rebuild_index: bool,
}

pub(crate) fn verify(config: &Config, args: VerifyArgs) -> CliResult {
    let maintenance = chronicle::maintenance(config)?;
    let bar = progress_bar(0, if args.rebuild_index { "rebuilding indexes" } else { "verifying" });
    let options = chronicle::VerifyOptions { rebuild_index: args.rebuild_index };
    let report = maintenance.verify(options, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let report = report?;
    let mut text = format!(
        "ok: {} events in {} streams, {} segments, {} blocks, {} bytes checked\n",
        report.events, report.streams, report.segments, report.blocks, report.bytes
    );
    if args.rebuild_index {
        text += &format!("rebuilt the index files of {} sealed segments\n", report.indexed_segments);
    } else if report.unindexed_segments > 0 {
        text += &format!(
            "index files: {} match their segments, {} missing or stale (written on the next open, or now with --rebuild-index)\n",
            report.indexed_segments, report.unindexed_segments
        );
    }
    if let Some((file, offset, bytes)) = &report.torn_tail {
        text += &format!("torn tail: {bytes} unacknowledged bytes at {file} offset {offset} (removed on the next open)\n");
    }
    Ok(output::print(text.as_bytes())?)
}
