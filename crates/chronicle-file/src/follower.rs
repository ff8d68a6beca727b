//! Read-only opens follow a log that another process writes: a thread polls
//! the tail segment for new complete blocks, indexes them, publishes the
//! new head (waking subscribers) and moves on to the next segment once the
//! writer has started it.

use crate::{
    format::{SEGMENT_HEADER_LEN, SegmentHeader},
    rebuild::apply,
    scan::{scan_blocks, scan_segment},
    shared::{Shared, write},
};
use chronicle_core::{Error, Result};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// How often an idle follower looks for new data.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// Follows the log from `segment` at `offset` until `stop` is set.
pub(crate) fn follow(shared: Arc<Shared>, mut segment: u32, mut offset: u64, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match step(&shared, &mut segment, &mut offset) {
            Ok(true) => {}
            Ok(false) => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!(error = %e, "following the log failed; retrying");
                std::thread::sleep(POLL * 10);
            }
        }
    }
}

/// One look at the log; true when something new was found.
fn step(shared: &Shared, segment: &mut u32, offset: &mut u64) -> Result<bool> {
    let name = shared.storage.describe(*segment);
    let file = crate::shared::read(&shared.segments).get(segment).cloned();
    let Some(file) = file else {
        // The writer is creating this segment: wait for its header.
        let Ok(file) = shared.storage.open(*segment) else { return Ok(false) };
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        if file.len().map_err(|e| Error::io(format!("sizing {name}"), e))? < SEGMENT_HEADER_LEN as u64
            || file.read_exact_at(&mut header, 0).is_err()
        {
            return Ok(false);
        }
        let header = SegmentHeader::decode(&header)
            .map_err(|e| Error::Corrupted { location: format!("{name} at offset {}", e.offset), reason: e.reason })?;
        if header.compressed {
            // Sealed and compressed by the writer before this process got
            // to it: take it whole.
            let buf = crate::io::read_segment(&*shared.storage, *segment, &*file)?;
            // The file goes into the open set before the index names it: a
            // reader holding a segments view must never see a location in
            // a segment it cannot open.
            write(&shared.segments).insert(*segment, file);
            let (mut index, mut snapshots) = (write(&shared.index), write(&shared.snapshots));
            let (seg, mut names) = (*segment, crate::rebuild::Names::default());
            scan_segment(&buf, &name, false, |_, records| {
                records.into_iter().try_for_each(|r| apply(&mut index, &mut snapshots, &mut names, seg, r, &name))
            })?;
            let head = index.len();
            index.publish(head);
            drop((index, snapshots));
            shared.head.send_replace(head);
            *offset = buf.len() as u64;
            return Ok(true);
        }
        write(&shared.segments).insert(*segment, file);
        *offset = SEGMENT_HEADER_LEN as u64;
        return Ok(true);
    };
    let len = file.len().map_err(|e| Error::io(format!("sizing {name}"), e))?;
    if len > *offset {
        let buf = shared.segments().read_range(*segment, *offset, (len - *offset) as usize)?;
        let mut index = write(&shared.index);
        let mut snapshots = write(&shared.snapshots);
        let (seg, mut names) = (*segment, crate::rebuild::Names::default());
        let end = scan_blocks(&buf, 0, *offset, |_, records| {
            records.into_iter().try_for_each(|r| apply(&mut index, &mut snapshots, &mut names, seg, r, &name))
        })?;
        if end.end > 0 {
            *offset += end.end as u64;
            let head = index.len();
            index.publish(head);
            drop((index, snapshots));
            shared.head.send_replace(head);
            return Ok(true);
        }
        return Ok(false);
    }
    // Fully read: once the next segment exists this one is sealed.
    if shared.storage.open(*segment + 1).is_ok() && file.len().map_err(|e| Error::io(format!("sizing {name}"), e))? == *offset {
        *segment += 1;
        return Ok(true);
    }
    Ok(false)
}
