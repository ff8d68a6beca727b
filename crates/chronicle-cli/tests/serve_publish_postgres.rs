//! Two `chronicle serve` nodes on one PostgreSQL schema, both configured
//! with the same webhook sink: exactly one relays it (the other stands
//! by, and both name the same holder); SIGKILL the holder and the other
//! takes over within seconds, skipping nothing.

mod served;

use chronicle_testkit::webhook::endpoint;
use served::{Schema, free_port, serve_pg, wait};
use std::time::Duration;

const EVENTS: u64 = 3_000;

async fn sink(http: &reqwest::Client, port: u16) -> Option<serde_json::Value> {
    let r = http.get(format!("http://127.0.0.1:{port}/publish")).send().await.ok()?;
    Some(r.json::<serde_json::Value>().await.ok()?["sinks"][0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_relays_a_sink_and_the_other_takes_over() {
    let Some(schema) = Schema::fresh("pub").await else { return };
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
    let (port_a, port_b) = (free_port(), free_port());
    let a = serve_pg(dir_a.path(), port_a);
    let http = reqwest::Client::new();
    wait(30, "node A relaying", async || sink(&http, port_a).await.is_some_and(|s| s["state"] == "running")).await;
    let b = serve_pg(dir_b.path(), port_b);
    wait(30, "node B up", async || sink(&http, port_b).await.is_some()).await;

    // Exactly one relays; both name the same holder.
    let (sa, sb) = (sink(&http, port_a).await.unwrap(), sink(&http, port_b).await.unwrap());
    assert_eq!((sa["state"].as_str(), sb["state"].as_str()), (Some("running"), Some("standby")), "{sa}\n{sb}");
    assert_eq!(sa["holder"], sb["holder"]);
    assert!(sa["holder"].as_str().unwrap().contains(&format!(":{} pid", port_a)), "{sa}");

    // Writers append through B while A relays; then A dies.
    let writer = {
        let (http, port) = (http.clone(), port_b);
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
    let takeover = wait(10, "node B taking over", async || sink(&http, port_b).await.is_some_and(|s| s["state"] == "running")).await;
    eprintln!("node B took over {takeover:?} after node A was killed");
    writer.await.unwrap();
    wait(60, "a drained log", async || sink(&http, port_b).await.is_some_and(|s| s["lag"] == 0)).await;
    let sb = sink(&http, port_b).await.unwrap();
    assert!(sb["holder"].as_str().unwrap().contains(&format!(":{} pid", port_b)), "{sb}");
    let mut delivered: Vec<u64> =
        hook.posts().iter().filter(|p| p.status == 200).flat_map(|p| p.events.iter().map(|e| e["data"]["n"].as_u64().unwrap())).collect();
    let total = delivered.len();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered, (1..=EVENTS).collect::<Vec<_>>(), "nothing skipped");
    eprintln!("{} duplicates across the takeover", total - delivered.len());
    drop(b);
}
