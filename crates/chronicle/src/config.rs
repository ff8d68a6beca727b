//! `chronicle.toml`: which backend, its options, validation limits, and
//! the environment overrides.

use crate::ConfigError as Error;
use chronicle_core::{AppendPipeline, DenyEventTypes, Limits, StampPrincipal};
use serde::{Deserialize, Serialize};
use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "chronicle.toml";

/// Where the file backend keeps its data by default.
pub const DEFAULT_DATA_DIR: &str = "./chronicle-data";

/// The environment variables that override the file, and what they set.
pub const ENV_OVERRIDES: [(&str, &str); 6] = [
    ("CHRONICLE_BACKEND", "backend"),
    ("CHRONICLE_DATA_DIR", "data_dir"),
    ("CHRONICLE_DATABASE_URL", "database_url"),
    ("CHRONICLE_URL", "url"),
    ("CHRONICLE_TOKEN", "token"),
    ("CHRONICLE_CA_CERT", "ca_cert"),
];

/// Which storage backend to open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The embedded file engine (the default).
    #[default]
    File,
    /// In-process memory; nothing survives the process.
    Memory,
    /// PostgreSQL at `database_url`.
    Postgres,
    /// A `chronicle serve` at `url`.
    Remote,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Memory => "memory",
            Self::Postgres => "postgres",
            Self::Remote => "remote",
        })
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "file" => Ok(Self::File),
            "memory" => Ok(Self::Memory),
            "postgres" => Ok(Self::Postgres),
            "remote" => Ok(Self::Remote),
            other => Err(format!("unknown backend {other:?}; expected file, memory, postgres or remote")),
        }
    }
}

/// Whether the file backend waits for fdatasync before acknowledging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Every acknowledged append is durable (the default).
    #[default]
    Always,
    /// Leave flushing to the OS: faster, loses recent appends on power loss.
    Never,
}

/// Options of the file backend (`[file]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileOptions {
    /// Durability of acknowledged appends.
    pub sync: SyncMode,
    /// Most events the group-commit writer takes from its queue per
    /// fdatasync (one larger append is never split).
    pub max_batch_events: usize,
    /// Size at which a segment file is sealed and a new one started.
    pub segment_size_bytes: u64,
    /// Compress segments once sealed (zstd frames, read by position).
    pub compress_sealed: bool,
    /// Move sealed segments (with their index files) to this directory
    /// (a second disk, a mounted object store) once `archive_after` old;
    /// reads of archived history keep working. Default: no archiving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_dir: Option<PathBuf>,
    /// How old a sealed segment's last event is before it is archived
    /// (`"30d"`, `"12h"`, `"15m"`, `"45s"`, `"2w"`; default `"1d"`).
    #[serde(with = "duration_text")]
    pub archive_after: std::time::Duration,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            sync: SyncMode::Always,
            max_batch_events: 100,
            segment_size_bytes: 64 * 1024 * 1024,
            compress_sealed: true,
            archive_dir: None,
            archive_after: std::time::Duration::from_secs(86_400),
        }
    }
}

/// Durations in configuration files: `"30d"`, `"12h"`, `"15m"`, `"45s"`, `"2w"`.
mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let secs = d.as_secs();
        let text = [(604_800, "w"), (86_400, "d"), (3_600, "h"), (60, "m")]
            .iter()
            .find(|(unit, _)| secs > 0 && secs.is_multiple_of(*unit))
            .map_or_else(|| format!("{secs}s"), |(unit, name)| format!("{}{name}", secs / unit));
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        chronicle_core::parse_duration(&text).ok_or_else(|| {
            D::Error::custom(format!("{text:?}: expected a positive whole number and a unit: s, m, h, d or w (e.g. \"30d\")"))
        })
    }
}

/// Options of the PostgreSQL backend (`[postgres]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresOptions {
    /// Connection pool size.
    pub pool_size: u32,
    /// Schema holding Chronicle's tables.
    pub schema: String,
    /// TLS to the server (libpq's `sslmode`): `disable`, `prefer` (the
    /// default), `require`, `verify-ca` or `verify-full`. A setting in
    /// the database URL wins over these four.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<String>,
    /// PEM file of the roots that sign the server's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslrootcert: Option<String>,
    /// PEM file of the client certificate (with `sslkey`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslcert: Option<String>,
    /// PEM file of the client key (with `sslcert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslkey: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self { pool_size: 16, schema: "chronicle".to_owned(), sslmode: None, sslrootcert: None, sslcert: None, sslkey: None }
    }
}

impl PostgresOptions {
    /// The TLS settings given here, as connection-string parameters.
    pub fn tls_params(&self) -> Vec<(&'static str, &str)> {
        [("sslmode", &self.sslmode), ("sslrootcert", &self.sslrootcert), ("sslcert", &self.sslcert), ("sslkey", &self.sslkey)]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
            .collect()
    }
}

/// The built-in append hooks (`[pipeline]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineOptions {
    /// Event types every append is refused for (HTTP 400 naming the
    /// event's `event_type` field).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_event_types: Vec<String>,
    /// Stamp metadata `actor` (`{"type": "token", "id": …}`) and `tenant`
    /// from the authenticated token on the server, replacing what clients
    /// sent.
    pub stamp_principal: bool,
}

