//! `chronicle serve`: address validation, serving the file store, and a
//! graceful stop on SIGTERM that leaves every acknowledged append durable.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");

#[test]
fn invalid_listen_addresses_are_rejected() {
    for bad in ["127.0.0.1:0", "127.0.0.1:70000", "localhost", "1.2.3:80"] {
        let out = Command::new(BIN).args(["serve", "--listen", bad]).output().unwrap();
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--listen"), "{bad}: {err}");
    }
}

async fn wait_until_ready(http: &reqwest::Client, url: &str) {
    for _ in 0..100 {
        if http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not come up");
}

/// A server process, killed on drop unless it was stopped (a failing test
/// leaves none behind).
struct Guard(Option<std::process::Child>);

impl Guard {
    /// SIGTERM, then the exit status.
    async fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `chronicle serve` with `config` and `data`, on a free port, once ready.
async fn serve_with(config: &std::path::Path, data: &std::path::Path) -> (Guard, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (child, url) = (Guard(Some(child)), format!("http://127.0.0.1:{port}"));
    wait_until_ready(&reqwest::Client::new(), &url).await;
    (child, url)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn serves_the_file_store_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Guard(Some(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    wait_until_ready(&http, &url).await;
    let mut acked = 0;
    for n in 0..50 {
        let body = format!(r#"[{{"event_type":"T","data":{{"n":{n}}}}}]"#);
        let r = http.post(format!("{url}/streams/s-1")).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        acked += 1;
    }
    let status = child.stop().await;
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    let out = Command::new(BIN).arg("verify").arg("--data-dir").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("ok: {acked} events")), "{text}");
}

#[test]
fn refuses_a_public_address_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["serve", "--listen", "0.0.0.0:7399", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("without tokens") && err.contains("--allow-anonymous"), "{err}");
}

#[tokio::test]
async fn tokens_from_token_create_guard_the_api_and_denials_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let create = |role: &str| {
        let out = Command::new(BIN).args(["token", "create", "--role", role]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (secret, entry) = text.split_once('\n').unwrap();
        (secret.to_owned(), entry.to_owned())
    };
    let (reader, reader_entry) = create("reader");
    let (writer, writer_entry) = create("writer");
    assert!(reader.starts_with("chr_") && !reader_entry.contains(&reader), "the secret is not stored");
    let config = dir.path().join("chronicle.toml");
    std::fs::write(&config, format!("{reader_entry}{writer_entry}")).unwrap();
    let bad_role = Command::new(BIN).args(["token", "create", "--role", "root"]).output().unwrap();
    assert!(!bad_role.status.success());

    let (child, url) = serve_with(&config, &dir.path().join("data")).await;
    let http = reqwest::Client::new();
    let append = |token: Option<&str>| {
        let mut req =
            http.post(format!("{url}/streams/s-1")).header("content-type", "application/json").body(r#"[{"event_type":"T","data":{}}]"#);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(append(None).await.unwrap().status(), 401);
    assert_eq!(append(Some(&reader)).await.unwrap().status(), 403);
    assert_eq!(append(Some(&writer)).await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{url}/streams/s-1")).bearer_auth(&reader).send().await.unwrap().status(), 200);
    assert!(child.stop().await.success());

    let out = Command::new(BIN)
        .args(["audit", "--json", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let records: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<(&str, u64)> = records.iter().map(|r| (r["outcome"].as_str().unwrap(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(outcomes, [("denied", 401), ("denied", 403), ("allowed", 200), ("allowed", 200)]);
    assert!(records[1]["token_id"].as_str().unwrap().starts_with("reader-"));
    let denied = Command::new(BIN)
        .args(["audit", "--denied", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(denied.stdout).unwrap().lines().count(), 3, "header + 2 denials");
}

#[test]
fn tls_needs_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chronicle.toml");
    std::fs::write(&config, "[tls]\ncert = \"cert.pem\"\n").unwrap();
    let out = Command::new(BIN).args(["serve", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("[tls] needs both cert and key"), "{err}");
}

#[tokio::test]
async fn cli_commands_work_against_a_server_through_the_remote_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["token", "create", "--role", "writer", "--id", "cli"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (token, entry) = text.split_once('\n').unwrap();
    let out = Command::new(BIN).args(["token", "create", "--role", "admin", "--id", "ops"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (admin, admin_entry) = text.split_once('\n').unwrap();
    let config = dir.path().join("chronicle.toml");
    std::fs::write(&config, format!("{entry}{admin_entry}")).unwrap();
    let (child, url) = serve_with(&config, &dir.path().join("data")).await;
    let remote = |args: &[&str], token: &str| {
        Command::new(BIN)
            .args(args)
            .env("CHRONICLE_BACKEND", "remote")
            .env("CHRONICLE_URL", &url)
            .env("CHRONICLE_TOKEN", token)
            .env_remove("CHRONICLE_DATA_DIR")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for n in 0..3 {
        let out = remote(&["append", "order-1", "--type", "Placed", &format!(r#"{{"n":{n}}}"#)], token);
        assert!(out.status.success(), "{out:?}");
    }
    let conflict = remote(&["append", "order-1", "--type", "Placed", "--expected-version", "no-stream"], token);
    assert_eq!(conflict.status.code(), Some(3), "a version conflict through the server is still exit 3");
    let read = remote(&["read", "order-1", "--json"], token);
    assert_eq!(String::from_utf8(read.stdout).unwrap().lines().count(), 3);
    let export = remote(&["export"], token);
    assert_eq!(String::from_utf8(export.stdout).unwrap().lines().count(), 3);
    let stats: serde_json::Value = serde_json::from_slice(&remote(&["stats", "--json"], token).stdout).unwrap();
    assert_eq!(stats["head_position"], 3);
    let denied = remote(&["read", "order-1"], "chr_wrong");
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refused the token"), "{err}");
    let too_low = remote(&["audit"], token);
    assert!(!too_low.status.success(), "a writer may not read the audit log");
    let audit = remote(&["audit", "--denied", "--json"], admin);
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let denials: Vec<serde_json::Value> =
        String::from_utf8(audit.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        denials.iter().any(|d| d["status"] == 401 && d["path"] == "/streams/order-1"),
        "the server's audit log, read remotely: {denials:?}"
    );
    assert!(child.stop().await.success());
}

/// `POST /admin/scavenge` reclaims a tombstoned stream while the server
/// runs (the CLI command needs it stopped); the memory backend answers 501.
#[tokio::test]
async fn scavenge_runs_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chronicle.toml");
    std::fs::write(&config, "[file]\nsegment_size_bytes = 16384\ncompress_sealed = false\n").unwrap();
    let (child, url) = serve_with(&config, &dir.path().join("data")).await;
    let http = reqwest::Client::new();
    for i in 0..300 {
        let body = format!(r#"[{{"event_type":"T","data":{{"i":{i},"pad":"{}"}}}}]"#, "x".repeat(100));
        let r = http.post(format!("{url}/streams/s-{}", i % 3)).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(http.delete(format!("{url}/streams/s-1?mode=tombstone")).send().await.unwrap().status(), 204);
    let busy = Command::new(BIN).arg("scavenge").arg("--data-dir").arg(dir.path().join("data")).output().unwrap();
    let line = String::from_utf8_lossy(&busy.stderr);
    assert!(!busy.status.success() && line.contains("POST /admin/scavenge"), "the CLI points at the route: {line}");
    let r = http.post(format!("{url}/admin/scavenge")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    assert!(report["events_removed"].as_u64().unwrap() > 50, "{report}");
    assert!(report["bytes_after"].as_u64().unwrap() < report["bytes_before"].as_u64().unwrap(), "{report}");
    let page: serde_json::Value = http.get(format!("{url}/streams/s-0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 100, "{page}");
    let r = http.post(format!("{url}/streams/s-2")).header("content-type", "application/json").body(r#"[{"event_type":"T","data":{}}]"#);
    assert_eq!(r.send().await.unwrap().status(), 200, "appends go on after a scavenge");
    assert!(child.stop().await.success());
    let out = Command::new(BIN).arg("verify").arg("--data-dir").arg(dir.path().join("data")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 301 events"), "{out:?}");

    let memory = dir.path().join("memory.toml");
    std::fs::write(&memory, "backend = \"memory\"\n").unwrap();
    let (child, url) = serve_with(&memory, &dir.path().join("unused")).await;
    let r = http.post(format!("{url}/admin/scavenge")).send().await.unwrap();
    assert_eq!(r.status(), 501);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported", "{body}");
    drop(child);
}
