//! Record payloads: events, stream lifecycle changes, snapshots, checkpoints.

use super::{FormatError, MAX_RECORD_LEN, RECORD_PREFIX_LEN, Reader, RemovedRun, err, pack_metadata, put_str16, removed, unpack_metadata};
use chronicle_core::{StreamMetadata, Uuid};

const KIND_EVENT: u8 = 1;
const KIND_STREAM_META: u8 = 2;
const KIND_DELETE: u8 = 3;
const KIND_SNAPSHOT: u8 = 4;
const KIND_CHECKPOINT: u8 = 5;
const KIND_REMOVED: u8 = 6;

/// An event as stored. Borrowed from the encoded bytes when decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// Global position.
    pub global_position: u64,
    /// Version in the stream.
    pub version: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Commit time, microseconds since the epoch.
    pub recorded_at: i64,
    /// Data schema version.
    pub schema_version: u32,
    /// Stream id.
    pub stream: &'a str,
    /// Event type.
    pub event_type: &'a str,
    /// Metadata JSON bytes.
    pub metadata: &'a [u8],
    /// Data JSON bytes.
    pub data: &'a [u8],
}

/// One record of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// An event.
    Event(EventRecord<'a>),
    /// New retention settings of a stream.
    StreamMeta {
        /// The stream.
        stream: &'a str,
        /// The settings.
        metadata: StreamMetadata,
    },
    /// A soft delete or tombstone.
    Delete {
        /// The stream.
        stream: &'a str,
        /// Tombstone (true) or soft delete.
        tombstone: bool,
        /// Last version hidden by a soft delete.
        deleted_through: u64,
    },
    /// A snapshot.
    Snapshot {
        /// The stream.
        stream: &'a str,
        /// Last version folded into the state.
        version: u64,
        /// Schema version of the state.
        schema_version: u32,
        /// State JSON bytes.
        state: &'a [u8],
    },
    /// A consumer checkpoint.
    Checkpoint {
        /// Consumer name.
        name: &'a str,
        /// Position.
        position: u64,
    },
    /// Events removed by a scavenge (positions and versions only).
    Removed(RemovedRun<'a>),
}

/// Appends the framed record (`len | crc | payload`) to `out`.
pub fn encode_record(record: &Record<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_PREFIX_LEN]);
    match record {
        Record::Event(e) => {
            out.push(KIND_EVENT);
            out.extend_from_slice(&e.global_position.to_le_bytes());
            out.extend_from_slice(&e.version.to_le_bytes());
            out.extend_from_slice(e.event_id.as_bytes());
            out.extend_from_slice(&e.recorded_at.to_le_bytes());
            out.extend_from_slice(&e.schema_version.to_le_bytes());
            put_str16(out, e.stream);
            put_str16(out, e.event_type);
            out.extend_from_slice(&(e.metadata.len() as u32).to_le_bytes());
            out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            out.extend_from_slice(e.stream.as_bytes());
            out.extend_from_slice(e.event_type.as_bytes());
            out.extend_from_slice(e.metadata);
            out.extend_from_slice(e.data);
        }
        Record::StreamMeta { stream, metadata } => {
            out.push(KIND_STREAM_META);
            let (flags, values) = pack_metadata(metadata);
            out.push(flags);
            values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            put_str16(out, stream);
            out.extend_from_slice(stream.as_bytes());
        }
        Record::Delete { stream, tombstone, deleted_through } => {
            out.push(KIND_DELETE);
            out.push(u8::from(*tombstone));
            out.extend_from_slice(&deleted_through.to_le_bytes());
            put_str16(out, stream);
            out.extend_from_slice(stream.as_bytes());
        }
        Record::Snapshot { stream, version, schema_version, state } => {
            out.push(KIND_SNAPSHOT);
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&schema_version.to_le_bytes());
            put_str16(out, stream);
            out.extend_from_slice(stream.as_bytes());
            out.extend_from_slice(state);
        }
        Record::Checkpoint { name, position } => {
            out.push(KIND_CHECKPOINT);
            out.extend_from_slice(&position.to_le_bytes());
            put_str16(out, name);
            out.extend_from_slice(name.as_bytes());
        }
        Record::Removed(run) => {
            out.push(KIND_REMOVED);
            removed::encode(run, out);
        }
    }
    let payload_len = out.len() - start - RECORD_PREFIX_LEN;
    let crc = crc32c::crc32c(out.get(start + RECORD_PREFIX_LEN..).unwrap_or_default());
    let mut prefix = [0u8; RECORD_PREFIX_LEN];
    prefix[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    prefix[4..].copy_from_slice(&crc.to_le_bytes());
    if let Some(slot) = out.get_mut(start..start + RECORD_PREFIX_LEN) {
        slot.copy_from_slice(&prefix);
    }
}

