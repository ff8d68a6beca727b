//! The index file decoder on arbitrary bytes, and on arbitrary bodies
//! (name table and entries) behind a header whose checksums match (so the
//! entry decoder is reached).
#![no_main]

mod common;

use chronicle_file::format::{INDEX_HEADER_LEN, IndexWriter, SegmentHeader, decode_index};
use common::crc32c;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = decode_index(data);
    let mut file = IndexWriter::new().finish(SegmentHeader { segment_no: 1, first_position: 1, compressed: false }, 64);
    file.truncate(INDEX_HEADER_LEN);
    file.extend_from_slice(data);
    let count = (data.len() as u32 / 24).to_le_bytes();
    file[32..36].copy_from_slice(&count);
    let body_crc = crc32c(data);
    file[36..40].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32c(&file[..44]);
    file[44..48].copy_from_slice(&header_crc.to_le_bytes());
    let _ = decode_index(&file);
});
