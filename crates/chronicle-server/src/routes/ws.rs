//! `GET /ws`: WebSocket subscriptions, catch-up then live. One text message
//! per event (the event's JSON, as in every other response); a client that
//! saw position N resumes with `from=N+1`. A slow client slows its
//! subscription down (each send waits for the socket: backpressure, never
//! loss); the server closes with 1001 when it shuts down and 1011 when the
//! store fails, with the reason in the close frame.

use super::events::EventsQuery;
use crate::{
    AppState,
    body::ErrorSchema,
    error::{ApiError, ApiResult},
};
use axum::{
    extract::{
        Query, State,
        rejection::QueryRejection,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code},
    },
    response::Response,
};
use chronicle_core::{SubscribeFrom, Subscription};
use std::sync::atomic::Ordering::Relaxed;

/// Subscribes over a WebSocket (filters as `GET /events`; `stream_id` for one stream): from position `from`
/// (inclusive), else from the first event recorded at or after `since`, else only new events.
#[utoipa::path(get, path = "/ws", tag = "events", params(EventsQuery),
    responses((status = 101, description = "WebSocket: one text message per event (the event JSON); close 1001 on shutdown, 1011 on a store error"),
        (status = 400, body = ErrorSchema)))]
pub(crate) async fn ws(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let filter = q.filter()?;
    let from = match (q.from, filter.since) {
        (Some(0), _) => return Err(ApiError::bad_request("from", "positions start at 1")),
        (Some(p), _) => SubscribeFrom::Position(p),
        (None, Some(t)) => SubscribeFrom::Timestamp(t),
        (None, None) => SubscribeFrom::End,
    };
    let upgrade = upgrade.map_err(|e| ApiError::bad_request("upgrade", format!("a WebSocket handshake is required: {e}")))?;
    let sub = state.store.subscribe(from, filter).await?;
    Ok(upgrade.on_upgrade(move |socket| pump(socket, sub, state)))
}

async fn pump(mut socket: WebSocket, mut sub: Subscription, state: AppState) {
    let (metrics, mut shutdown) = (state.metrics.clone(), state.shutdown.clone());
    metrics.ws_subscribers.fetch_add(1, Relaxed);
    let close = |code, reason: String| Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    loop {
        tokio::select! {
            next = sub.next() => match next {
                Some(Ok(e)) => {
                    if socket.send(Message::Text(e.to_json().into())).await.is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let _ = socket.send(close(close_code::ERROR, format!("store error: {e}"))).await;
                    break;
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {} // pings are answered by the library; nothing else is expected
            },
            () = async { let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ()); } => {
                let _ = socket.send(close(close_code::AWAY, "server shutting down; reconnect with from=last+1".into())).await;
                break;
            }
        }
    }
    metrics.ws_subscribers.fetch_sub(1, Relaxed);
}
