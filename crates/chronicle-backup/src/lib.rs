//! # chronicle-backup
//!
//! Lossless backup, point-in-time restore and verified migration between
//! backends, over [`EventStore::export_log`](chronicle_core::EventStore::export_log)
//! and [`EventStore::import_log`](chronicle_core::EventStore::import_log):
//! whatever the backend, every event keeps its position, version, id,
//! commit time and bytes, and stream settings, soft deletes, tombstones,
//! removed positions, snapshots and checkpoints come along. Key material
//! is never part of a store's export.
//!
//! - [`backup`] writes a part into a backup directory ([`manifest`]
//!   describes the layout); `incremental` adds what came since.
//! - [`restore`] reads it back into an empty store, whole or up to a
//!   position or a time ([`Until`]).
//! - [`copy`] copies one store into another (resumable), [`verify`]
//!   compares them item by item.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod backup;
mod copy;
mod error;
mod files;
pub mod manifest;
mod parts;
mod pit;
mod restore;

pub use backup::{BackupOptions, Progress, backup};
pub use copy::{CopyOptions, CopyReport, Transform, VerifyReport, copy, copy_through, unchanged, verify, verify_through};
pub use error::{BackupError, Result};
pub use manifest::{Manifest, Part, PartFile};
pub use pit::Until;
pub use restore::{RestoreOptions, RestoreReport, ensure_empty, restore};
