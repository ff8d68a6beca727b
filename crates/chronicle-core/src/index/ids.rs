//! [`IdIndex`]: event id → global position, how an append recognises a
//! retry. Kept apart from the rest of [`LogIndex`](super::LogIndex) so a
//! backend rebuilding a large index can build it on another thread (see
//! [`LogIndex::defer_ids`](super::LogIndex::defer_ids)).

use super::Map;
use uuid::Uuid;

/// Event id → global position.
///
/// ```
/// use chronicle_core::{IdIndex, Uuid};
/// let mut ids = IdIndex::with_capacity(2);
/// let id = Uuid::from_u128(7);
/// ids.insert(id, 42);
/// assert_eq!(ids.get(&id), Some(42));
/// assert_eq!(ids.get(&Uuid::from_u128(8)), None);
/// ```
#[derive(Debug, Default)]
pub struct IdIndex {
    pub(super) map: Map<Uuid, u64>,
}

impl IdIndex {
    /// An empty index with room for `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { map: Map::with_capacity_and_hasher(capacity, Default::default()) }
    }

    /// Records that `id` is at `position`.
    pub fn insert(&mut self, id: Uuid, position: u64) {
        self.map.insert(id, position);
    }

    /// Records every `(id, position)` pair.
    pub fn extend(&mut self, pairs: impl IntoIterator<Item = (Uuid, u64)>) {
        self.map.extend(pairs);
    }

    /// The position of `id`.
    pub fn get(&self, id: &Uuid) -> Option<u64> {
        self.map.get(id).copied()
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: &Uuid) {
        self.map.remove(id);
    }

    /// Makes room for `additional` more ids.
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no id is indexed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
