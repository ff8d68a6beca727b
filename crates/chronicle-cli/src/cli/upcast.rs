//! `chronicle upcast` (eager migration through the upcasters, with
//! validation) and `chronicle catalog` (the event types a store holds,
//! their versions, schemas and upcaster chains).

use super::{
    CliError, CliResult,
    backup::{json, progress_bar, verify},
    output,
};
use chronicle::{Config, open_read_only_raw};
use chronicle_backup::CopyOptions;
use chronicle_schema::{Census, Lifter, census};
use std::{fmt::Write as _, path::PathBuf};

/// Failures listed by a dry run.
const SHOWN_FAILURES: usize = 10;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["dry_run", "apply"])))]
pub(crate) struct UpcastArgs {
    /// Count the events per type and version and the first failures; write nothing (exit 1 when any fails).
    #[arg(long)]
    dry_run: bool,
    /// Copy the store into the one of --to with every event lifted to its current shape and checked.
    #[arg(long, requires = "to")]
    apply: bool,
    /// Configuration of the target store (empty, or holding an interrupted run to continue).
    #[arg(long, value_name = "TARGET.toml")]
    to: Option<PathBuf>,
    /// Then compare the target with the lifted source position by position.
    #[arg(long, requires = "apply")]
    verify: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CatalogArgs {
    /// Print the catalog as one JSON object.
    #[arg(long)]
    json: bool,
}

fn census_text(c: &Census) -> String {
    let mut text = String::new();
    for n in &c.counts {
        let shape = if n.current == n.version { "current".to_owned() } else { format!("read as v{}", n.current) };
        let _ = writeln!(text, "{} v{}: {} events ({shape})", n.event_type, n.version, n.events);
    }
    let _ = writeln!(text, "{} events, {} upcast, {} failing", c.events, c.upcast, c.failed);
    for f in &c.failures {
        let _ = writeln!(text, "  position {}: {} v{} at {:?}: {}", f.position, f.event_type, f.schema_version, f.pointer, f.reason);
    }
    text
}

pub(crate) async fn upcast(config: &Config, args: UpcastArgs) -> CliResult {
    let (source, catalog) = open_read_only_raw(config).await?;
    if args.dry_run {
        let found = census(&*source, &catalog, SHOWN_FAILURES).await?;
        let text = if args.json { json(&found)? } else { census_text(&found) };
        output::print(text.as_bytes())?;
        return match found.failed {
            0 => Ok(()),
            n => Err(CliError::Usage(format!("{n} event(s) cannot be lifted to a valid current shape (listed above)"))),
        };
    }
    let to = args.to.ok_or_else(|| CliError::Usage("--apply needs --to TARGET.toml".into()))?;
    let target_config = Config::from_file(&to)?;
    if target_config.backend == config.backend
        && config.backend == chronicle::BackendKind::File
        && target_config.data_dir == config.data_dir
    {
        return Err(CliError::Usage("--to names the store being read: upcast into a new store".into()));
    }
    let source_keys = chronicle::open_privacy_read_only(config).await?;
    super::privacy::keys_can_follow(source_keys.as_deref(), &target_config)?;
    let opened = chronicle::open_with(&target_config, target_config.pipeline()).await?;
    let keys = super::privacy::copy_keys(source_keys.as_deref(), opened.privacy.as_deref()).await?;
    let target = opened.store;
    let lifter = Lifter::of(&catalog);
    let lift = |item| lifter.lift_item(item);
    let (bar, progress) = progress_bar("upcasting");
    let report = chronicle_backup::copy_through(&*source, &*target, CopyOptions::default(), &lift, progress).await;
    bar.finish_and_clear();
    let report = report?;
    let verified = if args.verify { Some(verify(&*source, &*target, &lift).await?) } else { None };
    let text = if args.json {
        json(&serde_json::json!({ "copy": report, "verify": verified, "keys": keys }))?
    } else {
        let resumed = if report.resumed_from > 0 { format!(", resuming after position {}", report.resumed_from) } else { String::new() };
        let mut text = format!(
            "ok: copied {} items through position {} with every event in its current shape{resumed}\n",
            report.items, report.through
        );
        text += &keys.as_ref().map(super::privacy::keys_copied_text).unwrap_or_default();
        if let Some(v) = verified {
            text += &format!("verified: {} positions, {} stream changes, {} state items identical\n", v.positions, v.changes, v.state);
        }
        text
    };
    Ok(output::print(text.as_bytes())?)
}

pub(crate) async fn catalog(config: &Config, args: CatalogArgs) -> CliResult {
    let (source, catalog) = open_read_only_raw(config).await?;
    let found = census(&*source, &catalog, 0).await?;
    let schemas: Vec<_> =
        catalog.schemas().list().into_iter().map(|(t, v, _)| serde_json::json!({"event_type": t, "version": v})).collect();
    let chains: Vec<_> = catalog
        .upcasters()
        .chains()
        .into_iter()
        .map(|(t, from, to, steps)| serde_json::json!({"event_type": t, "from": from, "to": to, "declared": steps.is_some()}))
        .collect();
    if args.json {
        let body = serde_json::json!({"counts": found.counts, "events": found.events, "schemas": schemas, "upcasters": chains});
        return Ok(output::print(json(&body)?.as_bytes())?);
    }
    let mut text = String::from("stored events:\n");
    for n in &found.counts {
        let _ = writeln!(
            text,
            "  {} v{}: {} events{}",
            n.event_type,
            n.version,
            n.events,
            if n.current == n.version { String::new() } else { format!(" (read as v{})", n.current) }
        );
    }
    text += "schemas:\n";
    for (t, v, _) in catalog.schemas().list() {
        let _ = writeln!(text, "  {t} v{v}");
    }
    text += "upcasters:\n";
    for (t, from, to, steps) in catalog.upcasters().chains() {
        let how = steps.map_or_else(|| "in code".to_owned(), |s| format!("{} step(s)", s.len()));
        let _ = writeln!(text, "  {t} v{from} → v{to} ({how})");
    }
    Ok(output::print(text.as_bytes())?)
}
