//! # chronicle-core
//!
//! The event model, the [`EventStore`] trait, errors and validation shared
//! by every Chronicle backend. This crate does no I/O.
//!
//! - Every event has a gapless `global_position` (first = 1) and a
//!   per-stream `version` (first = 1); every `from` is inclusive.
//! - `data` and `metadata` are validated once on append and then kept as
//!   raw JSON bytes ([`RawJson`]); reads never re-parse them.
//! - Appends are atomic, optionally span several streams and optionally
//!   carry a DCB [`AppendCondition`]. Retried appends (same event ids) are
//!   idempotent.
//!
//! ```
//! use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId, Error};
//! use chronicle_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let order = StreamId::new("order-1")?;
//! let placed = NewEvent::json("OrderPlaced", &serde_json::json!({"total": 42}))?;
//! let r = store.append(&order, ExpectedVersion::NoStream, vec![placed]).await?;
//! assert_eq!((r.first_version, r.first_position), (1, 1));
//!
//! // A second writer that also expected an empty stream loses.
//! let late = NewEvent::json("OrderPlaced", &serde_json::json!({"total": 7}))?;
//! let err = store.append(&order, ExpectedVersion::NoStream, vec![late]).await.unwrap_err();
//! assert!(matches!(err, Error::WrongExpectedVersion { actual: Some(1), .. }));
//!
//! let events = store.read_stream(&order, ReadStream::forward()).await?;
//! assert_eq!(events[0].data.as_bytes(), br#"{"total":42}"#);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod access;
mod append;
mod connections;
mod context;
mod error;
mod event;
mod expected_version;
mod granted;
mod hooks;
#[cfg(feature = "index")]
mod index;
pub mod json_int;
mod lease;
mod listing;
mod maintenance;
mod metadata;
mod metrics;
mod parking;
mod pipeline;
mod plan;
mod raw_json;
mod read;
mod retry;
mod store;
mod stream;
mod stream_id;
mod subscription;
mod tenant;
mod tenant_store;
mod timestamp;
pub mod transfer;
mod validation;

pub use access::{AccessHook, Action, Grant, is_system_stream};
pub use append::{AppendCondition, AppendRequest, AppendResult, EventQuery, PreparedAppend, PreparedStream, QueryItem, StreamAppend};
pub use async_trait::async_trait;
pub use connections::{BreakerState, ConnectionReport, ConnectionStats};
pub use context::{AppendContext, EntryPoint, Principal, Role};
pub use error::{Error, Result};
pub use event::{NewEvent, RecordedEvent};
pub use expected_version::ExpectedVersion;
pub use granted::GrantedStore;
pub use hooks::{DenyEventTypes, StampPrincipal};
/// The in-memory log index the memory and file backends share; behind
/// the `index` feature, so it is no part of what applications see.
#[cfg(feature = "index")]
pub use index::{IdIndex, IndexPage, IndexedEvent, LogIndex, Misplaced, StreamChange, compact_meta};
pub use lease::{Lease, Leases, LocalLeases};
pub use listing::{ListStreams, StreamPage, StreamSummary};
pub use maintenance::{Maintenance, NoMaintenance, ScavengeReport, StoreStats, VerifyOptions, VerifyReport};
pub use metadata::{Actor, MAX_METADATA_VALUE_BYTES, Metadata};
pub use metrics::{Health, Metrics, StoreMetrics, SubscriptionGauge};
pub use parking::{DISCARD, ENTRY, ParkedEntry, ParkingLot, ParkingView, REDELIVERED, REPLAY, Selection};
pub use pipeline::{AppendHook, AppendPipeline, Committed, FieldSealer};
pub use plan::{AppendPlan, AppendView, EventLocation, plan_append};
pub use raw_json::RawJson;
pub use read::{Direction, EventPage, Filter, ReadAll, ReadStream, SubscribeFrom};
pub use retry::Backoff;
pub use store::{EventStore, validate_consumer_name};
pub use stream::{DeleteMode, Snapshot, StreamInfo, StreamMetadata, StreamStatus};
pub use stream_id::{MAX_STREAM_ID_BYTES, StreamId, category_of};
pub use subscription::{SUBSCRIPTION_BUFFER, SUBSCRIPTION_PAGE, Subscription};
pub use tenant::{MAX_TENANT_BYTES, TENANT_MARK, TenantSpace, check_tenant_name, is_tenant_stream, tenant_view};
pub use tenant_store::TenantStore;
pub use timestamp::{Timestamp, parse_duration};
pub use transfer::{ExportRange, GroupProgress, LogItem, LogReader, LogWriter, canonical};
pub use uuid::Uuid;
pub use validation::{Limits, MAX_EVENT_TYPE_BYTES, ValidatedEvent};
