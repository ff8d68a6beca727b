//! `backup`: a lossless backup of a loaded file store (file-level, and in
//! the backend-neutral item format) next to a raw copy of its segment and
//! index files (the same bytes' floor: `cp` and `fsync`); a restore of that backup into an empty store next to the same
//! run's batched appends; with `CHRONICLE_DATABASE_URL`, a migration of the
//! store into PostgreSQL next to a plain multi-row INSERT of the same
//! number of rows.

use super::{Target, report::BenchResult};
use crate::cli::{CliError, CliResult, stats::progress_bar};
use chronicle::{EventStore, ExpectedVersion, StreamId};
use chronicle_backup::{BackupOptions, CopyOptions, RestoreOptions};
use std::{path::Path, sync::Arc, time::Instant};

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("backup bench: {e}"))
}

fn quiet() -> chronicle_backup::Progress {
    Box::new(|_, _| {})
}

/// Copies every file under `from` (segments, index files) into `to` and
/// fsyncs each: what a file-level copy of the store costs.
fn raw_copy(from: &Path, to: &Path) -> CliResult<u64> {
    let mut bytes = 0;
    for sub in ["segments", "index"] {
        let (src, dst) = (from.join(sub), to.join(sub));
        std::fs::create_dir_all(&dst).map_err(fail)?;
        if !src.is_dir() {
            continue; // no index files yet (nothing sealed)
        }
        for entry in std::fs::read_dir(&src).map_err(fail)? {
            let path = entry.map_err(fail)?.path();
            let target = dst.join(path.file_name().unwrap_or_default());
            bytes += std::fs::copy(&path, &target).map_err(fail)?;
            std::fs::File::open(&target).and_then(|f| f.sync_all()).map_err(fail)?;
        }
    }
    Ok(bytes)
}

fn row(workload: &'static str, target: &Target, n: u64, secs: f64) -> BenchResult {
    BenchResult { workload, backend: target.backend, events: Some(n), events_per_sec: Some(n as f64 / secs), ..BenchResult::default() }
}

pub(crate) async fn run(target: &Target, quick: bool, events: Option<u64>) -> CliResult<Vec<BenchResult>> {
    if target.backend != "file" {
        return Err(CliError::Usage("bench --workload backup measures the file engine (--backend file)".into()));
    }
    let n = events.unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let opened = target.store("backup-source").await?;
    let store = opened.store.clone();
    let started = Instant::now();
    for chunk in 0..n.div_ceil(1000) {
        let batch = (chunk * 1000..((chunk + 1) * 1000).min(n)).map(|i| super::append::bench_event(i, 300)).collect();
        store.append(&StreamId::new(format!("backup-{}", chunk % 100))?, ExpectedVersion::Any, batch).await?;
    }
    let append_rate = n as f64 / started.elapsed().as_secs_f64();
    drop(opened);
    // The store as it is on disk, read-only (a running server could keep writing).
    let source: Arc<dyn EventStore> = chronicle::open_read_only(&{
        let mut c = target.config.clone();
        c.data_dir = target.dir("backup-source");
        c
    })
    .await?;

    let bar = progress_bar(0, "raw copy of the segment files");
    let started = Instant::now();
    let bytes = raw_copy(&target.dir("backup-source"), &target.dir("raw-copy"))?;
    let copy_secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // The file engine's backup: its files as they are, checksummed.
    let dir = target.dir("backup-dir");
    let options = BackupOptions { data_dir: Some((target.dir("backup-source"), None)), ..BackupOptions::default() };
    let started = Instant::now();
    let part = chronicle_backup::backup(source.clone(), &dir, options, quiet()).await?;
    let backup = row("backup", target, n, started.elapsed().as_secs_f64()).baseline(
        format!("raw copy + fsync of the segment and index files, same run ({bytes} bytes; the backup copied {} bytes)", part.bytes),
        n as f64 / copy_secs,
    );
    // The backend-neutral format other backends write (JSON lines, zstd).
    let started = Instant::now();
    let items = chronicle_backup::backup(source.clone(), &target.dir("backup-items"), BackupOptions::default(), quiet()).await?;
    let neutral = row("backup-items", target, n, started.elapsed().as_secs_f64())
        .baseline(format!("the same raw copy ({} bytes of compressed JSON lines)", items.bytes), n as f64 / copy_secs);

    let restored = target.store("backup-restored").await?;
    let started = Instant::now();
    chronicle_backup::restore(&dir, restored.store.clone(), RestoreOptions::default(), quiet()).await?;
    let restore = row("restore", target, n, started.elapsed().as_secs_f64())
        .baseline("appends of 1,000-event batches into the source, same run", append_rate);
    let mut rows = vec![backup, neutral, restore];

    if let Ok(url) = target.database_url() {
        let pg = chronicle::PgStore::connect_temporary(&url, target.config.pipeline()).await?;
        let started = Instant::now();
        chronicle_backup::copy(&*source, &pg, CopyOptions::default(), quiet()).await?;
        let migrate_secs = started.elapsed().as_secs_f64();
        let insert = super::pg::multi_row_insert(&url, 1, 1000, n, 300).await?;
        rows.push(
            row("migrate-postgres", target, n, migrate_secs)
                .baseline("plain multi-row INSERT of 1,000 rows per statement, 1 writer, same run", insert),
        );
    }
    Ok(rows)
}
