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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn serves_the_file_store_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{url}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server did not come up");
    let mut acked = 0;
    for n in 0..50 {
        let body = format!(r#"[{{"event_type":"T","data":{{"n":{n}}}}}]"#);
        let r = http.post(format!("{url}/streams/s-1")).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        acked += 1;
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    let out = Command::new(BIN).arg("verify").arg("--data-dir").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("ok: {acked} events")), "{text}");
}
