//! `[publish]` in `chronicle.toml`: the sinks, checked once at start so a
//! bad sink refuses to start with one line naming it and the field.

use crate::{PublishError, Result, Template};
use chronicle_core::Backoff;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a sink delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// NATS JetStream (`nats://`, `tls://`).
    Nats,
    /// RabbitMQ with publisher confirms (`amqp://`, `amqps://`).
    Rabbitmq,
    /// HTTP POST of JSON arrays (`http://`, `https://`).
    Webhook,
}

impl SinkKind {
    /// The kind's name in configuration and status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nats => "nats",
            Self::Rabbitmq => "rabbitmq",
            Self::Webhook => "webhook",
        }
    }

    fn schemes(self) -> &'static [&'static str] {
        match self {
            Self::Nats => &["nats", "tls"],
            Self::Rabbitmq => &["amqp", "amqps"],
            Self::Webhook => &["http", "https"],
        }
    }
}

/// A JetStream stream the NATS sink creates (if missing) when it connects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    /// The stream's name.
    pub name: String,
    /// The subjects it captures (e.g. `["chronicle.>"]`).
    pub subjects: Vec<String>,
}

/// One `[[publish.sinks]]` entry, as written (see [`SinkConfig`] for the
/// checked form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkToml {
    /// Unique name, `[a-z0-9-]+`.
    pub name: String,
    /// `nats`, `rabbitmq` or `webhook`.
    pub kind: String,
    /// Broker or endpoint URL.
    pub url: String,
    /// NATS subject / RabbitMQ routing key template.
    pub subject: String,
    /// RabbitMQ exchange (a durable topic exchange, declared at connect).
    pub exchange: String,
    /// Webhook HMAC-SHA256 key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Deliver only these categories (empty: every category).
    pub categories: Vec<String>,
    /// Deliver only these event types (empty: every type).
    pub event_types: Vec<String>,
    /// Deliver only events carrying one of these metadata tags (empty: any).
    pub tags: Vec<String>,
    /// Metadata fields removed before delivery.
    pub drop_metadata: Vec<String>,
    /// Retries of a failed delivery before the event goes to the DLQ.
    pub max_retries: u32,
    /// First retry delay, ms (doubling).
    pub retry_base_ms: u64,
    /// Longest retry delay, ms.
    pub retry_max_ms: u64,
    /// DLQ bound: at this size the sink pauses.
    pub dlq_max: u64,
    /// Unacknowledged publishes at once.
    pub max_in_flight: usize,
    /// Events per webhook POST.
    pub batch_size: usize,
    /// Per-delivery timeout, ms.
    pub timeout_ms: u64,
    /// NATS only: create this JetStream stream at connect if missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_stream: Option<CreateStream>,
}

impl Default for SinkToml {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: String::new(),
            url: String::new(),
            subject: "chronicle.{category}.{event_type}".into(),
            exchange: "chronicle".into(),
            secret: None,
            categories: Vec::new(),
            event_types: Vec::new(),
            tags: Vec::new(),
            drop_metadata: Vec::new(),
            max_retries: 3,
            retry_base_ms: 200,
            retry_max_ms: 30_000,
            dlq_max: 1000,
            max_in_flight: 256,
            batch_size: 100,
            timeout_ms: 10_000,
            create_stream: None,
        }
    }
}

/// A checked sink.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// What was written (defaults filled in).
    pub toml: SinkToml,
    /// The parsed kind.
    pub kind: SinkKind,
    /// The parsed subject / routing-key template.
    pub subject: Template,
}

