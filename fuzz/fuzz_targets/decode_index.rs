//! The index file decoder on arbitrary bytes, and on arbitrary bodies behind
//! a header whose checksums match (so the entry decoder is reached).
#![no_main]

use chronicle_file::format::{IndexWriter, SegmentHeader, decode_index};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = decode_index(data);
    let mut file = IndexWriter::new().finish(SegmentHeader { segment_no: 1, first_position: 1, compressed: false }, 64);
    file.extend_from_slice(data);
    let count = (data.len() as u32 / 24).to_le_bytes();
    file[32..36].copy_from_slice(&count);
    let body_crc = crc32c(data);
    file[36..40].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32c(&file[..44]);
    file[44..48].copy_from_slice(&header_crc.to_le_bytes());
    let _ = decode_index(&file);
});

/// CRC-32C (Castagnoli), bitwise: the fuzz crate needs no other dependency.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}
