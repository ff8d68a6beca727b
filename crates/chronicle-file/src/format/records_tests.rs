use super::*;
use crate::format::{BlockHeader, SegmentHeader};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_\\-ü]{1,40}"
}

fn arb_meta() -> impl Strategy<Value = StreamMetadata> {
    (any::<Option<u64>>(), any::<Option<u64>>(), any::<Option<u64>>()).prop_map(|(max_age, max_count, truncate_before)| StreamMetadata {
        max_age,
        max_count,
        truncate_before,
    })
}

#[derive(Debug, Clone)]
enum Owned {
    Event(u64, u64, [u8; 16], i64, u32, String, String, Vec<u8>, Vec<u8>),
    Meta(String, StreamMetadata),
    Delete(String, bool, u64),
    Snapshot(String, u64, u32, Vec<u8>),
    Checkpoint(String, u64),
}

impl Owned {
    fn record(&self) -> Record<'_> {
        match self {
            Owned::Event(p, v, id, t, s, stream, ty, m, d) => Record::Event(EventRecord {
                global_position: *p,
                version: *v,
                event_id: Uuid::from_bytes(*id),
                recorded_at: *t,
                schema_version: *s,
                stream,
                event_type: ty,
                metadata: m,
                data: d,
            }),
            Owned::Meta(stream, metadata) => Record::StreamMeta { stream, metadata: *metadata },
            Owned::Delete(stream, tombstone, d) => Record::Delete { stream, tombstone: *tombstone, deleted_through: *d },
            Owned::Snapshot(stream, v, s, state) => Record::Snapshot { stream, version: *v, schema_version: *s, state },
            Owned::Checkpoint(name, position) => Record::Checkpoint { name, position: *position },
        }
    }
}

fn arb_record() -> impl Strategy<Value = Owned> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<[u8; 16]>(), any::<i64>(), any::<u32>(), name(), name(), bytes(), bytes())
            .prop_map(|(p, v, id, t, s, st, ty, m, d)| Owned::Event(p, v, id, t, s, st, ty, m, d)),
        (name(), arb_meta()).prop_map(|(s, m)| Owned::Meta(s, m)),
        (name(), any::<bool>(), any::<u64>()).prop_map(|(s, t, d)| Owned::Delete(s, t, d)),
        (name(), any::<u64>(), any::<u32>(), bytes()).prop_map(|(s, v, sv, st)| Owned::Snapshot(s, v, sv, st)),
        (name(), any::<u64>()).prop_map(|(n, p)| Owned::Checkpoint(n, p)),
    ]
}

proptest! {
    #[test]
    fn records_round_trip(records in prop::collection::vec(arb_record(), 1..8)) {
        let mut buf = Vec::new();
        for r in &records {
            encode_record(&r.record(), &mut buf);
        }
        let mut at = 0;
        for r in &records {
            let (decoded, len) = decode_record(&buf[at..]).unwrap();
            prop_assert_eq!(decoded, r.record());
            at += len;
        }
        prop_assert_eq!(at, buf.len());
    }

    #[test]
    fn any_single_bit_flip_is_detected(r in arb_record(), bit in any::<prop::sample::Index>()) {
        let mut buf = Vec::new();
        encode_record(&r.record(), &mut buf);
        let i = bit.index(buf.len() * 8);
        buf[i / 8] ^= 1 << (i % 8);
        match decode_record(&buf) {
            Err(_) => {}
            Ok((decoded, _)) => prop_assert!(decoded != r.record(), "flip went unnoticed"),
        }
    }

    #[test]
    fn decoders_never_panic_on_garbage(buf in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_record(&buf);
        let _ = BlockHeader::decode(&buf);
        let _ = SegmentHeader::decode(&buf);
        let _ = crate::format::decode_index(&buf);
    }

    #[test]
    fn index_files_round_trip_and_never_panic_when_damaged(
        records in prop::collection::vec(arb_record(), 0..8),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut w = crate::format::IndexWriter::new();
        for (i, r) in records.iter().enumerate() {
            w.push(&r.record(), 32 + i as u64, 40);
        }
        let file = w.finish(SegmentHeader { segment_no: 2, first_position: 9, compressed: false }, 4096);
        let (header, entries) = crate::format::decode_index(&file).unwrap();
        prop_assert_eq!(header.entry_count as usize, records.len());
        prop_assert_eq!(entries.len(), records.len());
        // Any prefix, any flipped byte: an error, never a panic.
        let _ = crate::format::decode_index(&file[..cut.index(file.len() + 1)]);
        let mut bad = file.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0xFF;
        prop_assert!(crate::format::decode_index(&bad).is_err());
    }

    #[test]
    fn index_bodies_that_pass_the_checksums_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), count in any::<u32>()) {
        let mut file = crate::format::IndexWriter::new().finish(SegmentHeader { segment_no: 1, first_position: 1, compressed: false }, 64);
        file.extend_from_slice(&body);
        file[32..36].copy_from_slice(&count.to_le_bytes());
        file[36..40].copy_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        let crc = crc32c::crc32c(&file[..44]);
        file[44..48].copy_from_slice(&crc.to_le_bytes());
        let _ = crate::format::decode_index(&file);
    }

    #[test]
    fn headers_round_trip(no in any::<u32>(), first in any::<u64>(), body in any::<u32>(), rc in any::<u32>(), ec in any::<u32>()) {
        let s = SegmentHeader { segment_no: no, first_position: first, compressed: false };
        prop_assert_eq!(SegmentHeader::decode(&s.encode()).unwrap(), s);
        let b = BlockHeader { body_len: body, record_count: rc, event_count: ec, first_position: first };
        prop_assert_eq!(BlockHeader::decode(&b.encode()).unwrap(), b);
    }
}
