//! The file backend's [`Maintenance`]: stats, verify, scavenge and
//! storage size, on a store this process serves or, when there is none,
//! on the data directory itself.

use crate::{FileOptions, FileStore};
use chronicle_core::{Maintenance, Result, ScavengeReport, StoreStats, VerifyOptions, VerifyReport};
use std::path::PathBuf;

/// Maintenance of a file store: over the open `store` when there is one
/// (what `chronicle serve` offers at `/admin/*`), else each operation
/// opens what it needs (stats: read-only; scavenge: the writer, so it
/// fails with [`Error::Locked`](chronicle_core::Error::Locked) while
/// another process holds the store; verify: nothing, it reads the files).
#[derive(Clone, Debug)]
pub struct FileMaintenance {
    dir: PathBuf,
    options: FileOptions,
    store: Option<FileStore>,
}

impl FileMaintenance {
    /// Maintenance of the store in `dir`, opened on demand.
    pub fn at(dir: impl Into<PathBuf>, options: FileOptions) -> Self {
        Self { dir: dir.into(), options, store: None }
    }

    /// Maintenance of an open store.
    pub fn of(store: FileStore, options: FileOptions) -> Self {
        Self { dir: store.dir().to_owned(), options, store: Some(store) }
    }

    fn stats_of(&self, store: &FileStore) -> Result<StoreStats> {
        let s = store.stats()?;
        let mut stats = StoreStats::new();
        stats.insert("data_dir".into(), self.dir.display().to_string().into());
        if let Some(archive) = &self.options.archive {
            stats.insert("archive_dir".into(), archive.dir.display().to_string().into());
        }
        let pairs = [
            ("events", s.events),
            ("segments", s.segments as u64),
            ("bytes", s.bytes),
            ("streams", s.streams as u64),
            ("sealed_segments", s.sealed_segments as u64),
            ("compressed_segments", s.compressed_segments as u64),
            ("sealed_bytes", s.sealed_bytes),
            ("local_bytes", s.bytes - s.archived_bytes),
            ("archived_segments", s.archived_segments as u64),
            ("archived_bytes", s.archived_bytes),
            ("head_position", s.events),
        ];
        for (k, v) in pairs {
            stats.insert(k.into(), v.into());
        }
        Ok(stats)
    }
}

impl Maintenance for FileMaintenance {
    fn backend(&self) -> &'static str {
        "file"
    }

    fn stats(&self) -> Result<StoreStats> {
        match &self.store {
            Some(store) => self.stats_of(store),
            None => self.stats_of(&FileStore::open_read_only(&self.dir, self.options.clone())?),
        }
    }

    fn verify(&self, options: VerifyOptions, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        crate::verify_in(&self.dir, self.options.archive.as_ref().map(|a| a.dir.as_path()), options, progress)
    }

    fn scavenge(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        match &self.store {
            Some(store) => store.scavenge(progress),
            None => FileStore::open(&self.dir, self.options.clone())?.scavenge(progress),
        }
    }

    fn reclaim(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        match &self.store {
            Some(store) => store.reclaim(progress),
            None => FileStore::open(&self.dir, self.options.clone())?.reclaim(progress),
        }
    }

    fn storage_bytes(&self) -> Option<u64> {
        self.store.as_ref().and_then(|s| s.stats().ok()).map(|s| s.bytes)
    }
}
