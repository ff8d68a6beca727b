//! # chronicle-file
//!
//! The embedded file engine: Chronicle's default backend.
//!
//! - An append-only log of segment files (`DIR/segments/NNNNNNNN.seg`),
//!   each with a checksummed header carrying the format version. Every
//!   record is framed with its length and CRC32C; records are grouped in
//!   blocks, one per group commit, and a block is committed only when its
//!   checksummed header and all its records are intact — so an append is
//!   all-or-nothing after a crash.
//! - One writer thread does group commit: it takes whatever is queued (up
//!   to `max_batch_events`, never splitting an append), writes it as one
//!   block and fdatasyncs once; appends return only after that.
//! - Opening rebuilds the in-memory index from the log, truncates a torn
//!   tail and refuses to open when committed data fails a checksum.
//! - Readers use positional reads concurrently with the writer and see only
//!   published (durable) positions; subscribers are woken on commit.
//!
//! See `docs/ARCHITECTURE.md` for the format and the data paths.
//!
//! ```
//! use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
//! use chronicle_file::{FileOptions, FileStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> chronicle_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let s = StreamId::new("order-1")?;
//! {
//!     let store = FileStore::open(dir.path(), FileOptions::default())?;
//!     store.append(&s, ExpectedVersion::NoStream, vec![NewEvent::raw("Placed", &b"{\"n\":1}"[..])]).await?;
//! }
//! let reopened = FileStore::open(dir.path(), FileOptions::default())?;
//! assert_eq!(reopened.read_stream(&s, ReadStream::forward()).await?.len(), 1);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod archive;
mod block;
mod compact;
mod copy_files;
mod export;
pub mod fault;
mod follower;
pub mod format;
mod index_files;
mod io;
mod prefault;
mod reader;
mod rebuild;
mod recovery;
mod scan;
mod scavenge;
mod shared;
mod store;
mod verify;
mod writer;

pub use archive::ArchiveOptions;
pub use copy_files::{CopiedFile, FilesCopy, copy_files, file_sha256};
pub use io::{OsStorage, SegmentFile, Storage};
mod maintenance;

pub use chronicle_core::{ScavengeReport, VerifyOptions, VerifyReport};
pub use maintenance::FileMaintenance;
pub use store::{FileStats, FileStore};
pub use verify::{verify, verify_in, verify_with};

use chronicle_core::AppendPipeline;

/// Options of the file engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// fdatasync every block before acknowledging (default true). When
    /// false, acknowledged appends survive a process crash but not a
    /// power loss.
    pub sync: bool,
    /// Most events per group commit (default 100); one larger append is
    /// committed whole.
    pub max_batch_events: usize,
    /// Seal a segment once it reaches this size (default 64 MiB).
    pub segment_size_bytes: u64,
    /// Compress sealed segments (default true): a background thread
    /// rewrites each segment as zstd frames once it is sealed.
    pub compress_sealed: bool,
    /// What every append goes through: validation limits and hooks.
    pub pipeline: AppendPipeline,
    /// Move sealed segments to another directory once old enough (default: never).
    pub archive: Option<ArchiveOptions>,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            sync: true,
            max_batch_events: 100,
            segment_size_bytes: 64 * 1024 * 1024,
            compress_sealed: true,
            pipeline: AppendPipeline::default(),
            archive: None,
        }
    }
}
