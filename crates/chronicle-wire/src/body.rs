//! Request bodies of the appends: what the server parses and the remote
//! client sends — one set of types.

use chronicle_core::{AppendCondition, EventQuery, ExpectedVersion, NewEvent, QueryItem, RawJson, Uuid, ValidatedEvent};
use serde::{Deserialize, Serialize};

/// A body part that must be a JSON object. serde lets a struct be written
/// as an array of its fields (`[1, 2]`); the API documents objects, so an
/// array is refused here as the wrong type. Serializes as its content.
#[derive(Clone, Debug, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData)).map(Object)
    }
}

/// `#[serde(deserialize_with = "chronicle_wire::object")]` for a field
/// that must be a JSON object (not an array of its fields).
pub fn object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Object::<T>::deserialize(d).map(|o| o.0)
}

impl<T: Serialize> Serialize for Object<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// One event to append.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEventBody {
    /// Event type, e.g. `OrderPlaced`.
    pub event_type: String,
    /// Event data (any JSON value).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub data: Option<RawJson>,
    /// The data as text, validated by the store (instead of `data`: lets a
    /// client hand over bytes it could not embed, and get the store's own
    /// field error for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_raw: Option<String>,
    /// Metadata (a JSON object; well-known: correlation_id, causation_id, actor {type,id}, tenant, tags[]).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RawJson>,
    /// Client event id for idempotent retries (UUID); a UUIDv7 otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    /// Schema version of the data (default 1).
    #[serde(default, deserialize_with = "chronicle_core::json_int::opt_u32", skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// The metadata as text, validated by the store (instead of `metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_raw: Option<String>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RawJson>, D::Error> {
    RawJson::deserialize(d).map(Some)
}

impl From<NewEventBody> for NewEvent {
    fn from(b: NewEventBody) -> Self {
        // Neither `data` nor `data_raw`: empty bytes, which the store rejects naming the field.
        let data = match (b.data, b.data_raw) {
            (Some(d), _) => d.bytes().clone(),
            (None, Some(raw)) => raw.into_bytes().into(),
            (None, None) => Default::default(),
        };
        let mut e = NewEvent::raw(b.event_type, data).with_schema_version(b.schema_version.unwrap_or(1));
        if let Some(m) = b.metadata {
            e = e.with_metadata_raw(m.bytes().clone());
        } else if let Some(raw) = b.metadata_raw {
            e = e.with_metadata_raw(raw.into_bytes());
        }
        if let Some(id) = b.event_id {
            e = e.with_id(id);
        }
        e
    }
}

impl From<&ValidatedEvent> for NewEventBody {
    /// An event a client's pipeline validated: JSON embedded, id assigned.
    fn from(e: &ValidatedEvent) -> Self {
        Self {
            event_type: e.event_type.to_string(),
            data: Some(e.data.clone()),
            data_raw: None,
            metadata: Some(e.metadata().clone()),
            event_id: Some(e.event_id),
            schema_version: Some(e.schema_version),
            metadata_raw: None,
        }
    }
}

/// One stream's part of an atomic append.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StreamAppendBody {
    /// Stream id.
    pub stream_id: String,
    /// A version number, `any` (default), `no-stream` or `exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<serde_json::Value>,
    /// The events.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<NewEventBody>))]
    pub events: Vec<Object<NewEventBody>>,
}

impl StreamAppendBody {
    /// The part's expectation (`any` when absent or null).
    pub fn expected(&self) -> Result<ExpectedVersion, serde_json::Error> {
        match &self.expected_version {
            None | Some(serde_json::Value::Null) => Ok(ExpectedVersion::default()),
            Some(v) => ExpectedVersion::deserialize(v),
        }
    }
}

/// An atomic append to one or more streams, optionally DCB-conditional.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppendBody {
    /// The parts (each stream at most once).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<StreamAppendBody>))]
    pub streams: Vec<Object<StreamAppendBody>>,
    /// Fail with 409 if an event matching `query` was recorded after `after`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Object<ConditionBody>>,
}

