//! RabbitMQ: persistent messages on a durable topic exchange with
//! publisher confirms, `message_id` = event id; the ack is the broker's
//! confirm.

use super::{Ack, Acked, Sink, SinkError, nats::redact};
use crate::{Outgoing, SinkConfig};
use chronicle_core::async_trait;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions},
    types::{AMQPValue, FieldTable, ShortString},
};
use std::time::Duration;

/// The RabbitMQ sink.
#[derive(Debug)]
pub struct RabbitSink {
    url: String,
    name: String,
    exchange: String,
    timeout: Duration,
    max_in_flight: usize,
    connected: Option<(Connection, Channel)>,
}

impl RabbitSink {
    /// A sink for `config` (connects on [`Sink::connect`]).
    pub fn new(config: &SinkConfig) -> Self {
        Self {
            url: config.toml.url.clone(),
            name: format!("chronicle-publish:{}", config.name()),
            exchange: config.toml.exchange.clone(),
            timeout: config.timeout(),
            max_in_flight: config.toml.max_in_flight,
            connected: None,
        }
    }

    fn connection_error(&self, what: &str, e: &lapin::Error) -> SinkError {
        SinkError::Connection(format!("RabbitMQ at {}: {what}: {e}", redact(&self.url)))
    }
}

#[async_trait]
impl Sink for RabbitSink {
    async fn connect(&mut self) -> Result<(), SinkError> {
        if let Some((conn, channel)) = self.connected.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), channel.close(200, "reconnecting".into())).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.close(200, "reconnecting".into())).await;
        }
        // Named, so operators find the relay's connection in the broker.
        let properties = ConnectionProperties::default().with_connection_name(self.name.as_str().into());
        let connect = Connection::connect(&self.url, properties);
        let conn = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(self.connection_error("connect", &e)),
            Err(_) => return Err(SinkError::Connection(format!("RabbitMQ at {}: connect timed out", redact(&self.url)))),
        };
        let channel = conn.create_channel().await.map_err(|e| self.connection_error("open a channel", &e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.connection_error("enable publisher confirms", &e))?;
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(self.exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default())
            .await
            .map_err(|e| self.connection_error(&format!("declare the topic exchange {:?}", self.exchange), &e))?;
        self.connected = Some((conn, channel));
        Ok(())
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Result<Ack, SinkError> {
        let Some((conn, channel)) = &self.connected else {
            return Err(SinkError::Connection("not connected".into()));
        };
        let mut confirms = Vec::with_capacity(batch.len());
        for m in batch {
            let mut headers = FieldTable::default();
            headers.insert("chronicle-position".into(), AMQPValue::LongLongInt(i64::try_from(m.position()).unwrap_or(i64::MAX)));
            headers.insert("chronicle-stream".into(), AMQPValue::LongString(m.event.stream_id.as_str().into()));
            let properties = BasicProperties::default()
                .with_message_id(ShortString::from(m.message_id()))
                .with_type(ShortString::from(m.event.event_type.to_string()))
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    m.subject.as_str().into(),
                    BasicPublishOptions::default(),
                    &m.body,
                    properties,
                )
                .await;
            match confirm {
                Ok(c) => confirms.push(c),
                Err(e) if conn.status().connected() => return Err(SinkError::Rejected(format!("publish refused: {e}"))),
                Err(e) => return Err(SinkError::Connection(format!("publish: {e}"))),
            }
        }
        let (timeout, conn) = (self.timeout, channel.status().clone());
        Ok(Box::pin(async move {
            for confirm in confirms {
                match tokio::time::timeout(timeout, confirm).await {
                    Ok(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => {}
                    Ok(Ok(Confirmation::Nack(_))) => return Err(SinkError::Rejected("the broker nacked the message".into())),
                    Ok(Err(e)) => return Err(SinkError::Connection(format!("waiting for the confirm: {e}"))),
                    Err(_) if conn.connected() => return Err(SinkError::Rejected("no confirm within the timeout".into())),
                    Err(_) => return Err(SinkError::Connection("the connection dropped before the confirm".into())),
                }
            }
            Ok(Acked::default())
        }))
    }

    fn window(&self) -> usize {
        self.max_in_flight
    }
}
