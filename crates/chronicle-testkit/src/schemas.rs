//! Conformance of the schema check on append (`chronicle-schema`'s
//! [`SchemaHook`] in the pipeline) on every backend: valid events are
//! stored, an invalid one fails the whole append naming the event and the
//! JSON Pointer of the failing value (never the value) and stores nothing,
//! and each mode — `enforce`, `warn`, `off`, unknown types `reject` —
//! does what it says. Run with the factory of
//! [`hooks_conformance!`](crate::hooks_conformance):
//!
//! ```ignore
//! chronicle_testkit::schema_conformance!(|pipeline| async move { Some(MemoryStore::with_pipeline(pipeline)) });
//! ```

use chronicle_core::{AppendPipeline, AppendRequest, Error, EventStore, ExpectedVersion, NewEvent, ReadAll, StreamAppend, StreamId};
use chronicle_schema::{Catalog, SchemaHook};
pub use chronicle_schema::{Mode, Unknown};
use serde_json::json;
use std::sync::Arc;

/// A pipeline checking `OrderPlaced` v1 (lines of positive quantities) with `mode` and `unknown`.
pub fn pipeline(mode: Mode, unknown: Unknown) -> AppendPipeline {
    let catalog = Catalog::new(mode, unknown);
    let schema = json!({
        "type": "object",
        "required": ["lines"],
        "properties": {"lines": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}}}}
    });
    catalog.register_schema("OrderPlaced", 1, schema).expect("a valid schema");
    AppendPipeline::default().with_hook(Arc::new(SchemaHook(Arc::new(catalog))))
}

fn event(event_type: &str, version: u32, data: serde_json::Value) -> NewEvent {
    NewEvent::json(event_type, &data).expect("JSON").with_schema_version(version)
}

fn good() -> NewEvent {
    event("OrderPlaced", 1, json!({"lines": [{"qty": 2}]}))
}

fn bad() -> NewEvent {
    event("OrderPlaced", 1, json!({"lines": [{"qty": 0}], "email": "ann@example.com"}))
}

async fn append(store: &dyn EventStore, stream: &str, events: Vec<NewEvent>) -> chronicle_core::Result<()> {
    let part = StreamAppend::new(StreamId::new(stream).expect("id"), ExpectedVersion::Any, events);
    store.append_atomic(AppendRequest { streams: vec![part], condition: None }).await.map(drop)
}

async fn count(store: &dyn EventStore) -> usize {
    store.read_all(&ReadAll::forward()).await.expect("read").events.len()
}

/// `enforce`: valid and unknown types are stored; an invalid event fails
/// its whole append with the event and pointer named; so does a version
/// without a schema; system streams are not checked.
pub async fn enforce_refuses_what_fails(store: Arc<dyn EventStore>) {
    append(&*store, "order-1", vec![good(), event("Unrelated", 1, json!({"x": 1}))]).await.expect("valid and unknown pass");
    let err = append(&*store, "order-2", vec![good(), bad()]).await.expect_err("refused");
    match &err {
        Error::SchemaViolation { field, event_type, schema_version, pointer, reason } => {
            assert_eq!(
                (field.as_str(), event_type.as_str(), *schema_version, pointer.as_str()),
                ("events[1].data", "OrderPlaced", 1, "/lines/0/qty")
            );
            assert!(reason.contains("minimum"), "{reason}");
        }
        other => panic!("expected a schema violation, got {other:?}"),
    }
    assert!(!err.to_string().contains("ann@example.com"), "never the value: {err}");
    let v2 = append(&*store, "order-3", vec![event("OrderPlaced", 2, json!({}))]).await.expect_err("no schema for v2");
    assert!(matches!(v2, Error::SchemaViolation { ref pointer, .. } if pointer.is_empty()), "{v2:?}");
    append(&*store, "$system-1", vec![bad()]).await.expect("system streams are not checked");
    assert_eq!(count(&*store).await, 3, "nothing of a refused append is stored");
}

/// `warn` stores what fails; `off` checks nothing.
pub async fn warn_and_off_store_what_fails(store: Arc<dyn EventStore>) {
    append(&*store, "order-1", vec![bad()]).await.expect("stored with a warning (or unchecked)");
    assert_eq!(count(&*store).await, 1);
}

/// Unknown types `reject`: a type without schemas is refused, known ones pass.
pub async fn unknown_types_can_be_refused(store: Arc<dyn EventStore>) {
    append(&*store, "order-1", vec![good()]).await.expect("known and valid");
    let err = append(&*store, "order-2", vec![event("Unrelated", 1, json!({}))]).await.expect_err("unknown type");
    assert!(matches!(err, Error::SchemaViolation { ref event_type, .. } if event_type == "Unrelated"), "{err:?}");
    assert_eq!(count(&*store).await, 1);
}

/// Generates the schema-check cases against stores built by
/// `$factory(pipeline)` (an `Option`: `None` skips).
#[macro_export]
macro_rules! schema_conformance {
    ($factory:expr) => {
        $crate::schema_conformance!(@case $factory; schema_enforce_refuses_what_fails, enforce_refuses_what_fails, Enforce, Allow);
        $crate::schema_conformance!(@case $factory; schema_warn_stores_what_fails, warn_and_off_store_what_fails, Warn, Allow);
        $crate::schema_conformance!(@case $factory; schema_off_checks_nothing, warn_and_off_store_what_fails, Off, Allow);
        $crate::schema_conformance!(@case $factory; schema_unknown_types_can_be_refused, unknown_types_can_be_refused, Enforce, Reject);
    };
    (@case $factory:expr; $name:ident, $case:ident, $mode:ident, $unknown:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let pipeline = $crate::schemas::pipeline($crate::schemas::Mode::$mode, $crate::schemas::Unknown::$unknown);
            let f = $factory;
            let Some(store) = f(pipeline).await else { return };
            $crate::schemas::$case(::std::sync::Arc::new(store)).await;
        }
    };
}
