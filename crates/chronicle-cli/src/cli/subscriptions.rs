//! `chronicle subscriptions list|create|delete|parked|replay`: consumer
//! groups, through a running server's API (`CHRONICLE_BACKEND=remote`).

use super::{CliError, CliResult, output};
use chronicle::{BackendKind, Config, RemoteStore, Uuid, open_remote};
use chronicle_groups::{FilterSpec, GroupSpec, GroupStatus, GroupsBody, ParkedBody, ReplayedBody, StartFrom, Strategy};
use chronicle_publish::SelectionBody;

#[derive(Debug, clap::Args)]
pub(crate) struct SubscriptionsArgs {
    #[command(subcommand)]
    command: SubscriptionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SubscriptionsCommand {
    /// Every group: checkpoint, lag, in flight, parked, consumers.
    List {
        /// Print one JSON object `{"groups": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Create a group (or change its tuning).
    Create(CreateArgs),
    /// Delete a group.
    Delete {
        /// The group.
        group: String,
    },
    /// A group's parked events.
    Parked {
        /// The group.
        group: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Send parked events back to the group's consumers (`--all`, or event ids).
    Replay {
        /// The group.
        group: String,
        /// Every parked event.
        #[arg(long, conflicts_with = "event_ids")]
        all: bool,
        /// The events' ids.
        #[arg(required_unless_present = "all", value_name = "EVENT_ID")]
        event_ids: Vec<Uuid>,
    },
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The group's name (1 to 64 of A-Z a-z 0-9 _ . -).
    group: String,
    /// `start`, `end` (default) or a position.
    #[arg(long, default_value = "end")]
    from: String,
    /// `round_robin` (default) or `pinned_by_stream`.
    #[arg(long, default_value = "round_robin")]
    strategy: String,
    /// Deliveries after the first before an event is parked.
    #[arg(long, default_value_t = 3)]
    max_retries: u64,
    /// Redeliver what is not acknowledged within this many ms.
    #[arg(long, default_value_t = 30_000)]
    ack_timeout_ms: u64,
    /// Unacknowledged events per consumer.
    #[arg(long, default_value_t = 100)]
    max_in_flight: u64,
    /// Only this category.
    #[arg(long)]
    category: Option<String>,
    /// Only these event types (comma-separated).
    #[arg(long)]
    event_type: Option<String>,
    /// Only streams with this prefix.
    #[arg(long)]
    stream_prefix: Option<String>,
    /// Only events with these tags (comma-separated, all of).
    #[arg(long)]
    tag: Option<String>,
}

impl CreateArgs {
    fn spec(&self) -> CliResult<GroupSpec> {
        let from = match self.from.as_str() {
            "start" => StartFrom::Start,
            "end" => StartFrom::End,
            p => StartFrom::Position(
                p.parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| CliError::Usage(format!("--from {p:?}: expected start, end or a position ≥ 1")))?,
            ),
        };
        let strategy = match self.strategy.as_str() {
            "round_robin" => Strategy::RoundRobin,
            "pinned_by_stream" => Strategy::PinnedByStream,
            other => return Err(CliError::Usage(format!("--strategy {other:?}: expected round_robin or pinned_by_stream"))),
        };
        let filter = FilterSpec {
            category: self.category.clone(),
            event_type: self.event_type.clone(),
            stream_prefix: self.stream_prefix.clone(),
            tag: self.tag.clone(),
            ..FilterSpec::default()
        };
        Ok(GroupSpec {
            filter,
            from,
            strategy,
            max_retries: self.max_retries,
            ack_timeout_ms: self.ack_timeout_ms,
            max_in_flight: self.max_in_flight,
        })
    }
}

async fn server(config: &Config) -> CliResult<RemoteStore> {
    if config.backend != BackendKind::Remote {
        return Err(CliError::Usage(
            "consumer groups live in a running server: set CHRONICLE_BACKEND=remote and CHRONICLE_URL (and CHRONICLE_TOKEN)".into(),
        ));
    }
    Ok(open_remote(config).await?)
}

fn row(g: &GroupStatus) -> String {
    format!(
        "{:<24} {:<16} {:>10} {:>8} {:>9} {:>7} {:>9}\n",
        g.name,
        serde_json::to_value(g.spec.strategy).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        g.checkpoint,
        g.lag,
        g.in_flight,
        g.parked,
        g.consumers
    )
}

pub(crate) async fn run(config: &Config, args: SubscriptionsArgs) -> CliResult {
    let remote = server(config).await?;
    let text = match args.command {
        SubscriptionsCommand::List { json } => {
            let body: GroupsBody = remote.get_json(&["subscriptions"]).await?;
            if json {
                serde_json::to_string(&body)? + "\n"
            } else {
                let header = format!(
                    "{:<24} {:<16} {:>10} {:>8} {:>9} {:>7} {:>9}\n",
                    "GROUP", "STRATEGY", "CHECKPOINT", "LAG", "IN_FLIGHT", "PARKED", "CONSUMERS"
                );
                header + &body.groups.iter().map(row).collect::<String>()
            }
        }
        SubscriptionsCommand::Create(args) => {
            let status: GroupStatus = remote.put_json(&["subscriptions", &args.group], &args.spec()?).await?;
            format!("group {} at checkpoint {} (lag {})\n", status.name, status.checkpoint, status.lag)
        }
        SubscriptionsCommand::Delete { group } => {
            remote.delete_route(&["subscriptions", &group]).await?;
            format!("deleted group {group}\n")
        }
        SubscriptionsCommand::Parked { group, json } => {
            let body: ParkedBody = remote.get_json(&["subscriptions", &group, "parked"]).await?;
            if json {
                serde_json::to_string(&body)? + "\n"
            } else {
                body.entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{:>9}  {}  {:<24} {:<20} {:>3}  {}\n",
                            e.position, e.event_id, e.stream_id, e.event_type, e.attempts, e.last_error
                        )
                    })
                    .collect()
            }
        }
        SubscriptionsCommand::Replay { group, all, event_ids } => {
            let body = if all {
                SelectionBody { event_ids: None, all: Some(true) }
            } else {
                SelectionBody { event_ids: Some(event_ids), all: None }
            };
            let replayed: ReplayedBody = remote.post_json(&["subscriptions", &group, "parked", "replay"], &body).await?;
            replayed.event_ids.iter().map(|id| format!("replayed {id}\n")).collect()
        }
    };
    Ok(output::print(text.as_bytes())?)
}
