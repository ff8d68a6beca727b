//! Physical baselines on the same disk: sequential write + fdatasync,
//! sequential read, positional reads.

use crate::cli::{CliError, CliResult};
use std::{
    io::{Read, Write},
    os::unix::fs::FileExt,
    path::Path,
    time::Instant,
};

fn io(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::Usage(format!("raw baseline on {}: {e}", path.display()))
}

/// Writes `events` records of `record_bytes` each, fdatasync after every
/// `batch` records; returns records per second.
pub(crate) fn write_fsync(path: &Path, record_bytes: usize, batch: usize, events: u64) -> CliResult<f64> {
    let mut file = std::fs::File::create(path).map_err(io(path))?;
    let chunk = vec![0x5Au8; record_bytes.max(1) * batch];
    let rounds = (events / batch as u64).max(1);
    let start = Instant::now();
    for _ in 0..rounds {
        file.write_all(&chunk).map_err(io(path))?;
        file.sync_data().map_err(io(path))?;
    }
    let rate = (rounds * batch as u64) as f64 / start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(path).map_err(io(path))?;
    Ok(rate)
}

/// Reads every file in `dir` sequentially (1 MiB reads); returns seconds.
pub(crate) fn read_dir_sequential(dir: &Path) -> CliResult<f64> {
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        while file.read(&mut buf).map_err(io(&path))? > 0 {}
    }
    Ok(start.elapsed().as_secs_f64())
}

/// `reads` positional reads of `len` bytes at pseudo-random offsets of the
/// largest file in `dir`; returns reads per second.
pub(crate) fn random_reads(dir: &Path, len: usize, reads: u64) -> CliResult<f64> {
    let mut largest = None;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let size = std::fs::metadata(&path).map_err(io(&path))?.len();
        if largest.as_ref().is_none_or(|(s, _)| size > *s) {
            largest = Some((size, path));
        }
    }
    let Some((size, path)) = largest else { return Err(CliError::Usage(format!("no files in {}", dir.display()))) };
    let file = std::fs::File::open(&path).map_err(io(&path))?;
    let mut buf = vec![0u8; len];
    let span = size.saturating_sub(len as u64).max(1);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let start = Instant::now();
    for _ in 0..reads {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = file.read_at(&mut buf, x % span).map_err(io(&path))?;
        std::hint::black_box(n);
    }
    Ok(reads as f64 / start.elapsed().as_secs_f64())
}
