//! # chronicle-remote
//!
//! The [`EventStore`](chronicle_core::EventStore) trait over a `chronicle
//! serve` server: HTTP/JSON for appends and reads, a WebSocket (`/ws`) for
//! subscriptions, the server's JSON errors turned back into the same
//! [`Error`](chronicle_core::Error) variants an embedded store returns — so
//! an application moves between embedded, PostgreSQL and remote by
//! configuration alone (`backend = "remote"`, `CHRONICLE_URL`,
//! `CHRONICLE_TOKEN`).
//!
//! ```no_run
//! # async fn demo() -> chronicle_core::Result<()> {
//! use chronicle_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
//! let store = chronicle_remote::RemoteStore::connect("http://127.0.0.1:7350", None).await?;
//! store.append(&StreamId::new("order-1")?, ExpectedVersion::Any, vec![NewEvent::raw("Placed", &b"{}"[..])]).await?;
//! # Ok(()) }
//! ```

mod store;
mod subscribe;
mod wire;

use chronicle_core::{Error, Result, StreamId};
use reqwest::{Method, RequestBuilder, StatusCode, Url};

/// A Chronicle server used as an event store.
#[derive(Clone)]
pub struct RemoteStore {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
    guard: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore").field("url", &self.base.as_str()).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable { reason: format!("{what}: {e}") }
}

impl RemoteStore {
    /// A client of the server at `url` (`http://host:port`), sending
    /// `token` as a bearer token; checks the server answers `/health/live`.
    pub async fn connect(url: &str, token: Option<String>) -> Result<Self> {
        let store = Self::new(url, token)?;
        let response = store.request(Method::GET, &["health", "live"]).send().await.map_err(|e| unavailable(url, e))?;
        if !response.status().is_success() && response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return Err(unavailable(url, format!("/health/live answered HTTP {}", response.status())));
        }
        Ok(store)
    }

    /// A client of `url` without contacting it.
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let base = Url::parse(url).map_err(|e| Error::Config { reason: format!("remote url {url:?}: {e}") })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config { reason: format!("remote url {url:?}: expected http://host:port or https://host:port") });
        }
        let http = reqwest::Client::builder().build().map_err(|e| unavailable("http client", e))?;
        Ok(Self { base, http, token, guard: None })
    }

    /// Keeps `guard` alive as long as this client (or a clone, or one of
    /// its subscriptions) is: e.g. the shutdown switch of an in-process
    /// server that should stop when its last client goes away.
    pub fn keep_alive(mut self, guard: impl Send + Sync + 'static) -> Self {
        self.guard = Some(std::sync::Arc::new(guard));
        self
    }

    /// The URL of `segments` (each percent-encoded) under the base.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let request = self.http.request(method, self.url(segments));
        match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    /// Sends `request`; a success gives the body, anything else the core
    /// error the server's JSON body stands for.
    async fn send(&self, request: RequestBuilder, context: Option<&StreamId>) -> Result<(StatusCode, bytes::Bytes)> {
        let response = request.send().await.map_err(|e| unavailable("request to the server failed", e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| unavailable("reading the server's answer", e))?;
        if status.is_success() { Ok((status, body)) } else { Err(wire::error(status.as_u16(), &body, context)) }
    }

    /// Like [`RemoteStore::send`], `None` for a 404.
    async fn send_optional(&self, request: RequestBuilder) -> Result<Option<bytes::Bytes>> {
        match self.send(request, None).await {
            Ok((_, body)) => Ok(Some(body)),
            Err(Error::Unavailable { reason }) if reason.starts_with("HTTP 404") => Ok(None),
            Err(e) => Err(e),
        }
    }
}
