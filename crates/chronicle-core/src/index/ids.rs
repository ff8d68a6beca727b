//! [`IdIndex`]: event id → global position, how an append recognises a
//! retry. Kept apart from the rest of [`LogIndex`](super::LogIndex) so a
//! backend rebuilding a large index can build it on another thread (see
//! [`LogIndex::defer_ids`](super::LogIndex::defer_ids)).
//!
//! The table is split into 64 shards by a mix of the id's bits: inserting
//! ten million random ids into one ~400 MB table misses the caches and the
//! TLB on every insert, while [`IdIndex::extend`] sorts a batch by shard
//! first and then fills one ~6 MB table at a time (about 3× faster when an
//! open rebuilds it). Each shard is a seeded hash map of its own.

use super::Map;
use uuid::Uuid;

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

/// Which shard holds `id`. Ids may be sequential or time-ordered (UUID v7),
/// so all 128 bits are mixed; a client choosing ids that crowd one shard
/// only makes that shard a plain (still seeded) hash map.
fn shard(id: &Uuid) -> usize {
    let v = id.as_u128();
    let folded = (v as u64) ^ ((v >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARD_BITS)) as usize
}

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
#[derive(Debug)]
pub struct IdIndex {
    shards: Vec<Map<Uuid, u64>>,
}

impl Default for IdIndex {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Map::default()).collect() }
    }
}

impl IdIndex {
    /// An empty index with room for `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut ids = Self::default();
        ids.reserve(capacity);
        ids
    }

    /// Records that `id` is at `position`.
    pub fn insert(&mut self, id: Uuid, position: u64) {
        if let Some(map) = self.shards.get_mut(shard(&id)) {
            map.insert(id, position);
        }
    }

    /// Records every `(id, position)` pair, shard by shard.
    pub fn extend(&mut self, pairs: impl IntoIterator<Item = (Uuid, u64)>) {
        let pairs = pairs.into_iter();
        let each = pairs.size_hint().0 / SHARDS + 16;
        let mut parts: Vec<Vec<(Uuid, u64)>> = (0..SHARDS).map(|_| Vec::with_capacity(each)).collect();
        for pair in pairs {
            if let Some(part) = parts.get_mut(shard(&pair.0)) {
                part.push(pair);
            }
        }
        for (map, part) in self.shards.iter_mut().zip(parts) {
            map.extend(part);
        }
    }

    /// Moves every id of `other` into this index.
    pub fn absorb(&mut self, other: IdIndex) {
        for (map, theirs) in self.shards.iter_mut().zip(other.shards) {
            map.extend(theirs);
        }
    }

    /// The position of `id`.
    pub fn get(&self, id: &Uuid) -> Option<u64> {
        self.shards.get(shard(id))?.get(id).copied()
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: &Uuid) {
        if let Some(map) = self.shards.get_mut(shard(id)) {
            map.remove(id);
        }
    }

    /// Makes room for `additional` more ids.
    pub fn reserve(&mut self, additional: usize) {
        // Shards fill unevenly by a few percent: leave each some slack.
        let each = additional / SHARDS + additional / SHARDS / 16;
        self.shards.iter_mut().for_each(|map| map.reserve(each));
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.shards.iter().map(Map::len).sum()
    }

    /// True when no id is indexed.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(Map::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_the_shards_and_are_found_again() {
        let mut ids = IdIndex::default();
        ids.extend((0..6_400u128).map(|n| (Uuid::from_u128(n), n as u64 + 1)));
        (0..100u128).for_each(|n| ids.insert(Uuid::from_u128(1 << 100 | n), 0));
        assert_eq!(ids.len(), 6_500);
        assert!(
            ids.shards.iter().all(|m| m.len() > 40),
            "sequential ids spread: {:?}",
            ids.shards.iter().map(Map::len).collect::<Vec<_>>()
        );
        assert_eq!(ids.get(&Uuid::from_u128(4_321)), Some(4_322));
        ids.remove(&Uuid::from_u128(4_321));
        assert_eq!(ids.get(&Uuid::from_u128(4_321)), None);
        let mut other = IdIndex::default();
        other.insert(Uuid::from_u128(99_999), 7);
        ids.absorb(other);
        assert_eq!((ids.get(&Uuid::from_u128(99_999)), ids.len()), (Some(7), 6_500));
    }
}
