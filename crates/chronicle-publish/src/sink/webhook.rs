//! Webhooks: a POST of a JSON array of up to `batch_size` events, signed
//! `X-Chronicle-Signature: sha256=<hex HMAC-SHA256 of the body>`; any 2xx
//! acknowledges the whole batch. One batch at a time, so the endpoint
//! sees global order.

use super::{Ack, Acked, Sink, SinkError};
use crate::{Outgoing, SinkConfig, message::json_array};
use chronicle_core::async_trait;
use ring::hmac;
use std::fmt;

/// The signature header value of `body` under `secret`: `sha256=<hex>`.
///
/// ```
/// let sig = chronicle_publish::sink::sign(b"key", b"[]");
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// ```
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The webhook sink.
pub struct WebhookSink {
    url: String,
    secret: Vec<u8>,
    sink: String,
    batch_size: usize,
    client: Option<reqwest::Client>,
    timeout: std::time::Duration,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink").field("sink", &self.sink).field("batch_size", &self.batch_size).finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink for `config`.
    pub fn new(config: &SinkConfig) -> Self {
        Self {
            url: config.toml.url.clone(),
            secret: config.toml.secret.clone().unwrap_or_default().into_bytes(),
            sink: config.name().to_owned(),
            batch_size: config.toml.batch_size,
            client: None,
            timeout: config.timeout(),
        }
    }
}

#[async_trait]
impl Sink for WebhookSink {
    async fn connect(&mut self) -> Result<(), SinkError> {
        if self.client.is_none() {
            let client = reqwest::Client::builder()
                .timeout(self.timeout)
                .build()
                .map_err(|e| SinkError::Connection(format!("building the HTTP client: {e}")))?;
            self.client = Some(client);
        }
        Ok(())
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Result<Ack, SinkError> {
        let Some(client) = self.client.clone() else {
            return Err(SinkError::Connection("not connected".into()));
        };
        let body = json_array(batch);
        let request = client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-chronicle-signature", sign(&self.secret, &body))
            .header("x-chronicle-sink", &self.sink)
            .body(body);
        Ok(Box::pin(async move {
            let response = request.send().await.map_err(|e| {
                let e = e.without_url();
                if e.is_connect() { SinkError::Connection(format!("POST: {e}")) } else { SinkError::Rejected(format!("POST: {e}")) }
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(Acked::default());
            }
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Err(SinkError::Rejected(format!("HTTP {}: {text}", status.as_u16())))
        }))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn window(&self) -> usize {
        1
    }
}