/// Decodes the framed record at the start of `buf`; returns it and its
/// total length (prefix included). Checks the checksum. Never panics.
pub fn decode_record(buf: &[u8]) -> Result<(Record<'_>, usize), FormatError> {
    decode_framed(buf, true)
}

/// [`decode_record`] without checking the record's own checksum: for
/// records inside a body whose checksum was checked already (an index
/// file's). Still checks everything else; never panics.
pub(crate) fn decode_record_covered(buf: &[u8]) -> Result<(Record<'_>, usize), FormatError> {
    decode_framed(buf, false)
}

fn decode_framed(buf: &[u8], check_crc: bool) -> Result<(Record<'_>, usize), FormatError> {
    let mut r = Reader { buf, pos: 0 };
    let len = r.u32()? as usize;
    let crc = r.u32()?;
    if len == 0 || len > MAX_RECORD_LEN {
        return err(0, format!("impossible record length {len}"));
    }
    let payload = r.take(len)?;
    if check_crc && crc32c::crc32c(payload) != crc {
        return err(4, "record checksum mismatch");
    }
    let total = RECORD_PREFIX_LEN + len;
    let mut p = Reader { buf: payload, pos: 0 };
    let at = |e: FormatError| FormatError { offset: e.offset + RECORD_PREFIX_LEN, reason: e.reason };
    let record = decode_payload(&mut p).map_err(at)?;
    if p.pos != payload.len() {
        return err(RECORD_PREFIX_LEN + p.pos, "trailing bytes in record");
    }
    Ok((record, total))
}

fn decode_payload<'a>(p: &mut Reader<'a>) -> Result<Record<'a>, FormatError> {
    match p.u8()? {
        KIND_EVENT => {
            let global_position = p.u64()?;
            let version = p.u64()?;
            let event_id = Uuid::from_bytes(p.array()?);
            let recorded_at = p.i64()?;
            let schema_version = p.u32()?;
            let (stream_len, type_len) = (p.u16()?, p.u16()?);
            let (meta_len, data_len) = (p.u32()?, p.u32()?);
            Ok(Record::Event(EventRecord {
                global_position,
                version,
                event_id,
                recorded_at,
                schema_version,
                stream: p.str(stream_len.into())?,
                event_type: p.str(type_len.into())?,
                metadata: p.take(meta_len as usize)?,
                data: p.take(data_len as usize)?,
            }))
        }
        KIND_STREAM_META => {
            let flags = p.u8()?;
            let values = [p.u64()?, p.u64()?, p.u64()?];
            let n = p.u16()?;
            Ok(Record::StreamMeta { metadata: unpack_metadata(flags, values), stream: p.str(n.into())? })
        }
        KIND_DELETE => {
            let tombstone = p.u8()? != 0;
            let deleted_through = p.u64()?;
            let n = p.u16()?;
            Ok(Record::Delete { tombstone, deleted_through, stream: p.str(n.into())? })
        }
        KIND_SNAPSHOT => {
            let version = p.u64()?;
            let schema_version = p.u32()?;
            let n = p.u16()?;
            let stream = p.str(n.into())?;
            let rest = p.buf.len() - p.pos;
            Ok(Record::Snapshot { stream, version, schema_version, state: p.take(rest)? })
        }
        KIND_CHECKPOINT => {
            let position = p.u64()?;
            let n = p.u16()?;
            Ok(Record::Checkpoint { position, name: p.str(n.into())? })
        }
        KIND_REMOVED => Ok(Record::Removed(removed::decode(p)?)),
        kind => err(0, format!("unknown record kind {kind}")),
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
