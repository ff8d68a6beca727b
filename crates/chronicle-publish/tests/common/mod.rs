//! Shared by the relay tests: a recording webhook endpoint, settings
//! from TOML, and polling.
#![allow(dead_code, unreachable_pub)]

use chronicle_core::{EventStore, ExpectedVersion, LocalLeases, NewEvent, StreamId};
use chronicle_publish::{PublishSettings, Publisher, SinkStatus};
#[allow(unused_imports)]
pub use chronicle_testkit::webhook::{endpoint, endpoint_at};
use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

pub fn settings(text: &str) -> PublishSettings {
    PublishSettings::from_table(&toml::from_str(text).unwrap()).unwrap()
}

pub fn publisher(store: &Arc<dyn EventStore>, text: &str) -> Publisher {
    Publisher::new(store.clone(), Arc::new(LocalLeases::default()), &settings(text), "test-node")
}

/// Appends `n` events `Placed` to `order-{i % 10}` with data `{"n": i}`
/// (plus `"poison": true` where `poison(i)`).
pub async fn append(store: &Arc<dyn EventStore>, range: std::ops::Range<u64>, poison: impl Fn(u64) -> bool) {
    for i in range {
        let data = if poison(i) { serde_json::json!({"n": i, "poison": true}) } else { serde_json::json!({"n": i}) };
        let stream = StreamId::new(format!("order-{}", i % 10)).unwrap();
        store.append(&stream, ExpectedVersion::Any, vec![NewEvent::json("Placed", &data).unwrap()]).await.unwrap();
    }
}

/// Polls `check` until it is true or `secs` pass (then panics with `what`).
pub async fn wait_for<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn status(publisher: &Publisher) -> SinkStatus {
    publisher.status().await.unwrap().remove(0)
}

/// A private `nats-server -js` on its own port and store directory,
/// killed on drop.
pub struct PrivateNats {
    pub port: u16,
    pub dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    /// Starts one on a free port (`None`, after a loud skip, when the
    /// binary is missing; a failure under `CHRONICLE_REQUIRE_SERVICES=1`).
    pub async fn start(dir: &std::path::Path) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut nats = Self { port, dir: dir.to_owned(), child: None };
        let started = nats.restart().await;
        chronicle_testkit::service_or_skip("nats-server (binary)", started).map(|()| nats)
    }

    /// (Re)starts the server on the same port and directory.
    pub async fn restart(&mut self) -> Result<(), String> {
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run nats-server: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            if Instant::now() > deadline {
                return Err("nats-server did not start listening".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// SIGKILLs the server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
    }
}
