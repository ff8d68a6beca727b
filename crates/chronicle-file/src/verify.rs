//! `verify`: a read-only check of a whole store.

use crate::{
    format::Record,
    io::read_segment,
    io::{OsStorage, Storage},
    scan::{ScanEnd, check_segment_no, scan_segment},
};
use chronicle_core::{Error, Result, VerifyOptions, VerifyReport};
use std::{collections::HashMap, path::Path};

/// Verifies every segment under `dir` without changing anything: framing
/// and checksums of all committed data, gapless positions, consecutive
/// versions per stream, segment numbering. A fault is an
/// [`Error::Corrupted`] naming the file and offset. `progress` is called
/// with the bytes checked so far.
pub fn verify(dir: &Path, progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
    verify_with(dir, VerifyOptions::default(), progress)
}

/// [`verify`], and with [`VerifyOptions::rebuild_index`] rewrites every
/// index file from the log. Without it, an index file that claims to
/// describe its segment but differs from it is [`Error::Corrupted`].
pub fn verify_with(dir: &Path, options: VerifyOptions, progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
    verify_in(dir, None, options, progress)
}

/// [`verify_with`] of a store whose sealed segments may have moved to
/// `archive` (`[file] archive_dir`).
pub fn verify_in(dir: &Path, archive: Option<&Path>, options: VerifyOptions, mut progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
    if !dir.join("segments").is_dir() {
        return Err(Error::invalid("data_dir", format!("no Chronicle store at {}", dir.display())));
    }
    let _lock = if options.rebuild_index { Some(crate::store::lock_dir(dir)?) } else { None };
    let storage =
        OsStorage::new(dir).and_then(|s| s.with_archive(archive)).map_err(|e| Error::io(format!("opening {}", dir.display()), e))?;
    let list = storage.list().map_err(|e| Error::io("listing segments", e))?;
    let total: u64 = list.iter().filter_map(|&no| std::fs::metadata(storage.describe(no)).ok()).map(|m| m.len()).sum();
    let mut report = VerifyReport { segments: list.len(), ..VerifyReport::default() };
    let mut versions: HashMap<String, u64> = HashMap::new();
    for (i, &no) in list.iter().enumerate() {
        let name = storage.describe(no);
        let file = storage.open(no).map_err(|e| Error::io(format!("opening {name}"), e))?;
        let buf = read_segment(&storage, no, &*file)?;
        let is_last = i + 1 == list.len();
        if is_last && buf.len() < crate::format::SEGMENT_HEADER_LEN {
            report.torn_tail = Some((name, 0, buf.len() as u64));
            break;
        }
        let mut check = |block: &crate::format::BlockHeader, records: Vec<crate::scan::Scanned<'_>>| {
            report.blocks += 1;
            for s in records {
                report.records += 1;
                let bad = |reason: String| Error::Corrupted { location: format!("{name} at offset {}", s.offset), reason };
                let mut next = |position: u64, stream: &str, version: u64| {
                    if position != report.events + 1 || block.first_position > position {
                        return Err(bad(format!("position {position} follows {}", report.events)));
                    }
                    let v = versions.entry(stream.to_owned()).or_default();
                    if version != *v + 1 {
                        return Err(bad(format!("stream {stream} version {version} follows {v}")));
                    }
                    *v = version;
                    report.events += 1;
                    Ok(())
                };
                match &s.record {
                    Record::Event(e) => next(e.global_position, e.stream, e.version)?,
                    Record::Removed(run) => {
                        run.events().try_for_each(|(position, stream, version)| next(position, stream, version))?;
                        report.removed += run.items.len() as u64;
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        let (header, end) = if is_last {
            scan_segment(&buf, &name, true, check)?
        } else {
            let (header, index) = crate::index_files::build(&buf, &name, &mut check)?;
            check_index(&storage, no, &index, options, &mut report)?;
            (header, ScanEnd::default())
        };
        check_segment_no(&header, no, &name)?;
        if let Some(at) = end.torn_at {
            report.torn_tail = Some((name.clone(), at, buf.len() as u64 - at));
        }
        report.bytes += buf.len() as u64;
        progress(report.bytes, total);
    }
    report.streams = versions.len();
    Ok(report)
}

/// Compares the index file of sealed segment `no` with `built` (or
/// replaces it, with `rebuild_index`).
fn check_index(storage: &OsStorage, no: u32, built: &[u8], options: VerifyOptions, report: &mut VerifyReport) -> Result<()> {
    let name = storage.describe(no);
    if options.rebuild_index {
        storage.write_index(no, built).map_err(|e| Error::io(format!("writing the index of {name}"), e))?;
        report.indexed_segments += 1;
        return Ok(());
    }
    let mut found = Vec::new();
    match storage.read_index(no, &mut found).map_err(|e| Error::io(format!("reading the index of {name}"), e))?.then_some(found) {
        Some(found) if found == built => report.indexed_segments += 1,
        Some(found) => {
            // Another format (written by an earlier build) saying the same is as good.
            let claims = crate::format::decode_index(&found).ok();
            let expected = crate::format::decode_index(built).ok();
            if claims.is_some() && claims == expected {
                report.indexed_segments += 1;
                return Ok(());
            }
            let header = |index: Option<(crate::format::IndexHeader, _)>| index.map(|(h, _)| h);
            if claims.is_some() && header(claims) == header(expected) {
                return Err(Error::Corrupted {
                    location: format!("the index file of {name}"),
                    reason: "it does not match its segment; run `chronicle verify --rebuild-index`".into(),
                });
            }
            report.unindexed_segments += 1; // damaged or stale: ignored by opens
        }
        None => report.unindexed_segments += 1,
    }
    Ok(())
}
