//! Small constructors shared by the cases and the model test.

use chronicle_core::{NewEvent, StreamId};

/// A stream id (panics on an invalid literal: test code only).
pub fn sid(s: &str) -> StreamId {
    StreamId::new(s).expect("valid stream id")
}

/// An event of type `t` with data `{"n": n}`.
pub fn event(t: &str, n: u64) -> NewEvent {
    NewEvent::json(t, &serde_json::json!({ "n": n })).expect("serializable")
}

/// An event of type `t` with data `{"n": n}` and the given metadata.
pub fn event_with_meta(t: &str, n: u64, meta: serde_json::Value) -> NewEvent {
    event(t, n).with_metadata(&meta).expect("serializable")
}
