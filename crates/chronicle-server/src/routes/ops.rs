//! Health, metrics, checkpoints.

use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Liveness: the process runs.
#[utoipa::path(get, path = "/health/live", tag = "ops", responses((status = 200, description = "{live, ready, detail}"), (status = 503)))]
pub(crate) async fn live(State(state): State<AppState>) -> impl IntoResponse {
    let h = state.store.health().await;
    (if h.live { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(h))
}

/// Readiness: the store serves requests.
#[utoipa::path(get, path = "/health/ready", tag = "ops", responses((status = 200, description = "{live, ready, detail}"), (status = 503)))]
pub(crate) async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let h = state.store.health().await;
    (if h.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(h))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.metrics().await;
    let bytes = state.storage_bytes.as_ref().map(|f| f());
    let mut text = state.metrics.render(&store, bytes);
    // Projection and saga states, as their runners last recorded them.
    match chronicle_toolkit::latest_states(&*state.store).await {
        Ok(states) => text.push_str(&chronicle_toolkit::render_prometheus(&states)),
        Err(e) => tracing::warn!(error = %e, "projection states unavailable for /metrics"),
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text)
}

/// A consumer's checkpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CheckpointBody {
    /// The saved position.
    position: u64,
}

/// Loads a named consumer's checkpoint.
#[utoipa::path(get, path = "/checkpoints/{name}", tag = "checkpoints", params(("name" = String, Path, description = "Consumer name")),
    responses((status = 200, body = CheckpointBody), (status = 404, body = ErrorSchema)))]
pub(crate) async fn load_checkpoint(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<CheckpointBody>> {
    let Path(name) = path?;
    let position = state.store.load_checkpoint(&name).await?;
    position.map(|position| Json(CheckpointBody { position })).ok_or_else(|| ApiError::not_found(format!("no checkpoint named {name}")))
}

/// Saves a named consumer's checkpoint.
#[utoipa::path(put, path = "/checkpoints/{name}", tag = "checkpoints", params(("name" = String, Path, description = "Consumer name")),
    request_body = CheckpointBody, responses((status = 204, description = "Saved"), (status = 400, body = ErrorSchema)))]
pub(crate) async fn save_checkpoint(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<CheckpointBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Path(name) = path?;
    let Json(b) = body?;
    state.store.save_checkpoint(&name, b.position).await?;
    Ok(StatusCode::NO_CONTENT)
}
