//! `GET /subscribe`: Server-Sent Events, catch-up then live. Each event's
//! SSE `id` is its global position, so a client reconnecting with
//! `Last-Event-ID: N` resumes at N + 1 with no gap and no duplicate.

use super::events::EventsQuery;
use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use chronicle_core::SubscribeFrom;
use futures_util::Stream;
use std::{convert::Infallible, sync::atomic::Ordering::Relaxed, time::Duration};

/// Subscribes to the log (filters as `GET /events`): history from `from` (inclusive; position 1 is the first event),
/// then live. With `Last-Event-ID: N` it resumes at N + 1; with neither, only new events are sent.
#[utoipa::path(get, path = "/subscribe", tag = "events", params(EventsQuery),
    responses((status = 200, description = "text/event-stream: `id` = global position, `data` = the event JSON; a final `shutdown` event when the server stops", content_type = "text/event-stream"),
        (status = 400, body = ErrorSchema)))]
pub(crate) async fn subscribe(
    State(state): State<AppState>,
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
    let from = match (resume.transpose()?, q.from) {
        (Some(last), _) => SubscribeFrom::Position(last + 1),
        (None, Some(0)) => return Err(ApiError::bad_request("from", "positions start at 1")),
        (None, Some(p)) => SubscribeFrom::Position(p),
        (None, None) => SubscribeFrom::End,
    };
    let mut sub = state.store.subscribe(from, filter).await?;
    let (metrics, store, mut shutdown) = (state.metrics.clone(), state.store.clone(), state.shutdown.clone());
    metrics.sse_subscribers.fetch_add(1, Relaxed);
    let stream = async_stream(move |tx| async move {
        loop {
            tokio::select! {
                next = sub.next() => match next {
                    Some(Ok(e)) => {
                        if tx.send(Event::default().id(e.global_position.to_string()).event("event").data(e.to_json())).await.is_err() {
                            break;
                        }
                        if let Ok(head) = store.head().await {
                            metrics.sse_max_lag.fetch_max(head.saturating_sub(e.global_position), Relaxed);
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Event::default().event("error").data(e.to_string())).await;
                        break;
                    }
                    None => break,
                },
                () = async { let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ()); } => {
                    let _ = tx.send(Event::default().event("shutdown").data("the server is shutting down; reconnect with Last-Event-ID")).await;
                    break;
                }
            }
        }
        metrics.sse_subscribers.fetch_sub(1, Relaxed);
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a spawned producer through a small bounded channel (so a
/// slow client slows the producer down: backpressure, never loss).
fn async_stream<F, Fut>(producer: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(producer(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) })
}
