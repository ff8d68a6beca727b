//! # chronicle-server
//!
//! The HTTP/JSON API of Chronicle over any [`EventStore`]: appends (single
//! stream, atomic multi-stream, DCB-conditional), reads (streams, the
//! filtered global log with cursor paging or streamed NDJSON, by id, by
//! correlation), SSE subscriptions resumable with `Last-Event-ID`,
//! snapshots, checkpoints, stream metadata and deletes, health, Prometheus
//! metrics and the OpenAPI document (generated from the handlers, so it
//! cannot drift from the routes).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let store = Arc::new(chronicle_memory::MemoryStore::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7350").await?;
//! chronicle_server::Server::new(store).serve(listener, std::future::pending()).await
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod audit;
mod audit_batch;
pub mod auth;
mod body;
mod contract;
mod error;
mod metrics;
mod node;
pub mod rate;
mod routes;
mod settings;

pub use error::{ApiError, ApiResult};
pub use metrics::HttpMetrics;
pub use node::Node;
pub use settings::{AuthOptions, ServerSettings, SettingsError, TlsOptions};

use axum::{Router, extract::DefaultBodyLimit, http::Request};
use chronicle_core::{EventStore, Maintenance, NoMaintenance, Principal};
use routes::{events, groups, listing, ops, privacy, publish, retention, schemas, streams, subscribe, transfer, ws};
use std::{future::Future, sync::Arc};
use tokio::{net::TcpListener, sync::watch};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Largest request body accepted by default (413 beyond).
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The store, read in the current shape of every event.
    pub(crate) store: Arc<dyn EventStore>,
    /// The same store as stored (`?raw=true`).
    pub(crate) raw: Arc<dyn EventStore>,
    /// Schemas and upcasters (`None`: the served store has none).
    pub(crate) catalog: Option<Arc<chronicle_schema::Catalog>>,
    pub(crate) metrics: Arc<HttpMetrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Stats, scavenge and storage size of the served store.
    pub(crate) maintenance: Arc<dyn Maintenance>,
    pub(crate) tokens: Arc<auth::Tokens>,
    pub(crate) limits: Arc<auth::Limits>,
    pub(crate) audit: audit::AuditLog,
    /// The publishing relays (`None`: no sinks configured).
    pub(crate) publisher: Option<Arc<chronicle_publish::Publisher>>,
    /// The consumer groups (`None`: not served by this backend).
    pub(crate) groups: Option<Arc<chronicle_groups::Groups>>,
    /// Retention (`None`: not offered; 404 at `/admin/retention`).
    pub(crate) retention: Option<Arc<chronicle_retention::Retention>>,
    /// The privacy layer (`None`: nothing encrypted; 404 at `/privacy/…`).
    pub(crate) privacy: Option<Arc<chronicle_privacy::Privacy>>,
    /// This node's name and connections.
    pub(crate) node: node::Node,
}

impl AppState {
    /// The store `principal` reads from: as stored when `raw`, else in
    /// the current shape; encrypted fields decrypted for a caller cleared
    /// for personal data, masked for everyone else.
    ///
    /// A token's grants apply first (`GrantedStore`: refused streams,
    /// hidden events), so nothing it may not read is decrypted.
    pub(crate) fn reader(&self, principal: Option<&Principal>, raw: Option<bool>) -> Arc<dyn EventStore> {
        let store = granted(if raw == Some(true) { &self.raw } else { &self.store }, principal);
        let store = match (&self.privacy, principal) {
            (Some(p), Some(who)) => Arc::new(p.reader(store, clearance(principal), &who.token_id).with_grants(who)),
            (Some(p), None) => Arc::new(p.reader(store, clearance(principal), "anonymous")),
            (None, _) => store,
        };
        tenant_view(store, principal)
    }

    /// The store as `principal` may use it, without revealing anything
    /// (appends, deletes, metadata, stream info and listings: no event data).
    pub(crate) fn granted(&self, principal: Option<&Principal>) -> Arc<dyn EventStore> {
        tenant_view(granted(&self.store, principal), principal)
    }
}

/// `store` with `principal`'s grants applied (as it is without a token).
fn granted(store: &Arc<dyn EventStore>, principal: Option<&Principal>) -> Arc<dyn EventStore> {
    match principal {
        Some(p) => Arc::new(chronicle_core::GrantedStore::new(store.clone(), p.clone())),
        None => store.clone(),
    }
}

