//! Consumer groups on PostgreSQL with two `chronicle serve` nodes on one
//! schema: a Rust consumer on node A, a Rust and a plain-Python consumer on
//! node B share one `pinned_by_stream` group over what writers appended
//! through both nodes; node A is SIGKILLed mid-run (its consumer with it). Node B
//! takes over feeding, what A's consumer held is redelivered, and in the
//! final tally every event is handled, no first delivery twice, each
//! stream in order.

mod served;

use chronicle::RemoteStore;
use chronicle_testkit::tally::{self, Handled};
use served::{Schema, cli, free_port, serve_pg, wait};
use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

const EVENTS: u64 = 4_000;

type Log = Arc<Mutex<Vec<Handled>>>;

async fn group(http: &reqwest::Client, port: u16) -> Option<serde_json::Value> {
    let r = http.get(format!("http://127.0.0.1:{port}/subscriptions/billing")).send().await.ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

/// Handles (records, then acks) every delivery until the server is gone for good.
async fn rust_consumer(port: u16, log: Log) {
    let remote = RemoteStore::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    let mut consumer = remote.consume("billing").await.unwrap();
    let mut count = 0u64;
    while let Ok(d) = consumer.next().await {
        let data: serde_json::Value = serde_json::from_slice(d.event.data.as_bytes()).unwrap();
        log.lock().unwrap().push(Handled::now(data["n"].as_u64().unwrap(), d.event.stream_id.as_str(), d.event.version, d.retry_count));
        if consumer.ack(&[d.event.event_id]).await.is_err() {
            return;
        }
        count += 1;
        if count.is_multiple_of(50) {
            tokio::time::sleep(Duration::from_millis(5)).await; // some work: the kill lands mid-run
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_on_two_nodes_share_a_group_and_survive_a_node() {
    let python = Command::new("python3").arg("--version").output();
    if chronicle_testkit::service_or_skip("python3", python.map(drop)).is_none() {
        return;
    }
    let Some(schema) = Schema::fresh("groups").await else { return };
    let config = format!("backend = \"postgres\"\n[postgres]\nschema = \"{}\"\npool_size = 6\n", schema.0);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&dir_a, &dir_b] {
        std::fs::write(dir.path().join("chronicle.toml"), &config).unwrap();
    }
    let (port_a, port_b) = (free_port(), free_port());
    let node_a = serve_pg(dir_a.path(), port_a);
    let http = reqwest::Client::new();
    let ready = async |port| http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.is_ok_and(|r| r.status() == 200);
    wait(30, "node A up", async || ready(port_a).await).await;
    let node_b = serve_pg(dir_b.path(), port_b);
    wait(30, "node B up", async || ready(port_b).await).await;
    let args = ["subscriptions", "create", "billing", "--from", "start", "--strategy", "pinned_by_stream", "--ack-timeout-ms", "3000"];
    let created = cli(dir_a.path(), port_a, &args);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    wait(10, "node B sees the group", async || group(&http, port_b).await.is_some()).await;

    // Writers on both nodes, at once.
    let writers: Vec<_> = [port_a, port_b]
        .into_iter()
        .enumerate()
        .map(|(w, port)| {
            let http = http.clone();
            tokio::spawn(async move {
                for chunk in 0..EVENTS / 2 / 100 {
                    let streams: Vec<_> = (0..4)
                        .map(|s| {
                            let first = (w as u64 * EVENTS / 2) + chunk * 100 + s * 25;
                            let events: Vec<_> =
                                (first..first + 25).map(|n| serde_json::json!({"event_type": "Placed", "data": {"n": n}})).collect();
                            serde_json::json!({"stream_id": format!("order-{}", (first / 25) % 40), "events": events})
                        })
                        .collect();
                    let r =
                        http.post(format!("http://127.0.0.1:{port}/append")).json(&serde_json::json!({"streams": streams})).send().await;
                    assert_eq!(r.unwrap().status(), 200);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }

    let logs: [Log; 2] = Default::default();
    let on_a = tokio::spawn(rust_consumer(port_a, logs[0].clone()));
    let on_b = tokio::spawn(rust_consumer(port_b, logs[1].clone()));
    let python_out = dir_b.path().join("python.ndjson");
    let mut python = served::python_consumer(port_b, "billing", 20, &python_out);

    wait(60, "a third handled", async || logs[0].lock().unwrap().len() + logs[1].lock().unwrap().len() >= 1_000).await;
    let handled_on_a = logs[0].lock().unwrap().len();
    assert!(handled_on_a > 0, "node A's consumer took part");
    drop(node_a); // SIGKILL, with a consumer and maybe the feeding lease
    let took =
        wait(90, "every event handled", async || group(&http, port_b).await.is_some_and(|g| g["lag"] == 0 && g["buffered"] == 0)).await;
    eprintln!("node A killed after its consumer handled {handled_on_a}; node B drained the group {took:?} later");
    let _ = python.kill();
    let _ = python.wait();
    on_a.abort();
    on_b.abort();

    let py = served::python_handled(&python_out);
    let per_consumer = [logs[0].lock().unwrap().clone(), logs[1].lock().unwrap().clone(), py];
    assert!(!per_consumer[2].is_empty(), "the Python consumer took part");
    let summary = tally::check(&per_consumer, EVENTS, None, true);
    let status = group(&http, port_b).await.unwrap();
    eprintln!("handled per consumer: {:?}; {summary:?}; {status}", per_consumer.iter().map(Vec::len).collect::<Vec<_>>());
    drop(node_b);
}
