//! The backup/export line decoder on arbitrary bytes (backup part files and
//! `POST /admin/import` bodies): an error or an item that writes back to a
//! line decoding to the same item — never a panic.
#![no_main]

use chronicle_core::LogItem;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for line in data.split(|b| *b == b'\n') {
        if let Ok(item) = LogItem::parse_json_line(line) {
            let mut again = Vec::new();
            item.write_json_line(&mut again);
            assert_eq!(LogItem::parse_json_line(&again).ok(), Some(item));
        }
    }
});
