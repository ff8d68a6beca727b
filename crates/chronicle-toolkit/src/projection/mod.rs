//! Projections: read models fed by the event log.
//!
//! A [`Projection`] applies events to its read model and keeps the position
//! of the last one applied *in the same storage*, so "applied" and
//! "checkpointed" cannot disagree: [`MemoryProjection`] holds both under one
//! lock, [`PgProjection`](crate::PgProjection) (feature `postgres`) writes
//! both in one transaction. A read model kept elsewhere uses
//! [`StoreCheckpointed`]: the checkpoint lives in the event store, so
//! delivery is at-least-once and its handler must be idempotent.
//!
//! A [`ProjectionRunner`] catches a projection up from its checkpoint, then
//! follows live; it retries a failing event with exponential backoff, then
//! parks it (a dead-letter record, see [`parked`]) and continues, or stops —
//! per [`OnFailure`]. Its [`ProjectionState`] (position, lag, last error,
//! status) is recorded in the `$projections` stream for `chronicle
//! projections` and exported as metrics. [`ProjectionRunner::rebuild`]
//! replays everything into a fresh read model and swaps it in once caught up.

mod memory;
pub mod parked;
#[cfg(feature = "postgres")]
mod postgres;
pub mod requests;
mod runner;
mod state;

pub use memory::{MemoryProjection, StoreCheckpointed};
#[cfg(feature = "postgres")]
pub use postgres::{PgProjection, PgReadModel};
pub use runner::{OnFailure, ProjectionRunner, RunnerOptions, RunningProjection};
pub use state::{PROJECTIONS_STREAM, ProjectionState, ProjectionStatus, latest_states, render_prometheus};

use crate::Result;
use chronicle_core::{Filter, RecordedEvent, async_trait};

/// A read model fed by events. Implementations keep the model and the
/// checkpoint in one place (see the module docs).
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// A stable name: the checkpoint key and the state record's name.
    fn name(&self) -> &str;

    /// The events it needs (default: all). Filtering happens in the store.
    fn filter(&self) -> Filter {
        Filter::default()
    }

    /// Position of the last event applied (0: none).
    async fn checkpoint(&self) -> Result<u64>;

    /// Applies one event and records its position as the checkpoint, as
    /// one unit. An `Err` leaves both unchanged (the runner retries).
    async fn apply(&self, event: &RecordedEvent) -> Result<()>;

    /// Applies a parked event again (see [`parked::replay`]): its position
    /// is below the checkpoint, which must not move back. Default:
    /// [`Projection::apply`], right for models that only keep the highest
    /// position.
    async fn replay_parked(&self, event: &RecordedEvent) -> Result<()> {
        self.apply(event).await
    }

    /// Empties the read model and its checkpoint (before a rebuild into it).
    async fn reset(&self) -> Result<()>;

    /// Called when a rebuilt instance replaces the live one (e.g. rename
    /// tables); default: nothing.
    async fn promote(&self) -> Result<()> {
        Ok(())
    }
}
