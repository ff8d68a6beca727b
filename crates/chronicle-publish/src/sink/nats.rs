//! NATS JetStream: a publish per event with `Nats-Msg-Id` = event id, so
//! JetStream drops repeats within its duplicate window; the ack is
//! JetStream's `PubAck`.

use super::{Ack, Acked, Sink, SinkError};
use crate::{CreateStream, Outgoing, SinkConfig};
use async_nats::{
    ConnectOptions, HeaderMap,
    connection::State,
    jetstream::{self, message::PublishMessage},
};
use chronicle_core::async_trait;
use std::time::Duration;

/// The JetStream sink.
#[derive(Debug)]
pub struct NatsSink {
    url: String,
    timeout: Duration,
    max_in_flight: usize,
    create_stream: Option<CreateStream>,
    connected: Option<(async_nats::Client, jetstream::Context)>,
}

impl NatsSink {
    /// A sink for `config` (connects on [`Sink::connect`]).
    pub fn new(config: &SinkConfig) -> Self {
        Self {
            url: config.toml.url.clone(),
            timeout: config.timeout(),
            max_in_flight: config.toml.max_in_flight,
            create_stream: config.toml.create_stream.clone(),
            connected: None,
        }
    }

    async fn ensure_stream(&self, js: &jetstream::Context) -> Result<(), SinkError> {
        let Some(cs) = &self.create_stream else { return Ok(()) };
        let config = jetstream::stream::Config { name: cs.name.clone(), subjects: cs.subjects.clone(), ..Default::default() };
        js.get_or_create_stream(config)
            .await
            .map(drop)
            .map_err(|e| SinkError::Connection(format!("creating JetStream stream {}: {e}", cs.name)))
    }
}

fn classify(client: &async_nats::Client, what: String) -> SinkError {
    if client.connection_state() == State::Connected { SinkError::Rejected(what) } else { SinkError::Connection(what) }
}

#[async_trait]
impl Sink for NatsSink {
    async fn connect(&mut self) -> Result<(), SinkError> {
        if let Some((client, js)) = &self.connected
            && client.connection_state() == State::Connected
        {
            return self.ensure_stream(js).await;
        }
        // A fresh client each time: the old one may hold publishes it
        // queued while disconnected, and flushing those after a reconnect
        // could put later events before the ones the relay resends.
        self.connected = None;
        let client = ConnectOptions::new()
            .connection_timeout(self.timeout)
            // One immediate reconnect attempt, then the client gives up
            // (dropping what it queued) and the relay reconnects itself.
            .max_reconnects(1)
            .reconnect_delay_callback(|_| Duration::ZERO)
            .connect(self.url.as_str())
            .await
            .map_err(|e| SinkError::Connection(format!("NATS at {}: {e}", redact(&self.url))))?;
        let js = jetstream::ContextBuilder::new().timeout(self.timeout).max_ack_inflight(self.max_in_flight + 16).build(client.clone());
        self.ensure_stream(&js).await?;
        self.connected = Some((client, js));
        Ok(())
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Result<Ack, SinkError> {
        let Some((client, js)) = self.connected.as_ref().filter(|(c, _)| c.connection_state() == State::Connected) else {
            return Err(SinkError::Connection(format!("NATS at {} is not connected", redact(&self.url))));
        };
        let mut acks = Vec::with_capacity(batch.len());
        for m in batch {
            let mut headers = HeaderMap::new();
            headers.insert("Chronicle-Position", m.position().to_string().as_str());
            headers.insert("Chronicle-Stream", m.event.stream_id.as_str());
            headers.insert("Chronicle-Event-Type", &*m.event.event_type);
            let publish = PublishMessage::build().payload(m.body.clone()).headers(headers).message_id(m.message_id());
            let ack = js
                .send_publish(m.subject.clone(), publish)
                .await
                .map_err(|e| classify(client, format!("publishing to {}: {e}", m.subject)))?;
            acks.push(ack);
        }
        let client = client.clone();
        Ok(Box::pin(async move {
            let mut acked = Acked::default();
            for ack in acks {
                let ack = ack.await.map_err(|e| classify(&client, format!("JetStream did not acknowledge: {e}")))?;
                acked.duplicates += u64::from(ack.duplicate);
            }
            Ok(acked)
        }))
    }

    fn window(&self) -> usize {
        self.max_in_flight
    }
}

/// The URL without credentials (for errors, logs and printed configuration).
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<invalid url>".into(),
    }
}
