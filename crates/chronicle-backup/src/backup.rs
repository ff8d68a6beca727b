//! `backup`: a consistent copy of a running store at one position, into a
//! backup directory (a new part; `incremental` extends the previous one).

use crate::{
    BackupError, Result,
    manifest::{Manifest, Part},
    parts::{PartWriter, new_part},
};
use chronicle_core::{EventStore, ExportRange, LogReader};
use std::path::{Path, PathBuf};

/// How to back up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupOptions {
    /// Extend the backup already in the directory with what came after it
    /// (a full backup when the directory holds none).
    pub incremental: bool,
    /// The source's backend name, recorded in the manifest.
    pub source: String,
    /// The file engine's data directory (and archive directory, if it
    /// archives): copy its segment and index files as they are (a
    /// file-level part) instead of exporting items. Works next to a
    /// running writer.
    pub data_dir: Option<(PathBuf, Option<PathBuf>)>,
}

/// Progress of a long operation: positions done of the total.
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

/// Backs `store` up into `dir` (created if missing) and returns the new
/// part's manifest entry. The part holds everything stored through the
/// store's head when the backup started — the store keeps serving
/// meanwhile.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chronicle_backup::{BackupOptions, RestoreOptions, backup, restore};
/// use chronicle_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
/// use chronicle_memory::MemoryStore;
/// use std::sync::Arc;
///
/// let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
/// store.append(&StreamId::new("order-1")?, ExpectedVersion::NoStream, vec![NewEvent::raw("Placed", &b"{}"[..])]).await?;
/// let dir = tempfile::tempdir()?;
/// let part = backup(store.clone(), dir.path(), BackupOptions::default(), Box::new(|_, _| {})).await?;
/// assert_eq!((part.after, part.through, part.events), (0, 1, 1));
///
/// let copy: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
/// let report = restore(dir.path(), copy.clone(), RestoreOptions::default(), Box::new(|_, _| {})).await?;
/// assert_eq!(report.head, 1);
/// # Ok(())
/// # }
/// ```
pub async fn backup(store: std::sync::Arc<dyn EventStore>, dir: &Path, options: BackupOptions, progress: Progress) -> Result<Part> {
    std::fs::create_dir_all(dir).map_err(|e| BackupError::io(format!("creating {}", dir.display()), e))?;
    let manifest = match Manifest::load(dir)? {
        Some(_) if !options.incremental => return Err(BackupError::AlreadyBackedUp { dir: dir.to_owned() }),
        Some(m) => m,
        None if holds_files(dir)? => {
            let reason = "it is not empty and has no manifest.json".into();
            return Err(BackupError::NotABackup { dir: dir.to_owned(), reason });
        }
        None => Manifest::new(),
    };
    if let Some(last) = manifest.parts.last()
        && last.files.is_some() != options.data_dir.is_some()
    {
        let held = if last.files.is_some() { "file-level" } else { "item" };
        return Err(BackupError::Mixed { dir: dir.to_owned(), held });
    }
    let (after, through) = (manifest.through(), store.head().await?);
    if after > through {
        return Err(BackupError::OutOfRange(format!(
            "the backup in {} reaches position {after} but the store's head is {through}: it is a backup of another store",
            dir.display()
        )));
    }
    if let Some(data_dir) = &options.data_dir {
        let part = crate::files::copy_part(&manifest, dir, data_dir, &options.source).await?;
        let mut manifest = manifest;
        manifest.parts.push(part.clone());
        manifest.save(dir)?;
        return Ok(part);
    }
    let reader = store.export_log(ExportRange { after, through }).await?;
    let part = new_part(manifest.next_file(), &options.source, after, through);
    let dir_owned: PathBuf = dir.to_owned();
    let part = tokio::task::spawn_blocking(move || write_part(&dir_owned, part, reader, progress))
        .await
        .map_err(|e| BackupError::io("the backup thread", std::io::Error::other(e.to_string())))??;
    let mut manifest = manifest;
    manifest.parts.push(part.clone());
    manifest.save(dir)?;
    Ok(part)
}

fn holds_files(dir: &Path) -> Result<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| BackupError::io(format!("listing {}", dir.display()), e))?;
    Ok(entries.next().is_some())
}

fn write_part(dir: &Path, part: Part, mut reader: LogReader, mut progress: Progress) -> Result<Part> {
    let (after, total) = (part.after, part.through - part.after);
    let mut writer = PartWriter::create(dir, part)?;
    let written = (|| {
        while let Some(item) = reader.blocking_next() {
            let item = item?;
            if let Some(position) = item.position() {
                progress(position - after, total);
            }
            writer.write(&item)?;
        }
        Ok::<_, BackupError>(())
    })();
    match written {
        Ok(()) => writer.finish(),
        Err(e) => {
            writer.abandon();
            Err(e)
        }
    }
}