/// `store` as the tenant `principal` is confined to sees it (stream
/// names without the tenant prefix, event ids of the tenant).
fn tenant_view(store: Arc<dyn EventStore>, principal: Option<&Principal>) -> Arc<dyn EventStore> {
    match principal.and_then(Principal::confined_tenant) {
        Some(tenant) => Arc::new(chronicle_core::TenantStore::new(store, tenant)),
        None => store,
    }
}

/// Who may see encrypted fields in clear: a token with `pii = true`, or an admin.
pub(crate) fn clearance(principal: Option<&Principal>) -> chronicle_privacy::Clearance {
    match principal.is_some_and(Principal::cleared) {
        true => chronicle_privacy::Clearance::Clear,
        false => chronicle_privacy::Clearance::Masked,
    }
}

#[derive(OpenApi)]
#[openapi(info(title = "Chronicle", description = "Event store HTTP API. Positions and versions start at 1; every `from` is inclusive."))]
struct ApiDoc;

/// The server: a store, its router and its shutdown switch.
pub struct Server {
    state: AppState,
    shutdown: watch::Sender<bool>,
    body_limit: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("store", &self.state.store).field("body_limit", &self.body_limit).finish_non_exhaustive()
    }
}

impl Server {
    /// A server over `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        let (shutdown, rx) = watch::channel(false);
        Self {
            state: AppState {
                raw: store.clone(),
                store,
                catalog: None,
                metrics: Arc::default(),
                shutdown: rx,
                maintenance: Arc::new(NoMaintenance("served")),
                tokens: Arc::default(),
                limits: Arc::default(),
                audit: audit::AuditLog::default(),
                publisher: None,
                groups: None,
                retention: None,
                privacy: None,
                node: node::Node::default(),
            },
            shutdown,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Serves `raw` (the store as stored) for `?raw=true` and the schema
    /// routes over `catalog`; the store given to [`Server::new`] is the one
    /// that reads in the current shape.
    pub fn with_schemas(mut self, raw: Arc<dyn EventStore>, catalog: Arc<chronicle_schema::Catalog>) -> Self {
        self.state.raw = raw;
        self.state.catalog = Some(catalog);
        self
    }

    /// Offers the store's maintenance: its storage size in `/metrics` and
    /// `POST /admin/scavenge` (without it, or where the backend has no
    /// scavenge, the route answers 501).
    pub fn with_maintenance(mut self, maintenance: Arc<dyn Maintenance>) -> Self {
        self.state.maintenance = maintenance;
        self
    }

    /// Requires a bearer token with the right role on every route but the
    /// health probes and `/openapi.json` (no tokens: open).
    pub fn with_auth(mut self, tokens: &[auth::TokenEntry]) -> Self {
        self.state.tokens = Arc::new(auth::Tokens::new(tokens));
        self
    }

    /// Limits each token's and each tenant's request rate (429 with
    /// `Retry-After` beyond it); only with tokens configured.
    pub fn with_rate_limit(mut self, limit: &rate::RateLimit) -> Self {
        self.state.limits = Arc::new(auth::Limits::new(limit));
        self
    }

    /// Records access attempts in the `$audit` stream of `log` (a store of
    /// its own, so audit records never mix with the served events): denials
    /// and admin actions always, other requests when `access`. Call inside
    /// a tokio runtime (it starts the audit writer).
    pub fn with_audit(mut self, log: Arc<dyn EventStore>, access: bool) -> Self {
        self.state.audit = audit::AuditLog::start(log, access);
        self
    }

    /// Serves the relays' status and DLQs (`/publish…`) and their
    /// metrics; the caller starts and stops the relays.
    pub fn with_publisher(mut self, publisher: Arc<chronicle_publish::Publisher>) -> Self {
        self.state.publisher = Some(publisher);
        self
    }

    /// Serves consumer groups (`/subscriptions…`) and their metrics.
    pub fn with_groups(mut self, groups: Arc<chronicle_groups::Groups>) -> Self {
        self.state.groups = Some(groups);
        self
    }

    /// Offers retention passes on demand (`POST /admin/retention`) and
    /// their metrics; the caller runs the schedule.
    pub fn with_retention(mut self, retention: Arc<chronicle_retention::Retention>) -> Self {
        self.state.retention = Some(retention);
        self
    }

    /// Encrypts and reveals `[privacy]` fields: reads show them decrypted
    /// to tokens with `pii = true` and admins, `"***"` to everyone else;
    /// `/privacy/…` forgets subjects and rotates keys (admin); crypto
    /// operations go to the audit log.
    pub fn with_privacy(mut self, privacy: Arc<chronicle_privacy::Privacy>) -> Self {
        self.state.privacy = Some(privacy);
        self
    }

    /// Names this node (in `/health/*`, as the `node` label in `/metrics`)
    /// and reports its database connections there.
    pub fn with_node(mut self, node: node::Node) -> Self {
        self.state.node = node;
        self
    }

    /// Changes the request body limit.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(listing::list_streams))
            .routes(routes!(streams::append, streams::read, streams::delete))
            .routes(routes!(streams::info))
            .routes(routes!(streams::set_metadata))
            .routes(routes!(streams::load_snapshot, streams::save_snapshot))
            .routes(routes!(events::append_atomic))
            .routes(routes!(events::read_all))
            .routes(routes!(events::get_event))
            .routes(routes!(events::by_correlation))
            .routes(routes!(subscribe::subscribe))
            .routes(routes!(ws::ws))
            .routes(routes!(ops::load_checkpoint, ops::save_checkpoint))
            .routes(routes!(ops::live))
            .routes(routes!(ops::ready))
            .routes(routes!(ops::metrics))
            .routes(routes!(ops::audit))
            .routes(routes!(ops::scavenge))
            .routes(routes!(retention::run))
            .routes(routes!(transfer::export))
            .routes(routes!(transfer::import))
            .routes(routes!(publish::status))
            .routes(routes!(publish::dlq))
            .routes(routes!(publish::replay))
            .routes(routes!(publish::discard))
            .routes(routes!(groups::list))
            .routes(routes!(groups::put, groups::get, groups::delete))
            .routes(routes!(groups::connect))
            .routes(routes!(groups::parked))
            .routes(routes!(groups::replay))
            .routes(routes!(schemas::list))
            .routes(routes!(schemas::get))
            .routes(routes!(schemas::put))
            .routes(routes!(privacy::forget))
            .routes(routes!(privacy::status))
            .routes(routes!(privacy::rotate_kek))
            .routes(routes!(privacy::rotate))
    }

