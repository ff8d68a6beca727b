//! Two `chronicle serve` nodes on one PostgreSQL schema, both configured
//! with the same webhook sink: exactly one relays it (the other stands
//! by, and both name the same holder); SIGKILL the holder and the other
//! takes over within seconds, skipping nothing.

use chronicle_testkit::webhook::endpoint;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
const EVENTS: u64 = 3_000;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A node, SIGKILLed when dropped.
struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(dir: &Path) -> Node {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("CHRONICLE_DATABASE_URL", url())
        .env_remove("CHRONICLE_BACKEND")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node { child, port }
}

struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (url(), self.0.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
                }
            });
        })
        .join();
    }
}

async fn sink(http: &reqwest::Client, port: u16) -> Option<serde_json::Value> {
    let r = http.get(format!("http://127.0.0.1:{port}/publish")).send().await.ok()?;
    Some(r.json::<serde_json::Value>().await.ok()?["sinks"][0].clone())
}

async fn wait(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_relays_a_sink_and_the_other_takes_over() {
    let reachable = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.map(|_| ());
    if chronicle_testkit::service_or_skip("PostgreSQL", reachable).is_none() {
        return;
    }
    let schema = Schema(format!("pub_{}", chronicle::Uuid::now_v7().simple()));
    let (hook_url, hook) = endpoint("k").await;
    hook.delay_ms.store(2, std::sync::atomic::Ordering::SeqCst);
    let config = format!(
        "backend = \"postgres\"\n[postgres]\nschema = \"{}\"\npool_size = 4\n\n[[publish.sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook_url}\"\nsecret = \"k\"\nbatch_size = 25\n",
        schema.0
    );
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&dir_a, &dir_b] {
        std::fs::write(dir.path().join("chronicle.toml"), &config).unwrap();
    }
    let a = node(dir_a.path());
    let http = reqwest::Client::new();
    wait(30, "node A relaying", async || sink(&http, a.port).await.is_some_and(|s| s["state"] == "running")).await;
    let b = node(dir_b.path());
    wait(30, "node B up", async || sink(&http, b.port).await.is_some()).await;

    // Exactly one relays; both name the same holder.
    let (sa, sb) = (sink(&http, a.port).await.unwrap(), sink(&http, b.port).await.unwrap());
    assert_eq!((sa["state"].as_str(), sb["state"].as_str()), (Some("running"), Some("standby")), "{sa}\n{sb}");
    assert_eq!(sa["holder"], sb["holder"]);
    assert!(sa["holder"].as_str().unwrap().contains(&format!(":{} pid", a.port)), "{sa}");

    // Writers append through B while A relays; then A dies.
    let writer = {
        let (http, port) = (http.clone(), b.port);
        tokio::spawn(async move {
            for chunk in 0..EVENTS / 50 {
                let events: Vec<_> = (1..=50).map(|i| serde_json::json!({"event_type": "Placed", "data": {"n": chunk * 50 + i}})).collect();
                let r = http.post(format!("http://127.0.0.1:{port}/streams/order-{chunk}")).json(&events).send().await.unwrap();
                assert_eq!(r.status(), 200);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    wait(30, "deliveries", async || hook.accepted_positions().len() >= 500).await;
    drop(a); // SIGKILL the holder
    let takeover = wait(10, "node B taking over", async || sink(&http, b.port).await.is_some_and(|s| s["state"] == "running")).await;
    eprintln!("node B took over {takeover:?} after node A was killed");
    writer.await.unwrap();
    wait(60, "a drained log", async || sink(&http, b.port).await.is_some_and(|s| s["lag"] == 0)).await;
    let sb = sink(&http, b.port).await.unwrap();
    assert!(sb["holder"].as_str().unwrap().contains(&format!(":{} pid", b.port)), "{sb}");
    let mut delivered: Vec<u64> =
        hook.posts().iter().filter(|p| p.status == 200).flat_map(|p| p.events.iter().map(|e| e["data"]["n"].as_u64().unwrap())).collect();
    let total = delivered.len();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered, (1..=EVENTS).collect::<Vec<_>>(), "nothing skipped");
    eprintln!("{} duplicates across the takeover", total - delivered.len());
    drop(b);
}
