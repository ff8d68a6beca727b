//! Every error status, each asserting that nothing was stored.

mod common;

use chronicle_file::{FileOptions, FileStore, OsStorage, fault::FaultyStorage};
use serde_json::Value;
use std::sync::{Arc, atomic::Ordering::SeqCst};

async fn body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

const ONE: &str = r#"[{"event_type":"T","data":{"n":1}}]"#;

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_stores_nothing() {
    let s = common::start().await;
    assert_eq!(s.post_json("/streams/a-1", ONE).await.status(), 200);
    let cases: Vec<(&str, String, &str)> = vec![
        ("/streams/a-1", "[{\"event_type\":".into(), "body"),
        ("/streams/a-1", "[]".into(), "events"),
        ("/streams/a-1", r#"[{"data":{}}]"#.into(), "body"),
        ("/streams/a-1", r#"[{"event_type":"T","data":{},"surprise":1}]"#.into(), "body"),
        ("/streams/a-1", r#"[{"event_type":"has space","data":{}}]"#.into(), "events[0].event_type"),
        ("/streams/a-1", r#"[{"event_type":"T","data":{},"metadata":[1]}]"#.into(), "events[0].metadata"),
        ("/streams/a-1", r#"[{"event_type":"T","data":{},"event_id":"nope"}]"#.into(), "body"),
        ("/streams/a-1?expected_version=soon", ONE.into(), "expected_version"),
        ("/streams/a%0A1", ONE.into(), "stream_id"),
        ("/append", r#"{"streams":[]}"#.into(), "streams"),
        ("/append", r#"{"streams":[{"stream_id":"","events":[]}]}"#.into(), "streams[0].stream_id"),
    ];
    for (path, payload, field) in cases {
        let (status, b) = body(s.post_json(path, &payload).await).await;
        assert_eq!((status, b["field"].as_str()), (400, Some(field)), "{path} {payload}: {b}");
        assert!(b["error"].is_string() && b["message"].is_string(), "{b}");
    }
    for path in [
        "/streams/a-1?limit=0",
        "/events?limit=0",
        "/events?since=yesterday",
        "/events?format=xml",
        "/events/not-a-uuid",
        "/subscribe?from=0",
    ] {
        let (status, b) = body(s.http.get(s.at(path)).send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}: {b}");
        assert!(b["field"].is_string(), "{path}: {b}");
    }
    assert_eq!(s.head().await, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn not_found_conflict_gone_and_media_type() {
    let s = common::start().await;
    for path in ["/nope", "/events/01a2031c-223a-705d-b3f6-d7041b55a79d", "/streams/a-1/snapshot", "/checkpoints/none"] {
        let (status, b) = body(s.http.get(s.at(path)).send().await.unwrap()).await;
        assert_eq!((status, b["error"].as_str()), (404, Some("not_found")), "{path}");
    }
    assert_eq!(s.post_json("/streams/a-1?expected_version=no-stream", ONE).await.status(), 200);
    let (status, b) = body(s.post_json("/streams/a-1?expected_version=no-stream", ONE).await).await;
    assert_eq!(status, 409);
    assert_eq!(
        (b["error"].as_str(), b["expected"].as_str(), b["actual"].as_u64()),
        (Some("wrong_expected_version"), Some("no-stream"), Some(1))
    );
    let (status, b) = body(s.post_json("/streams/a-1?expected_version=5", ONE).await).await;
    assert_eq!((status, b["expected"].as_u64(), b["actual"].as_u64()), (409, Some(5), Some(1)));
    let r = s.http.post(s.at("/streams/a-1")).header("content-type", "text/plain").body(ONE).send().await.unwrap();
    assert_eq!(body(r).await.0, 415);
    let r = s.http.post(s.at("/streams/a-1")).body(ONE).send().await.unwrap();
    assert_eq!(body(r).await.0, 415);
    let r = s.http.delete(s.at("/streams/a-1?mode=tombstone")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, b) = body(s.post_json("/streams/a-1", ONE).await).await;
    assert_eq!((status, b["error"].as_str()), (410, Some("stream_deleted")));
    assert_eq!(body(s.http.get(s.at("/streams/a-1")).send().await.unwrap()).await.0, 410);
    assert_eq!(s.head().await, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn too_large_is_413_for_an_event_and_for_the_body() {
    let s = common::start_with(Arc::new(chronicle_memory::MemoryStore::new()), |srv| srv.with_body_limit(256 * 1024)).await;
    let big = format!(r#"[{{"event_type":"T","data":"{}"}}]"#, "x".repeat(100 * 1024));
    let (status, b) = body(s.post_json("/streams/a-1", &big).await).await;
    assert_eq!((status, b["error"].as_str(), b["field"].as_str()), (413, Some("too_large"), Some("events[0].data")), "{b}");
    assert_eq!(b["limit"].as_u64(), Some(100 * 1024));
    let meta = format!(r#"[{{"event_type":"T","data":1,"metadata":{{"x":"{}"}}}}]"#, "y".repeat(10 * 1024));
    let (status, b) = body(s.post_json("/streams/a-1", &meta).await).await;
    assert_eq!((status, b["field"].as_str()), (413, Some("events[0].metadata")));
    let huge = format!(r#"[{{"event_type":"T","data":"{}"}}]"#, "x".repeat(300 * 1024));
    let r = s.post_json("/streams/a-1", &huge).await;
    assert_eq!(r.status(), 413);
    assert_eq!(s.head().await, 0);
    s.shutdown().await;
}

#[tokio::test]
async fn unavailable_backend_is_503_and_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, faults) = FaultyStorage::new(Arc::new(OsStorage::new(dir.path()).unwrap()));
    let file = FileStore::open_with_storage(dir.path(), Arc::new(storage), FileOptions::default()).unwrap();
    let s = common::start_with(Arc::new(file), |srv| srv).await;
    assert_eq!(s.post_json("/streams/a-1", ONE).await.status(), 200);
    assert_eq!(s.http.get(s.at("/health/ready")).send().await.unwrap().status(), 200);
    faults.fail_next_sync.store(true, SeqCst);
    let (status, b) = body(s.post_json("/streams/a-1", ONE).await).await;
    assert_eq!((status, b["error"].as_str()), (503, Some("unavailable")), "{b}");
    assert_eq!(body(s.post_json("/streams/a-1", ONE).await).await.0, 503);
    assert_eq!(s.http.get(s.at("/health/ready")).send().await.unwrap().status(), 503);
    assert_eq!(s.http.get(s.at("/health/live")).send().await.unwrap().status(), 200);
    assert_eq!(s.head().await, 1, "the failed batch never became visible");
    s.shutdown().await;
}
