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
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod group;
mod store;
mod subscribe;
mod transfer;
mod wire;

pub use group::{GroupConsumer, GroupDelivery};

use chronicle_core::{AppendPipeline, Error, Metrics, Result, StreamId};
use reqwest::{Method, RequestBuilder, StatusCode, Url};

/// A Chronicle server used as an event store.
#[derive(Clone)]
pub struct RemoteStore {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    guard: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
    /// Runs on the client before an append is sent (the server runs its own).
    pipeline: AppendPipeline,
    /// Counters of this client's appends (the store's figures come from
    /// the server; only appends the client's own pipeline refused are
    /// added to them).
    metrics: std::sync::Arc<Metrics>,
    /// Appends the server refused (counted by the server already).
    refused_by_server: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Reads ask for each event as stored (`raw=true`), not upcast.
    raw: bool,
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
        Self::new(url, token)?.check().await
    }

    /// Checks the server answers `/health/live`; gives the client back.
    pub async fn check(self) -> Result<Self> {
        let url = self.base.as_str();
        let response = self.request(Method::GET, &["health", "live"]).send().await.map_err(|e| unavailable(url, e))?;
        if !response.status().is_success() && response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return Err(unavailable(url, format!("/health/live answered HTTP {}", response.status())));
        }
        Ok(self)
    }

    /// A client of `url` without contacting it.
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let base = Url::parse(url).map_err(|e| Error::Config { reason: format!("remote url {url:?}: {e}") })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config { reason: format!("remote url {url:?}: expected http://host:port or https://host:port") });
        }
        let http = reqwest::Client::builder().build().map_err(|e| unavailable("http client", e))?;
        Ok(Self {
            base,
            http,
            token,
            tls: None,
            guard: None,
            pipeline: AppendPipeline::default(),
            metrics: Default::default(),
            refused_by_server: Default::default(),
            raw: false,
        })
    }

    /// Also trusts the certificate authorities in `pem` (one or more PEM
    /// certificates) for `https://` and `wss://`: a server with a private
    /// CA or a self-signed certificate. The public web roots stay trusted.
    pub fn with_ca_certificate(mut self, pem: &[u8]) -> Result<Self> {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let bad = |e: &dyn std::fmt::Display| Error::Config { reason: format!("CA certificate: {e}") };
        let certs = CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<Vec<_>, _>>().map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no PEM certificate found"));
        }
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let mut http = reqwest::Client::builder();
        for cert in certs {
            http = http.add_root_certificate(reqwest::Certificate::from_der(&cert).map_err(|e| bad(&e))?);
            roots.add(cert).map_err(|e| bad(&e))?;
        }
        self.http = http.build().map_err(|e| unavailable("http client", e))?;
        self.tls = Some(std::sync::Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()));
        Ok(self)
    }

    /// Runs `pipeline` (validation limits, hooks) on this client before
    /// each append is sent; the server validates again and runs its own.
    pub fn with_pipeline(mut self, pipeline: AppendPipeline) -> Self {
        self.pipeline = pipeline;
        self
    }

    /// Reads (streams, the log, events by id or correlation, subscriptions)
    /// return each event as stored — `raw=true` — instead of the current
    /// shape the server's upcasters lift it to.
    pub fn with_raw_reads(mut self) -> Self {
        self.raw = true;
        self
    }

    /// A read request: with `raw=true` when this client reads as stored.
    pub(crate) fn read_request(&self, segments: &[&str]) -> RequestBuilder {
        let get = self.request(Method::GET, segments);
        if self.raw { get.query(&[("raw", "true")]) } else { get }
    }

    /// `raw=true` for a WebSocket read, when this client reads as stored.
    pub(crate) fn raw_query(&self) -> Option<(&'static str, String)> {
        self.raw.then(|| ("raw", "true".to_owned()))
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

    /// The server's audit log (`GET /audit`, an admin token): the last
    /// `limit` records, only denials when `denied_only`, oldest first, each
    /// a JSON object (`token_id`, `role`, `method`, `path`, `status`,
    /// `outcome`, `at`).
    pub async fn audit(&self, limit: usize, denied_only: bool) -> Result<Vec<serde_json::Value>> {
        let request = self.request(Method::GET, &["audit"]).query(&[("limit", limit.to_string()), ("denied", denied_only.to_string())]);
        let (_, body) = self.send(request, None).await?;
        serde_json::from_slice(&body).map_err(|e| unavailable("the server's audit answer", e))
    }

    /// `GET` of a server route outside the store API (`segments`, each
    /// percent-encoded), its JSON answer decoded as `T`; an error answer
    /// becomes the core error its body stands for.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        self.json_answer(self.request(Method::GET, segments)).await
    }

    /// `POST` of `body` as JSON to a server route outside the store API.
    pub async fn post_json<T: serde::de::DeserializeOwned>(&self, segments: &[&str], body: &impl serde::Serialize) -> Result<T> {
        self.json_answer(self.request(Method::POST, segments).json(body)).await
    }

    /// `POST` without a body to a server route outside the store API, with
    /// `query` parameters (`POST /admin/retention?dry_run=true`).
    pub async fn post_query<T: serde::de::DeserializeOwned>(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<T> {
        self.json_answer(self.request(Method::POST, segments).query(query)).await
    }

    /// `PUT` of `body` as JSON to a server route outside the store API.
    pub async fn put_json<T: serde::de::DeserializeOwned>(&self, segments: &[&str], body: &impl serde::Serialize) -> Result<T> {
        self.json_answer(self.request(Method::PUT, segments).json(body)).await
    }

    /// Sends `request` and decodes its JSON answer as `T`.
    async fn json_answer<T: serde::de::DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        let (_, answer) = self.send(request, None).await?;
        serde_json::from_slice(&answer).map_err(|e| unavailable("the server's answer", e))
    }

    /// `DELETE` of a server route outside the store API.
    pub async fn delete_route(&self, segments: &[&str]) -> Result<()> {
        self.send(self.request(Method::DELETE, segments), None).await.map(drop)
    }

    /// Like [`RemoteStore::send`], `None` for a 404.
    async fn send_optional(&self, request: RequestBuilder) -> Result<Option<bytes::Bytes>> {
        match self.send(request, None).await {
            Ok((_, body)) => Ok(Some(body)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
