//! Health, metrics, checkpoints.

use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use chronicle_wire::CheckpointBody;
use serde::Deserialize;

/// Liveness: the process runs.
#[utoipa::path(get, path = "/health/live", tag = "ops", responses(
    (status = 200, body = crate::node::HealthBody, description = "Live"),
    (status = 503, body = crate::node::HealthBody, description = "Not live: restart the process")))]
pub(crate) async fn live(State(state): State<AppState>) -> impl IntoResponse {
    let h = state.store.health().await;
    (if h.live { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(state.node.health(h)))
}

/// Readiness: the store serves requests. Names the node and, on
/// PostgreSQL, reports its connections and circuit breaker.
#[utoipa::path(get, path = "/health/ready", tag = "ops", responses(
    (status = 200, body = crate::node::HealthBody, description = "Ready"),
    (status = 503, body = crate::node::HealthBody, description = "Not ready (the database is unreachable, the breaker open): route traffic elsewhere")))]
pub(crate) async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let h = state.store.health().await;
    (if h.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(state.node.health(h)))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.metrics().await;
    let maintenance = state.maintenance.clone();
    let bytes = tokio::task::spawn_blocking(move || maintenance.storage_bytes()).await.ok().flatten();
    let mut text = state.metrics.render(&store, bytes);
    text.push_str(&state.node.render_prometheus());
    // Projection and saga states, as their runners last recorded them.
    match chronicle_toolkit::latest_states(&*state.store).await {
        Ok(states) => text.push_str(&chronicle_toolkit::render_prometheus(&states)),
        Err(e) => tracing::warn!(error = %e, "projection states unavailable for /metrics"),
    }
    if let Some(groups) = &state.groups {
        match groups.list().await {
            Ok(list) => text.push_str(&chronicle_groups::render_prometheus(&list)),
            Err(e) => tracing::warn!(error = %e, "consumer group status unavailable for /metrics"),
        }
    }
    if let Some(retention) = &state.retention {
        text.push_str(&retention.render_prometheus());
    }
    if let Some(privacy) = &state.privacy {
        text.push_str(&privacy.render_prometheus().await);
    }
    if let Some(publisher) = &state.publisher {
        match publisher.status().await {
            Ok(sinks) => text.push_str(&chronicle_publish::render_prometheus(&sinks)),
            Err(e) => tracing::warn!(error = %e, "publishing status unavailable for /metrics"),
        }
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text)
}

/// Loads a named consumer's checkpoint.
#[utoipa::path(get, path = "/checkpoints/{name}", tag = "checkpoints", params(("name" = String, Path, description = "Consumer name")),
    responses((status = 200, body = CheckpointBody), (status = 404, body = ErrorSchema)))]
pub(crate) async fn load_checkpoint(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<CheckpointBody>> {
    let Path(name) = path?;
    let position = state.granted(super::streams::caller(&principal)).load_checkpoint(&name).await?;
    position.map(|position| Json(CheckpointBody { position })).ok_or_else(|| ApiError::not_found(format!("no checkpoint named {name}")))
}

/// Saves a named consumer's checkpoint.
#[utoipa::path(put, path = "/checkpoints/{name}", tag = "checkpoints", params(("name" = String, Path, description = "Consumer name")),
    request_body = CheckpointBody, responses((status = 204, description = "Saved"), (status = 400, body = ErrorSchema)))]
pub(crate) async fn save_checkpoint(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<crate::body::Object<CheckpointBody>>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Path(name) = path?;
    let Json(crate::body::Object(b)) = body?;
    state.granted(super::streams::caller(&principal)).save_checkpoint(&name, b.position).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which audit records `GET /audit` returns.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// The last N records (default 100, at most 10,000), oldest first.
    limit: Option<usize>,
    /// Only denied attempts.
    #[serde(default)]
    denied: bool,
}

/// The audit log of access attempts (admin only; 404 when the server keeps none).
#[utoipa::path(get, path = "/audit", tag = "ops", params(AuditQuery),
    responses((status = 200, body = Vec<crate::audit::AuditRecord>), (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema)))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<crate::audit::AuditRecord>>> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::bad_request("limit", "between 1 and 10000"));
    }
    let store = state.audit.store().ok_or_else(|| ApiError::not_found("this server keeps no audit log"))?;
    state.audit.flush().await; // read your own denials
    Ok(Json(crate::audit::recent(&**store, limit, q.denied).await?))
}

/// Reclaims space: rewrites the store's sealed segments without what
/// deletes and retention hid for good, and superseded snapshots (file
/// backend; reads and appends go on meanwhile). Answers when done, with
/// the report: `{sealed_segments, rewritten, abandoned, events_removed,
/// snapshots_dropped, bytes_before, bytes_after}`. Admin only.
#[utoipa::path(post, path = "/admin/scavenge", tag = "ops",
    responses((status = 200, description = "The scavenge report"), (status = 501, body = ErrorSchema, description = "The backend cannot reclaim space")))]
pub(crate) async fn scavenge(State(state): State<AppState>) -> ApiResult<Json<chronicle_core::ScavengeReport>> {
    let maintenance = state.maintenance.clone();
    let report = tokio::task::spawn_blocking(move || maintenance.scavenge(&mut |_, _| {}))
        .await
        .map_err(|e| chronicle_core::Error::Unavailable { reason: format!("the scavenge task stopped: {e}") })??;
    tracing::info!(?report, "scavenge done");
    Ok(Json(report))
}
