//! # chronicle
//!
//! The façade of Chronicle: configuration (`chronicle.toml` plus
//! environment overrides), [`open`] — the one factory that turns a
//! [`Config`] into a store — and re-exports of the event model and the
//! [`EventStore`] trait, so applications depend on this crate alone.
//!
//! ```
//! use chronicle::{open, BackendKind, Config, EventStore, ExpectedVersion, NewEvent, StreamId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config { backend: BackendKind::Memory, ..Config::default() };
//! let store = open(&config).await?;
//! let s = StreamId::new("order-1")?;
//! store.append(&s, ExpectedVersion::NoStream, vec![NewEvent::raw("OrderPlaced", &b"{}"[..])]).await?;
//! assert_eq!(store.head().await?, 1);
//! # Ok(())
//! # }
//! ```

mod config;
mod error;

pub use chronicle_core::*;
pub use chronicle_file::{FileStats, FileStore, ScavengeReport, VerifyOptions, VerifyReport, verify, verify_with};
pub use chronicle_memory::MemoryStore;
pub use chronicle_postgres::{PgOptions, PgStore};
pub use chronicle_remote::RemoteStore;
pub use config::{
    AuthOptions, BackendKind, Config, DEFAULT_CONFIG_FILE, DEFAULT_DATA_DIR, ENV_OVERRIDES, FileOptions, PostgresOptions, SyncMode,
};
pub use error::ConfigError;

use std::sync::Arc;

/// Opens the configured backend. Callers hold an `Arc<dyn EventStore>` and
/// never name a backend type, so new backends plug in here alone.
pub async fn open(config: &Config) -> Result<Arc<dyn EventStore>, ConfigError> {
    match config.backend {
        BackendKind::Memory => Ok(Arc::new(MemoryStore::with_limits(config.limits))),
        BackendKind::File => Ok(Arc::new(open_file(config)?)),
        BackendKind::Postgres => Ok(Arc::new(open_postgres(config).await?)),
        BackendKind::Remote => Ok(Arc::new(open_remote(config).await?)),
    }
}

/// Connects to the Chronicle server at `url` (with `token`, if any,
/// trusting `ca_cert` besides the public roots).
pub async fn open_remote(config: &Config) -> Result<RemoteStore, ConfigError> {
    let url = config.url.clone().ok_or(ConfigError::BackendUnavailable {
        backend: BackendKind::Remote,
        reason: "no server URL: set url in chronicle.toml or CHRONICLE_URL".into(),
    })?;
    let mut store = RemoteStore::new(&url, config.token.clone())?;
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|e| ConfigError::BackendUnavailable {
            backend: BackendKind::Remote,
            reason: format!("reading the CA certificate {}: {e}", path.display()),
        })?;
        store = store.with_ca_certificate(&pem)?;
    }
    Ok(store.check().await?)
}

/// Opens the configured backend for reading only. For the file backend
/// this needs no directory lock, so it works while another process (a
/// server, an import) writes, and follows its commits; other backends open
/// as usual.
pub async fn open_read_only(config: &Config) -> Result<Arc<dyn EventStore>, ConfigError> {
    match config.backend {
        BackendKind::File => Ok(Arc::new(FileStore::open_read_only(&config.data_dir, file_options(config))?)),
        _ => open(config).await,
    }
}

/// Connects to PostgreSQL at `database_url` (migrating the schema).
pub async fn open_postgres(config: &Config) -> Result<PgStore, ConfigError> {
    let url = config.database_url.clone().ok_or(ConfigError::BackendUnavailable {
        backend: BackendKind::Postgres,
        reason: "no database URL: set database_url in chronicle.toml or CHRONICLE_DATABASE_URL".into(),
    })?;
    let options =
        PgOptions { url, schema: config.postgres.schema.clone(), pool_size: config.postgres.pool_size as usize, limits: config.limits };
    Ok(PgStore::connect(options).await?)
}

/// Opens the file backend at `config.data_dir` (for file-only operations
/// such as stats; [`open`] is the general entry point).
pub fn open_file(config: &Config) -> Result<FileStore, ConfigError> {
    Ok(FileStore::open(&config.data_dir, file_options(config))?)
}

/// The file engine's options from a configuration.
pub fn file_options(config: &Config) -> chronicle_file::FileOptions {
    chronicle_file::FileOptions {
        sync: config.file.sync == SyncMode::Always,
        max_batch_events: config.file.max_batch_events.max(1),
        segment_size_bytes: config.file.segment_size_bytes,
        compress_sealed: config.file.compress_sealed,
        limits: config.limits,
    }
}
