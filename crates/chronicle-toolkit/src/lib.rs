//! # chronicle-toolkit
//!
//! Event sourcing and CQRS on top of any Chronicle [`EventStore`](chronicle_core::EventStore):
//!
//! - [`Aggregate`]: typed commands and events; `handle` decides (and may
//!   authorize against the state and the [`CommandContext`]'s actor),
//!   `apply` folds.
//! - [`DomainEvent`]: a serde enum whose variant names are the stored event
//!   types; schema versions declared once per type.
//! - [`Repository`]: load (snapshot + tail), temporal loads (as of a
//!   version or an instant), execute with optimistic concurrency, bounded
//!   retries, correlation/causation/actor propagation and snapshots every N
//!   events; [`CommandMetrics`] counters.
//! - [`Upcasters`] (v1→v2→v3 chains on read) and [`migrate`] (eager
//!   migration into a new store, verified event for event).
//! - [`CommandBus`] / [`QueryBus`], thin.
//! - [`given`]/`when`/`then`: the pure, synchronous test kit.
//! - [`Projection`]s and the [`ProjectionRunner`]: checkpoints kept with
//!   the read model, catch-up then live, retries, parking ([`parked`]),
//!   state records and metrics, rebuild-and-swap; [`PgProjection`]
//!   (feature `postgres`) updates a PostgreSQL read model and its
//!   checkpoint in one transaction.
//!
//! - [`Saga`]s (process managers) and the [`SagaRunner`]: react to events
//!   with commands, compensate rejected commands, act on timeouts; state
//!   event-sourced, outbox and timeouts restart-safe.
//!
//! The `orders` example (`cargo run --release --example orders`) drives the
//! orders / payments / inventory domain end to end.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod aggregate;
mod bus;
mod error;
mod event;
mod given;
mod metrics;
mod migrate;
mod projection;
mod repository;
pub mod saga;

pub use aggregate::{Aggregate, CommandContext};
pub use bus::{CommandBus, Dispatched, QueryBus};
pub use chronicle_schema::{Step, Upcasters};
pub use error::{Error, Result};
pub use event::{DomainEvent, decode_event, encode_event};
pub use given::{History, Outcome, SagaOutcome, SagaScenario, Scenario, given, given_saga};
pub use metrics::CommandMetrics;
pub use migrate::{MigrationReport, migrate};
pub use projection::{
    MemoryProjection, OnFailure, PROJECTIONS_STREAM, Projection, ProjectionRunner, ProjectionState, ProjectionStatus, RunnerOptions,
    RunningProjection, StoreCheckpointed, latest_states, parked, render_prometheus, requests,
};
#[cfg(feature = "postgres")]
pub use projection::{PgProjection, PgReadModel};
pub use repository::{Executed, Loaded, Repository};
pub use saga::{CommandFailure, CommandSender, Reaction, RunningSaga, Saga, SagaRunner};
