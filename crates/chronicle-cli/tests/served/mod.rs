//! What the tests that run `chronicle serve` as a process share: a free
//! port, the server (SIGKILLed on drop), the CLI pointed at it, polling.
#![allow(dead_code, unreachable_pub)]

pub mod seed004;

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

pub const BIN: &str = env!("CARGO_BIN_EXE_chronicle");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process, SIGKILLed when dropped (a failing test leaves none behind).
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chronicle serve` on the file store of `dir` (its `chronicle.toml`).
pub fn serve(dir: &Path, port: u16) -> Server {
    Server(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env_remove("CHRONICLE_BACKEND")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The test database (`CHRONICLE_TEST_DATABASE_URL`, else the local one).
pub fn pg_url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `chronicle serve` of the `chronicle.toml` in `dir` on the test database.
pub fn serve_pg(dir: &Path, port: u16) -> Server {
    Server(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env("CHRONICLE_DATABASE_URL", pg_url())
            .env_remove("CHRONICLE_BACKEND")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A schema of the test database, dropped (with everything in it) on drop.
pub struct Schema(pub String);

impl Schema {
    /// A fresh name starting with `prefix`, or `None` (skipped) when
    /// PostgreSQL is unreachable.
    pub async fn fresh(prefix: &str) -> Option<Self> {
        let reachable = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await.map(|_| ());
        chronicle_testkit::service_or_skip("PostgreSQL", reachable)?;
        Some(Self(format!("{prefix}_{}", chronicle::Uuid::now_v7().simple())))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (pg_url(), self.0.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    // `chronicle serve` keeps its audit log in `{schema}_audit`.
                    let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE; DROP SCHEMA IF EXISTS {name}_audit CASCADE");
                    let _ = client.batch_execute(&drop).await;
                }
            });
        })
        .join();
    }
}

/// `chronicle token create` with `args`: the secret and the
/// `[[auth.tokens]]` entry.
pub fn token(args: &[&str]) -> (String, String) {
    let out = Command::new(BIN).args(["token", "create"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (secret, entry) = text.split_once('\n').unwrap();
    (secret.to_owned(), entry.to_owned())
}

/// The CLI against the server on `port` (`CHRONICLE_BACKEND=remote`).
pub fn cli(dir: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("CHRONICLE_BACKEND", "remote")
        .env("CHRONICLE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap()
}

/// Polls `check` until true (returns how long that took), or panics
/// naming `what` after `secs`.
pub async fn wait(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// `tests/support/group_consumer.py` consuming `group` on `port`, one JSON
/// line per handled event into `out`; it exits after `idle` seconds
/// without a delivery.
pub fn python_consumer(port: u16, group: &str, idle: u32, out: &Path) -> Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/group_consumer.py");
    Command::new("python3")
        .args([script, "127.0.0.1", &port.to_string(), group, &idle.to_string()])
        .stdout(Stdio::from(std::fs::File::create(out).unwrap()))
        .spawn()
        .unwrap()
}

/// What `tests/support/group_consumer.py` handled, from its output file.
pub fn python_handled(path: &Path) -> Vec<chronicle_testkit::tally::Handled> {
    let text = std::fs::read_to_string(path).unwrap();
    let handled = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (n, version, retry) = (v["n"].as_u64().unwrap(), v["version"].as_u64().unwrap(), v["retry"].as_u64().unwrap());
        let stream = v["stream"].as_str().unwrap().to_owned();
        chronicle_testkit::tally::Handled { n, stream, version, retry: retry as u32, at: v["at"].as_u64().unwrap().into() }
    };
    text.lines().map(handled).collect()
}

/// Runs the CLI with `args` in `dir` (on the test database) and SIGKILLs
/// it once `target` holds `at` positions; returns the head it left.
pub async fn kill_midway(dir: &Path, args: &[&str], target: &dyn chronicle::EventStore, at: u64) -> u64 {
    let mut child =
        Command::new(BIN).args(args).current_dir(dir).env("CHRONICLE_DATABASE_URL", pg_url()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while target.head().await.unwrap() < at {
        assert!(started.elapsed().as_secs() < 120, "{args:?} never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    target.head().await.unwrap()
}
