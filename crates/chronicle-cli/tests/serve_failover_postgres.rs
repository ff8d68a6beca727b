//! A primary restart under load: two `chronicle serve` nodes on a private
//! PostgreSQL cluster, 16 writers (8 through each node, one stream each,
//! every append with its own event id and the exact expected version) and
//! two live subscribers (one per node, over the WebSocket) while
//! `pg_ctl restart -m fast` terminates every session, and then while the
//! database is stopped for a while (the breaker opens) and started again.
//! Appends caught by either fail with 503 `unavailable`; each writer
//! retries the same request (same ids, same expected version) until it is
//! acknowledged.
//! Afterwards every acknowledged event is stored exactly once, nothing
//! unacknowledged slipped in, and both subscribers saw every position once,
//! in order; the nodes report their reconnects and breaker.

mod served;

use chronicle::{EventStore, Filter, RemoteStore, SubscribeFrom};
use chronicle_testkit::pg_cluster::{Access, PgCluster};
use serde_json::{Value, json};
use served::{BIN, free_port, wait};
use std::{
    collections::HashSet,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

const WRITERS: usize = 16;

fn node(dir: &std::path::Path, url: &str, port: u16, name: &str) -> served::Server {
    served::Server(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--node", name])
            .current_dir(dir)
            .env("CHRONICLE_BACKEND", "postgres")
            .env("CHRONICLE_DATABASE_URL", url)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// What one writer learnt: acknowledged ids, and appends that needed a retry.
struct Written {
    acknowledged: Vec<chronicle::Uuid>,
    retried: u64,
}

/// Appends one event per request to `stream` until `stop`, retrying a
/// failed request (503, or a connection error) unchanged until it is
/// acknowledged; any other answer fails the test.
async fn writer(http: reqwest::Client, base: String, stream: String, stop: Arc<AtomicBool>) -> Written {
    let mut written = Written { acknowledged: Vec::new(), retried: 0 };
    while !stop.load(Ordering::Relaxed) {
        let id = chronicle::Uuid::now_v7();
        let expected = match written.acknowledged.len() {
            0 => "no-stream".to_owned(),
            n => n.to_string(),
        };
        let url = format!("{base}/streams/{stream}?expected_version={expected}");
        let body = json!([{"event_type": "Tick", "event_id": id, "data": {"n": written.acknowledged.len() + 1}}]);
        let mut failed = false;
        loop {
            match http.post(&url).json(&body).timeout(Duration::from_secs(30)).send().await {
                Ok(r) if r.status() == 200 => {
                    let answer: Value = r.json().await.unwrap();
                    assert_eq!(answer["first_version"].as_u64(), Some(written.acknowledged.len() as u64 + 1), "{stream}: {answer}");
                    break;
                }
                Ok(r) if r.status() == 503 => {
                    let answer: Value = r.json().await.unwrap_or(Value::Null);
                    assert_eq!(answer["error"].as_str(), Some("unavailable"), "{answer}");
                }
                Ok(r) => panic!("{stream}: unexpected {} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(_) => {} // the node itself is fine; a timeout or reset is retried the same way
            }
            failed = true;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        written.retried += u64::from(failed);
        written.acknowledged.push(id);
    }
    written
}

/// (position, event id) of every event a subscriber saw, in order.
type Seen = Arc<std::sync::Mutex<Vec<(u64, chronicle::Uuid)>>>;

/// Collects every event a node's live subscription delivers.
fn subscriber(base: &str) -> (tokio::task::JoinHandle<()>, Seen) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = RemoteStore::new(base, None).unwrap();
    let into = seen.clone();
    let task = tokio::spawn(async move {
        let mut sub = store.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
        while let Some(event) = sub.next().await {
            let event = event.expect("the subscription outlasts the restart");
            into.lock().unwrap().push((event.global_position, event.event_id));
        }
    });
    (task, seen)
}

async fn ready(http: &reqwest::Client, base: &str) -> (u16, Value) {
    match http.get(format!("{base}/health/ready")).timeout(Duration::from_secs(5)).send().await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_restart_loses_and_duplicates_nothing() {
    let Some(cluster) = PgCluster::start(Access::Plain) else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.url("127.0.0.1", "sslmode=disable");
    let ports = [free_port(), free_port()];
    let _nodes = [node(dir.path(), &url, ports[0], "node-a"), node(dir.path(), &url, ports[1], "node-b")];
    let bases = ports.map(|p| format!("http://127.0.0.1:{p}"));
    let http = reqwest::Client::new();
    for base in &bases {
        wait(30, &format!("{base} ready"), async || ready(&http, base).await.0 == 200).await;
    }
    let (status, health) = ready(&http, &bases[0]).await;
    assert_eq!((status, health["node"].as_str(), health["connections"]["breaker"].as_str()), (200, Some("node-a"), Some("closed")));

    let subscribers = [subscriber(&bases[0]), subscriber(&bases[1])];
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> =
        (0..WRITERS).map(|w| tokio::spawn(writer(http.clone(), bases[w % 2].clone(), format!("tick-{w}"), stop.clone()))).collect();
    // Let the writers get going, then restart the primary under them.
    let head = async || RemoteStore::new(&bases[0], None).unwrap().head().await.unwrap_or(0);
    wait(60, "writes before the restart", async || head().await >= 500).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart_fast();
        cluster
    })
    .await
    .unwrap();
    // Then a database that stays down (longer than a connection's own
    // retries, so appends surely fail and are retried): the node turns
    // unready with its breaker open, and ready again (breaker closed) once
    // the database is back.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.pg_ctl(&["-w", "-m", "fast", "stop"]);
        cluster
    })
    .await
    .unwrap();
    let open = async || {
        let (status, health) = ready(&http, &bases[0]).await;
        status == 503 && health["connections"]["breaker"] == "open" && health["node"] == "node-a"
    };
    wait(30, "node-a unready with its breaker open", open).await;
    let metrics = http.get(format!("{}/metrics", bases[0])).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_db_breaker_state{node=\"node-a\",state=\"open\"} 1"), "{metrics}");
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.pg_ctl(&["-w", "start"]);
        cluster
    })
    .await
    .unwrap();
    let closed = async || {
        let (status, health) = ready(&http, &bases[0]).await;
        status == 200 && health["connections"]["breaker"] == "closed"
    };
    wait(30, "node-a ready again", closed).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // writing on after the outage
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut retried = 0;
    for w in writers {
        let written = w.await.unwrap();
        acknowledged.extend(written.acknowledged);
        retried += written.retried;
    }
    eprintln!("{} appends acknowledged, {retried} of them after a retry", acknowledged.len());
    assert!(retried > 0, "the outages caught some appends");

    // Every acknowledged event stored exactly once; nothing else stored.
    let store = RemoteStore::new(&bases[1], None).unwrap();
    let all = store.read_all(&chronicle::ReadAll::forward().limit(100_000)).await.unwrap();
    let stored: Vec<chronicle::Uuid> = all.events.iter().map(|e| e.event_id).collect();
    let distinct: HashSet<_> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "no event stored twice");
    assert_eq!(stored.len(), acknowledged.len(), "stored = acknowledged");
    assert!(acknowledged.iter().all(|id| distinct.contains(id)), "every acknowledged event is stored");
    let positions: Vec<u64> = all.events.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (1..=stored.len() as u64).collect::<Vec<_>>(), "gapless positions");

    // Both subscribers resumed: every position once, in order.
    for (i, (_, seen)) in subscribers.iter().enumerate() {
        wait(30, &format!("subscriber {i} caught up"), async || seen.lock().unwrap().len() >= stored.len()).await;
        let seen = seen.lock().unwrap().clone();
        let order: Vec<(u64, chronicle::Uuid)> = all.events.iter().map(|e| (e.global_position, e.event_id)).collect();
        assert_eq!(seen, order, "subscriber {i}: no gap, no duplicate, same order");
    }

    // The nodes saw it: reconnects counted, the breaker closed again.
    for base in &bases {
        let (status, health) = ready(&http, base).await;
        assert_eq!((status, health["connections"]["breaker"].as_str()), (200, Some("closed")), "{health}");
        assert!(health["connections"]["reconnects"].as_u64() > Some(0), "{health}");
        assert_eq!(health["connections"]["listening"].as_bool(), Some(true), "{health}");
        let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("chronicle_db_reconnects_total{node=\"node-"), "{metrics}");
    }
    for (task, _) in subscribers {
        task.abort();
    }

    drop(cluster);
}
