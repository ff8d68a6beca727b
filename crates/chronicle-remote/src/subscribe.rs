//! Subscriptions over `GET /ws`: one text message per event. A dropped
//! connection (or a server restart, close code 1001) is resumed from the
//! last position received, so the subscriber sees no gap and no duplicate;
//! a store error on the server (1011) ends the subscription with an error.

use crate::{RemoteStore, wire};
use chronicle_core::{Error, Filter, RecordedEvent, Result, SUBSCRIPTION_BUFFER, SubscribeFrom, Subscription};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest, protocol::frame::coding::CloseCode};

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reconnection attempts after a drop before the subscription fails.
const RECONNECTS: u32 = 10;

/// Where the subscription (re)starts.
#[derive(Clone, Debug)]
enum Start {
    Position(u64),
    /// `since`: the first event recorded at or after it.
    Since(chronicle_core::Timestamp),
}

pub(crate) async fn open(store: &RemoteStore, from: SubscribeFrom, mut filter: Filter) -> Result<Subscription> {
    use chronicle_core::EventStore as _;
    let start = match from {
        SubscribeFrom::Start => Start::Position(1),
        SubscribeFrom::Position(p) => Start::Position(p.max(1)),
        // Anchored now, so a reconnect before the first event resumes at the same place.
        SubscribeFrom::End => Start::Position(store.head().await? + 1),
        SubscribeFrom::Timestamp(t) => Start::Since(filter.since.map_or(t, |s| s.max(t))),
    };
    if let Start::Since(t) = start {
        filter.since = Some(t);
    }
    let socket = connect(store, &start, &filter).await?;
    let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(e) = follow(&store, socket, start, &filter, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Subscription::from_receiver(rx))
}

async fn connect(store: &RemoteStore, start: &Start, filter: &Filter) -> Result<Socket> {
    let mut query: Vec<(&str, String)> = wire::filter_query(filter).into_iter().collect();
    if let Start::Position(p) = start {
        query.push(("from", p.to_string()));
    }
    query.extend(store.raw_query());
    open_socket(store, &["ws"], &query).await
}

/// Opens a WebSocket to the server route `segments` with `query`, sending
/// the token (and trusting the store's CA) like every other request.
pub(crate) async fn open_socket(store: &RemoteStore, segments: &[&str], query: &[(&str, String)]) -> Result<Socket> {
    let mut url = store.url(segments);
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    let _ = url.set_scheme(scheme);
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    let mut request = url.as_str().into_client_request().map_err(|e| Error::Config { reason: format!("websocket url {url}: {e}") })?;
    if let Some(token) = &store.token {
        let value =
            format!("Bearer {token}").parse().map_err(|_| Error::Config { reason: "the token is not a valid header value".into() })?;
        request.headers_mut().insert("authorization", value);
    }
    let connector = store.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    match tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            Err(wire::error(status, response.body().as_deref().unwrap_or_default(), None))
        }
        Err(e) => Err(Error::Unavailable { reason: format!("websocket {url}: {e}") }),
    }
}

/// Relays events; reconnects after drops from the last position seen.
async fn follow(
    store: &RemoteStore,
    mut socket: Socket,
    mut start: Start,
    filter: &Filter,
    tx: &mpsc::Sender<Result<RecordedEvent>>,
) -> Result<()> {
    loop {
        let dropped = loop {
            let message = tokio::select! {
                m = socket.next() => m,
                () = tx.closed() => return Ok(()),
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    let event = wire::event(text.as_bytes())?;
                    start = Start::Position(event.global_position + 1);
                    if tx.send(Ok(event)).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(Some(frame)))) if frame.code == CloseCode::Error => {
                    return Err(Error::Unavailable { reason: format!("the server ended the subscription: {}", frame.reason) });
                }
                Some(Ok(Message::Close(frame))) => break frame.map_or_else(|| "closed".to_owned(), |f| f.reason.to_string()),
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "connection ended".to_owned(),
            }
        };
        socket = reconnect(store, &start, filter, tx, &dropped).await?;
    }
}

async fn reconnect(
    store: &RemoteStore,
    start: &Start,
    filter: &Filter,
    tx: &mpsc::Sender<Result<RecordedEvent>>,
    why: &str,
) -> Result<Socket> {
    tracing::warn!(reason = why, "subscription connection dropped; resuming");
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=RECONNECTS {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = tx.closed() => return Err(Error::Unavailable { reason: "subscriber gone".into() }),
        }
        match connect(store, start, filter).await {
            Ok(socket) => return Ok(socket),
            Err(e) if attempt == RECONNECTS => return Err(e),
            Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
        }
    }
    Err(Error::Unavailable { reason: format!("subscription lost: {why}") })
}
