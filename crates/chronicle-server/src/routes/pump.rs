//! The one subscription pump behind `GET /subscribe` (SSE) and `GET /ws`:
//! where a subscription starts, and the loop that hands its events to the
//! client until the client goes, the store fails or the server shuts down.
//! No store call per delivered event: the lag metric uses the head the
//! subscription itself last saw.

use crate::{
    AppState,
    error::{ApiError, ApiResult},
};
use chronicle_core::{Error, RecordedEvent, SubscribeFrom, Subscription, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Where a subscription starts, the same on both transports: after
/// `resume` (SSE `Last-Event-ID`: the last position the client saw), else
/// at position `from` (inclusive), else at the first event recorded at or
/// after `since`, else at the end (only new events).
pub(crate) fn start(resume: Option<u64>, from: Option<u64>, since: Option<Timestamp>) -> ApiResult<SubscribeFrom> {
    Ok(match (resume, from, since) {
        (Some(last), ..) => SubscribeFrom::Position(last.saturating_add(1)),
        (None, Some(0), _) => return Err(ApiError::bad_request("from", "positions start at 1")),
        (None, Some(p), _) => SubscribeFrom::Position(p),
        (None, None, Some(t)) => SubscribeFrom::Timestamp(t),
        (None, None, None) => SubscribeFrom::End,
    })
}

/// A client connection the pump delivers to.
pub(crate) trait Sink {
    /// Sends one event; `false` when the client is gone.
    async fn deliver(&mut self, event: &RecordedEvent) -> bool;
    /// Tells the client the store failed (the subscription ends).
    async fn fail(&mut self, error: &Error);
    /// Tells the client the server is shutting down.
    async fn shut_down(&mut self);
    /// Completes when the client has gone away.
    async fn gone(&mut self);
}

/// Delivers `sub` to `sink` until one side ends; counts the subscriber in
/// `open` meanwhile and records the largest lag behind the head.
pub(crate) async fn pump(mut sub: Subscription, mut sink: impl Sink, state: &AppState, open: &AtomicU64) {
    let mut shutdown = state.shutdown.clone();
    open.fetch_add(1, Relaxed);
    loop {
        tokio::select! {
            next = sub.next() => match next {
                Some(Ok(event)) => {
                    if !sink.deliver(&event).await {
                        break;
                    }
                    state.metrics.subscriber_max_lag.fetch_max(sub.head().saturating_sub(event.global_position), Relaxed);
                }
                Some(Err(e)) => {
                    sink.fail(&e).await;
                    break;
                }
                None => break,
            },
            () = sink.gone() => break,
            () = async { let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ()); } => {
                sink.shut_down().await;
                break;
            }
        }
    }
    open.fetch_sub(1, Relaxed);
}
