//! # chronicle
//!
//! The façade of Chronicle: configuration (`chronicle.toml` plus
//! environment overrides), [`open`] — the one factory that turns a
//! [`Config`] into a store — and a curated re-export of the event model
//! and the [`EventStore`] trait, so applications depend on this crate
//! alone. Backends are cargo features: `file` (default), `memory`,
//! `postgres`, `remote`; nothing of the server or the CLI is compiled in.
//!
//! ```
//! use chronicle::{open, Config, EventStore, ExpectedVersion, NewEvent, StreamId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
//! let store = open(&config).await?;
//! let s = StreamId::new("order-1")?;
//! store.append(&s, ExpectedVersion::NoStream, vec![NewEvent::raw("OrderPlaced", &b"{}"[..])]).await?;
//! assert_eq!(store.head().await?, 1);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod backends;
mod config;
mod error;

#[cfg(feature = "remote")]
pub use backends::open_remote;
pub use backends::{Opened, maintenance, open, open_privacy_read_only, open_read_only, open_read_only_raw, open_with, privacy_of};
#[cfg(feature = "file")]
pub use backends::{file_options, open_file};
#[cfg(feature = "postgres")]
pub use backends::{open_postgres, postgres_options};
pub use config::{
    BackendKind, Config, DEFAULT_CONFIG_FILE, DEFAULT_DATA_DIR, ENV_OVERRIDES, FileOptions, PipelineOptions, PostgresOptions, SyncMode,
};
pub use error::ConfigError;

pub use chronicle_core::{
    Actor, AppendCondition, AppendContext, AppendHook, AppendPipeline, AppendRequest, AppendResult, Backoff, BreakerState,
    ConnectionReport, ConnectionStats, DeleteMode, DenyEventTypes, Direction, EntryPoint, Error, EventPage, EventQuery, EventStore,
    ExpectedVersion, Filter, Health, Lease, Leases, Limits, LocalLeases, Maintenance, Metadata, NewEvent, NoMaintenance, PreparedAppend,
    PreparedStream, Principal, QueryItem, RawJson, ReadAll, ReadStream, RecordedEvent, Result, Role, ScavengeReport, Snapshot,
    StampPrincipal, StoreMetrics, StoreStats, StreamAppend, StreamId, StreamInfo, StreamMetadata, StreamStatus, SubscribeFrom,
    Subscription, Timestamp, Uuid, ValidatedEvent, VerifyOptions, VerifyReport, async_trait, category_of,
};
pub use chronicle_core::{ExportRange, ListStreams, LogItem, LogReader, StreamPage, StreamSummary, canonical};
#[cfg(feature = "file")]
pub use chronicle_file::{FileMaintenance, FileStats, FileStore, verify, verify_with};
#[cfg(feature = "memory")]
pub use chronicle_memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use chronicle_postgres::{Connector as PgConnector, PgLeases, PgMaintenance, PgOptions, PgStore, SslMode};
#[cfg(feature = "remote")]
pub use chronicle_remote::RemoteStore;
