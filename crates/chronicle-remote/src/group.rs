//! A typed consumer of a server-side consumer group
//! (`GET /subscriptions/{group}/connect`): deliveries with their retry
//! count, `ack` and `nack`. A dropped connection (or a server restart) is
//! reconnected transparently; what was unacknowledged comes back from the
//! server, to this consumer or another.

use crate::{
    RemoteStore,
    subscribe::{Socket, open_socket},
    wire,
};
use chronicle_core::{Error, RecordedEvent, Result, Uuid};
use chronicle_groups::{ConsumerMessage, NackAction};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

/// Reconnection attempts after a drop before `next` fails.
const RECONNECTS: u32 = 20;

/// What the server sends: a delivery, or an error answer to a bad message.
#[derive(serde::Deserialize)]
struct WireMessage {
    event: Option<Box<serde_json::value::RawValue>>,
    retry_count: Option<u64>,
    error: Option<String>,
    message: Option<String>,
    field: Option<String>,
}

/// One delivery of a group.
#[derive(Clone, Debug)]
pub struct GroupDelivery {
    /// The event.
    pub event: RecordedEvent,
    /// Deliveries of it before this one.
    pub retry_count: u32,
}

/// A connected consumer of a group.
#[derive(Debug)]
pub struct GroupConsumer {
    store: RemoteStore,
    group: String,
    socket: Socket,
}

impl RemoteStore {
    /// Joins the consumer group `group` (it must exist: `PUT /subscriptions/{group}`).
    ///
    /// ```no_run
    /// # async fn run(store: chronicle_remote::RemoteStore) -> chronicle_core::Result<()> {
    /// let mut consumer = store.consume("billing").await?;
    /// loop {
    ///     let d = consumer.next().await?;
    ///     // handle d.event (idempotently: a redelivery has d.retry_count > 0)
    ///     consumer.ack(&[d.event.event_id]).await?;
    /// }
    /// # }
    /// ```
    pub async fn consume(&self, group: &str) -> Result<GroupConsumer> {
        let socket = open_socket(self, &["subscriptions", group, "connect"], &[]).await?;
        Ok(GroupConsumer { store: self.clone(), group: group.to_owned(), socket })
    }
}

impl GroupConsumer {
    /// The next delivery (waits for one; reconnects after a drop).
    pub async fn next(&mut self) -> Result<GroupDelivery> {
        loop {
            let why = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let m: WireMessage = serde_json::from_str(text.as_str())
                        .map_err(|e| Error::Unavailable { reason: format!("a delivery that is not JSON: {e}") })?;
                    if let Some(error) = m.error {
                        let reason = format!("{error}: {}", m.message.unwrap_or_default());
                        return Err(Error::Invalid { field: m.field.unwrap_or_else(|| "message".into()), reason });
                    }
                    let event = m.event.ok_or_else(|| Error::Unavailable { reason: "a delivery without an event".into() })?;
                    let event = wire::event(event.get().as_bytes())?;
                    let retry_count = u32::try_from(m.retry_count.unwrap_or(0)).unwrap_or(u32::MAX);
                    return Ok(GroupDelivery { event, retry_count });
                }
                Some(Ok(Message::Close(Some(frame)))) if frame.code == CloseCode::Error => {
                    return Err(Error::Unavailable { reason: format!("the server ended the consumer: {}", frame.reason) });
                }
                Some(Ok(Message::Close(frame))) => frame.map_or_else(|| "closed".to_owned(), |f| f.reason.to_string()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => e.to_string(),
                None => "connection ended".to_owned(),
            };
            self.reconnect(&why).await?;
        }
    }

    /// The next delivery and every further one already received (at most
    /// `max`): acknowledge them together with one [`GroupConsumer::ack`].
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<GroupDelivery>> {
        use futures_util::FutureExt;
        let mut batch = vec![self.next().await?];
        while batch.len() < max {
            match self.next().now_or_never() {
                Some(d) => batch.push(d?),
                None => break,
            }
        }
        Ok(batch)
    }

    async fn reconnect(&mut self, why: &str) -> Result<()> {
        tracing::warn!(group = self.group, reason = why, "consumer connection dropped; reconnecting");
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=RECONNECTS {
            tokio::time::sleep(delay).await;
            match open_socket(&self.store, &["subscriptions", &self.group, "connect"], &[]).await {
                Ok(socket) => {
                    self.socket = socket;
                    return Ok(());
                }
                Err(e) if attempt == RECONNECTS => return Err(e),
                Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
            }
        }
        Err(Error::Unavailable { reason: format!("consumer connection lost: {why}") })
    }

    async fn send(&mut self, message: &ConsumerMessage) -> Result<()> {
        let text = serde_json::to_string(message).map_err(|e| Error::invalid("message", e.to_string()))?;
        self.socket.send(Message::Text(text.into())).await.map_err(|e| Error::Unavailable { reason: format!("sending to the server: {e}") })
    }

    /// Acknowledges events (handled).
    pub async fn ack(&mut self, ids: &[Uuid]) -> Result<()> {
        self.send(&ConsumerMessage { ack: Some(ids.to_vec()), nack: None, action: None }).await
    }

    /// Refuses events: `Retry` (redelivered after a backoff, parked once the group's retries are spent), `Park`, `Skip`.
    pub async fn nack(&mut self, ids: &[Uuid], action: NackAction) -> Result<()> {
        self.send(&ConsumerMessage { ack: None, nack: Some(ids.to_vec()), action: Some(action) }).await
    }
}
