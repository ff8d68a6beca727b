//! `chronicle serve` with `[[publish.sinks]]`, as a user runs it: bad sink
//! configuration refuses to start naming the sink and the field; a
//! webhook sink delivers every event across a SIGKILL of the server
//! (duplicates allowed, counted; nothing skipped); a poison event lands in
//! the DLQ and `chronicle dlq replay` delivers it once fixed.

mod served;

use chronicle_testkit::webhook::endpoint;
use served::{BIN, cli, free_port, serve, wait};
use std::{process::Command, sync::atomic::Ordering, time::Duration};

#[test]
fn bad_sink_configuration_refuses_to_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("name = \"s\"\nkind = \"kafka\"\nurl = \"k://h\"", "publish sink s: kind: unknown kind \"kafka\""),
        ("name = \"s\"\nkind = \"nats\"\nurl = \"http://h\"", "publish sink s: url:"),
        ("name = \"s\"\nkind = \"nats\"\nurl = \"nats://h\"\nsubject = \"a.{x}\"", "publish sink s: subject: unknown placeholder {x}"),
        ("name = \"S!\"\nkind = \"nats\"\nurl = \"nats://h\"", "publish sink #1: name:"),
        ("name = \"s\"\nkind = \"webhook\"\nurl = \"http://h\"\nsecret = \"k\"\nmax_retries = -1", "publish sink s: max_retries:"),
    ];
    for (sink, expected) in cases {
        let config = dir.path().join("chronicle.toml");
        std::fs::write(&config, format!("[[publish.sinks]]\n{sink}\n")).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sink}: must not start");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.contains(expected), "{sink}\n=> {stderr}");
    }
    let duplicate = "[[publish.sinks]]\nname = \"a\"\nkind = \"nats\"\nurl = \"nats://h\"\n".repeat(2);
    std::fs::write(dir.path().join("chronicle.toml"), duplicate).unwrap();
    let out = Command::new(BIN).args(["publish", "status"]).current_dir(dir.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("publish sink a: name: is used by another sink"));
}

async fn publish_status(http: &reqwest::Client, port: u16) -> serde_json::Value {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/publish")).send().await
            && r.status() == 200
        {
            return r.json::<serde_json::Value>().await.unwrap()["sinks"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server on {port} did not answer");
}

const EVENTS: u64 = 2_000;
const POISON: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_its_relay_and_the_dlq_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (url, hook) = endpoint("s3cret").await;
    hook.delay_ms.store(3, Ordering::SeqCst); // slow enough to be killed mid-relay
    std::fs::write(
        dir.path().join("chronicle.toml"),
        format!(
            "[[publish.sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"s3cret\"\nbatch_size = 20\nmax_retries = 1\nretry_base_ms = 20\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let server = serve(dir.path(), port);
    let http = reqwest::Client::new();
    publish_status(&http, port).await;
    for chunk in 0..EVENTS / 100 {
        let events: Vec<serde_json::Value> = (1..=100)
            .map(|i| {
                let n = chunk * 100 + i;
                serde_json::json!({"event_type": "Placed", "data": if n == POISON { serde_json::json!({"poison": true}) } else { serde_json::json!({"n": n}) }})
            })
            .collect();
        let r = http.post(format!("http://127.0.0.1:{port}/streams/order-{chunk}")).json(&events).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    wait(30, "some deliveries", async || hook.accepted_positions().len() >= 400).await;
    drop(server); // SIGKILL, mid-relay
    let before = hook.accepted_positions().len();
    assert!((before as u64) < EVENTS - 1, "killed mid-relay ({before} delivered)");

    let server = serve(dir.path(), port);
    wait(60, "a drained log", async || publish_status(&http, port).await["lag"] == 0).await;
    let status = publish_status(&http, port).await;
    // The head also counts the DLQ's own records (in `$dlq-hook`): one, or
    // two when the kill fell between parking the poison event and saving
    // the checkpoint (at least once: the restarted relay parks it again;
    // the DLQ lists it once).
    let info: serde_json::Value =
        http.get(format!("http://127.0.0.1:{port}/streams/%24dlq-hook/info")).send().await.unwrap().json().await.unwrap();
    let parked_records = info["last_version"].as_u64().unwrap();
    assert!((1..=2).contains(&parked_records), "{info}");
    assert_eq!(
        (status["checkpoint"].as_u64(), status["head"].as_u64(), status["dlq_size"].as_u64()),
        (Some(EVENTS + parked_records), Some(EVENTS + parked_records), Some(1)),
        "{status}"
    );
    let accepted: Vec<u64> =
        hook.posts().iter().filter(|p| p.status == 200).flat_map(|p| p.events.iter().map(|e| e["data"]["n"].as_u64().unwrap())).collect();
    let mut unique = accepted.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique, (1..=EVENTS).filter(|&n| n != POISON).collect::<Vec<_>>(), "nothing skipped");
    eprintln!(
        "delivered {} times for {} events: {} duplicates after the SIGKILL",
        accepted.len(),
        unique.len(),
        accepted.len() - unique.len()
    );
    assert!(hook.posts().iter().all(|p| p.signature_ok));

    // The operator surface, through the CLI against the running server.
    let out = cli(dir.path(), port, &["publish", "status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["sinks"][0]["name"], "hook");
    assert_eq!(printed["sinks"][0]["state"], "running");
    let out = cli(dir.path(), port, &["dlq", "list", "hook", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((listed["size"].as_u64(), listed["entries"][0]["stream_id"].as_str()), (Some(1), Some("order-1")), "{listed}");
    assert!(listed["entries"][0]["last_error"].as_str().unwrap().contains("HTTP 500"));
    let out = cli(dir.path(), port, &["dlq", "replay", "nope", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "one readable line");

    hook.fixed.store(true, Ordering::SeqCst);
    let out = cli(dir.path(), port, &["dlq", "replay", "hook", "--all"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("replayed {}\n", listed["entries"][0]["event_id"].as_str().unwrap()));
    let poison_position = listed["entries"][0]["position"].as_u64().unwrap();
    wait(20, "the replayed poison delivered", async || hook.accepted_positions().contains(&poison_position)).await;
    wait(10, "an empty DLQ", async || publish_status(&http, port).await["dlq_size"] == 0).await;
    let metrics = http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chronicle_dlq_size{sink=\"hook\"} 0"), "{metrics}");
    assert!(metrics.contains("chronicle_publish_state{sink=\"hook\",state=\"running\"} 1"));
    drop(server);
}
