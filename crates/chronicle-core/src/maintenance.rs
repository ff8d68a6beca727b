//! The maintenance capability: operator work on a store's storage
//! (stats, verify, scavenge, storage size), offered by the backends that
//! can do it. A backend without an operation answers
//! [`Error::Unsupported`], so callers never branch on the backend kind.

use crate::{Error, Result};
use std::fmt;

/// Size and shape figures of a store, by name (`events`, `segments`,
/// `bytes`, …; what a backend knows).
pub type StoreStats = serde_json::Map<String, serde_json::Value>;

/// What `verify` does besides checking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Rewrite the index file of every sealed segment from the log (needs
    /// the directory: fails while another process has the store open).
    pub rebuild_index: bool,
}

/// What `verify` found in a store that passed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Committed blocks checked.
    pub blocks: u64,
    /// Committed records checked.
    pub records: u64,
    /// Events (positions 1..=events, gapless), including removed ones.
    pub events: u64,
    /// Events a scavenge removed (only their position and version remain).
    pub removed: u64,
    /// Streams seen.
    pub streams: usize,
    /// Bytes checked.
    pub bytes: u64,
    /// An unacknowledged torn tail (file, offset, bytes); the next open
    /// truncates it. Not an error.
    pub torn_tail: Option<(String, u64, u64)>,
    /// Sealed segments whose index file matches them exactly (or was
    /// just rewritten, with `rebuild_index`).
    pub indexed_segments: usize,
    /// Sealed segments without a usable index file (missing, or describing
    /// an older version of the segment): the next writable open writes them.
    pub unindexed_segments: usize,
}

/// What a scavenge did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScavengeReport {
    /// Sealed segments looked at (the segment being appended to is never rewritten).
    pub sealed_segments: usize,
    /// Segments rewritten.
    pub rewritten: usize,
    /// Segments whose rewrite was abandoned because a retention setting
    /// was relaxed while it ran (run the scavenge again).
    pub abandoned: usize,
    /// Events removed (invisible forever: deleted, tombstoned or outside
    /// their stream's retention).
    pub events_removed: u64,
    /// Superseded snapshots dropped.
    pub snapshots_dropped: u64,
    /// Bytes of the sealed segments before.
    pub bytes_before: u64,
    /// Bytes of the sealed segments after.
    pub bytes_after: u64,
    /// Bytes freed: what the rewritten files shrank by (file backend), or
    /// the size of the deleted rows, which PostgreSQL reuses for new rows
    /// once vacuumed (the table files themselves do not shrink).
    pub bytes_freed: u64,
}

/// Operator work on a store's storage. Methods block (they read or
/// rewrite files): call them from a blocking thread in async code.
///
/// ```
/// use chronicle_core::{Error, Maintenance};
/// #[derive(Debug)]
/// struct Nothing;
/// impl Maintenance for Nothing {
///     fn backend(&self) -> &'static str { "memory" }
/// }
/// let err = Nothing.scavenge(&mut |_, _| {}).unwrap_err();
/// assert!(matches!(err, Error::Unsupported { .. }));
/// assert_eq!(err.to_string(), "scavenge is unsupported by the memory backend (only the file backend rewrites its storage)");
/// ```
pub trait Maintenance: Send + Sync + fmt::Debug {
    /// The backend's name (`file`, `memory`, `postgres`, `remote`).
    fn backend(&self) -> &'static str;

    /// Size and shape figures (none by default).
    fn stats(&self) -> Result<StoreStats> {
        Ok(StoreStats::new())
    }

    /// Checks everything stored; `progress(done, total)`.
    fn verify(&self, _options: VerifyOptions, _progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        Err(self.unsupported("verify", " (only the file backend's files are checked)"))
    }

    /// Rewrites storage without what deletes and retention hid for good;
    /// `progress(done, total)`.
    fn scavenge(&self, _progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        Err(self.unsupported("scavenge", " (only the file backend rewrites its storage)"))
    }

    /// Reclaims the space of what became hidden for good since the last
    /// reclaim or scavenge (what a retention pass just cut), touching only
    /// the storage that holds it; `progress(done, total)`. Backends whose
    /// scavenge is already that selective answer with a scavenge.
    fn reclaim(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        self.scavenge(progress)
    }

    /// Bytes the store keeps on disk, when it knows.
    fn storage_bytes(&self) -> Option<u64> {
        None
    }

    /// The error of an operation this backend does not offer.
    fn unsupported(&self, operation: &'static str, hint: &'static str) -> Error {
        Error::Unsupported { operation: operation.into(), backend: self.backend().into(), hint: hint.into() }
    }
}

/// The maintenance of a backend that offers none of the operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMaintenance(pub &'static str);

impl Maintenance for NoMaintenance {
    fn backend(&self) -> &'static str {
        self.0
    }
}
