//! `GET /streams`: the streams a store holds, by id, cursor-paged.

use crate::{AppState, body::ErrorSchema, error::ApiResult};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chronicle_core::{ListStreams, StreamPage};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Filters and paging of a stream listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamsQuery {
    /// Only streams whose id starts with this.
    prefix: Option<String>,
    /// Only streams of this category (the part of the id before the first `-`).
    category: Option<String>,
    /// Start after this stream id (exclusive): pass `next` of the previous page.
    after: Option<String>,
    /// Most streams in the page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One listed stream.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the JSON of `StreamSummary`
pub(crate) struct StreamSummarySchema {
    /// Stream id.
    stream_id: String,
    /// Current version (last event appended; versions continue after a soft delete).
    version: u64,
    /// Global position of the stream's last event.
    last_position: u64,
    /// When the stream's last event was recorded (RFC 3339, UTC, microseconds).
    last_recorded_at: String,
    /// `active`, `soft_deleted` or `tombstoned`.
    #[schema(pattern = "^(active|soft_deleted|tombstoned)$")]
    status: String,
}

/// A page of streams.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the JSON of `StreamPage`
pub(crate) struct StreamPageSchema {
    /// The streams, by id (byte order).
    streams: Vec<StreamSummarySchema>,
    /// Cursor of the next page (pass it as `after`); null after the last page.
    next: Option<String>,
}

/// Lists the streams the store holds (those with at least one event,
/// soft-deleted and tombstoned ones with their status), by id, a page at a time.
#[utoipa::path(get, path = "/streams", tag = "streams", params(StreamsQuery),
    responses((status = 200, body = StreamPageSchema), (status = 400, body = ErrorSchema)))]
pub(crate) async fn list_streams(
    State(state): State<AppState>,
    principal: Option<axum::Extension<chronicle_core::Principal>>,
    query: Result<Query<StreamsQuery>, QueryRejection>,
) -> ApiResult<Json<StreamPage>> {
    let Query(q) = query?;
    let list = ListStreams { prefix: q.prefix, category: q.category, after: q.after, limit: q.limit };
    Ok(Json(state.granted(super::streams::caller(&principal)).list_streams(&list).await?))
}
