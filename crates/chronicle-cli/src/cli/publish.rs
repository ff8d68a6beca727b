//! `chronicle publish status` and `chronicle dlq list|replay|discard`:
//! through the server's HTTP API with `CHRONICLE_BACKEND=remote`, else on
//! the configured store directly.

use super::{CliError, CliResult, output};
use chronicle::{BackendKind, Config, Uuid, open_read_only, open_remote, open_with};
use chronicle_publish::{DlqBody, DlqEntry, MarkedBody, PublishSettings, Publisher, Selection, SelectionBody, SinkStatus, StatusBody};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    #[command(subcommand)]
    command: PublishCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PublishCommand {
    /// Per sink: state, lease holder, checkpoint position, lag in events, delivered count, DLQ size.
    Status {
        /// Print one JSON object `{"sinks": [...]}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DlqCommand {
    /// List a sink's dead-letter queue, oldest first.
    List {
        /// The sink's name.
        sink: String,
        /// Print one JSON object `{"sink", "size", "entries"}`.
        #[arg(long)]
        json: bool,
    },
    /// Deliver entries again (`--all`, or the given event ids).
    Replay(Marked),
    /// Drop entries from the queue (`--all`, or the given event ids).
    Discard(Marked),
}

#[derive(Debug, clap::Args)]
struct Marked {
    /// The sink's name.
    sink: String,
    /// Every entry in the queue.
    #[arg(long, conflicts_with = "event_ids")]
    all: bool,
    /// The entries' event ids.
    #[arg(required_unless_present = "all", value_name = "EVENT_ID")]
    event_ids: Vec<Uuid>,
}

impl Marked {
    fn selection(&self) -> Selection {
        if self.all { Selection::All } else { Selection::Ids(self.event_ids.clone()) }
    }
}

/// The relays of the configuration over the configured store (not
/// started: status and DLQ operations only).
async fn local(config: &Config, write: bool) -> CliResult<Publisher> {
    let settings = PublishSettings::from_table(&config.publish)?;
    let (store, leases): (Arc<dyn chronicle::EventStore>, Arc<dyn chronicle::Leases>) = if write || config.backend != BackendKind::File {
        let opened = open_with(config, config.pipeline()).await?;
        (opened.store, opened.leases)
    } else {
        (open_read_only(config).await?, Arc::new(chronicle::LocalLeases::default()))
    };
    Ok(Publisher::new(store, leases, &settings, "cli"))
}

pub(crate) async fn status(config: &Config, args: PublishArgs) -> CliResult {
    let PublishCommand::Status { json } = args.command;
    let sinks = match config.backend {
        BackendKind::Remote => open_remote(config).await?.get_json::<StatusBody>(&["publish"]).await?.sinks,
        _ => local(config, false).await?.status().await?,
    };
    let text = if json { serde_json::to_string(&StatusBody { sinks })? + "\n" } else { table(&sinks) };
    Ok(output::print(text.as_bytes())?)
}

fn table(sinks: &[SinkStatus]) -> String {
    if sinks.is_empty() {
        return "no publish sinks configured ([[publish.sinks]] in chronicle.toml)\n".into();
    }
    let mut out = format!(
        "{:<20} {:<9} {:<16} {:>10} {:>8} {:>10} {:>9}  {}\n",
        "SINK", "KIND", "STATE", "CHECKPOINT", "LAG", "DELIVERED", "DLQ", "HOLDER"
    );
    for s in sinks {
        out.push_str(&format!(
            "{:<20} {:<9} {:<16} {:>10} {:>8} {:>10} {:>9}  {}\n",
            s.name,
            s.kind,
            s.state.as_str(),
            s.checkpoint,
            s.lag,
            s.delivered,
            format!("{}/{}", s.dlq_size, s.dlq_max),
            s.holder.as_deref().unwrap_or("-")
        ));
    }
    out
}

pub(crate) async fn dlq(config: &Config, args: DlqArgs) -> CliResult {
    match args.command {
        DlqCommand::List { sink, json } => {
            let entries = match config.backend {
                BackendKind::Remote => open_remote(config).await?.get_json::<DlqBody>(&["publish", &sink, "dlq"]).await?.entries,
                _ => local(config, false).await?.dlq_list(&sink).await?,
            };
            let text = if json {
                serde_json::to_string(&DlqBody { sink, size: entries.len() as u64, entries })? + "\n"
            } else {
                dlq_table(&entries)
            };
            Ok(output::print(text.as_bytes())?)
        }
        DlqCommand::Replay(marked) => mark(config, marked, "replay").await,
        DlqCommand::Discard(marked) => mark(config, marked, "discard").await,
    }
}

async fn mark(config: &Config, marked: Marked, verb: &str) -> CliResult {
    let selection = marked.selection();
    let ids = match config.backend {
        BackendKind::Remote => {
            let body = SelectionBody::of(&selection);
            open_remote(config).await?.post_json::<MarkedBody>(&["publish", &marked.sink, "dlq", verb], &body).await?.event_ids
        }
        _ => {
            let publisher = local(config, true).await?;
            if verb == "replay" {
                publisher.dlq_replay(&marked.sink, &selection).await?
            } else {
                publisher.dlq_discard(&marked.sink, &selection).await?
            }
        }
    };
    let done = if verb == "replay" { "replayed" } else { "discarded" };
    let lines: String = ids.iter().map(|id| format!("{done} {id}\n")).collect();
    output::print(lines.as_bytes())?;
    if ids.is_empty() {
        eprintln!("the dead-letter queue of {} is empty", marked.sink);
    }
    Ok(())
}

fn dlq_table(entries: &[DlqEntry]) -> String {
    let mut out = format!("{:>9}  {:<36}  {:<24} {:<20} {:>8}  {}\n", "POSITION", "EVENT_ID", "STREAM", "TYPE", "ATTEMPTS", "LAST_ERROR");
    for e in entries {
        out.push_str(&format!(
            "{:>9}  {:<36}  {:<24} {:<20} {:>8}  {}\n",
            e.position, e.event_id, e.stream_id, e.event_type, e.attempts, e.last_error
        ));
    }
    out
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        Self::Usage(format!("encoding JSON: {e}"))
    }
}
