//! Faulting memory in ahead of use: a large open fills ~1 GB of freshly
//! reserved index memory, and on this kind of machine the page faults (the
//! kernel zeroing each 4 KiB page on first touch) were a third of the
//! open's thread. A helper thread asks the kernel to fault the reserved
//! range in first (`madvise(MADV_POPULATE_WRITE)`, Linux ≥ 5.14); where
//! that is unavailable nothing happens and pages fault in on first use as
//! before.

/// Faults in the pages of `[addr, addr + len)`, 32 MiB at a time, in order
/// (so the front stays ahead of a writer filling the range from its
/// start). Errors are ignored: this is only a hint.
pub(crate) fn populate(addr: usize, len: usize) {
    const STEP: usize = 32 << 20;
    let page = 4096;
    let start = addr.next_multiple_of(page);
    let end = addr.saturating_add(len) / page * page;
    let mut at = start;
    while at < end {
        let n = STEP.min(end - at);
        if !populate_range(at, n) {
            return;
        }
        at += n;
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // the one unsafe call of the workspace: see SAFETY
fn populate_range(at: usize, len: usize) -> bool {
    // SAFETY: MADV_POPULATE_WRITE reads no memory and changes no content the
    // program can see: it only makes the kernel fault the range's pages in
    // as a write would, keeping what they hold (zeros for memory never
    // written; present pages are left alone). So whatever the owner of the
    // range does meanwhile — writes, frees it, reuses it — there is no data
    // race and no change to its bytes; an address no longer mapped makes the
    // call fail (ENOMEM), which only ends the hint. `at` is page-aligned.
    let rc = unsafe { libc::madvise(at as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn populate_range(_at: usize, _len: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populating_spare_capacity_changes_nothing_the_owner_sees() {
        let mut v: Vec<u64> = (0..1000).collect();
        v.reserve(8 << 20);
        let spare = v.as_ptr_range().end as usize;
        let bytes = (v.capacity() - v.len()) * 8;
        std::thread::scope(|s| {
            s.spawn(|| populate(spare, bytes));
            v.extend(1000..2_000_000u64);
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        // A range that is not mapped at all: the hint just stops.
        populate(4096, 4096);
        drop(v);
        populate(spare, bytes); // freed meanwhile: still harmless
    }
}
