//! `chronicle serve` with `[schemas]`, the seed-004 chain: OrderCreated
//! stored at v1, v2 and v3 is read as v3 by HTTP, WebSocket, the remote
//! backend (the CLI and the Rust client), a Python client, a webhook sink
//! and a consumer group, and as stored with `raw=true`;
//! an append that breaks the v3 schema is refused with 422 naming the
//! pointer; a v4 registered through the API (with its upcast steps) takes
//! effect at once, is immutable, and survives a restart.

mod served;

use futures_util::StreamExt;
use serde_json::{Value, json};
use served::{cli, free_port, serve, wait};
use std::process::Command;

fn v3(total: u32) -> Value {
    json!({"total": total, "currency": "USD", "taxAmount": 0, "taxRate": 0})
}

async fn ready(url: &str) {
    let http = reqwest::Client::new();
    wait(20, "the server", async || http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200)).await;
}

fn shapes(events: &Value) -> Vec<(u64, Value)> {
    events.as_array().unwrap().iter().map(|e| (e["schema_version"].as_u64().unwrap(), e["data"].clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_sees_the_current_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, hook) = chronicle_testkit::webhook::endpoint("s3cret").await;
    let sink = format!("\n[[publish.sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook_url}\"\nsecret = \"s3cret\"\n");
    std::fs::write(dir.path().join("chronicle.toml"), served::seed004::write(dir.path()) + &sink).unwrap();
    let port = free_port();
    let server = serve(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}");
    ready(&url).await;
    let http = reqwest::Client::new();
    let stored = json!([
        {"event_type": "OrderCreated", "schema_version": 1, "data": {"total": 10}},
        {"event_type": "OrderCreated", "schema_version": 2, "data": {"total": 20, "currency": "EUR"}},
        {"event_type": "OrderCreated", "schema_version": 3, "data": v3(30)},
    ]);
    let ok = http.post(format!("{url}/streams/order-1")).json(&stored).send().await.unwrap();
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let bad = json!([{"event_type": "OrderCreated", "schema_version": 3, "data": {"total": 1, "currency": "USD", "taxAmount": 0, "taxRate": -5}}]);
    let refused = http.post(format!("{url}/streams/order-1")).json(&bad).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["field"].as_str(), body["pointer"].as_str()),
        (Some("schema_violation"), Some("events[0].data"), Some("/taxRate")),
        "{body}"
    );
    assert!(!body.to_string().contains("-5"), "never the value: {body}");

    let current = vec![(3, v3(10)), (3, json!({"total": 20, "currency": "EUR", "taxAmount": 0, "taxRate": 0})), (3, v3(30))];
    let read: Value = http.get(format!("{url}/streams/order-1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(shapes(&read), current, "HTTP reads serve v3");
    let raw: Value = http.get(format!("{url}/streams/order-1?raw=true")).send().await.unwrap().json().await.unwrap();
    let versions: Vec<u64> = shapes(&raw).iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, [1, 2, 3], "raw=true serves what is stored");
    let page: Value = http.get(format!("{url}/events?stream_id=order-1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(shapes(&page["events"]), current, "GET /events serves v3");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?from=1")).await.unwrap();
    let mut over_ws = Vec::new();
    while over_ws.len() < 3 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
        let event: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        over_ws.push((event["schema_version"].as_u64().unwrap(), event["data"].clone()));
    }
    assert_eq!(over_ws, current, "the WebSocket serves v3");

    let remote = cli(dir.path(), port, &["read", "order-1", "--json"]);
    assert!(remote.status.success(), "{}", String::from_utf8_lossy(&remote.stderr));
    let lines: Vec<Value> = String::from_utf8(remote.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(shapes(&Value::Array(lines)), current, "the remote backend reads v3");

    use chronicle::EventStore;
    let order = chronicle::StreamId::new("order-1").unwrap();
    let client = chronicle::RemoteStore::connect(&url, None).await.unwrap();
    let read = client.read_stream(&order, chronicle::ReadStream::forward()).await.unwrap();
    assert!(read.iter().all(|e| e.schema_version == 3), "the Rust client reads v3");
    let raw_client = client.with_raw_reads();
    let read = raw_client.read_stream(&order, chronicle::ReadStream::forward()).await.unwrap();
    assert_eq!(read.iter().map(|e| e.schema_version).collect::<Vec<_>>(), [1, 2, 3], "with_raw_reads reads as stored");
    let mut live = raw_client.subscribe(chronicle::SubscribeFrom::Start, chronicle::Filter::default()).await.unwrap();
    assert_eq!(live.next().await.unwrap().unwrap().schema_version, 1, "raw subscriptions too");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/read_shapes.py");
    let python = Command::new("python3").args([script, "127.0.0.1", &port.to_string(), "order-1"]).output().unwrap();
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    let from_python: Vec<Value> = String::from_utf8(python.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(shapes(&Value::Array(from_python)), current, "a Python client reads v3");

    let published = async || {
        let posts = hook.posts();
        let events: Vec<(u64, Value)> =
            posts.iter().flat_map(|p| p.events.iter()).map(|e| (e["schema_version"].as_u64().unwrap(), e["data"].clone())).collect();
        events == current
    };
    wait(30, "the webhook sink delivering v3", published).await;

    let group = json!({"from": "start", "strategy": "round_robin"});
    assert_eq!(http.put(format!("{url}/subscriptions/billing")).json(&group).send().await.unwrap().status(), 201);
    let (mut consumer, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/subscriptions/billing/connect")).await.unwrap();
    let mut delivered = Vec::new();
    while delivered.len() < 3 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), consumer.next()).await.unwrap().unwrap().unwrap();
        let d: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        delivered.push((d["event"]["schema_version"].as_u64().unwrap(), d["event"]["data"].clone()));
    }
    assert_eq!(delivered, current, "a consumer group delivers v3");
    drop(consumer);

    // v4 through the API: total becomes amount, for every event at once.
    let v4 = json!({"schema": {"type": "object", "required": ["amount"]},
                    "upcast": {"from": 3, "steps": [{"op": "rename", "path": "/total", "to": "amount"}]}});
    let put = http.put(format!("{url}/schemas/OrderCreated/4")).json(&v4).send().await.unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
    assert_eq!(http.put(format!("{url}/schemas/OrderCreated/4")).json(&v4).send().await.unwrap().status(), 200, "the same again");
    let other = json!({"schema": {"type": "object"}});
    let conflict = http.put(format!("{url}/schemas/OrderCreated/4")).json(&other).send().await.unwrap();
    assert_eq!(conflict.status(), 409, "a registered version never changes");
    let read: Value = http.get(format!("{url}/streams/order-1")).send().await.unwrap().json().await.unwrap();
    assert!(shapes(&read).iter().all(|(v, d)| *v == 4 && d["amount"].is_number() && d.get("total").is_none()), "{read}");

    drop(server);
    let server = serve(dir.path(), port);
    ready(&url).await;
    let catalog: Value = http.get(format!("{url}/schemas/OrderCreated")).send().await.unwrap().json().await.unwrap();
    assert_eq!(catalog["latest"], 4, "the registration survives a restart: {catalog}");
    assert_eq!(http.get(format!("{url}/schemas/Nothing")).send().await.unwrap().status(), 404);
    drop(server);
}
