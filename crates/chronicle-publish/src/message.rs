//! What a sink sends: one event, its body in exactly the JSON of
//! `chronicle read --json` (the nine fields), and its subject.

use bytes::Bytes;
use chronicle_core::RecordedEvent;

/// One event ready for a sink.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The event as delivered (after the hooks' transforms).
    pub event: RecordedEvent,
    /// Its JSON body (the nine fields of `chronicle read --json`).
    pub body: Bytes,
    /// Its NATS subject / RabbitMQ routing key.
    pub subject: String,
}

impl Outgoing {
    /// The message for `event` with `subject`.
    pub fn new(event: RecordedEvent, subject: String) -> Self {
        let mut body = Vec::with_capacity(256 + event.data.as_bytes().len() + event.metadata.as_bytes().len());
        event.write_json_line(&mut body);
        body.pop(); // the newline
        Self { event, body: Bytes::from(body), subject }
    }

    /// The event's global position.
    pub fn position(&self) -> u64 {
        self.event.global_position
    }

    /// The deduplication id: the event id.
    pub fn message_id(&self) -> String {
        self.event.event_id.to_string()
    }
}

/// A JSON array of the bodies of `batch` (the webhook payload).
pub fn json_array(batch: &[Outgoing]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + batch.iter().map(|m| m.body.len() + 1).sum::<usize>());
    out.push(b'[');
    for (i, m) in batch.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&m.body);
    }
    out.push(b']');
    out
}
