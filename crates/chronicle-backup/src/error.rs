//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong in a backup, restore, copy or verification. Each
/// variant is something a caller (the CLI, a test) can act on.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The directory holds no backup manifest (or one of another kind).
    #[error("{} is not a Chronicle backup ({reason})", dir.display())]
    NotABackup {
        /// The directory.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A file of the backup fails its checksum or cannot be decoded.
    #[error("backup file {} is damaged: {reason}", file.display())]
    Damaged {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A full backup into a directory that already holds one.
    #[error("{} already holds a backup: add --incremental to extend it, or choose an empty directory", dir.display())]
    AlreadyBackedUp {
        /// The directory.
        dir: PathBuf,
    },
    /// A backup into a directory that holds parts of the other kind
    /// (file-level parts of the file engine, item parts of other backends).
    #[error("{} holds a backup of another kind ({held} parts): back this store up into another directory", dir.display())]
    Mixed {
        /// The directory.
        dir: PathBuf,
        /// What it holds (`file-level` or `item`).
        held: &'static str,
    },
    /// A restore into a store that holds something.
    #[error("the target store is not empty (head {head}{more}): restore only into an empty store")]
    TargetNotEmpty {
        /// The target's head.
        head: u64,
        /// What else it holds, for the message.
        more: String,
    },
    /// A point in time the backup cannot restore to.
    #[error("{0}")]
    OutOfRange(String),
    /// A copy whose target holds events the source does not have at the
    /// same positions.
    #[error("the target diverges from the source at position {position}: {reason}")]
    Diverged {
        /// The first position that differs.
        position: u64,
        /// How.
        reason: String,
    },
    /// Verification found a difference.
    #[error("verification failed at {at}: source has {source_item}, target has {target_item}")]
    Mismatch {
        /// Where (`position N`, `stream change after position N`, `snapshot of S`, `checkpoint C`).
        at: String,
        /// The source's item (summary).
        source_item: String,
        /// The target's item (summary).
        target_item: String,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
    /// A file operation failed.
    #[error("{operation}: {source}")]
    Io {
        /// What was being done (names the file).
        operation: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl BackupError {
    /// Shorthand for [`BackupError::Io`].
    pub fn io(operation: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { operation: operation.into(), source }
    }
}

/// The crate's result type.
pub type Result<T, E = BackupError> = std::result::Result<T, E>;