impl SinkConfig {
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.toml.name
    }

    /// The retry schedule.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(Duration::from_millis(self.toml.retry_base_ms), Duration::from_millis(self.toml.retry_max_ms))
    }

    /// The per-delivery timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.toml.timeout_ms)
    }

    /// Checks one sink.
    pub fn check(toml: SinkToml, index: usize) -> Result<Self> {
        let name_ok = !toml.name.is_empty() && toml.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let sink = if name_ok { toml.name.clone() } else { format!("#{}", index + 1) };
        let err = |field: &str, reason: String| PublishError::config(&sink, field, reason);
        if !name_ok {
            return Err(err("name", format!("{:?} must be non-empty and match [a-z0-9-]+", toml.name)));
        }
        if toml.name.len() > 64 {
            return Err(err("name", "is longer than 64 bytes".into()));
        }
        let kind = match toml.kind.as_str() {
            "nats" => SinkKind::Nats,
            "rabbitmq" => SinkKind::Rabbitmq,
            "webhook" => SinkKind::Webhook,
            other => return Err(err("kind", format!("unknown kind {other:?}; expected nats, rabbitmq or webhook"))),
        };
        let url = reqwest::Url::parse(&toml.url).map_err(|e| err("url", format!("{e}")))?;
        if !kind.schemes().contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
            return Err(err("url", format!("a {} sink needs a {}:// URL with a host", kind.as_str(), kind.schemes().join("://, "))));
        }
        let subject = Template::parse(&toml.subject).map_err(|reason| err("subject", reason))?;
        if kind == SinkKind::Webhook && toml.secret.as_deref().is_none_or(str::is_empty) {
            return Err(err("secret", "a webhook sink needs a non-empty secret (the HMAC-SHA256 key)".into()));
        }
        if kind != SinkKind::Webhook && toml.secret.is_some() {
            return Err(err("secret", "only webhook sinks sign with a secret".into()));
        }
        if kind == SinkKind::Rabbitmq && toml.exchange.is_empty() {
            return Err(err("exchange", "must not be empty".into()));
        }
        if kind != SinkKind::Nats && toml.create_stream.is_some() {
            return Err(err("create_stream", "only nats sinks create JetStream streams".into()));
        }
        if let Some(stream) = &toml.create_stream
            && (stream.name.is_empty() || stream.subjects.is_empty())
        {
            return Err(err("create_stream", "needs a name and at least one subject".into()));
        }
        let positive = [
            ("dlq_max", toml.dlq_max),
            ("max_in_flight", toml.max_in_flight as u64),
            ("batch_size", toml.batch_size as u64),
            ("timeout_ms", toml.timeout_ms),
            ("retry_base_ms", toml.retry_base_ms),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(err(field, "must be at least 1".into()));
        }
        if toml.retry_max_ms < toml.retry_base_ms {
            return Err(err("retry_max_ms", "must be at least retry_base_ms".into()));
        }
        Ok(Self { kind, subject, toml })
    }
}

/// `[publish]`: every sink, checked.
#[derive(Clone, Debug, Default)]
pub struct PublishSettings {
    /// The sinks in configuration order.
    pub sinks: Vec<SinkConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishToml {
    #[serde(default)]
    sinks: Vec<toml::Table>,
}

impl PublishSettings {
    /// Checks the raw `[publish]` table of a configuration.
    ///
    /// ```
    /// use chronicle_publish::PublishSettings;
    /// let table: toml::Table = toml::from_str(r#"
    /// [[sinks]]
    /// name = "orders-nats"
    /// kind = "nats"
    /// url = "nats://127.0.0.1:4222"
    /// categories = ["order"]
    /// "#).unwrap();
    /// let settings = PublishSettings::from_table(&table).unwrap();
    /// assert_eq!(settings.sinks[0].toml.max_retries, 3);
    ///
    /// let bad: toml::Table = toml::from_str("[[sinks]]\nname = \"x\"\nkind = \"kafka\"\nurl = \"k://h\"").unwrap();
    /// assert_eq!(PublishSettings::from_table(&bad).unwrap_err().to_string(),
    ///     "publish sink x: kind: unknown kind \"kafka\"; expected nats, rabbitmq or webhook");
    /// ```
    pub fn from_table(table: &toml::Table) -> Result<Self> {
        let raw: PublishToml = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| PublishError::config("[publish]", "sinks", e.message().to_owned()))?;
        let mut sinks: Vec<SinkConfig> = Vec::with_capacity(raw.sinks.len());
        for (index, table) in raw.sinks.into_iter().enumerate() {
            let label = table.get("name").and_then(toml::Value::as_str).map_or_else(|| format!("#{}", index + 1), str::to_owned);
            let toml: SinkToml = toml::Value::Table(table.clone()).try_into().map_err(|e: toml::de::Error| PublishError::Config {
                sink: label.clone(),
                field: culprit(&table).unwrap_or_else(|| "sinks".into()),
                reason: e.message().to_owned(),
            })?;
            let sink = SinkConfig::check(toml, index)?;
            if sinks.iter().any(|s| s.name() == sink.name()) {
                return Err(PublishError::config(sink.name(), "name", "is used by another sink"));
            }
            sinks.push(sink);
        }
        Ok(Self { sinks })
    }

    /// Like [`PublishSettings::to_table`] with every secret replaced by
    /// `"<redacted>"` and passwords removed from URLs (what `chronicle
    /// config` prints).
    pub fn to_table_redacted(&self) -> toml::Table {
        let redacted = self
            .sinks
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.toml.secret = s.toml.secret.map(|_| "<redacted>".into());
                s.toml.url = crate::sink::redact(&s.toml.url);
                s
            })
            .collect();
        Self { sinks: redacted }.to_table()
    }

    /// The sinks back as a `[publish]` table.
    pub fn to_table(&self) -> toml::Table {
        let sinks = self.sinks.iter().filter_map(|s| toml::Value::try_from(&s.toml).ok()).collect();
        let mut table = toml::Table::new();
        if !self.sinks.is_empty() {
            table.insert("sinks".into(), toml::Value::Array(sinks));
        }
        table
    }
}

/// The key of `table` that a [`SinkToml`] cannot take (unknown, or of
/// the wrong type): each key is tried alone.
fn culprit(table: &toml::Table) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
        toml::Value::Table(alone).try_into::<SinkToml>().is_err().then(|| key.clone())
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
