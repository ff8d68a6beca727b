//! File-level parts: a backup of the file engine copies its sealed
//! segments as they are (immutable; an incremental part copies only those
//! no earlier part holds unchanged) plus the tail segment up to its last
//! committed block. A restore lays the parts it needs over each other in a
//! directory of hard links, opens that as a read-only file store and
//! imports its export — into any backend, to any point in time.

use crate::{
    BackupError, Result,
    manifest::{Manifest, Part, PartFile},
    parts::new_part,
};
use chronicle_core::{EventStore, ExportRange, LogItem, Timestamp};
use std::path::{Path, PathBuf};

/// Copies the file store in `data_dir` into the next part's directory of
/// `dir`. The manifest records the commit time of the part's last event
/// (from the tail segment); the first event's, which only a point-in-time
/// restore needs, is read from the restored files then.
pub(crate) async fn copy_part(manifest: &Manifest, dir: &Path, data: &(PathBuf, Option<PathBuf>), source: &str) -> Result<Part> {
    let name = manifest.next_dir();
    let (part_dir, (from, archive), holds) = (dir.join(&name), data.clone(), manifest.clone());
    let copy = tokio::task::spawn_blocking(move || {
        let copied = chronicle_file::copy_files(&from, archive.as_deref(), &part_dir, &|n| holds.held(n));
        if copied.is_err() {
            let _ = std::fs::remove_dir_all(&part_dir);
        }
        copied
    })
    .await
    .map_err(|e| BackupError::io("the copying thread", std::io::Error::other(e.to_string())))??;
    let after = manifest.through();
    if copy.through < after {
        let reason = format!("the store ends at position {} but the backup already reaches {after}: it is another store", copy.through);
        return Err(BackupError::OutOfRange(reason));
    }
    let mut part = new_part(name, source, after, copy.through);
    part.events = copy.through - after;
    part.bytes = copy.copied.iter().map(|f| f.bytes).sum();
    part.files = Some(copy.copied.into_iter().map(|f| PartFile { name: f.name, bytes: f.bytes, sha256: f.sha256 }).collect());
    part.last_recorded_at = copy.last_recorded_at.filter(|_| part.events > 0);
    Ok(part)
}

/// The commit time of the first event of `store` (none when it has none).
pub(crate) async fn first_recorded_at(store: &dyn EventStore) -> Result<Option<Timestamp>> {
    let head = store.head().await?;
    let mut reader = store.export_log(ExportRange { after: 0, through: head }).await?;
    while let Some(item) = reader.next().await {
        if let LogItem::Event(e) = item? {
            return Ok(Some(e.recorded_at));
        }
    }
    Ok(None)
}

/// A store directory assembled from file-level parts (later parts' files
/// over earlier ones), removed when dropped.
pub(crate) struct Assembled(PathBuf);

impl Assembled {
    /// Lays `parts` (in order, those with files) over each other in a
    /// fresh directory inside `dir`, by hard links (copies where links fail).
    pub(crate) fn new(dir: &Path, parts: &[&Part]) -> Result<Self> {
        let root = dir.join(format!(".restore-{}", uuid::Uuid::now_v7().simple()));
        let assembled = Self(root.clone());
        for sub in ["segments", "index"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| BackupError::io(format!("creating {}", root.display()), e))?;
        }
        for part in parts {
            for f in part.files.iter().flatten() {
                let (from, to) = (dir.join(&part.file).join(&f.name), root.join(&f.name));
                let _ = std::fs::remove_file(&to);
                if std::fs::hard_link(&from, &to).is_err() {
                    std::fs::copy(&from, &to).map_err(|e| BackupError::io(format!("copying {}", from.display()), e))?;
                }
            }
        }
        Ok(assembled)
    }

    /// The directory, to open as a read-only file store.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Assembled {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
