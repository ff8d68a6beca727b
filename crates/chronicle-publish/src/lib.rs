//! # chronicle-publish
//!
//! Events flow out: a relay per sink reads the global log from its own
//! durable checkpoint (a store checkpoint, so it survives restarts on every
//! backend) and delivers each event, at least once and in global order,
//! to NATS JetStream, RabbitMQ or a webhook. Every message carries the
//! event id as its deduplication id. Up to `max_in_flight` publishes are
//! unacknowledged at once; after a failure the relay resumes from the
//! first unacknowledged position.
//!
//! A rejected delivery is retried with exponential backoff, then goes to
//! the sink's dead-letter queue (records in `$dlq-{sink}`); a full DLQ
//! pauses the sink, never drops. A broker that is down is retried forever
//! (state `disconnected`). On PostgreSQL, a lease (an advisory lock)
//! makes exactly one node relay a sink.
//!
//! ```
//! use chronicle_core::{EventStore, ExpectedVersion, LocalLeases, NewEvent, StreamId};
//! use chronicle_memory::MemoryStore;
//! use chronicle_publish::{PublishSettings, Publisher};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
//! let settings = PublishSettings::from_table(&toml::from_str(r#"
//!     [[sinks]]
//!     name = "audit-hook"
//!     kind = "webhook"
//!     url = "http://127.0.0.1:9/events"
//!     secret = "s3cret"
//! "#)?)?;
//! let publisher = Publisher::new(store.clone(), Arc::new(LocalLeases::default()), &settings, "node-1");
//! store.append(&StreamId::new("order-1")?, ExpectedVersion::Any, vec![NewEvent::raw("Placed", &b"{}"[..])]).await?;
//! let status = publisher.status().await?;
//! assert_eq!((status[0].state.as_str(), status[0].lag), ("stopped", 1));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod api;
mod dlq;
mod error;
mod hooks;
mod leader;
mod message;
mod publisher;
mod relay;
mod settings;
pub mod sink;
mod status;
mod template;

pub use api::{DlqBody, MAX_SELECTED, MarkedBody, SelectionBody, StatusBody, render_prometheus};
pub use dlq::{DISCARD, Dlq, DlqEntry, DlqView, ENTRY, REDELIVERED, REPLAY, Selection};
pub use error::{PublishError, Result};
pub use hooks::{DropMetadata, HookChain, PublishHook, SinkFilter, Verdict};
pub use message::{Outgoing, json_array};
pub use publisher::{Publisher, SinkStatus};
pub use relay::{Relay, checkpoint_name, lease_name};
pub use settings::{CreateStream, PublishSettings, SinkConfig, SinkKind, SinkToml};
pub use status::{RelayCounters, RelayState, SharedStatus};
pub use template::Template;
