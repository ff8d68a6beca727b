//! A recording webhook endpoint for the relay tests: it verifies each
//! POST's `X-Chronicle-Signature`, keeps what it received, and answers 500
//! to batches holding a "poison" event (data `"poison": true`) until fixed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// One POST the endpoint received.
#[derive(Clone, Debug)]
pub struct Post {
    pub at: Instant,
    pub events: Vec<serde_json::Value>,
    pub signature_ok: bool,
    pub status: u16,
}

/// The endpoint's state: what it received, and what it refuses.
#[derive(Debug, Default)]
pub struct Endpoint {
    pub posts: Mutex<Vec<Post>>,
    /// Batches holding an event whose data has `"poison": true` get 500
    /// while this is false.
    pub fixed: AtomicBool,
    /// Each POST waits this many milliseconds before answering.
    pub delay_ms: AtomicU64,
    pub secret: Vec<u8>,
}

impl Endpoint {
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// Positions of events in 2xx batches, in arrival order.
    pub fn accepted_positions(&self) -> Vec<u64> {
        self.posts()
            .iter()
            .filter(|p| p.status == 200)
            .flat_map(|p| p.events.iter().map(|e| e["global_position"].as_u64().unwrap()))
            .collect()
    }
}

async fn receive(State(endpoint): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &endpoint.secret);
    let signature = headers.get("x-chronicle-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let tag = signature.strip_prefix("sha256=").and_then(|hex| {
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect::<Option<Vec<u8>>>()
    });
    let signature_ok = tag.is_some_and(|tag| ring::hmac::verify(&key, &body, &tag).is_ok());
    let delay = endpoint.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let poisoned = events.iter().any(|e| e["data"]["poison"] == true);
    let status = if poisoned && !endpoint.fixed.load(Ordering::SeqCst) { 500 } else { 200 };
    endpoint.posts.lock().unwrap().push(Post { at: Instant::now(), events, signature_ok, status });
    StatusCode::from_u16(status).unwrap()
}

/// Serves a recording endpoint on `addr` (port 0: any free port).
pub async fn endpoint_at(addr: SocketAddr, secret: &str) -> (String, Arc<Endpoint>) {
    let endpoint = Arc::new(Endpoint { secret: secret.as_bytes().to_vec(), ..Endpoint::default() });
    let app = Router::new().route("/events", post(receive)).with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, endpoint)
}

pub async fn endpoint(secret: &str) -> (String, Arc<Endpoint>) {
    endpoint_at("127.0.0.1:0".parse().unwrap(), secret).await
}
