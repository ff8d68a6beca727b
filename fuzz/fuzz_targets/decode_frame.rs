//! The compressed-frame decoder on arbitrary bytes, and on arbitrary
//! compressed bytes behind a header whose checksums match (so zstd's
//! decoder is reached).
#![no_main]

mod common;

use chronicle_file::format::{FRAME_HEADER_LEN, FrameHeader, MAX_FRAME_RAW, decode_frame};
use common::crc32c;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(header) = FrameHeader::decode(data) {
        let _ = decode_frame(&header, data.get(FRAME_HEADER_LEN..).unwrap_or_default());
    }
    let Some((len, body)) = data.split_first_chunk::<4>() else { return };
    let raw_len = u32::from_le_bytes(*len) % (MAX_FRAME_RAW as u32 + 1);
    let header = FrameHeader { raw_len, comp_len: body.len() as u32, first_position: 1, crc: crc32c(body) };
    let _ = decode_frame(&header, body);
});
