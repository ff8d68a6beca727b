//! `chronicle serve` with `[pipeline]`: the built-in hooks configured in
//! `chronicle.toml` run on the server path — appends by a token are
//! stamped with its id and tenant (a forged actor is replaced), a denied
//! event type is refused with 400 naming the field and nothing is stored;
//! `chronicle config` prints the section.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn built_in_hooks_stamp_the_token_and_deny_types() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["token", "create", "--role", "writer", "--id", "billing-svc"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (secret, entry) = text.split_once('\n').unwrap();
    let config = dir.path().join("chronicle.toml");
    let toml = format!("[pipeline]\ndeny_event_types = [\"DebugDump\"]\nstamp_principal = true\n\n{entry}tenant = \"acme\"\n");
    std::fs::write(&config, toml).unwrap();

    let printed = Command::new(BIN).arg("config").arg("--config").arg(&config).output().unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.contains("[pipeline]") && printed.contains("DebugDump") && printed.contains("audit_access = true"), "{printed}");
    assert!(!printed.contains(secret.trim()), "the secret is never printed");

    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |body: &'static str| {
        http.post(format!("{url}/streams/inv-1")).bearer_auth(secret.trim()).header("content-type", "application/json").body(body).send()
    };
    let ok = post(r#"[{"event_type":"Billed","data":{},"metadata":{"actor":{"type":"user","id":"root"},"correlation_id":"c-9"}}]"#)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let denied = post(r#"[{"event_type":"Billed","data":{}},{"event_type":"DebugDump","data":{}}]"#).await.unwrap();
    assert_eq!(denied.status(), 400);
    let body: serde_json::Value = denied.json().await.unwrap();
    assert_eq!(body["field"], "events[1].event_type", "{body}");

    let events: serde_json::Value =
        http.get(format!("{url}/streams/inv-1")).bearer_auth(secret.trim()).send().await.unwrap().json().await.unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "the refused append stored nothing");
    let meta = &events[0]["metadata"];
    assert_eq!((meta["actor"]["type"].as_str(), meta["actor"]["id"].as_str()), (Some("token"), Some("billing-svc")), "{meta}");
    assert_eq!((meta["tenant"].as_str(), meta["correlation_id"].as_str()), (Some("acme"), Some("c-9")), "{meta}");
    let _ = child.kill();
    let _ = child.wait();
}
