//! Compressed sealed segments (segment format 2): the records of a sealed
//! segment regrouped into blocks of about [`FRAME_TARGET`] bytes, each
//! block compressed on its own (zstd) so a read by position decompresses
//! one frame, never the file.
//!
//! ```text
//! segment := segment_header (format 2) frame*
//! frame   := frame_header (32 B) | zstd(block)        block as in format 1
//! frame_header := magic u32 "CFRM" | raw_len u32 | comp_len u32 | reserved u32
//!                 | first_position u64 | crc u32 (CRC32C of the zstd bytes) | header_crc u32
//! ```
//!
//! A record in a compressed segment is addressed by a packed offset:
//! [`COMPRESSED_BIT`] | frame offset << [`FRAME_SHIFT`] | offset in the
//! decompressed block.

use super::{FormatError, Reader, err};

/// Frame header magic ("CFRM").
pub const FRAME_MAGIC: u32 = 0x4D52_4643;
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 32;
/// Uncompressed bytes gathered per frame before it is closed.
pub const FRAME_TARGET: usize = 32 * 1024;
/// Largest decompressed frame accepted when decoding.
pub const MAX_FRAME_RAW: usize = 128 * 1024 * 1024;
/// Set in the packed offset of a record in a compressed segment.
pub const COMPRESSED_BIT: u64 = 1 << 63;
/// Bits of the packed offset holding the offset inside the frame.
pub const FRAME_SHIFT: u32 = 24;

/// The packed offset of the record `in_frame` bytes into the frame at `frame_offset`.
pub fn pack_offset(frame_offset: u64, in_frame: usize) -> u64 {
    COMPRESSED_BIT | (frame_offset << FRAME_SHIFT) | (in_frame as u64 & ((1 << FRAME_SHIFT) - 1))
}

/// The frame offset and in-frame offset of a packed offset; `None` for a
/// plain (uncompressed) offset.
pub fn unpack_offset(offset: u64) -> Option<(u64, usize)> {
    (offset & COMPRESSED_BIT != 0).then_some(((offset & !COMPRESSED_BIT) >> FRAME_SHIFT, (offset & ((1 << FRAME_SHIFT) - 1)) as usize))
}

/// The header of one compressed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Length of the decompressed block.
    pub raw_len: u32,
    /// Length of the compressed bytes after the header.
    pub comp_len: u32,
    /// Position of the frame's first event (next position if none).
    pub first_position: u64,
    /// CRC32C of the compressed bytes.
    pub crc: u32,
}

impl FrameHeader {
    /// Decodes and checks a frame header.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { buf, pos: 0 };
        if r.u32()? != FRAME_MAGIC {
            return err(0, "bad frame magic");
        }
        let (raw_len, comp_len, _reserved, first_position, crc) = (r.u32()?, r.u32()?, r.u32()?, r.u64()?, r.u32()?);
        if r.u32()? != crc32c::crc32c(buf.get(..FRAME_HEADER_LEN - 4).unwrap_or_default()) {
            return err(FRAME_HEADER_LEN - 4, "frame header checksum mismatch");
        }
        if raw_len as usize > MAX_FRAME_RAW {
            return err(4, format!("impossible frame length {raw_len}"));
        }
        Ok(Self { raw_len, comp_len, first_position, crc })
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut b = [0u8; FRAME_HEADER_LEN];
        b[..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.raw_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.comp_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.first_position.to_le_bytes());
        b[24..28].copy_from_slice(&self.crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }
}

/// Compresses `block` (one whole format-1 block) and appends the frame to `out`.
pub fn encode_frame(block: &[u8], first_position: u64, level: i32, out: &mut Vec<u8>) -> std::io::Result<()> {
    let compressed = zstd::bulk::compress(block, level)?;
    let header =
        FrameHeader { raw_len: block.len() as u32, comp_len: compressed.len() as u32, first_position, crc: crc32c::crc32c(&compressed) };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&compressed);
    Ok(())
}

/// Checks and decompresses the frame whose header is `header` and whose
/// compressed bytes are `body`. Never panics.
pub fn decode_frame(header: &FrameHeader, body: &[u8]) -> Result<Vec<u8>, FormatError> {
    if body.len() != header.comp_len as usize {
        return err(FRAME_HEADER_LEN, "frame extends past the end of the file");
    }
    if crc32c::crc32c(body) != header.crc {
        return err(FRAME_HEADER_LEN, "frame checksum mismatch");
    }
    let raw = zstd::bulk::decompress(body, header.raw_len as usize)
        .or_else(|e| err(FRAME_HEADER_LEN, format!("frame does not decompress: {e}")))?;
    if raw.len() != header.raw_len as usize {
        return err(4, format!("frame decompresses to {} bytes, header says {}", raw.len(), header.raw_len));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_any_flipped_byte_is_detected() {
        let block: Vec<u8> = (0..5000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut out = Vec::new();
        encode_frame(&block, 7, 3, &mut out).unwrap();
        assert!(out.len() < block.len() / 2, "compresses: {}", out.len());
        let header = FrameHeader::decode(&out).unwrap();
        assert_eq!((header.raw_len as usize, header.first_position), (block.len(), 7));
        assert_eq!(decode_frame(&header, &out[FRAME_HEADER_LEN..]).unwrap(), block);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x01;
            let decoded = FrameHeader::decode(&bad).and_then(|h| decode_frame(&h, &bad[FRAME_HEADER_LEN..]));
            assert!(decoded.is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn packed_offsets_round_trip() {
        for (frame, inside) in [(32u64, 0usize), (1 << 38, (1 << 24) - 1), (12_345, 999)] {
            assert_eq!(unpack_offset(pack_offset(frame, inside)), Some((frame, inside)));
        }
        assert_eq!(unpack_offset(4096), None);
    }
}
