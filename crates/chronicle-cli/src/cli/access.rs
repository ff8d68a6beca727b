//! `chronicle token create` and `chronicle audit`.

use super::{CliError, CliResult, output};
use chronicle::{BackendKind, Config};
use chronicle_server::{
    ServerSettings,
    audit::{AuditRecord, recent},
    auth::{Role, TokenEntry},
};
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create a token: prints the secret alone on the first line, then the `[[auth.tokens]]` entry to append to chronicle.toml.
    Create {
        /// reader, writer or admin.
        #[arg(long)]
        role: Role,
        /// A name for the token (shown in the audit log; default: the role and a random suffix).
        #[arg(long)]
        id: Option<String>,
        /// Cleared for personal data: reads show `[privacy]`-encrypted fields decrypted (admins always are).
        #[arg(long)]
        pii: bool,
        /// Limit the token to some streams and actions (repeatable): PATTERN=ACTIONS (`*` matches any run of
        /// characters) or category:NAME=ACTIONS; actions read, append, delete, metadata, snapshot, pii, within the
        /// role. System streams (`$…`) need a grant that names them.
        #[arg(long, value_name = "GRANT")]
        grant: Vec<String>,
        /// Confine a reader or writer token to this tenant's streams (ASCII letters, digits, `_`, `.`); an admin's
        /// tenant only counts for rate limits.
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub(crate) fn token(args: TokenArgs) -> CliResult {
    let TokenCommand::Create { role, id, pii, grant, tenant } = args.command;
    let (secret, mut entry) = TokenEntry::generate("", role).map_err(|e| CliError::Usage(format!("no randomness for the token: {e}")))?;
    entry.id = id.unwrap_or_else(|| format!("{role}-{}", secret.get(4..12).unwrap_or_default()));
    entry.pii = pii;
    entry.grants = grant.iter().map(|g| g.parse()).collect::<Result<_, String>>().map_err(|e| CliError::Usage(format!("--grant {e}")))?;
    entry.tenant = tenant;
    entry.check().map_err(CliError::Usage)?;
    Ok(output::print(format!("{secret}\n{}", entry.to_toml()).as_bytes())?)
}

#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// Show the last N records (oldest first).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Only denied attempts.
    #[arg(long)]
    denied: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn audit(config: &Config, args: AuditArgs) -> CliResult {
    let limit = args.limit.max(1);
    let records: Vec<AuditRecord> = if config.backend == BackendKind::Remote {
        let remote = chronicle::open_remote(config).await?;
        let values = remote.audit(limit, args.denied).await?;
        values
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::Usage(format!("unreadable audit record: {e}")))?
    } else {
        let ServerSettings { auth, .. } = ServerSettings::from_tables(&config.auth, &config.tls)?;
        let target = AuditTarget::of(config, &auth);
        let store = match &target {
            AuditTarget::Dir(dir) if !dir.is_dir() => {
                return Err(CliError::Usage(format!("no audit log at {} (chronicle serve writes it there)", dir.display())));
            }
            AuditTarget::Dir(_) => chronicle::open_read_only(&target.config(config)).await?,
            AuditTarget::Schema(_) => chronicle::open(&target.config(config)).await?,
        };
        recent(&*store, limit, args.denied).await?
    };
    let mut text = String::new();
    if !args.json {
        text.push_str("RECORDED_AT                  TOKEN            ROLE    OUTCOME  STATUS  REQUEST\n");
    }
    for r in &records {
        if args.json {
            text.push_str(&serde_json::to_string(r).unwrap_or_default());
            text.push('\n');
        } else {
            let role = r.role.map_or("-".to_owned(), |r| r.to_string());
            let _ = writeln!(
                text,
                "{:<28} {:<16} {:<7} {:<8} {:>6}  {} {}",
                r.at.to_string(),
                r.token_id,
                role,
                r.outcome,
                r.status,
                r.method,
                r.path
            );
            if let Some(c) = &r.crypto {
                text.pop();
                let _ = writeln!(text, " {} x{}", c.subject, c.count);
            }
            if let Some(d) = &r.denied {
                text.pop();
                let _ = writeln!(text, " (not granted: {} {})", d.action, d.stream);
            }
        }
    }
    Ok(output::print(text.as_bytes())?)
}

/// Where the audit log lives: with PostgreSQL (and no `[auth] audit_dir`)
/// in a schema of its own in the same database, `{schema}_audit`, shared
/// by every node; otherwise an embedded file store of its own in a
/// directory (so audit records never mix with the served events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuditTarget {
    /// The file store in this directory.
    Dir(std::path::PathBuf),
    /// This schema of the served PostgreSQL database.
    Schema(String),
}

impl AuditTarget {
    /// The audit log of `config`'s store.
    pub(crate) fn of(config: &Config, auth: &chronicle_server::AuthOptions) -> Self {
        match (config.backend, &auth.audit_dir) {
            (BackendKind::Postgres, None) => Self::Schema(format!("{}_audit", config.postgres.schema)),
            _ => Self::Dir(auth.audit_dir(&config.data_dir)),
        }
    }

    /// The configuration opening it.
    pub(crate) fn config(&self, config: &Config) -> Config {
        let base = Config { pipeline: chronicle::PipelineOptions::default(), privacy: toml::Table::new(), ..config.clone() };
        match self {
            Self::Dir(dir) => Config { backend: BackendKind::File, data_dir: dir.clone(), ..base },
            Self::Schema(schema) => Config {
                backend: BackendKind::Postgres,
                postgres: chronicle::PostgresOptions { schema: schema.clone(), pool_size: 2, ..config.postgres.clone() },
                ..base
            },
        }
    }
}

impl std::fmt::Display for AuditTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::Schema(schema) => write!(f, "schema {schema} of the PostgreSQL database"),
        }
    }
}
