//! The API end to end: every route's success path.

mod common;

use serde_json::{Value, json};

async fn get(s: &common::Running, path: &str) -> Value {
    let r = s.http.get(s.at(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn ev(t: &str, n: u64, meta: Value) -> Value {
    json!({"event_type": t, "data": {"n": n}, "metadata": meta})
}

#[tokio::test]
async fn appends_reads_filters_and_paging() {
    let s = common::start().await;
    let meta = json!({"correlation_id": "c1", "actor": {"type": "user", "id": "ann"}, "tags": ["vip"]});
    let body = json!([ev("Placed", 1, meta.clone()), ev("Paid", 2, meta.clone())]).to_string();
    let r: Value = s.post_json("/streams/order-1?expected_version=no-stream", &body).await.json().await.unwrap();
    assert_eq!(r, json!({"stream_id": "order-1", "first_version": 1, "last_version": 2, "first_position": 1, "last_position": 2}));
    let id = "01a20300-0000-7000-8000-000000000001";
    let retry = json!([{"event_type": "Shipped", "data": {}, "event_id": id}]).to_string();
    let first: Value = s.post_json("/streams/order-1?expected_version=2", &retry).await.json().await.unwrap();
    let again: Value = s.post_json("/streams/order-1?expected_version=2", &retry).await.json().await.unwrap();
    assert_eq!(first, again, "an identical retry is idempotent");

    let multi = json!({"streams": [
        {"stream_id": "user-1", "expected_version": "no-stream", "events": [ev("Registered", 3, json!({"correlation_id": "c1"}))]},
        {"stream_id": "order-2", "expected_version": 0, "events": [ev("Placed", 4, json!({}))]}
    ]});
    let r = s.post_json("/append", &multi.to_string()).await;
    assert_eq!(r.status(), 409, "order-2 does not exist at version 0");
    let multi = json!({"streams": [
        {"stream_id": "user-1", "expected_version": "no-stream", "events": [ev("Registered", 3, json!({"correlation_id": "c1"}))]},
        {"stream_id": "order-2", "events": [ev("Placed", 4, json!({"tags": ["eu"]}))]}
    ]});
    let r: Value = s.post_json("/append", &multi.to_string()).await.json().await.unwrap();
    assert_eq!((r[0]["first_position"].as_u64(), r[1]["first_position"].as_u64()), (Some(4), Some(5)));
    let dcb = json!({"streams": [{"stream_id": "order-3", "events": [ev("Placed", 5, json!({}))]}],
        "condition": {"query": {"items": [{"types": ["Placed"], "tags": ["eu"]}]}, "after": 4}});
    let (status, b) = {
        let r = s.post_json("/append", &dcb.to_string()).await;
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!((status, b["error"].as_str(), b["position"].as_u64()), (409, Some("append_condition_failed"), Some(5)));

    let stream = get(&s, "/streams/order-1").await;
    assert_eq!(stream.as_array().unwrap().len(), 3);
    let keys: std::collections::BTreeSet<&str> = stream[0].as_object().unwrap().keys().map(String::as_str).collect();
    let want = ["global_position", "stream_id", "version", "event_id", "event_type", "schema_version", "data", "metadata", "recorded_at"];
    assert_eq!(keys, want.into_iter().collect());
    assert_eq!(stream[0]["data"], json!({"n": 1}));
    let back = get(&s, "/streams/order-1?direction=backward&limit=1").await;
    assert_eq!(back[0]["event_id"], id);
    assert_eq!(get(&s, "/streams/order-1?from=2&limit=1").await[0]["version"], 2);

    let types = |v: &Value| v["events"].as_array().unwrap().iter().map(|e| e["global_position"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(types(&get(&s, "/events?event_type=Placed,Registered").await), vec![1, 4, 5]);
    assert_eq!(types(&get(&s, "/events?category=order").await), vec![1, 2, 3, 5]);
    assert_eq!(types(&get(&s, "/events?correlation_id=c1").await), vec![1, 2, 4]);
    assert_eq!(types(&get(&s, "/events?actor_id=ann&tag=vip").await), vec![1, 2]);
    assert_eq!(types(&get(&s, "/events?stream_prefix=order-&direction=backward").await), vec![5, 3, 2, 1]);
    assert_eq!(types(&get(&s, "/events?stream_id=user-1").await), vec![4]);
    let page = get(&s, "/events?limit=2").await;
    assert_eq!((types(&page), page["next"].as_u64(), page["head"].as_u64()), (vec![1, 2], Some(3), Some(5)));
    let page = get(&s, "/events?limit=2&from=3").await;
    assert_eq!((types(&page), page["next"].as_u64()), (vec![3, 4], Some(5)));
    let ndjson = s.http.get(s.at("/events?from=2")).header("accept", "application/x-ndjson").send().await.unwrap();
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = ndjson.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|e| e["global_position"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
    assert_eq!(get(&s, &format!("/events/{id}")).await["global_position"], 3);
    assert_eq!(get(&s, "/correlations/c1").await.as_array().unwrap().len(), 3);
    s.shutdown().await;
}

#[tokio::test]
async fn lifecycle_snapshots_checkpoints_and_ops() {
    let s = common::start().await;
    let three = json!([ev("T", 1, json!({})), ev("T", 2, json!({})), ev("T", 3, json!({}))]).to_string();
    s.post_json("/streams/acct-1", &three).await;
    let put = |path: &str, body: Value| s.http.put(s.at(path)).json(&body).send();
    assert_eq!(put("/streams/acct-1/metadata", json!({"max_count": 2})).await.unwrap().status(), 204);
    assert_eq!(get(&s, "/streams/acct-1").await.as_array().unwrap().len(), 2);
    let info = get(&s, "/streams/acct-1/info").await;
    assert_eq!(
        (info["last_version"].as_u64(), info["status"].as_str(), info["metadata"]["max_count"].as_u64()),
        (Some(3), Some("active"), Some(2))
    );
    assert_eq!(put("/streams/acct-1/metadata", json!({"max_count": 0})).await.unwrap().status(), 400);

    assert_eq!(
        put("/streams/acct-1/snapshot", json!({"version": 3, "schema_version": 2, "state": {"balance": 6}})).await.unwrap().status(),
        204
    );
    let snap = get(&s, "/streams/acct-1/snapshot").await;
    assert_eq!(snap, json!({"stream_id": "acct-1", "version": 3, "schema_version": 2, "state": {"balance": 6}}));
    assert_eq!(put("/checkpoints/projector", json!({"position": 3})).await.unwrap().status(), 204);
    assert_eq!(get(&s, "/checkpoints/projector").await, json!({"position": 3}));

    let del = s.http.delete(s.at("/streams/acct-1?expected_version=2")).send().await.unwrap();
    assert_eq!(del.status(), 409);
    let del = s.http.delete(s.at("/streams/acct-1?expected_version=3")).send().await.unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(get(&s, "/streams/acct-1").await, json!([]));
    assert_eq!(get(&s, "/streams/acct-1/info").await["status"], "soft_deleted");

    assert_eq!(get(&s, "/health/live").await["live"], true);
    assert_eq!(get(&s, "/health/ready").await["ready"], true);
    let metrics = s.http.get(s.at("/metrics")).send().await.unwrap();
    let rid = metrics.headers().get("x-request-id").cloned();
    let text = metrics.text().await.unwrap();
    for name in [
        "chronicle_append_duration_seconds_bucket",
        "chronicle_read_duration_seconds_count",
        "chronicle_events_appended_total 3",
        "chronicle_sse_subscribers 0",
        "chronicle_head_position 3",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(rid.is_some(), "every response carries x-request-id");
    s.shutdown().await;
}

#[tokio::test]
async fn metrics_include_projection_states() {
    use chronicle_toolkit::{MemoryProjection, ProjectionRunner};
    let s = common::start().await;
    let body = json!([ev("Placed", 1, json!({}))]).to_string();
    assert_eq!(s.post_json("/streams/order-1", &body).await.status(), 200);
    let counts = std::sync::Arc::new(MemoryProjection::new("counts", |n: &mut u64, _| {
        *n += 1;
        Ok(())
    }));
    let running = ProjectionRunner::new(s.store.clone()).start(counts);
    running.wait_for(1).await.unwrap();
    running.stop().await.unwrap();
    let text = s.http.get(s.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"chronicle_projection_position{projection="counts"}"#), "{text}");
    assert!(text.contains(r#"chronicle_projection_live{projection="counts"} 0"#), "stopped: {text}");
    s.shutdown().await;
}
