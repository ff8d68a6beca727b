//! The sinks: one trait, three brokers. A sink sends a batch and hands
//! back a future of the broker's acknowledgement, so the relay can keep
//! `max_in_flight` publishes unacknowledged at once.

mod nats;
mod rabbitmq;
mod webhook;

pub use nats::{NatsSink, redact};
pub use rabbitmq::RabbitSink;
pub use webhook::{WebhookSink, sign};

use crate::{Outgoing, SinkConfig, SinkKind};
use chronicle_core::async_trait;
use futures_util::future::BoxFuture;

/// Why a delivery failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The broker cannot be reached: back off and retry forever; not the
    /// event's fault, so it never fills the DLQ.
    #[error("disconnected: {0}")]
    Connection(String),
    /// The broker (or endpoint) refused or did not confirm this delivery:
    /// retried `max_retries` times, then the event goes to the DLQ.
    #[error("{0}")]
    Rejected(String),
}

/// The broker's answer to one sent batch.
pub type Ack = BoxFuture<'static, Result<Acked, SinkError>>;

/// What an acknowledged batch reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acked {
    /// Messages the broker reported as duplicates it dropped.
    pub duplicates: u64,
}

/// A destination of events.
#[async_trait]
pub trait Sink: Send {
    /// Connects (again); called before the first send and after a
    /// [`SinkError::Connection`].
    async fn connect(&mut self) -> Result<(), SinkError>;

    /// Sends `batch` (at most [`Sink::batch_size`] events, in position
    /// order); the returned future resolves with the broker's ack.
    async fn send(&mut self, batch: &[Outgoing]) -> Result<Ack, SinkError>;

    /// Events per send.
    fn batch_size(&self) -> usize {
        1
    }

    /// Sends that may await their ack at once (1 keeps strict order for
    /// endpoints that do not order concurrent requests).
    fn window(&self) -> usize;
}

/// The sink a configuration describes.
pub fn from_config(config: &SinkConfig) -> Box<dyn Sink> {
    match config.kind {
        SinkKind::Nats => Box::new(NatsSink::new(config)),
        SinkKind::Rabbitmq => Box::new(RabbitSink::new(config)),
        SinkKind::Webhook => Box::new(WebhookSink::new(config)),
    }
}
