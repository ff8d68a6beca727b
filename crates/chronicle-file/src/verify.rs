//! `verify`: a read-only check of a whole store.

use crate::{
    format::Record,
    io::{OsStorage, Storage},
    recovery::read_segment,
    scan::scan_segment,
};
use chronicle_core::{Error, Result};
use std::{collections::HashMap, path::Path};

/// What `verify` found in a store that passed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Committed blocks checked.
    pub blocks: u64,
    /// Committed records checked.
    pub records: u64,
    /// Events (positions 1..=events, gapless).
    pub events: u64,
    /// Streams seen.
    pub streams: usize,
    /// Bytes checked.
    pub bytes: u64,
    /// An unacknowledged torn tail (file, offset, bytes); the next open
    /// truncates it. Not an error.
    pub torn_tail: Option<(String, u64, u64)>,
}

/// Verifies every segment under `dir` without changing anything: framing
/// and checksums of all committed data, gapless positions, consecutive
/// versions per stream, segment numbering. A fault is an
/// [`Error::Corrupted`] naming the file and offset. `progress` is called
/// with the bytes checked so far.
pub fn verify(dir: &Path, mut progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
    if !dir.join("segments").is_dir() {
        return Err(Error::invalid("data_dir", format!("no Chronicle store at {}", dir.display())));
    }
    let storage = OsStorage::new(dir).map_err(|e| Error::io(format!("opening {}", dir.display()), e))?;
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
        let (header, end) = scan_segment(&buf, &name, is_last, |block, records| {
            report.blocks += 1;
            for s in records {
                report.records += 1;
                let bad = |reason: String| Error::Corrupted { location: format!("{name} at offset {}", s.offset), reason };
                if let Record::Event(e) = s.record {
                    if e.global_position != report.events + 1 || (block.first_position > e.global_position) {
                        return Err(bad(format!("position {} follows {}", e.global_position, report.events)));
                    }
                    let v = versions.entry(e.stream.to_owned()).or_default();
                    if e.version != *v + 1 {
                        return Err(bad(format!("stream {} version {} follows {}", e.stream, e.version, v)));
                    }
                    *v = e.version;
                    report.events += 1;
                }
            }
            Ok(())
        })?;
        if header.segment_no != no {
            return Err(Error::Corrupted {
                location: format!("{name} at offset 12"),
                reason: format!("header names segment {}", header.segment_no),
            });
        }
        if let Some(at) = end.torn_at {
            report.torn_tail = Some((name.clone(), at, buf.len() as u64 - at));
        }
        report.bytes += buf.len() as u64;
        progress(report.bytes, total);
    }
    report.streams = versions.len();
    Ok(report)
}
