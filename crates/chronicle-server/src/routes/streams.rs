//! `/streams/{stream}`: append, read, delete, info, metadata, snapshot.

use crate::{
    AppState,
    body::{AppendResultSchema, ErrorSchema, EventSchema, NewEventBody, Object, RawJsonResponse, events_response},
    error::{ApiError, ApiResult},
};
use axum::{
    Extension, Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
};
use chronicle_core::{
    AppendContext, AppendResult, DeleteMode, Direction, ExpectedVersion, Principal, ReadStream, Snapshot, StreamId, StreamInfo,
    StreamMetadata,
};
use chronicle_wire::SnapshotBody;
use serde::Deserialize;
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

pub(crate) fn stream_id(path: Result<Path<String>, PathRejection>) -> ApiResult<StreamId> {
    let Path(s) = path?;
    Ok(StreamId::new(s)?)
}

pub(crate) fn expected(v: Option<&str>) -> ApiResult<ExpectedVersion> {
    Ok(v.map(str::parse).transpose()?.unwrap_or_default())
}

/// Query of an append.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AppendQuery {
    /// A version number, `any` (default), `no-stream` or `exists`.
    expected_version: Option<String>,
}

/// Appends events to one stream, atomically.
#[utoipa::path(post, path = "/streams/{stream}", tag = "streams",
    params(("stream" = String, Path, description = "Stream id"), AppendQuery),
    request_body = Vec<NewEventBody>,
    responses((status = 200, description = "Stored (or an identical earlier append)", body = AppendResultSchema),
        (status = 400, body = ErrorSchema), (status = 409, description = "Version conflict", body = ErrorSchema),
        (status = 410, description = "Stream tombstoned", body = ErrorSchema), (status = 413, body = ErrorSchema),
        (status = 415, body = ErrorSchema), (status = 422, description = "An event does not match the schema registered for its type and schema_version", body = ErrorSchema),
        (status = 503, body = ErrorSchema)))]
pub(crate) async fn append(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<AppendQuery>, QueryRejection>,
    body: Result<Json<Vec<Object<NewEventBody>>>, JsonRejection>,
) -> ApiResult<Json<AppendResult>> {
    let stream = stream_id(path)?;
    let Query(q) = query?;
    let expected = expected(q.expected_version.as_deref())?;
    let Json(events) = body?;
    let started = Instant::now();
    let result = state
        .granted(caller(&principal))
        .append_as(&context(principal.clone()), &stream, expected, events.into_iter().map(|Object(e)| e.into()).collect())
        .await;
    state.metrics.append_latency.observe(started.elapsed());
    Ok(Json(result?))
}

/// The append context of a request: through HTTP, by the token's principal
/// (none on an open server).
pub(crate) fn context(principal: Option<Extension<Principal>>) -> AppendContext {
    AppendContext::http(principal.map(|Extension(p)| p))
}

/// The caller of a request, when the server checks tokens.
pub(crate) fn caller(principal: &Option<Extension<Principal>>) -> Option<&Principal> {
    principal.as_ref().map(|Extension(p)| p)
}

/// Query of a stream read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// First version, inclusive (default: first, or last when backward).
    from: Option<u64>,
    /// Most events (default: all).
    limit: Option<usize>,
    /// `forward` (default) or `backward`.
    #[param(value_type = Option<String>)]
    direction: Option<Direction>,
    /// `true`: events as stored; default: upcast to the latest registered `schema_version`.
    raw: Option<bool>,
}

/// Reads a stream.
#[utoipa::path(get, path = "/streams/{stream}", tag = "streams",
    params(("stream" = String, Path, description = "Stream id"), ReadQuery),
    responses((status = 200, body = Vec<EventSchema>), (status = 400, body = ErrorSchema), (status = 410, body = ErrorSchema)))]
