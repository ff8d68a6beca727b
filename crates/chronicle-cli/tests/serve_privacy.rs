//! `chronicle serve` with `[privacy]`: a reader token sees marked fields
//! as `"***"` (HTTP, `raw=true`, SSE, the remote CLI), a `pii` token and
//! an admin see them decrypted (HTTP, WebSocket), `POST
//! /privacy/forget/{subject}` (admin only) erases them for everyone, the
//! crypto operations are in the audit log, the local CLI (which holds the
//! KEK) reads beside the running server, and reads, forgets and shows key
//! status once the server stopped.

mod served;

use futures_util::StreamExt;
use serde_json::{Value, json};
use served::{BIN, free_port, wait};
use std::{path::Path, process::Command};

const EMAIL: &str = "carol.private@example.net";

fn token(dir: &Path, role: &str, id: &str, pii: bool) -> (String, String) {
    let mut args = vec!["token", "create", "--role", role, "--id", id];
    if pii {
        args.push("--pii");
    }
    let out = Command::new(BIN).args(&args).current_dir(dir).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (secret, entry) = text.split_once('\n').unwrap();
    (secret.to_owned(), entry.to_owned())
}

fn chronicle(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_remove("CHRONICLE_BACKEND").env_remove("CHRONICLE_KEK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn emails(events: &Value) -> Vec<Value> {
    events.as_array().unwrap().iter().map(|e| e["data"]["email"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_what_their_clearance_allows() {
    let dir = tempfile::tempdir().unwrap();
    let kek = chronicle(dir.path(), &["keys", "new-kek"], &[]);
    assert!(kek.status.success());
    std::fs::write(dir.path().join("kek"), &kek.stdout).unwrap();
    let (reader, reader_entry) = token(dir.path(), "reader", "plain-reader", false);
    let (auditor, auditor_entry) = token(dir.path(), "reader", "auditor", true);
    let (admin, admin_entry) = token(dir.path(), "admin", "ops", false);
    let config = format!(
        "data_dir = \"data\"\n[privacy]\nkek_file = \"kek\"\n[[privacy.fields]]\nevent_type = \"CustomerRegistered\"\nsubject = \"/customer_id\"\nencrypt = [\"/email\"]\n{reader_entry}{auditor_entry}{admin_entry}"
    );
    std::fs::write(dir.path().join("chronicle.toml"), config).unwrap();
    let port = free_port();
    let server = served::serve(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait(20, "the server", async || http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200)).await;
    let get = |path: String, secret: &str| http.get(format!("{url}{path}")).bearer_auth(secret).send();
    for id in ["c1", "c2"] {
        let body = json!([{"event_type": "CustomerRegistered", "data": {"customer_id": id, "email": EMAIL}, "metadata": {"correlation_id": format!("k-{id}")}}]);
        let r = http.post(format!("{url}/streams/customer-{id}")).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let masked: Value = get("/streams/customer-c1".into(), &reader).await.unwrap().json().await.unwrap();
    assert!(masked.is_array(), "{masked}");
    assert_eq!(emails(&masked), [json!("***")]);
    let raw: Value = get("/streams/customer-c1?raw=true".into(), &reader).await.unwrap().json().await.unwrap();
    assert_eq!(emails(&raw), [json!("***")], "raw=true is no way around the mask");
    let clear: Value = get("/streams/customer-c1".into(), &auditor).await.unwrap().json().await.unwrap();
    assert_eq!(emails(&clear), [json!(EMAIL)]);
    let page: Value = get("/events?category=customer".into(), &admin).await.unwrap().json().await.unwrap();
    assert_eq!(emails(&page["events"]), [json!(EMAIL), json!(EMAIL)], "admins are cleared");
    let id = clear[0]["event_id"].as_str().unwrap().to_owned();
    let one: Value = get(format!("/events/{id}"), &reader).await.unwrap().json().await.unwrap();
    assert_eq!(one["data"]["email"], "***");
    let corr: Value = get("/correlations/k-c2".into(), &auditor).await.unwrap().json().await.unwrap();
    assert_eq!(emails(&corr), [json!(EMAIL)]);
    let sse = get("/subscribe?from=1".into(), &reader).await.unwrap();
    let mut body = sse.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        text += &String::from_utf8_lossy(
            &tokio::time::timeout(std::time::Duration::from_secs(10), body.next()).await.unwrap().unwrap().unwrap(),
        );
    }
    assert!(text.contains("\"email\":\"***\"") && !text.contains(EMAIL), "SSE masks: {text}");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://127.0.0.1:{port}/ws?from=1")).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {auditor}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
    assert!(message.to_text().unwrap().contains(EMAIL), "the WebSocket decrypts for a pii token");
    let remote = |secret: &str, args: &[&str]| {
        chronicle(dir.path(), args, &[("CHRONICLE_BACKEND", "remote"), ("CHRONICLE_URL", &url), ("CHRONICLE_TOKEN", secret)])
    };
    let out = remote(&reader, &["read", "customer-c1", "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"email\":\"***\"") && !text.contains(EMAIL), "the remote CLI masks for a reader: {text}");

    // The local CLI reads the file store read-only beside the running server, and holds the KEK.
    let beside = chronicle(dir.path(), &["read", "customer-c1", "--json"], &[]);
    assert!(String::from_utf8_lossy(&beside.stdout).contains(EMAIL), "{}", String::from_utf8_lossy(&beside.stderr));

    let denied = http.post(format!("{url}/privacy/forget/c1")).bearer_auth(&auditor).send().await.unwrap();
    assert_eq!(denied.status(), 403);
    let forgot = http.post(format!("{url}/privacy/forget/c1")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(forgot.status(), 200);
    let forgot: Value = forgot.json().await.unwrap();
    let beside = chronicle(dir.path(), &["read", "customer-c1", "--json"], &[]);
    assert!(String::from_utf8_lossy(&beside.stdout).contains("\"$erased\":true"), "a read-only reader sees the server's forget");
    assert_eq!((forgot["subject"].as_str(), forgot["keys_destroyed"].as_u64(), forgot["by"].as_str()), (Some("c1"), Some(1), Some("ops")));
    let erased = json!({"$erased": true});
    for secret in [&reader, &auditor, &admin] {
        let read: Value = get("/streams/customer-c1".into(), secret).await.unwrap().json().await.unwrap();
        assert_eq!(emails(&read), std::slice::from_ref(&erased));
    }
    let metrics = get("/metrics".into(), &reader).await.unwrap().text().await.unwrap();
    for line in ["chronicle_privacy_forgets_total 1", "chronicle_privacy_forgotten_subjects 1", "chronicle_privacy_keys_created_total 2"] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }
    assert!(metrics.contains("chronicle_privacy_masked_total") && !metrics.contains(EMAIL));
    let status: Value = get("/privacy/keys".into(), &admin).await.unwrap().json().await.unwrap();
    assert_eq!((status["subjects"].as_u64(), status["forgotten"].as_u64()), (Some(1), Some(1)), "{status}");
    let out = remote(&admin, &["keys", "status", "--json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"forgotten\":1"), "{}", String::from_utf8_lossy(&out.stderr));

    // A graceful stop writes the last crypto counts to the audit log.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut server = server;
    let _ = server.0.wait();
    let audit = chronicle(dir.path(), &["audit", "--json", "--limit", "1000"], &[]);
    let lines = String::from_utf8(audit.stdout).unwrap();
    let crypto: Vec<Value> = lines.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|r| r["method"] == "CRYPTO").collect();
    let has = |who: &str, action: &str, subject: &str| {
        crypto.iter().any(|r| r["token_id"] == who && r["crypto"]["action"] == action && r["crypto"]["subject"] == subject)
    };
    assert!(has("ops", "key_created", "c1") && has("auditor", "decrypted", "c1") && has("ops", "forget", "c1"), "{crypto:?}");
    assert!(!lines.contains(EMAIL), "the audit log holds no plaintext");

    let local = chronicle(dir.path(), &["read", "customer-c2", "--json"], &[]);
    assert!(String::from_utf8_lossy(&local.stdout).contains(EMAIL), "the local CLI holds the KEK and decrypts");
    let other = String::from_utf8(chronicle(dir.path(), &["keys", "new-kek"], &[]).stdout).unwrap();
    let wrong = chronicle(dir.path(), &["read", "customer-c2"], &[("CHRONICLE_KEK", other.trim())]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let forget = chronicle(dir.path(), &["forget", "c2"], &[]);
    assert!(forget.status.success(), "{}", String::from_utf8_lossy(&forget.stderr));
    let local = chronicle(dir.path(), &["read", "customer-c2", "--json"], &[]);
    assert!(String::from_utf8_lossy(&local.stdout).contains("\"$erased\":true"));
}
