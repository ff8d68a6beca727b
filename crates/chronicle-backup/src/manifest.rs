//! The backup directory: `manifest.json` and one compressed part per
//! backup run.
//!
//! ```text
//! DIR/manifest.json                  {"format": "chronicle-backup", "version": 1, "parts": [part, …]}
//! DIR/part-000001.ndjson.zst         zstd(one LogItem JSON line per item) — the full backup
//! DIR/part-000002.ndjson.zst         what came after the previous part (--incremental)
//! DIR/part-000003/segments/…, index/… a file-level part (file engine): segments and index files
//!                                    as they are, only those earlier parts do not hold
//! ```
//!
//! A part holds the log items of `(after, through]` in order, then the
//! state (snapshots, checkpoints) as of `through`. Its SHA-256 (of the
//! compressed bytes) is in the manifest; a restore checks every part it
//! needs before writing anything. The manifest is replaced atomically
//! (written aside, fsynced, renamed), after the part it names is durable.

use crate::{BackupError, Result};
use chronicle_core::Timestamp;
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

/// The `format` value of every manifest.
pub const FORMAT: &str = "chronicle-backup";
/// The manifest version this build writes and reads.
pub const VERSION: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// A backup directory's table of contents.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] (a later version is refused).
    pub version: u32,
    /// The parts, oldest first; each starts where the previous ended.
    pub parts: Vec<Part>,
}

/// One backup run's file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// File name inside the directory.
    pub file: String,
    /// The backend the store was on.
    pub source: String,
    /// When the backup started.
    pub created_at: Timestamp,
    /// Positions after this one are in the part…
    pub after: u64,
    /// …up to this one (the store's head when the backup started).
    pub through: u64,
    /// Items written (log and state).
    pub items: u64,
    /// Events and removed positions among them.
    pub events: u64,
    /// Commit time of the part's first event, if it has any.
    pub first_recorded_at: Option<Timestamp>,
    /// Commit time of the part's last event, if it has any.
    pub last_recorded_at: Option<Timestamp>,
    /// Size of the file (of the files it copied, for a file-level part).
    pub bytes: u64,
    /// SHA-256 of the file, hex (empty for a file-level part: each file has its own).
    pub sha256: String,
    /// A file-level part (the file engine's segments and index files, in
    /// the directory `file`): the files it copied. Files an earlier part
    /// holds unchanged are not copied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<PartFile>>,
}

/// One file of a file-level part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartFile {
    /// Path inside the part's directory (`segments/NNNNNNNN.seg`, `index/NNNNNNNN.idx`).
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self { format: FORMAT.into(), version: VERSION, parts: Vec::new() }
    }

    /// The manifest in `dir`, `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(MANIFEST);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BackupError::io(format!("reading {}", path.display()), e)),
        };
        let not = |reason: String| BackupError::NotABackup { dir: dir.to_owned(), reason };
        let manifest: Self = serde_json::from_slice(&text).map_err(|e| not(format!("{MANIFEST}: {e}")))?;
        if manifest.format != FORMAT || manifest.version > VERSION {
            return Err(not(format!("{MANIFEST} says format {:?} version {}", manifest.format, manifest.version)));
        }
        for pair in manifest.parts.windows(2) {
            if let [a, b] = pair
                && b.after != a.through
            {
                return Err(not(format!("{} starts after {} but {} ends at {}", b.file, b.after, a.file, a.through)));
            }
        }
        Ok(Some(manifest))
    }

    /// The manifest in `dir`, or [`BackupError::NotABackup`].
    pub fn require(dir: &Path) -> Result<Self> {
        Self::load(dir)?.ok_or_else(|| BackupError::NotABackup { dir: dir.to_owned(), reason: format!("no {MANIFEST}") })
    }

    /// Replaces the manifest in `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| BackupError::io("encoding the manifest", e.into()))?;
        let (path, aside) = (dir.join(MANIFEST), dir.join(format!("{MANIFEST}.tmp")));
        write_durably(&aside, &text)?;
        fs::rename(&aside, &path).map_err(|e| BackupError::io(format!("renaming {}", aside.display()), e))?;
        sync_dir(dir)
    }

    /// The last position the backup holds (0 when empty).
    pub fn through(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.through)
    }

    /// The name of the next part's file.
    pub fn next_file(&self) -> String {
        format!("part-{:06}.ndjson.zst", self.parts.len() + 1)
    }

    /// The name of the next part's directory (a file-level part).
    pub fn next_dir(&self) -> String {
        format!("part-{:06}", self.parts.len() + 1)
    }

    /// The SHA-256 of the latest copy of file `name` the parts hold.
    pub fn held(&self, name: &str) -> Option<String> {
        self.parts.iter().rev().filter_map(|p| p.files.as_ref()).flatten().find(|f| f.name == name).map(|f| f.sha256.clone())
    }

    /// Commit time of the backup's first event.
    pub fn first_recorded_at(&self) -> Option<Timestamp> {
        self.parts.iter().find_map(|p| p.first_recorded_at)
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

/// The path of a part.
pub fn part_path(dir: &Path, part: &Part) -> PathBuf {
    dir.join(&part.file)
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e| BackupError::io(format!("writing {}", path.display()), e);
    let mut file = fs::File::create(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// fsyncs a directory (so a rename in it is durable).
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| BackupError::io(format!("syncing {}", dir.display()), e))
}