pub(crate) async fn read(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> ApiResult<RawJsonResponse> {
    let stream = stream_id(path)?;
    let Query(q) = query?;
    let started = Instant::now();
    let events = state
        .reader(caller(&principal), q.raw)
        .read_stream(&stream, ReadStream { from: q.from, direction: q.direction.unwrap_or_default(), limit: q.limit })
        .await?;
    state.metrics.read_latency.observe(started.elapsed());
    Ok(events_response(&events))
}

/// Query of a delete.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    /// A version number, `any` (default), `no-stream` or `exists`.
    expected_version: Option<String>,
    /// `soft` (default: hide, appends recreate) or `tombstone` (forever).
    #[param(value_type = Option<String>)]
    mode: Option<DeleteMode>,
}

/// Soft-deletes or tombstones a stream.
#[utoipa::path(delete, path = "/streams/{stream}", tag = "streams",
    params(("stream" = String, Path, description = "Stream id"), DeleteQuery),
    responses((status = 204, description = "Deleted"), (status = 409, body = ErrorSchema), (status = 410, body = ErrorSchema)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> ApiResult<StatusCode> {
    let stream = stream_id(path)?;
    let Query(q) = query?;
    state
        .granted(caller(&principal))
        .delete_stream(&stream, expected(q.expected_version.as_deref())?, q.mode.unwrap_or(DeleteMode::Soft))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Version, lifecycle and retention of a stream.
#[utoipa::path(get, path = "/streams/{stream}/info", tag = "streams",
    params(("stream" = String, Path, description = "Stream id")),
    responses((status = 200, description = "{last_version, status, metadata}", body = Object)))]
pub(crate) async fn info(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<StreamInfo>> {
    Ok(Json(state.granted(caller(&principal)).stream_info(&stream_id(path)?).await?))
}

/// Retention settings of a stream.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct MetadataSchema {
    /// Events older than this many seconds are invisible.
    max_age: Option<u64>,
    /// Only the newest events are visible.
    max_count: Option<u64>,
    /// Versions below this are invisible.
    truncate_before: Option<u64>,
}

/// Replaces a stream's retention settings.
#[utoipa::path(put, path = "/streams/{stream}/metadata", tag = "streams",
    params(("stream" = String, Path, description = "Stream id")), request_body = MetadataSchema,
    responses((status = 204, description = "Saved"), (status = 400, body = ErrorSchema), (status = 410, body = ErrorSchema)))]
pub(crate) async fn set_metadata(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<StreamMetadata>>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let stream = stream_id(path)?;
    let Json(Object(metadata)) = body?;
    state.granted(caller(&principal)).set_stream_metadata(&stream, metadata).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The latest snapshot of a stream.
#[utoipa::path(get, path = "/streams/{stream}/snapshot", tag = "snapshots",
    params(("stream" = String, Path, description = "Stream id")),
    responses((status = 200, description = "{stream_id, version, schema_version, state}", body = Object), (status = 404, body = ErrorSchema)))]
pub(crate) async fn load_snapshot(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Snapshot>> {
    let stream = stream_id(path)?;
    let snap = state.reader(caller(&principal), None).load_snapshot(&stream).await?;
    snap.map(Json).ok_or_else(|| ApiError::not_found(format!("no snapshot of stream {stream}")))
}

/// Saves a snapshot (an older one than stored is ignored).
#[utoipa::path(put, path = "/streams/{stream}/snapshot", tag = "snapshots",
    params(("stream" = String, Path, description = "Stream id")), request_body = SnapshotBody,
    responses((status = 204, description = "Saved"), (status = 400, body = ErrorSchema)))]
pub(crate) async fn save_snapshot(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<SnapshotBody>>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let stream_id = stream_id(path)?;
    let Json(Object(b)) = body?;
    let snapshot = Snapshot { stream_id, version: b.version, schema_version: b.schema_version.unwrap_or(1), state: b.state };
    state.reader(caller(&principal), None).save_snapshot(snapshot).await?;
    Ok(StatusCode::NO_CONTENT)
}
