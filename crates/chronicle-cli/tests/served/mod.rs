//! What the tests that run `chronicle serve` as a process share: a free
//! port, the server (SIGKILLed on drop), the CLI pointed at it, polling.
#![allow(dead_code, unreachable_pub)]

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

/// Polls `check` until true, or panics naming `what` after `secs`.
pub async fn wait(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
