//! The `Removed` record: events a scavenge took out of a sealed segment.
//! Each keeps its position and its stream version (so every later version
//! and position stays where it was), nothing else.
//!
//! ```text
//! removed := first_position u64 | count u32 | stream_count u16 | (len u16 | name)*
//!            | (stream_index varint | version_step varint)*count
//! ```
//!
//! Item `i` is the event at `first_position + i`. `version_step` is the
//! version minus the previous version of the same stream in this record
//! (the version itself at its first appearance), so a run of one stream
//! costs two bytes per event.

use super::{FormatError, Reader, err, put_str16};

/// Most items in one `Removed` record (scavenge starts another).
pub const MAX_REMOVED_ITEMS: usize = 65_536;

/// Consecutive positions removed by a scavenge.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RemovedRun<'a> {
    /// Position of the first item.
    pub first_position: u64,
    /// Stream names the items refer to.
    pub streams: Vec<&'a str>,
    /// Per position: index into `streams`, and the version.
    pub items: Vec<(u16, u64)>,
}

impl<'a> RemovedRun<'a> {
    /// The removed events as (position, stream, version).
    pub fn events(&self) -> impl Iterator<Item = (u64, &'a str, u64)> + '_ {
        let stream = |i: u16| self.streams.get(usize::from(i)).copied().unwrap_or_default();
        self.items.iter().enumerate().map(move |(n, &(s, v))| (self.first_position + n as u64, stream(s), v))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(r: &mut Reader<'_>) -> Result<u64, FormatError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = r.u8()?;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    err(r.pos, "varint too long")
}

pub(super) fn encode(run: &RemovedRun<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&run.first_position.to_le_bytes());
    out.extend_from_slice(&(run.items.len() as u32).to_le_bytes());
    out.extend_from_slice(&(run.streams.len() as u16).to_le_bytes());
    for s in &run.streams {
        put_str16(out, s);
        out.extend_from_slice(s.as_bytes());
    }
    let mut last = vec![0u64; run.streams.len()];
    for &(s, v) in &run.items {
        put_varint(out, u64::from(s));
        let prev = last.get_mut(usize::from(s));
        debug_assert!(prev.as_deref().is_none_or(|&p| p < v), "versions increase per stream");
        put_varint(out, v.saturating_sub(prev.as_deref().copied().unwrap_or(0)));
        if let Some(prev) = prev {
            *prev = v;
        }
    }
}

pub(super) fn decode<'a>(p: &mut Reader<'a>) -> Result<RemovedRun<'a>, FormatError> {
    let first_position = p.u64()?;
    let count = p.u32()? as usize;
    if count == 0 || count > MAX_REMOVED_ITEMS {
        return err(p.pos, format!("impossible removed count {count}"));
    }
    let stream_count = usize::from(p.u16()?);
    let mut streams = Vec::with_capacity(stream_count);
    for _ in 0..stream_count {
        let n = p.u16()?;
        streams.push(p.str(n.into())?);
    }
    let mut last = vec![0u64; stream_count];
    let mut items = Vec::with_capacity(count.min(p.buf.len()));
    for _ in 0..count {
        let at = p.pos;
        let s = varint(p)?;
        let Some(prev) = usize::try_from(s).ok().and_then(|i| last.get_mut(i)) else {
            return err(at, format!("stream index {s} of {stream_count}"));
        };
        let step = varint(p)?;
        let version = prev.checked_add(step).filter(|_| step > 0);
        let Some(version) = version else { return err(at, "removed versions must increase per stream") };
        *prev = version;
        items.push((s as u16, version));
    }
    if first_position == 0 || first_position.checked_add(count as u64).is_none() {
        return err(0, "impossible removed positions");
    }
    Ok(RemovedRun { first_position, streams, items })
}
