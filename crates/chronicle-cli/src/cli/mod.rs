//! Command-line parsing and dispatch. Contract (scripts depend on it):
//! results on stdout, logs and progress on stderr; exit 0 on success, 3 on
//! a version conflict, another non-zero code with one line on stderr for
//! any other error.

mod access;
mod append;
mod backup;
mod bench;
mod import;
mod output;
mod privacy;
mod projections;
mod publish;
mod read;
mod retention;
mod scavenge;
mod schema;
mod serve;
mod stats;
mod streams;
mod subscriptions;
mod upcast;

use chronicle::{Config, ConfigError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Chronicle: an event store and event-sourcing toolkit.
#[derive(Debug, Parser)]
#[command(name = "chronicle", version, about)]
pub(crate) struct Cli {
    /// Config file (default: ./chronicle.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory of the file backend (default ./chronicle-data).
    #[arg(long, global = true, value_name = "DIR", env = "CHRONICLE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP/JSON + SSE API on the configured backend.
    Serve(serve::ServeArgs),
    /// Append one event to a stream.
    Append(append::AppendArgs),
    /// Read a stream, or the whole log with --all.
    Read(read::ReadArgs),
    /// List the streams (id, version, last position and time, status), by id; --prefix/--category filter.
    Streams(streams::StreamsArgs),
    /// Follow the log (or one stream) live.
    Tail(read::TailArgs),
    /// Append NDJSON lines {stream_id, event_type, data, metadata?, event_id?} from a file or stdin.
    Import(import::ImportArgs),
    /// Write every event as NDJSON to stdout.
    Export,
    /// Back up the store losslessly (positions, times, settings, deletes, snapshots, checkpoints): `backup --to DIR [--incremental]`.
    Backup(backup::BackupArgs),
    /// Restore a backup into the configured (empty) store: `restore --from DIR [--to-position N | --to-time RFC3339]`.
    Restore(backup::RestoreArgs),
    /// Copy one store into another, everything kept, resumable: `migrate --from FROM.toml --to TO.toml [--verify]`.
    Migrate(backup::MigrateArgs),
    /// Lift every event to its current shape (the upcasters of `[schemas]` and `$schemas`), checked against its schema:
    /// `upcast --dry-run` counts and lists failures; `upcast --apply --to TARGET.toml [--verify]` copies into a new store.
    Upcast(upcast::UpcastArgs),
    /// The event types the store holds, per schema version, with the registered schemas and upcaster chains.
    Catalog(upcast::CatalogArgs),
    /// Erase a subject's personal data (crypto-shredding): destroy their data keys, record `SubjectForgotten`.
    Forget(privacy::ForgetArgs),
    /// Keys of `[privacy]`: `keys status`, `keys rotate SUBJECT`, `keys rotate-kek`, `keys new-kek`.
    Keys(privacy::KeysArgs),
    /// Show the size and shape of the store.
    Stats(stats::StatsArgs),
    /// Check checksums, framing, gapless positions, version order and index files (read-only unless --rebuild-index).
    Verify(stats::VerifyArgs),
    /// Rewrite sealed segments compressed, without the events deletes and retention (max_age, max_count, truncate_before) hid.
    Scavenge(scavenge::ScavengeArgs),
    /// Print the effective configuration (file + environment + flags) as TOML.
    Config,
    /// Print (--dry-run) or apply the PostgreSQL schema migrations.
    Schema(schema::SchemaArgs),
    /// Show every projection's and saga's state (position, lag, errors); `projections parked NAME` lists its parked events.
    Projections(projections::ProjectionsArgs),
    /// Publishing relays: `publish status` shows each sink's state, checkpoint, lag, delivered count and DLQ size.
    Publish(publish::PublishArgs),
    /// A sink's dead-letter queue: `dlq list SINK`, `dlq replay SINK (--all | EVENT_ID…)`, `dlq discard SINK (--all | EVENT_ID…)`.
    Dlq(publish::DlqArgs),
    /// Retention policies of `[retention]`: `retention run [--dry-run] [--json]` enforces them once.
    Retention(retention::RetentionArgs),
    /// Consumer groups on a running server: `subscriptions list|create|delete|parked|replay` (CHRONICLE_BACKEND=remote).
    Subscriptions(subscriptions::SubscriptionsArgs),
    /// Create API tokens for `chronicle serve` (`token create --role reader|writer|admin`).
    Token(access::TokenArgs),
    /// Show the server's audit log of access attempts (`$audit`).
    Audit(access::AuditArgs),
    /// Measure throughput and latency next to a same-run baseline.
    Bench(bench::BenchArgs),
}

/// A CLI failure with its exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] chronicle::Error),
    #[error(transparent)]
    Toolkit(#[from] chronicle_toolkit::Error),
    #[error(transparent)]
    Settings(#[from] chronicle_server::SettingsError),
    #[error(transparent)]
    Publish(#[from] chronicle_publish::PublishError),
    #[error(transparent)]
    Retention(#[from] chronicle_retention::RetentionError),
    #[error(transparent)]
    Backup(#[from] chronicle_backup::BackupError),
    #[error(transparent)]
    Schema(#[from] chronicle_schema::SchemaError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// 3 for a version conflict, 1 otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Store(chronicle::Error::WrongExpectedVersion { .. })
            | Self::Config(ConfigError::Store(chronicle::Error::WrongExpectedVersion { .. })) => 3,
            _ => 1,
        }
    }

    /// stdout closed by the reader (`chronicle export | head`): not an error.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;

pub(crate) async fn run(cli: Cli) -> CliResult {
    let mut config = Config::load(cli.config.as_deref())?;
    let data_dir = cli.data_dir;
    if let Some(dir) = &data_dir {
        config.data_dir = dir.clone();
    }
    match cli.command {
        Command::Serve(args) => serve::run(&config, args).await,
        Command::Append(args) => append::run(&config, args).await,
        Command::Read(args) => read::run(&config, args).await,
        Command::Streams(args) => streams::run(&config, args).await,
        Command::Tail(args) => read::tail(&config, args).await,
        Command::Import(args) => import::run(&config, args).await,
        Command::Export => read::export(&config).await,
        Command::Backup(args) => backup::backup(&config, args).await,
        Command::Restore(args) => backup::restore(&config, args).await,
        Command::Migrate(args) => backup::migrate(args).await,
        Command::Upcast(args) => upcast::upcast(&config, args).await,
        Command::Catalog(args) => upcast::catalog(&config, args).await,
        Command::Forget(args) => privacy::forget(&config, args).await,
        Command::Keys(args) => privacy::keys(&config, args).await,
        Command::Stats(args) => stats::run(&config, args).await,
        Command::Verify(args) => stats::verify(&config, args),
        Command::Scavenge(args) => scavenge::run(&config, args),
        Command::Schema(args) => schema::run(&config, args).await,
        Command::Projections(args) => projections::run(&config, args).await,
        Command::Publish(args) => publish::status(&config, args).await,
        Command::Dlq(args) => publish::dlq(&config, args).await,
        Command::Subscriptions(args) => subscriptions::run(&config, args).await,
        Command::Retention(args) => retention::run(&config, args).await,
        Command::Token(args) => access::token(args),
        Command::Audit(args) => access::audit(&config, args).await,
        Command::Bench(args) => bench::run(&config, data_dir.as_deref(), args).await,
        Command::Config => {
            // The server's sections print typed, with their defaults.
            (config.auth, config.tls) = chronicle_server::ServerSettings::from_tables(&config.auth, &config.tls)?.to_tables()?;
            config.publish = chronicle_publish::PublishSettings::from_table(&config.publish)?.to_table_redacted();
            output::print(config.to_toml().as_bytes())?;
            Ok(())
        }
    }
}
