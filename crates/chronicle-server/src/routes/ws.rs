//! `GET /ws`: WebSocket subscriptions, catch-up then live. One text message
//! per event (the event's JSON, as in every other response); a client that
//! saw position N resumes with `from=N+1`. A slow client slows its
//! subscription down (each send waits for the socket: backpressure, never
//! loss); the server closes with 1001 when it shuts down and 1011 when the
//! store fails, with the reason in the close frame.

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
    extract::{
        Query, State,
        rejection::QueryRejection,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code},
    },
    response::Response,
};
use chronicle_core::Principal;
use chronicle_core::{Error, RecordedEvent};

/// The upgrade of a WebSocket route, or a 400 naming `upgrade`.
pub(crate) fn handshake(
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<WebSocketUpgrade> {
    upgrade.map_err(|e| ApiError::bad_request("upgrade", format!("a WebSocket handshake is required: {e}")))
}

/// Subscribes over a WebSocket (filters as `GET /events`; `stream_id` for one stream): from position `from`
/// (inclusive), else from the first event recorded at or after `since`, else only new events. The same start and
/// filters as `GET /subscribe`.
#[utoipa::path(get, path = "/ws", tag = "events", params(EventsQuery),
    responses((status = 101, description = "WebSocket: one text message per event (the event JSON); close 1001 on shutdown, 1011 on a store error"),
        (status = 400, body = ErrorSchema)))]
pub(crate) async fn ws(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let filter = q.filter()?;
    let from = start(None, q.from, filter.since)?;
    let upgrade = handshake(upgrade)?;
    let sub = state.reader(caller(&principal), q.raw).subscribe(from, filter).await?;
    Ok(upgrade.on_upgrade(move |socket| async move { pump(sub, WsSink(socket), &state, &state.metrics.ws_subscribers).await }))
}

/// The WebSocket's side of the pump.
struct WsSink(WebSocket);

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

impl Sink for WsSink {
    async fn deliver(&mut self, e: &RecordedEvent) -> bool {
        self.0.send(Message::Text(e.to_json().into())).await.is_ok()
    }

    async fn fail(&mut self, error: &Error) {
        let _ = self.0.send(close(close_code::ERROR, format!("store error: {error}"))).await;
    }

    async fn shut_down(&mut self) {
        let _ = self.0.send(close(close_code::AWAY, "server shutting down; reconnect with from=last+1".into())).await;
    }

    async fn gone(&mut self) {
        loop {
            match self.0.recv().await {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {} // pings are answered by the library; nothing else is expected
            }
        }
    }
}
