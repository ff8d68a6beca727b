//! The publishing relays' operator surface: status, and each sink's DLQ
//! (list, replay, discard).

use crate::{
    AppState,
    body::{ErrorSchema, Object},
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
};
use chronicle_publish::{DlqBody, MarkedBody, PublishError, Publisher, SelectionBody, StatusBody};
use chronicle_wire::ErrorCode;
use std::sync::Arc;

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Store(e) => e.into(),
            PublishError::NotInDlq { .. } => Self { field: Some("event_ids".into()), ..ApiError::not_found(e.to_string()) },
            e if e.is_not_found() => ApiError::not_found(e.to_string()),
            e => ApiError::of(ErrorCode::Invalid, e.to_string()),
        }
    }
}

fn publisher(state: &AppState, sink: &str) -> ApiResult<Arc<Publisher>> {
    state.publisher.clone().ok_or_else(|| PublishError::UnknownSink(sink.to_owned()).into())
}

/// Every sink's relay: state (`stopped`, `standby`, `connecting`,
/// `running`, `retrying`, `disconnected`, `paused_dlq_full`), the node
/// holding its lease, checkpoint, lag in events, counters and DLQ size.
#[utoipa::path(get, path = "/publish", tag = "publish", responses((status = 200, body = StatusBody)))]
pub(crate) async fn status(State(state): State<AppState>) -> ApiResult<Json<StatusBody>> {
    let sinks = match &state.publisher {
        Some(p) => p.status().await?,
        None => Vec::new(),
    };
    Ok(Json(StatusBody { sinks }))
}

/// A sink's dead-letter queue, oldest first.
#[utoipa::path(get, path = "/publish/{sink}/dlq", tag = "publish", params(("sink" = String, Path, description = "Sink name")),
    responses((status = 200, body = DlqBody), (status = 404, body = ErrorSchema, description = "No such sink")))]
pub(crate) async fn dlq(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<DlqBody>> {
    let Path(sink) = path?;
    let entries = publisher(&state, &sink)?.dlq_list(&sink).await?;
    Ok(Json(DlqBody { size: entries.len() as u64, sink, entries }))
}

async fn mark(
    state: AppState,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<SelectionBody>>, JsonRejection>,
    replay: bool,
) -> ApiResult<Json<MarkedBody>> {
    let Path(sink) = path?;
    let Json(Object(body)) = body?;
    let selection = body.selection().map_err(|(field, reason)| ApiError::bad_request(field, reason))?;
    let publisher = publisher(&state, &sink)?;
    let event_ids = if replay { publisher.dlq_replay(&sink, &selection).await? } else { publisher.dlq_discard(&sink, &selection).await? };
    tracing::info!(sink, count = event_ids.len(), "dlq {}", if replay { "replay" } else { "discard" });
    Ok(Json(MarkedBody { sink, event_ids }))
}

/// Sends DLQ entries back to the relay for another delivery (admin):
/// body `{"event_ids": [...]}` or `{"all": true}`. Answers the ids taken
/// out of the queue; 404 naming `event_ids` when one is not in it
/// (nothing is marked then).
#[utoipa::path(post, path = "/publish/{sink}/dlq/replay", tag = "publish", params(("sink" = String, Path, description = "Sink name")),
    request_body = SelectionBody,
    responses((status = 200, body = MarkedBody), (status = 404, body = ErrorSchema, description = "No such sink, or an id not in its DLQ")))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<SelectionBody>>, JsonRejection>,
) -> ApiResult<Json<MarkedBody>> {
    mark(state, path, body, true).await
}

/// Drops DLQ entries (admin; their records stay in `$dlq-{sink}`). Body
/// and answers as for replay.
#[utoipa::path(post, path = "/publish/{sink}/dlq/discard", tag = "publish", params(("sink" = String, Path, description = "Sink name")),
    request_body = SelectionBody,
    responses((status = 200, body = MarkedBody), (status = 404, body = ErrorSchema, description = "No such sink, or an id not in its DLQ")))]
pub(crate) async fn discard(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Object<SelectionBody>>, JsonRejection>,
) -> ApiResult<Json<MarkedBody>> {
    mark(state, path, body, false).await
}
