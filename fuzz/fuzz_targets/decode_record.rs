//! Segment decoders on arbitrary bytes: errors, never panics.
#![no_main]

use chronicle_file::format::{BlockHeader, SegmentHeader, decode_record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = SegmentHeader::decode(data);
    let _ = BlockHeader::decode(data);
    let mut at = 0;
    while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
        match decode_record(rest) {
            Ok((_, len)) => at += len,
            Err(_) => at += 1,
        }
    }
});
