//! The publishing routes: readers see status and DLQs, only admins replay
//! or discard, and a bad body or an unknown sink or id is a 4xx naming the
//! field, with nothing marked.

mod common;

use chronicle_core::{EventStore, LocalLeases, Role};
use chronicle_memory::MemoryStore;
use chronicle_publish::{Dlq, DlqEntry, PublishSettings, Publisher};
use chronicle_server::auth::TokenEntry;
use std::sync::Arc;

#[tokio::test]
async fn readers_look_admins_act_and_bad_requests_name_the_field() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let table: toml::Table =
        toml::from_str("[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"k\"\n").unwrap();
    let publisher =
        Arc::new(Publisher::new(store.clone(), Arc::new(LocalLeases::default()), &PublishSettings::from_table(&table).unwrap(), "n1"));
    let parked = DlqEntry {
        event_id: chronicle_core::Uuid::now_v7(),
        position: 1,
        stream_id: "order-1".into(),
        event_type: "Placed".into(),
        attempts: 4,
        last_error: "HTTP 500".into(),
        dead_lettered_at: None,
    };
    Dlq::new(store.clone(), "hook").unwrap().add(&parked).await.unwrap();
    let (reader, reader_entry) = TokenEntry::generate("r", Role::Reader).unwrap();
    let (admin, admin_entry) = TokenEntry::generate("a", Role::Admin).unwrap();
    let s = common::start_with(store, |s| s.with_auth(&[reader_entry, admin_entry]).with_publisher(publisher)).await;
    let get = |path: &str, token: &str| s.http.get(s.at(path)).bearer_auth(token).send();
    let post = |path: &str, token: &str, body: &'static str| {
        s.http.post(s.at(path)).bearer_auth(token).header("content-type", "application/json").body(body).send()
    };

    let status: serde_json::Value = get("/publish", &reader).await.unwrap().json().await.unwrap();
    assert_eq!((status["sinks"][0]["name"].as_str(), status["sinks"][0]["dlq_size"].as_u64()), (Some("hook"), Some(1)), "{status}");
    assert_eq!(status["sinks"][0]["state"], "stopped", "the caller starts the relays");
    let dlq: serde_json::Value = get("/publish/hook/dlq", &reader).await.unwrap().json().await.unwrap();
    assert_eq!(dlq["entries"][0]["event_id"], parked.event_id.to_string());

    assert_eq!(post("/publish/hook/dlq/discard", &reader, r#"{"all":true}"#).await.unwrap().status(), 403);
    for (body, field) in [
        ("{}", "event_ids"),
        (r#"{"event_ids":[]}"#, "event_ids"),
        (r#"{"all":false}"#, "all"),
        (r#"{"all":true,"event_ids":["0190a0a0-0000-7000-8000-000000000000"]}"#, "all"),
    ] {
        let r = post("/publish/hook/dlq/replay", &admin, body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    let r = post("/publish/hook/dlq/replay", &admin, r#"{"event_ids":["0190a0a0-0000-7000-8000-000000000000"]}"#).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["field"], "event_ids");
    assert_eq!(post("/publish/nope/dlq/discard", &admin, r#"{"all":true}"#).await.unwrap().status(), 404);
    assert_eq!(get("/publish/nope/dlq", &reader).await.unwrap().status(), 404);
    let still: serde_json::Value = get("/publish/hook/dlq", &reader).await.unwrap().json().await.unwrap();
    assert_eq!(still["size"], 1, "nothing was marked by the refused requests");

    let r = post("/publish/hook/dlq/discard", &admin, r#"{"all":true}"#).await.unwrap();
    assert_eq!(r.status(), 200);
    let marked: serde_json::Value = r.json().await.unwrap();
    assert_eq!(marked["event_ids"][0], parked.event_id.to_string());
    let empty: serde_json::Value = get("/publish/hook/dlq", &reader).await.unwrap().json().await.unwrap();
    assert_eq!(empty["size"], 0);
    let metrics = get("/metrics", &reader).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_dlq_size{sink=\"hook\"} 0") && metrics.contains("chronicle_publish_lag_events{sink=\"hook\"}"));
}
