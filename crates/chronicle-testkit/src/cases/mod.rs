//! The conformance cases. Each takes a fresh, empty store and panics with a
//! message on the first deviation from the contract of
//! [`EventStore`](chronicle_core::EventStore).

mod append;
mod lifecycle;
mod listing;
mod read;
mod subscribe;

pub use append::*;
pub use lifecycle::*;
pub use listing::*;
pub use read::*;
pub use subscribe::*;

use chronicle_core::EventStore;
use std::sync::Arc;

/// The store handle every case receives.
pub type Store = Arc<dyn EventStore>;

/// Every event of the store, forward.
pub(crate) async fn all(store: &Store) -> Vec<chronicle_core::RecordedEvent> {
    store.read_all(&chronicle_core::ReadAll::forward()).await.expect("read_all").events
}

/// The global positions of events.
pub(crate) fn positions(events: &[chronicle_core::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.global_position).collect()
}
