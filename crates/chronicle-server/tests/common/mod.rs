//! Spawns a server on an ephemeral port for a test.
#![allow(dead_code, unreachable_pub, missing_docs)]

use chronicle_core::EventStore;
use chronicle_server::Server;
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct Running {
    pub url: String,
    pub store: Arc<dyn EventStore>,
    pub stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
    pub http: reqwest::Client,
}

impl Running {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn head(&self) -> u64 {
        self.store.head().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.http.post(self.at(path)).header("content-type", "application/json").body(body.to_owned()).send().await.unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await.unwrap().unwrap();
    }
}

pub async fn start_with(store: Arc<dyn EventStore>, configure: impl FnOnce(Server) -> Server) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = oneshot::channel::<()>();
    let server = configure(Server::new(store.clone()));
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    Running { url, store, stop: Some(stop), done, http: reqwest::Client::new() }
}

pub async fn start() -> Running {
    start_with(Arc::new(chronicle_memory::MemoryStore::new()), |s| s).await
}