/// The whole configuration. Precedence: command-line flags, then
/// environment variables ([`ENV_OVERRIDES`]), then the file, then defaults.
///
/// ```
/// use chronicle::{BackendKind, Config};
/// let mut c = Config::from_toml("backend = \"memory\"\n[limits]\nmax_data_bytes = 2048\n").unwrap();
/// assert_eq!(c.backend, BackendKind::Memory);
/// assert_eq!(c.limits.max_data_bytes, 2048);
/// c.apply_env(|var| (var == "CHRONICLE_BACKEND").then(|| "file".to_owned())).unwrap();
/// assert_eq!(c.backend, BackendKind::File);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which backend to open.
    pub backend: BackendKind,
    /// Data directory of the file backend.
    pub data_dir: PathBuf,
    /// PostgreSQL connection URL (postgres backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Base URL of a Chronicle server (remote backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Bearer token for the server (remote backend); never printed by `chronicle config`.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// PEM file of a CA (or self-signed certificate) to trust for an
    /// `https://` server (remote backend), besides the public web roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Validation limits applied to every append.
    pub limits: Limits,
    /// File backend options.
    pub file: FileOptions,
    /// PostgreSQL backend options.
    pub postgres: PostgresOptions,
    /// The built-in append hooks.
    pub pipeline: PipelineOptions,
    /// `[auth]`: the server's access control, kept raw here and typed by
    /// its owner (`chronicle_server::ServerSettings`).
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub auth: toml::Table,
    /// `[tls]`: the server's certificate and key, typed like `[auth]`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub tls: toml::Table,
    /// `[publish]`: the relays' sinks (`[[publish.sinks]]`), kept raw and
    /// typed by `chronicle_publish::PublishSettings`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub publish: toml::Table,
    /// `[retention]`: policies (default, rules, keep tags), kept raw and
    /// typed by `chronicle_retention::RetentionSettings`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub retention: toml::Table,
    /// `[schemas]`: the schema check's mode, schema files and declared
    /// upcasters, kept raw and typed by `chronicle_schema::SchemaSettings`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub schemas: toml::Table,
    /// `[privacy]`: the key-encryption key's file and the sensitive fields
    /// (`[[privacy.fields]]`), kept raw and typed by
    /// `chronicle_privacy::PrivacySettings`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub privacy: toml::Table,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backend: BackendKind::default(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            url: None,
            token: None,
            ca_cert: None,
            limits: Limits::default(),
            file: FileOptions::default(),
            postgres: PostgresOptions::default(),
            pipeline: PipelineOptions::default(),
            auth: toml::Table::new(),
            tls: toml::Table::new(),
            publish: toml::Table::new(),
            retention: toml::Table::new(),
            schemas: toml::Table::new(),
            privacy: toml::Table::new(),
        }
    }
}

impl Config {
    /// Parses TOML text (unknown keys are errors, so typos surface).
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::parse(text, Path::new("<inline>"))
    }

    fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| Error::ConfigParse {
            path: path.to_owned(),
            message: e.message().to_owned(),
            line: e.span().map(|s| text.bytes().take(s.start).filter(|&b| b == b'\n').count() + 1),
        })
    }

    /// Loads the configuration: `path` if given (it must exist), else
    /// `./chronicle.toml` if present, else defaults; then the environment
    /// overrides of the process.
    pub fn load(path: Option<&Path>) -> Result<Self, Error> {
        let mut config = match path {
            Some(p) => Self::read(p)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => Self::read(Path::new(DEFAULT_CONFIG_FILE))?,
            None => Self::default(),
        };
        config.apply_env(|var| std::env::var(var).ok())?;
        Ok(config)
    }

    /// Loads `path` as it is: no environment overrides (for a command that
    /// reads two configurations, such as `chronicle migrate`).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        Self::read(path)
    }

    fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Applies the [`ENV_OVERRIDES`], looking variables up with `lookup`
    /// (empty values are ignored).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        let get = |var: &str| lookup(var).filter(|v| !v.is_empty());
        if let Some(v) = get("CHRONICLE_BACKEND") {
            self.backend = v.parse().map_err(|reason| Error::InvalidEnv { var: "CHRONICLE_BACKEND", reason })?;
        }
        if let Some(v) = get("CHRONICLE_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("CHRONICLE_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("CHRONICLE_URL") {
            self.url = Some(v);
        }
        if let Some(v) = get("CHRONICLE_TOKEN") {
            self.token = Some(v);
        }
        if let Some(v) = get("CHRONICLE_CA_CERT") {
            self.ca_cert = Some(PathBuf::from(v));
        }
        Ok(())
    }

    /// The append pipeline this configuration asks for: its limits, the
    /// access hook (a caller's grants, the reserved `$` streams), then the
    /// built-in hooks of `[pipeline]` (deny, then stamp). Add your own
    /// hooks to it and pass it to [`open_with`](crate::open_with).
    pub fn pipeline(&self) -> AppendPipeline {
        // Grants and the reserved `$` streams first: a refused append runs no other hook.
        let mut pipeline = AppendPipeline::new(self.limits).with_hook(std::sync::Arc::new(chronicle_core::AccessHook));
        if !self.pipeline.deny_event_types.is_empty() {
            pipeline = pipeline.with_hook(std::sync::Arc::new(DenyEventTypes::new(self.pipeline.deny_event_types.iter().cloned())));
        }
        if self.pipeline.stamp_principal {
            pipeline = pipeline.with_hook(std::sync::Arc::new(StampPrincipal));
        }
        pipeline
    }

    /// The configuration as TOML (what `chronicle config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