/// A DCB condition, as the body spells it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionBody {
    /// Which events would invalidate the decision.
    pub query: Object<QueryBody>,
    /// The position the decision was based on.
    #[serde(default, deserialize_with = "chronicle_core::json_int::opt_u64")]
    pub after: Option<u64>,
}

/// A DCB query, as the body spells it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryBody {
    /// The items (any of).
    pub items: Vec<Object<QueryItem>>,
}

impl From<ConditionBody> for AppendCondition {
    fn from(c: ConditionBody) -> Self {
        let items = c.query.0.items.into_iter().map(|Object(item)| item).collect();
        Self { query: EventQuery { items }, after: c.after }
    }
}

impl From<&AppendCondition> for ConditionBody {
    fn from(c: &AppendCondition) -> Self {
        Self { query: Object(QueryBody { items: c.query.items.iter().cloned().map(Object).collect() }), after: c.after }
    }
}

/// A snapshot to save (`PUT /streams/{stream}/snapshot`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SnapshotBody {
    /// Last stream version folded into `state`.
    #[serde(deserialize_with = "chronicle_core::json_int::u64")]
    pub version: u64,
    /// Schema version of `state` (default 1).
    #[serde(default, deserialize_with = "chronicle_core::json_int::opt_u32", skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// The state.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub state: RawJson,
}

/// A consumer's checkpoint (`GET` and `PUT /checkpoints/{name}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointBody {
    /// The saved position.
    #[serde(deserialize_with = "chronicle_core::json_int::u64")]
    pub position: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_and_raw_json_survives() {
        let events: Vec<Object<NewEventBody>> = serde_json::from_str(r#"[{"event_type":"T","data":{"b":1,"a":2}}]"#).unwrap();
        assert_eq!(events[0].0.data.as_ref().map(|d| d.as_bytes().to_vec()), Some(br#"{"b":1,"a":2}"#.to_vec()), "key order kept");
        assert!(serde_json::from_str::<Vec<Object<NewEventBody>>>(r#"[["T", {}]]"#).is_err());
        assert!(serde_json::from_str::<Object<chronicle_core::StreamMetadata>>("[null, null]").is_err());
        assert!(serde_json::from_str::<Object<chronicle_core::StreamMetadata>>(r#"{"max_age": 5.0}"#).is_ok());
    }

    #[test]
    fn what_the_client_sends_is_what_the_server_reads() {
        let condition = AppendCondition { query: EventQuery::item(vec!["Placed".into()], vec!["eu".into()]), after: Some(4) };
        let body = AppendBody {
            streams: vec![Object(StreamAppendBody {
                stream_id: "order-1".into(),
                expected_version: serde_json::to_value(ExpectedVersion::NoStream).ok(),
                events: vec![Object(NewEventBody {
                    event_type: "Placed".into(),
                    data: Some(RawJson::parse(&br#"{"z":1,"a":[true]}"#[..]).unwrap()),
                    data_raw: None,
                    metadata: Some(RawJson::parse(&br#"{"tenant":"t"}"#[..]).unwrap()),
                    event_id: Some(Uuid::now_v7()),
                    schema_version: Some(2),
                    metadata_raw: None,
                })],
            })],
            condition: Some(Object(ConditionBody::from(&condition))),
        };
        let text = serde_json::to_string(&body).unwrap();
        let back: Object<AppendBody> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0, body);
        assert_eq!(back.0.streams[0].0.expected().unwrap(), ExpectedVersion::NoStream);
        assert_eq!(AppendCondition::from(back.0.condition.unwrap().0), condition);
        let event = NewEvent::from(back.0.streams[0].0.events[0].0.clone());
        assert_eq!((&*event.data, event.schema_version), (&br#"{"z":1,"a":[true]}"#[..], 2));
    }
}
