//! `GET /subscribe`: Server-Sent Events, catch-up then live. Each event's
//! SSE `id` is its global position, so a client reconnecting with
//! `Last-Event-ID: N` resumes at N + 1 with no gap and no duplicate.

use super::streams::caller;
use super::{
    events::EventsQuery,
    pump::{Sink, pump, start},
};
use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::Extension;
use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use chronicle_core::Principal;
use chronicle_core::{Error, RecordedEvent};
use futures_util::Stream;
use std::{convert::Infallible, time::Duration};
use tokio::sync::mpsc;

/// Subscribes to the log (filters as `GET /events`): with `Last-Event-ID: N` from N + 1, else from position `from`
/// (inclusive; position 1 is the first event), else from the first event recorded at or after `since`, else only
/// new events — then live. The same start and filters as `GET /ws`.
#[utoipa::path(get, path = "/subscribe", tag = "events", params(EventsQuery),
    responses((status = 200, description = "text/event-stream: `id` = global position, `data` = the event JSON; a final `shutdown` event when the server stops", content_type = "text/event-stream"),
        (status = 400, body = ErrorSchema)))]
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let Query(q) = query?;
    let filter = q.filter()?;
    let resume = headers.get("last-event-id").map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID", "must be a position"))
    });
    let from = start(resume.transpose()?, q.from, filter.since)?;
    let sub = state.reader(caller(&principal), q.raw).subscribe(from, filter).await?;
    // A small bounded channel: a slow client slows the pump down
    // (backpressure, never loss).
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move { pump(sub, SseSink(tx), &state, &state.metrics.sse_subscribers).await });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The SSE response's side of the pump.
struct SseSink(mpsc::Sender<Event>);

impl Sink for SseSink {
    async fn deliver(&mut self, e: &RecordedEvent) -> bool {
        self.0.send(Event::default().id(e.global_position.to_string()).event("event").data(e.to_json())).await.is_ok()
    }

    async fn fail(&mut self, error: &Error) {
        let _ = self.0.send(Event::default().event("error").data(error.to_string())).await;
    }

    async fn shut_down(&mut self) {
        let _ = self.0.send(Event::default().event("shutdown").data("the server is shutting down; reconnect with Last-Event-ID")).await;
    }

    async fn gone(&mut self) {
        self.0.closed().await;
    }
}
