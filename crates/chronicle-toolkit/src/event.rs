//! Typed domain events: serde enums whose variant name is the stored event
//! type and whose payload is the stored data.

use crate::{Error, Result};
use chronicle_core::RawJson;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// A domain event type — usually a serde enum, one variant per event type:
/// the variant name is the stored `event_type`, its payload the `data`.
/// Schema versions are declared once, here, per event type.
///
/// ```
/// use chronicle_toolkit::DomainEvent;
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// enum CartEvent { ItemAdded { sku: String }, CheckedOut }
/// impl DomainEvent for CartEvent {
///     fn schema_version(event_type: &str) -> u32 { if event_type == "ItemAdded" { 2 } else { 1 } }
/// }
/// let (ty, data) = chronicle_toolkit::encode_event(&CartEvent::ItemAdded { sku: "a".into() }).unwrap();
/// assert_eq!((ty.as_str(), data.as_bytes()), ("ItemAdded", &br#"{"sku":"a"}"#[..]));
/// ```
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The current schema version of `event_type` (default 1). Stored
    /// events of older versions are upcast to it on read.
    fn schema_version(event_type: &str) -> u32 {
        let _ = event_type;
        1
    }
}

/// Splits an event into its stored type and data.
pub fn encode_event<E: DomainEvent>(event: &E) -> Result<(String, RawJson)> {
    let bad = |reason: String| Error::Decode { what: "an event to store".into(), reason };
    match serde_json::to_value(event).map_err(|e| bad(e.to_string()))? {
        Value::String(ty) => Ok((ty, RawJson::from_serialize(&Value::Null).map_err(|e| bad(e.to_string()))?)),
        Value::Object(map) if map.len() == 1 => {
            let Some((ty, data)) = map.into_iter().next() else { return Err(bad("empty object".into())) };
            Ok((ty, RawJson::from_serialize(&data).map_err(|e| bad(e.to_string()))?))
        }
        other => Err(bad(format!("a domain event must serialize as an externally tagged enum variant, got {other}"))),
    }
}

/// Rebuilds an event from its stored type and data.
pub fn decode_event<E: DomainEvent>(event_type: &str, data: &RawJson) -> Result<E> {
    let value: Value = data.to_value().map_err(|e| Error::Decode { what: event_type.to_owned(), reason: e.to_string() })?;
    let tagged = if value.is_null() { Value::String(event_type.to_owned()) } else { serde_json::json!({ event_type: value }) };
    serde_json::from_value(tagged).map_err(|e| Error::Decode { what: format!("event type {event_type}"), reason: e.to_string() })
}
