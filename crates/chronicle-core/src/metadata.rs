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

    /// The well-known fields of metadata that was validated when it was
    /// stored (a log being reopened): a direct deserialisation, falling
    /// back to [`Metadata::parse`] for anything unusual (duplicate keys…).
    pub fn parse_stored(bytes: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Stored<'a> {
            #[serde(borrow, default)]
            correlation_id: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow, default)]
            causation_id: Option<std::borrow::Cow<'a, str>>,
            #[serde(default)]
            actor: Option<Actor>,
            #[serde(borrow, default)]
            tenant: Option<std::borrow::Cow<'a, str>>,
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        match serde_json::from_slice::<Stored<'_>>(bytes) {
            Ok(s) => Ok(Self {
                correlation_id: s.correlation_id.map(String::from),
                causation_id: s.causation_id.map(String::from),
                actor: s.actor,
                tenant: s.tenant.map(String::from),
                tags: s.tags.unwrap_or_default(),
            }),
            Err(_) => Self::parse(&RawJson::from_trusted(bytes::Bytes::copy_from_slice(bytes))),
        }
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
    fn parse_stored_agrees_with_parse() {
        for s in [
            r#"{}"#,
            r#"{"correlation_id":"c","causation_id":"d","tenant":"t","tags":["a","b"],"actor":{"type":"user","id":"u"},"x":[1,{"y":2}]}"#,
            r#"{"tags":null,"actor":null,"correlation_id":null}"#,
            r#"{"correlation_id":"a\u00e9b","correlation_id":"dup"}"#,
            r#"{"actor":{"type":"user","id":"u","extra":1}}"#,
        ] {
            assert_eq!(Metadata::parse_stored(s.as_bytes()).unwrap(), parse(s).unwrap(), "{s}");
        }
    }

    #[test]
    fn unknown_fields_and_nulls_are_fine() {
        let m = parse(r#"{"x":{"deep":1},"tenant":null}"#).unwrap();
        assert_eq!(m, Metadata::default());
    }
}
