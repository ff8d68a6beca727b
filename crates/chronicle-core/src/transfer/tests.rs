//! Property tests of the item lines.

use super::*;
use crate::StreamMetadata;
use crate::{Error, RawJson, RecordedEvent, Snapshot, StreamId, Timestamp, Uuid};
use proptest::prelude::*;
use std::sync::Arc;

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn stream() -> impl Strategy<Value = StreamId> {
    "[a-z]{1,8}-[0-9]{1,4}".prop_map(|s| StreamId::new(s).unwrap())
}

fn item() -> impl Strategy<Value = LogItem> {
    let event = (1..u64::MAX / 2, stream(), 1..u64::MAX / 2, any::<u128>(), "[A-Za-z.]{1,12}", any::<u32>(), any::<i64>(), json(), json())
        .prop_map(|(position, stream, version, id, t, sv, at, data, meta)| {
            let metadata = serde_json::json!({ "x": meta });
            LogItem::Event(RecordedEvent {
                global_position: position,
                stream_id: stream,
                version,
                event_id: Uuid::from_u128(id),
                event_type: Arc::from(t.as_str()),
                schema_version: sv,
                data: RawJson::from_serialize(&data).unwrap(),
                metadata: RawJson::from_serialize(&metadata).unwrap(),
                recorded_at: Timestamp::from_micros(at),
            })
        });
    let settings = (prop::option::of(1..u64::MAX / 2), prop::option::of(1..u64::MAX / 2), prop::option::of(1..u64::MAX / 2))
        .prop_map(|(max_age, max_count, truncate_before)| StreamMetadata { max_age, max_count, truncate_before });
    prop_oneof![
        event,
        (1..u64::MAX, stream(), 1..u64::MAX).prop_map(|(position, stream, version)| LogItem::Removed { position, stream, version }),
        (any::<u64>(), stream(), settings).prop_map(|(head, stream, metadata)| LogItem::Metadata { head, stream, metadata }),
        (any::<u64>(), stream(), any::<bool>(), any::<u64>()).prop_map(|(head, stream, tombstone, deleted_through)| LogItem::Delete {
            head,
            stream,
            tombstone,
            deleted_through
        }),
        (stream(), any::<u64>(), any::<u32>(), json()).prop_map(|(stream_id, version, schema_version, state)| {
            LogItem::Snapshot(Snapshot { stream_id, version, schema_version, state: RawJson::from_serialize(&state).unwrap() })
        }),
        ("[a-z-]{1,20}", any::<u64>()).prop_map(|(consumer, position)| LogItem::Checkpoint { consumer, position }),
        (
            "[a-z-]{1,20}",
            any::<u64>(),
            prop::collection::vec(any::<u64>(), 0..4),
            prop::collection::vec((any::<u64>(), any::<u32>()), 0..3),
            prop::option::of(any::<u64>()),
            prop::collection::vec(any::<u64>(), 0..4)
        )
            .prop_map(|(name, checkpoint, acked, retries, read_through, unhandled)| LogItem::Group {
                name,
                progress: GroupProgress { checkpoint, acked, retries, read_through, unhandled }
            }),
    ]
}

proptest! {
    #[test]
    fn lines_round_trip(item in item()) {
        let mut line = Vec::new();
        item.write_json_line(&mut line);
        prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "one line");
        prop_assert_eq!(LogItem::parse_json_line(&line).unwrap(), item);
    }

    #[test]
    fn damaged_lines_are_errors_never_panics(item in item(), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let mut line = Vec::new();
        item.write_json_line(&mut line);
        let at = cut.index(line.len());
        let mut truncated = line.clone();
        truncated.truncate(at);
        let _ = LogItem::parse_json_line(&truncated);
        line[at] ^= flip;
        if let Ok(other) = LogItem::parse_json_line(&line) {
            let mut again = Vec::new();
            other.write_json_line(&mut again);
            prop_assert_eq!(LogItem::parse_json_line(&again).unwrap(), other);
        }
    }
}

#[test]
fn unknown_kinds_and_missing_fields_name_the_field() {
    let err = LogItem::parse_json_line(br#"{"kind":"teleport"}"#).unwrap_err();
    assert!(matches!(&err, Error::Invalid { field, .. } if field == "item.kind"), "{err}");
    let err = LogItem::parse_json_line(br#"{"kind":"removed","position":3}"#).unwrap_err();
    assert!(matches!(&err, Error::Invalid { field, .. } if field == "item.stream"), "{err}");
    let err = LogItem::parse_json_line(br#"{"kind":"event","position":1,"stream":"a-1","version":1,"id":"00000000-0000-0000-0000-000000000001","event_type":"T","schema_version":1,"recorded_at":0,"data":{},"metadata":[]}"#).unwrap_err();
    assert!(matches!(&err, Error::Invalid { field, .. } if field == "item.metadata"), "{err}");
}
