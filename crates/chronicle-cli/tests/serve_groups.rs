//! Consumer groups end to end against `chronicle serve`: three consumers —
//! two through the Rust remote client, one a plain-Python WebSocket client
//! — share 20,000 events of a `pinned_by_stream` group. One Rust consumer
//! is killed mid-way, the server is restarted (SIGTERM) mid-run, a poison
//! event is parked after its retries and replayed with the CLI. In the
//! final tally every event is acknowledged (a first delivery at most once),
//! each consumer got the fresh events of its streams in order, and no event
//! was handled before the one before it in its stream.

mod served;

use chronicle::RemoteStore;
use chronicle_groups::NackAction;
use chronicle_testkit::tally::{self, Handled};
use served::{cli, free_port, serve, wait};
use std::{
    collections::BTreeMap,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

const EVENTS: u64 = 20_000;
const POISON: u64 = 777;

async fn ready(http: &reqwest::Client, port: u16) {
    for _ in 0..200 {
        if http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not come up");
}

async fn group(http: &reqwest::Client, port: u16) -> serde_json::Value {
    http.get(format!("http://127.0.0.1:{port}/subscriptions/billing")).send().await.unwrap().json().await.unwrap()
}

/// The deliveries one consumer handled, in its order.
type Acks = Arc<Mutex<Vec<Handled>>>;

/// A Rust consumer: acks everything, nacks the poison (retry) until `fixed`; stops after `limit` acks (killed).
async fn rust_consumer(remote: RemoteStore, acks: Acks, fixed: Arc<AtomicBool>, limit: Option<usize>) {
    let mut consumer = remote.consume("billing").await.unwrap();
    let mut count = 0;
    while let Ok(d) = consumer.next().await {
        let data: serde_json::Value = serde_json::from_slice(d.event.data.as_bytes()).unwrap();
        if data["poison"] == true && !fixed.load(Ordering::SeqCst) {
            consumer.nack(&[d.event.event_id], NackAction::Retry).await.unwrap();
            continue;
        }
        // Handled (recorded), then acknowledged.
        acks.lock().unwrap().push(Handled::now(data["n"].as_u64().unwrap(), d.event.stream_id.as_str(), d.event.version, d.retry_count));
        consumer.ack(&[d.event.event_id]).await.unwrap();
        count += 1;
        if count % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await; // a consumer with work to do: the run lasts long enough to restart mid-way
        }
        if limit.is_some_and(|l| count >= l) {
            return; // dropped without a close: what it still held goes to the others
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_consumers_one_killed_a_restart_and_a_parked_poison() {
    let python = Command::new("python3").arg("--version").output();
    if chronicle_testkit::service_or_skip("python3", python.map(drop)).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = serve(dir.path(), port);
    let http = reqwest::Client::new();
    ready(&http, port).await;
    let created = cli(
        dir.path(),
        port,
        &[
            "subscriptions",
            "create",
            "billing",
            "--from",
            "start",
            "--strategy",
            "pinned_by_stream",
            "--max-retries",
            "2",
            "--ack-timeout-ms",
            "3000",
        ],
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    for chunk in 0..EVENTS / 500 {
        let mut by_stream: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
        for n in chunk * 500..(chunk + 1) * 500 {
            let data = if n == POISON { serde_json::json!({"n": n, "poison": true}) } else { serde_json::json!({"n": n}) };
            by_stream.entry(n % 40).or_default().push(serde_json::json!({"event_type": "Placed", "data": data}));
        }
        let events: Vec<serde_json::Value> =
            by_stream.into_iter().map(|(s, events)| serde_json::json!({"stream_id": format!("order-{s}"), "events": events})).collect();
        let r = http.post(format!("http://127.0.0.1:{port}/append")).json(&serde_json::json!({"streams": events})).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    let remote = RemoteStore::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    let (acks_a, acks_b): (Acks, Acks) = (Arc::default(), Arc::default());
    let fixed = Arc::new(AtomicBool::new(false));
    let python_out = dir.path().join("python-acks.ndjson");
    let mut python = served::python_consumer(port, "billing", 6, &python_out);
    // The Python consumer first, so it holds streams before the others come.
    wait(20, "the Python consumer connected", async || group(&http, port).await["consumers"] == 1).await;
    let a = tokio::spawn(rust_consumer(remote.clone(), acks_a.clone(), fixed.clone(), None));
    let b = tokio::spawn(rust_consumer(remote.clone(), acks_b.clone(), fixed.clone(), Some(1_500)));
    let killed = tokio::time::timeout(Duration::from_secs(60), b).await;
    killed.expect("consumer B never got its 1,500 events").unwrap(); // killed mid-way

    wait(60, "8,000 acks", async || group(&http, port).await["checkpoint"].as_u64().unwrap_or(0) >= 8_000).await;
    assert!(group(&http, port).await["checkpoint"].as_u64().unwrap_or(0) < EVENTS, "the restart comes mid-run");
    let term = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(term.success());
    let exited = server.0.wait().unwrap();
    assert!(exited.success(), "a clean shutdown: {exited:?}");
    server = serve(dir.path(), port); // same data, same port: the consumers reconnect
    ready(&http, port).await;

    wait(120, "every event handled but the poison", async || {
        let g = group(&http, port).await;
        g["lag"] == 0 && g["parked"] == 1
    })
    .await;
    let python = tokio::task::spawn_blocking(move || python.wait().unwrap()).await.unwrap(); // exits when idle
    assert!(python.success());
    let parked: serde_json::Value =
        serde_json::from_slice(&cli(dir.path(), port, &["subscriptions", "parked", "billing", "--json"]).stdout).unwrap();
    assert_eq!((parked["size"].as_u64(), parked["entries"][0]["attempts"].as_u64()), (Some(1), Some(3)), "{parked}");
    fixed.store(true, Ordering::SeqCst);
    let replayed = cli(dir.path(), port, &["subscriptions", "replay", "billing", "--all"]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    wait(30, "the replayed poison acknowledged", async || acks_a.lock().unwrap().iter().any(|h| h.n == POISON)).await;
    wait(10, "an empty parking lot", async || group(&http, port).await["parked"] == 0).await;
    a.abort();

    // The tally: every event handled, a first delivery at most once, per-stream order.
    let py = served::python_handled(&python_out);
    assert!(!py.is_empty(), "the Python consumer took part");
    let per_consumer = [acks_a.lock().unwrap().clone(), acks_b.lock().unwrap().clone(), py];
    // Second handlings only ever come from redeliveries (counted
    // separately): acks the killed consumer sent as its socket died, and
    // leases that timed out while the server restarted.
    let summary = tally::check(&per_consumer, EVENTS, Some(POISON), true);
    eprintln!(
        "handled: rust A {}, rust B {} (killed), python {}; {summary:?}",
        per_consumer[0].len(),
        per_consumer[1].len(),
        per_consumer[2].len()
    );
    let listed = cli(dir.path(), port, &["subscriptions", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["groups"][0]["name"], "billing");
    let metrics = http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_group_parked{group=\"billing\"} 0"), "{metrics}");
    assert!(cli(dir.path(), port, &["subscriptions", "delete", "billing"]).status.success());
    let gone = http.get(format!("http://127.0.0.1:{port}/subscriptions/billing")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    drop(server);
}
