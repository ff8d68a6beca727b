//! The global log: multi-stream/DCB appends, filtered reads with cursor
//! paging (JSON pages or streamed NDJSON), lookups by id and correlation.

use super::streams::{caller, context};
use crate::{
    AppState,
    body::{AppendResultSchema, ErrorSchema, EventSchema, Object, PageSchema, RawJsonResponse, events_response, page_response},
    error::{ApiError, ApiResult},
};
use axum::{
    Extension, Json,
    body::Body,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use chronicle_core::{AppendRequest, AppendResult, Direction, EventStore, Filter, Principal, ReadAll, StreamAppend, StreamId, Uuid};
use chronicle_wire::AppendBody;
use serde::Deserialize;
use std::{sync::Arc, time::Instant};
use utoipa::IntoParams;

/// Appends to several streams atomically, optionally guarded by a DCB condition.
#[utoipa::path(post, path = "/append", tag = "events", request_body = AppendBody,
    responses((status = 200, body = Vec<AppendResultSchema>), (status = 400, body = ErrorSchema), (status = 409, body = ErrorSchema),
        (status = 413, body = ErrorSchema), (status = 415, body = ErrorSchema),
        (status = 422, description = "An event does not match the schema registered for its type and schema_version", body = ErrorSchema)))]
pub(crate) async fn append_atomic(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    body: Result<Json<Object<AppendBody>>, JsonRejection>,
) -> ApiResult<Json<Vec<AppendResult>>> {
    let Json(Object(body)) = body?;
    let mut streams = Vec::with_capacity(body.streams.len());
    for (i, Object(part)) in body.streams.into_iter().enumerate() {
        let stream = StreamId::new(&part.stream_id).map_err(|e| ApiError::bad_request(format!("streams[{i}].stream_id"), e.to_string()))?;
        let ev = part.expected().map_err(|e| ApiError::bad_request(format!("streams[{i}].expected_version"), e.to_string()))?;
        streams.push(StreamAppend::new(stream, ev, part.events.into_iter().map(|Object(e)| e.into()).collect()));
    }
    let started = Instant::now();
    let result = state
        .granted(caller(&principal))
        .append_with(&context(principal.clone()), AppendRequest { streams, condition: body.condition.map(|Object(c)| c.into()) })
        .await;
    state.metrics.append_latency.observe(started.elapsed());
    Ok(Json(result?))
}

/// Filters and paging of a read of the global log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// First position, inclusive (default 1, or the head when backward); pass `next` of a page.
    pub(crate) from: Option<u64>,
    /// Most events (default: all for NDJSON, 1,000 per JSON page).
    pub(crate) limit: Option<usize>,
    /// `forward` (default) or `backward`.
    #[param(value_type = Option<String>)]
    pub(crate) direction: Option<Direction>,
    /// Event types, comma-separated (any of).
    pub(crate) event_type: Option<String>,
    /// Stream category (part before the first `-`).
    pub(crate) category: Option<String>,
    /// Stream id prefix.
    pub(crate) stream_prefix: Option<String>,
    /// Exactly this stream.
    pub(crate) stream_id: Option<String>,
    /// Metadata correlation_id.
    pub(crate) correlation_id: Option<String>,
    /// Metadata actor.id.
    pub(crate) actor_id: Option<String>,
    /// Metadata actor.type.
    pub(crate) actor_type: Option<String>,
    /// Tags, comma-separated (all of).
    pub(crate) tag: Option<String>,
    /// Recorded at or after (RFC 3339).
    pub(crate) since: Option<String>,
    /// Recorded before (RFC 3339).
    pub(crate) until: Option<String>,
    /// `json` (default) or `ndjson` (streamed; also chosen by `Accept: application/x-ndjson`).
    pub(crate) format: Option<String>,
    /// `true`: each event as stored; default: upcast to the latest registered `schema_version`.
    pub(crate) raw: Option<bool>,
}

/// Whether to serve events as stored.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawQuery {
    /// `true`: the event as stored; default: upcast to the latest registered `schema_version`.
    pub(crate) raw: Option<bool>,
}

