//! `chronicle backup`, `restore` and `migrate`: lossless copies of a store
//! (positions, times, stream settings, deletes, snapshots, checkpoints),
//! through `chronicle-backup`.

use super::privacy::{copy_keys, keys_can_follow, keys_copied_text};
use super::{CliError, CliResult, output};
use chronicle::{Config, Timestamp, open_privacy_read_only, open_read_only, open_with};
use chronicle_backup::{BackupOptions, CopyOptions, CopyReport, Progress, RestoreOptions, Until};
use chronicle_privacy::Privacy;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct BackupArgs {
    /// The backup directory (created if missing; a full backup needs it empty).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// Add only what came after the backup already in DIR.
    #[arg(long)]
    incremental: bool,
    /// Print the new part's manifest entry as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The backup directory.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// Restore the log through this position only.
    #[arg(long, value_name = "N", conflicts_with = "to_time")]
    to_position: Option<u64>,
    /// Restore the log through the last event committed at or before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    to_time: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    /// Configuration of the source store (read as it is: CHRONICLE_* variables do not apply).
    #[arg(long, value_name = "FROM.toml")]
    from: PathBuf,
    /// Configuration of the target store (empty, or holding an interrupted migration to continue).
    #[arg(long, value_name = "TO.toml")]
    to: PathBuf,
    /// Then compare both stores position by position; exit 1 naming the first difference.
    #[arg(long)]
    verify: bool,
    /// After the copy, keep copying what the source stores (every second) until interrupted
    /// (Ctrl-C / SIGTERM): the target follows a live source up to the cut-over.
    #[arg(long)]
    follow: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// A progress bar on stderr with the rate and the time left.
pub(crate) fn progress_bar(what: &str) -> (ProgressBar, Progress) {
    let bar = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events, {per_sec}, {eta} left") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    let handle = bar.clone();
    (
        bar,
        Box::new(move |done, total| {
            handle.set_length(total);
            handle.set_position(done);
        }),
    )
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> CliResult<String> {
    Ok(serde_json::to_string(value).map_err(|e| CliError::Usage(e.to_string()))? + "\n")
}

pub(crate) async fn backup(config: &Config, args: BackupArgs) -> CliResult {
    let store = open_read_only(config).await?;
    let (bar, progress) = progress_bar("backing up");
    // The file engine's files are copied as they are; other backends export items.
    let data_dir = (config.backend == chronicle::BackendKind::File).then(|| (config.data_dir.clone(), config.file.archive_dir.clone()));
    let options = BackupOptions { incremental: args.incremental, source: config.backend.to_string(), data_dir };
    let part = chronicle_backup::backup(store, &args.to, options, progress).await;
    bar.finish_and_clear();
    let part = part?;
    let text = if args.json {
        json(&part)?
    } else {
        let what = match &part.files {
            Some(files) => format!("{} files", files.len()),
            None => format!("{} items", part.items),
        };
        let span =
            if part.through > part.after { format!("positions {}..={}", part.after + 1, part.through) } else { "nothing new".into() };
        format!("ok: {} holds {span} ({what}, {} bytes) in {}\n", part.file, part.bytes, args.to.display())
    };
    Ok(output::print(text.as_bytes())?)
}

pub(crate) async fn restore(config: &Config, args: RestoreArgs) -> CliResult {
    let until = match (args.to_position, &args.to_time) {
        (Some(n), _) => Until::Position(n),
        (None, Some(t)) => Until::Time(Timestamp::parse(t).map_err(|e| CliError::Usage(format!("--to-time: {e}")))?),
        (None, None) => Until::End,
    };
    // Check the backup before opening (and so creating) the target store.
    chronicle_backup::Manifest::require(&args.from)?;
    let opened = chronicle::open_with(config, config.pipeline()).await?;
    let (bar, progress) = progress_bar("restoring");
    let report = chronicle_backup::restore(&args.from, opened.store, RestoreOptions { until, ..RestoreOptions::default() }, progress).await;
    bar.finish_and_clear();
    let report = report?;
    if let Some(privacy) = &opened.privacy {
        // Forgets made since the backup was taken stay in force.
        let (_, recorded) = privacy.reconcile(&*opened.raw).await.map_err(|e| CliError::Config(e.into()))?;
        if recorded > 0 {
            eprintln!("re-applied {recorded} forget(s) made after the backup (recorded in $privacy)");
        }
    }
    let text = if args.json {
        json(&report)?
    } else {
        format!("ok: restored {} items from {} parts; the store's head is {}\n", report.items, report.parts, report.head)
    };
    Ok(output::print(text.as_bytes())?)
}

/// The two ends of a copy, with their privacy layers (keys go first).
struct Ends {
    source: std::sync::Arc<dyn chronicle::EventStore>,
    target: std::sync::Arc<dyn chronicle::EventStore>,
    source_keys: Option<std::sync::Arc<Privacy>>,
    target_keys: Option<std::sync::Arc<Privacy>>,
}

/// Copies what the source stores from now on (its new keys first), once
/// a second, until Ctrl-C or SIGTERM; the report covers everything copied.
async fn follow(ends: &Ends, mut report: CopyReport) -> CliResult<CopyReport> {
    let (source, target) = (&*ends.source, &*ends.target);
    eprintln!("following the source (Ctrl-C to stop): through position {}", report.through);
    let mut stop = std::pin::pin!(super::serve::shutdown_signal());
    loop {
        tokio::select! {
            () = &mut stop => return Ok(report),
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        copy_keys(ends.source_keys.as_deref(), ends.target_keys.as_deref()).await?;
        let more = chronicle_backup::copy(source, target, CopyOptions::default(), Box::new(|_, _| {})).await?;
        if more.through > report.through {
            eprintln!("through position {}", more.through);
        }
        (report.items, report.through) = (report.items + more.items, more.through);
    }
}

/// Compares `target` with `source` through `transform`, with a progress bar.
pub(crate) async fn verify(
    source: &dyn chronicle::EventStore,
    target: &dyn chronicle::EventStore,
    transform: chronicle_backup::Transform<'_>,
) -> CliResult<chronicle_backup::VerifyReport> {
    let (bar, progress) = progress_bar("verifying");
    let checked = chronicle_backup::verify_through(source, target, transform, progress).await;
    bar.finish_and_clear();
    Ok(checked?)
}

pub(crate) async fn migrate(args: MigrateArgs) -> CliResult {
    let (from, to) = (Config::from_file(&args.from)?, Config::from_file(&args.to)?);
    if from.backend == to.backend && from.backend == chronicle::BackendKind::File && from.data_dir == to.data_dir {
        return Err(CliError::Usage("--from and --to name the same data directory".into()));
    }
    let source_keys = open_privacy_read_only(&from).await?;
    keys_can_follow(source_keys.as_deref(), &to)?;
    let (source, target) = (open_read_only(&from).await?, open_with(&to, to.pipeline()).await?);
    let ends = Ends { source, target: target.store, source_keys, target_keys: target.privacy };
    let keys = copy_keys(ends.source_keys.as_deref(), ends.target_keys.as_deref()).await?;
    let (bar, progress) = progress_bar("migrating");
    let report = chronicle_backup::copy(&*ends.source, &*ends.target, CopyOptions::default(), progress).await;
    bar.finish_and_clear();
    let mut report = report?;
    if args.follow {
        report = follow(&ends, report).await?;
    }
    let verified = if args.verify { Some(verify(&*ends.source, &*ends.target, &chronicle_backup::unchanged).await?) } else { None };
    let text = if args.json {
        json(&serde_json::json!({ "copy": report, "verify": verified, "keys": keys }))?
    } else {
        let mut text = format!(
            "ok: copied {} items ({} → {}) through position {}{}\n{}",
            report.items,
            from.backend,
            to.backend,
            report.through,
            if report.resumed_from > 0 { format!(", resuming after position {}", report.resumed_from) } else { String::new() },
            keys.as_ref().map(keys_copied_text).unwrap_or_default()
        );
        if let Some(v) = verified {
            text += &format!(
                "verified: {} positions, {} stream changes, {} snapshots and checkpoints identical\n",
                v.positions, v.changes, v.state
            );
        }
        text
    };
    Ok(output::print(text.as_bytes())?)
}
