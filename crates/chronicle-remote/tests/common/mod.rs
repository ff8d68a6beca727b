//! An in-process `chronicle serve` (the same `Server`) over a given store,
//! and a remote client of it; the server stops when the client is dropped.
#![allow(dead_code, unreachable_pub, missing_docs)]

use chronicle_core::EventStore;
use chronicle_remote::RemoteStore;
use std::sync::Arc;

pub async fn served(store: Arc<dyn EventStore>) -> RemoteStore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(chronicle_server::Server::new(store).serve(listener, async move {
        let _ = stopped.await;
    }));
    RemoteStore::connect(&url, None).await.expect("connect to the in-process server").keep_alive(stop)
}

/// Like [`served`], with the server checking `tokens` and the client
/// sending `secret`.
pub async fn served_with_tokens(store: Arc<dyn EventStore>, tokens: &[chronicle_server::auth::TokenEntry], secret: &str) -> RemoteStore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(chronicle_server::Server::new(store).with_auth(tokens).serve(listener, async move {
        let _ = stopped.await;
    }));
    RemoteStore::connect(&url, Some(secret.to_owned())).await.expect("connect to the in-process server").keep_alive(stop)
}