impl EventsQuery {
    pub(crate) fn filter(&self) -> ApiResult<Filter> {
        let spec = chronicle_wire::FilterSpec {
            event_type: self.event_type.clone(),
            category: self.category.clone(),
            stream_prefix: self.stream_prefix.clone(),
            stream_id: self.stream_id.clone(),
            correlation_id: self.correlation_id.clone(),
            actor_id: self.actor_id.clone(),
            actor_type: self.actor_type.clone(),
            tag: self.tag.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
        };
        Ok(spec.to_filter("")?)
    }
}

/// Default page size of a JSON read of the log.
const JSON_PAGE: usize = 1000;
/// Page size while streaming NDJSON.
const NDJSON_PAGE: usize = 1000;

/// Reads the global log, filtered: a JSON page with a cursor, or all matching events as NDJSON.
#[utoipa::path(get, path = "/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "A page (JSON) or every matching event (NDJSON)", body = PageSchema), (status = 400, body = ErrorSchema)))]
pub(crate) async fn read_all(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let filter = q.filter()?;
    let ndjson = q.format.as_deref() == Some("ndjson")
        || headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("application/x-ndjson"));
    match q.format.as_deref() {
        None | Some("json" | "ndjson") => {}
        Some(other) => return Err(ApiError::bad_request("format", format!("expected json or ndjson, got {other:?}"))),
    }
    let read = ReadAll { from: q.from, direction: q.direction.unwrap_or_default(), limit: q.limit, filter };
    read.validate()?;
    if ndjson {
        return Ok(ndjson_stream(state.reader(caller(&principal), q.raw).clone(), read));
    }
    let started = Instant::now();
    let page = state.reader(caller(&principal), q.raw).read_all(&ReadAll { limit: Some(read.limit.unwrap_or(JSON_PAGE)), ..read }).await?;
    state.metrics.read_latency.observe(started.elapsed());
    Ok(page_response(&page.events, page.next, page.head).into_response())
}

fn ndjson_stream(store: Arc<dyn EventStore>, read: ReadAll) -> Response {
    let remaining = read.limit.unwrap_or(usize::MAX);
    let stream = futures_util::stream::unfold(Some((read, remaining)), move |state| {
        let store = store.clone();
        async move {
            let (mut read, remaining) = state?;
            if remaining == 0 {
                return None;
            }
            read.limit = Some(remaining.min(NDJSON_PAGE));
            match store.read_all(&read).await {
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
                Ok(page) => {
                    let mut out = Vec::with_capacity(page.events.len() * 400);
                    page.events.iter().for_each(|e| e.write_json_line(&mut out));
                    let left = remaining - page.events.len();
                    let next = page.next.map(|n| {
                        read.from = Some(n);
                        (read, left)
                    });
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(out)), next))
                }
            }
        }
    });
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"))], Body::from_stream(stream)).into_response()
}

/// One event by id.
#[utoipa::path(get, path = "/events/{event_id}", tag = "events",
    params(("event_id" = Uuid, Path, description = "Event id"), RawQuery),
    responses((status = 200, body = EventSchema), (status = 400, body = ErrorSchema), (status = 404, body = ErrorSchema)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<Uuid>, PathRejection>,
    query: Result<Query<RawQuery>, QueryRejection>,
) -> ApiResult<RawJsonResponse> {
    let Path(id) = path?;
    let Query(q) = query?;
    let event =
        state.reader(caller(&principal), q.raw).get_event(id).await?.ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    Ok(RawJsonResponse(event.to_json().into_bytes()))
}

/// Every event with this metadata correlation_id, in position order.
#[utoipa::path(get, path = "/correlations/{correlation_id}", tag = "events",
    params(("correlation_id" = String, Path, description = "Correlation id"), RawQuery),
    responses((status = 200, body = Vec<EventSchema>), (status = 400, body = ErrorSchema)))]
pub(crate) async fn by_correlation(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RawQuery>, QueryRejection>,
) -> ApiResult<RawJsonResponse> {
    let Path(id) = path?;
    let Query(q) = query?;
    Ok(events_response(&state.reader(caller(&principal), q.raw).read_by_correlation(&id).await?))
}
