//! The schema routes' refusals: each a 400 naming the field (or 409 for a
//! changed version, 501 without a catalog), nothing registered by them.

mod common;

use chronicle_core::EventStore;
use chronicle_schema::{Catalog, ShapedStore};
use serde_json::{Value, json};
use std::sync::Arc;

async fn put(s: &common::Running, path: &str, body: Value) -> (u16, Value) {
    let r = s.http.put(s.at(path)).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_registrations_are_refused_naming_the_field() {
    let raw: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    let catalog = Arc::new(Catalog::default());
    let shaped: Arc<dyn EventStore> = Arc::new(ShapedStore::new(raw.clone(), catalog.clone()));
    let s = common::start_with(shaped, |server| server.with_schemas(raw.clone(), catalog.clone())).await;
    let cases = [
        ("/schemas/T/1", json!({"schema": {"type": 5}}), "schema"),
        ("/schemas/T/1", json!({"schema": 7}), "schema"),
        ("/schemas/T/2", json!({"schema": {}, "upcast": {"from": 2, "steps": []}}), "upcast.from"),
        ("/schemas/T/2", json!({"schema": {}, "upcast": {"from": 1, "steps": [{"op": "drop", "path": "x"}]}}), "steps[0]"),
        ("/schemas/T/2", json!({"schema": {}, "upcast": {"from": 1, "steps": [{"op": "explode"}]}}), "upcast"),
        ("/schemas/T/0", json!({"schema": {}}), "version"),
        ("/schemas/a%20b/1", json!({"schema": {}}), "event_type"),
    ];
    for (path, body, field) in cases {
        let (status, answer) = put(&s, path, body.clone()).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some(field)), "{path} {body}: {answer}");
    }
    let listed: Value = s.http.get(s.at("/schemas")).send().await.unwrap().json().await.unwrap();
    assert_eq!((listed["schemas"].as_array().map(Vec::len), listed["mode"].as_str()), (Some(0), Some("enforce")), "{listed}");
    assert_eq!(raw.head().await.unwrap(), 0, "nothing recorded in $schemas");
    assert_eq!(put(&s, "/schemas/T/1", json!({"schema": {"type": "object"}})).await.0, 201);
    let (status, answer) = put(&s, "/schemas/T/1", json!({"schema": {"type": "array"}})).await;
    assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")), "{answer}");
    s.shutdown().await;

    let plain = common::start().await;
    assert_eq!(put(&plain, "/schemas/T/1", json!({"schema": {}})).await.0, 501, "no catalog: not served");
    plain.shutdown().await;
}