    /// The OpenAPI document of every route, with every constraint and
    /// status the handlers enforce (what `/openapi.json` serves).
    pub fn openapi(&self) -> serde_json::Value {
        let (_, mut doc) = self.api().split_for_parts();
        doc.paths.paths.insert("/openapi.json".into(), openapi_path());
        contract::refine(serde_json::to_value(doc).unwrap_or_default())
    }

    /// The axum router (with `/openapi.json`, request ids, tracing, body limit).
    pub fn router(&self) -> Router {
        let doc = self.openapi();
        let (router, _) = self.api().split_for_parts();
        router
            .route("/openapi.json", axum::routing::get(move || async move { axum::Json(doc) }))
            .fallback(|| async { ApiError::not_found("no such route") })
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), auth::authorize))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes; then stops
    /// accepting, tells SSE subscribers (a final `shutdown` event) and
    /// waits for in-flight requests (appends finish and are durable).
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let router = self.router();
        let crypto = audit::CryptoAudit::start(&self.state);
        let switch = self.shutdown;
        let audit = self.state.audit.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = switch.send(true);
            })
            .await?;
        crypto.stop().await;
        audit.flush().await; // every audited request's record is stored before we return
        Ok(())
    }
}

impl Server {
    /// Like [`Server::serve`], over TLS (rustls) with the PEM certificate
    /// chain `cert` and private key `key`.
    pub async fn serve_tls(
        self,
        listener: TcpListener,
        cert: &std::path::Path,
        key: &std::path::Path,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // One process-wide crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
        let router = self.router();
        let crypto = audit::CryptoAudit::start(&self.state);
        let handle = axum_server::Handle::new();
        let (switch, audit, stopper) = (self.shutdown, self.state.audit.clone(), handle.clone());
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = switch.send(true);
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
        });
        axum_server::from_tcp_rustls(listener.into_std()?, config).handle(handle).serve(router.into_make_service()).await?;
        crypto.stop().await;
        audit.flush().await;
        Ok(())
    }
}

fn openapi_path() -> utoipa::openapi::path::PathItem {
    use utoipa::openapi::{
        HttpMethod,
        path::{OperationBuilder, PathItem},
        response::ResponseBuilder,
    };
    let op = OperationBuilder::new()
        .summary(Some("This OpenAPI document."))
        .tag("ops")
        .response("200", ResponseBuilder::new().description("OpenAPI 3.1 JSON").build())
        .build();
    PathItem::new(HttpMethod::Get, op)
}
