//! The well-known fields of event metadata, typed on access.

use crate::{Error, RawJson, Result};
use serde_json::{Map, Value};

/// Longest accepted id-like metadata value (correlation id, actor id, tag…).
pub const MAX_METADATA_VALUE_BYTES: usize = 255;

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// Kind of actor, e.g. `user`, `service`, `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The actor's id.
    pub id: String,
}

/// The well-known metadata fields. Metadata is stored as raw JSON; this is
/// its typed view, built by [`Metadata::parse`]. Unknown fields are allowed
/// and kept in the raw JSON.
///
/// ```
/// use chronicle_core::{Metadata, RawJson};
/// let raw = RawJson::parse(&br#"{"correlation_id":"c-1","tags":["vip"],"actor":{"type":"user","id":"u7"}}"#[..]).unwrap();
/// let meta = Metadata::parse(&raw).unwrap();
/// assert_eq!(meta.correlation_id.as_deref(), Some("c-1"));
/// assert_eq!(meta.actor.unwrap().id, "u7");
/// assert_eq!(meta.tags, vec!["vip".to_owned()]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Groups every event caused by one originating request.
    pub correlation_id: Option<String>,
    /// The id of the event or command that directly caused this one.
    pub causation_id: Option<String>,
    /// Who caused the event.
    pub actor: Option<Actor>,
    /// The tenant the event belongs to.
    pub tenant: Option<String>,
    /// Free-form tags (used by filters and DCB conditions).
    pub tags: Vec<String>,
}

impl Metadata {
    /// Parses and validates the well-known fields of a metadata object.
    pub fn parse(raw: &RawJson) -> Result<Self> {
        Self::parse_field("metadata", raw)
    }

    /// Like [`Metadata::parse`], naming fields under `field` in errors
    /// (e.g. `events[3].metadata.tags[1]`).
    pub fn parse_field(field: &str, raw: &RawJson) -> Result<Self> {
        let value: Value = raw.to_value().map_err(|e| Error::invalid(field, format!("not well-formed JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::invalid(field, "must be a JSON object"));
        };
        Self::from_map(field, &map)
    }

    fn from_map(field: &str, map: &Map<String, Value>) -> Result<Self> {
        let text = |name: &str| -> Result<Option<String>> {
            map.get(name).filter(|v| !v.is_null()).map(|v| id_like(&format!("{field}.{name}"), v)).transpose()
        };
        let actor = match map.get("actor").filter(|v| !v.is_null()) {
            None => None,
            Some(Value::Object(a)) => {
                let part = |name: &str| {
                    let f = format!("{field}.actor.{name}");
                    a.get(name).ok_or_else(|| Error::invalid(&f, "is required")).and_then(|v| id_like(&f, v))
                };
                Some(Actor { kind: part("type")?, id: part("id")? })
            }
            Some(_) => return Err(Error::invalid(format!("{field}.actor"), "must be an object {type, id}")),
        };
        let tags = match map.get("tags").filter(|v| !v.is_null()) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| id_like(&format!("{field}.tags[{i}]"), v)).collect::<Result<_>>()?
            }
            Some(_) => return Err(Error::invalid(format!("{field}.tags"), "must be an array of strings")),
        };
        Ok(Self { correlation_id: text("correlation_id")?, causation_id: text("causation_id")?, actor, tenant: text("tenant")?, tags })
    }

    /// Whether every tag in `wanted` is among this event's tags.
    pub fn has_all_tags(&self, wanted: &[String]) -> bool {
        wanted.iter().all(|t| self.tags.contains(t))
    }
}

fn id_like(field: &str, v: &Value) -> Result<String> {
    let Value::String(s) = v else {
        return Err(Error::invalid(field, "must be a string"));
    };
    crate::stream_id::check_name(field, s, MAX_METADATA_VALUE_BYTES)?;
    Ok(s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Metadata> {
        Metadata::parse_field("events[0].metadata", &RawJson::parse(s.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn errors_name_the_nested_field() {
        let field_of = |s: &str| match parse(s) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field_of("[]"), "events[0].metadata");
        assert_eq!(field_of(r#"{"tags":["a",3]}"#), "events[0].metadata.tags[1]");
        assert_eq!(field_of(r#"{"actor":{"type":"user"}}"#), "events[0].metadata.actor.id");
        assert_eq!(field_of(r#"{"correlation_id":""}"#), "events[0].metadata.correlation_id");
        assert_eq!(field_of(r#"{"tenant":5}"#), "events[0].metadata.tenant");
    }

    #[test]
    fn unknown_fields_and_nulls_are_fine() {
        let m = parse(r#"{"x":{"deep":1},"tenant":null}"#).unwrap();
        assert_eq!(m, Metadata::default());
    }
}
