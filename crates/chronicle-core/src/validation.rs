//! Validation of appended events against configurable limits.

use crate::{Error, Metadata, NewEvent, RawJson, Result};
use std::{collections::HashSet, sync::Arc};
use uuid::Uuid;

/// Longest accepted event type name, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 255;

/// Size limits applied to every append.
///
/// ```
/// use chronicle_core::Limits;
/// let l = Limits::default();
/// assert_eq!((l.max_data_bytes, l.max_metadata_bytes), (100 * 1024, 10 * 1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted `data`, in bytes (default 100 KiB).
    pub max_data_bytes: usize,
    /// Largest accepted `metadata`, in bytes (default 10 KiB).
    pub max_metadata_bytes: usize,
    /// Most events accepted in one append call (default 100,000).
    pub max_events_per_append: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_data_bytes: 100 * 1024, max_metadata_bytes: 10 * 1024, max_events_per_append: 100_000 }
    }
}

/// An event that passed validation: ids assigned, JSON checked and
/// compacted, the metadata's well-known fields extracted for indexing.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedEvent {
    /// The event id (client-supplied or a fresh UUIDv7).
    pub event_id: Uuid,
    /// The event type.
    pub event_type: Arc<str>,
    /// The data schema version (≥ 1).
    pub schema_version: u32,
    /// The data.
    pub data: RawJson,
    metadata: RawJson,
    well_known: Metadata,
    id_assigned: bool,
}

impl ValidatedEvent {
    /// True when the id was assigned here (a fresh UUIDv7), not by the
    /// client: such an event cannot be stored already, so backends may skip
    /// the idempotency lookup for it.
    pub fn id_assigned(&self) -> bool {
        self.id_assigned
    }

    /// The metadata (a JSON object).
    pub fn metadata(&self) -> &RawJson {
        &self.metadata
    }

    /// The metadata's well-known fields.
    pub fn well_known(&self) -> &Metadata {
        &self.well_known
    }

    /// Replaces the metadata (used by enrichment hooks); validates it.
    pub fn set_metadata(&mut self, metadata: RawJson) -> Result<()> {
        self.well_known = Metadata::parse(&metadata)?;
        self.metadata = metadata;
        Ok(())
    }

    /// Sets top-level metadata members (replacing those of the same name,
    /// keeping the others); validates the result. What enrichment hooks
    /// use to stamp a field.
    pub fn set_metadata_fields(&mut self, fields: impl IntoIterator<Item = (String, serde_json::Value)>) -> Result<()> {
        let bad = |e: serde_json::Error| Error::invalid("metadata", e.to_string());
        let mut map: serde_json::Map<String, serde_json::Value> = self.metadata.decode().map_err(bad)?;
        map.extend(fields);
        self.set_metadata(RawJson::from_serialize(&map).map_err(bad)?)
    }
}

impl Limits {
    /// Validates one event; `field` prefixes error fields
    /// (e.g. `events[2]`).
    pub fn validate_event(&self, field: &str, event: NewEvent) -> Result<ValidatedEvent> {
        self.validate_event_at(&|| field.to_owned(), event)
    }

    /// [`Limits::validate_event`] with the field prefix built only when an
    /// error needs it (the hot path formats nothing).
    fn validate_event_at(&self, field: &dyn Fn() -> String, event: NewEvent) -> Result<ValidatedEvent> {
        let sub = |name: &str| format!("{}.{name}", field());
        if event.event_type.is_empty()
            || event.event_type.len() > MAX_EVENT_TYPE_BYTES
            || event.event_type.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(self.event_type_error(&sub("event_type"), &event.event_type));
        }
        if event.schema_version == 0 {
            return Err(Error::invalid(sub("schema_version"), "must be at least 1"));
        }
        if event.event_id.is_some_and(|id| id.is_nil()) {
            return Err(Error::invalid(sub("event_id"), "must not be the nil UUID"));
        }
        check_size(&sub, "data", event.data.len(), self.max_data_bytes)?;
        let data = RawJson::parse(event.data).map_err(|e| Error::invalid(sub("data"), format!("not well-formed JSON: {e}")))?;
        let (metadata, well_known) = match event.metadata {
            None => (RawJson::empty_object(), Metadata::default()),
            Some(bytes) => {
                check_size(&sub, "metadata", bytes.len(), self.max_metadata_bytes)?;
                let raw = RawJson::parse(bytes).map_err(|e| Error::invalid(sub("metadata"), format!("not well-formed JSON: {e}")))?;
                let wk = if raw.as_bytes() == b"{}" { Metadata::default() } else { Metadata::parse_field(&sub("metadata"), &raw)? };
                (raw, wk)
            }
        };
        Ok(ValidatedEvent {
            id_assigned: event.event_id.is_none(),
            event_id: event.event_id.unwrap_or_else(Uuid::now_v7),
            event_type: Arc::from(event.event_type),
            schema_version: event.schema_version,
            data,
            metadata,
            well_known,
        })
    }

    fn event_type_error(&self, field: &str, value: &str) -> Error {
        if value.chars().any(char::is_whitespace) && !value.chars().any(char::is_control) {
            return Error::invalid(field, "must not contain whitespace");
        }
        crate::stream_id::check_name(field, value, MAX_EVENT_TYPE_BYTES)
            .err()
            .unwrap_or_else(|| Error::invalid(field, "is not a valid name"))
    }

    /// Validates the events of one stream's append; `field` names the list
    /// (e.g. `events` or `streams[1].events`). Rejects an empty list and
    /// ids repeated within `seen` (shared across one atomic append).
    pub fn validate_events(&self, field: &str, events: Vec<NewEvent>, seen: &mut HashSet<Uuid>) -> Result<Vec<ValidatedEvent>> {
        if events.is_empty() {
            return Err(Error::invalid(field, "an append needs at least one event"));
        }
        if events.len() > self.max_events_per_append {
            return Err(Error::TooLarge { field: field.to_owned(), limit: self.max_events_per_append, actual: events.len() });
        }
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let item = || format!("{field}[{i}]");
                let v = self.validate_event_at(&item, e)?;
                if !seen.insert(v.event_id) {
                    return Err(Error::invalid(format!("{}.event_id", item()), format!("{} appears twice in one append", v.event_id)));
                }
                Ok(v)
            })
            .collect()
    }
}

fn check_size(sub: &dyn Fn(&str) -> String, name: &str, actual: usize, limit: usize) -> Result<()> {
    if actual > limit {
        return Err(Error::TooLarge { field: sub(name), limit, actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<ValidatedEvent>) -> String {
        match r {
            Err(Error::Invalid { field, .. } | Error::TooLarge { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let l = Limits::default();
        let ok = || NewEvent::raw("T", &b"{}"[..]);
        assert_eq!(field_of(l.validate_event("e", NewEvent { event_type: "a b".into(), ..ok() })), "e.event_type");
        assert_eq!(field_of(l.validate_event("e", NewEvent { event_type: String::new(), ..ok() })), "e.event_type");
        assert_eq!(field_of(l.validate_event("e", ok().with_schema_version(0))), "e.schema_version");
        assert_eq!(field_of(l.validate_event("e", ok().with_id(Uuid::nil()))), "e.event_id");
        assert_eq!(field_of(l.validate_event("e", NewEvent::raw("T", &b"{"[..]))), "e.data");
        assert_eq!(field_of(l.validate_event("e", ok().with_metadata_raw(&b"[1]"[..]))), "e.metadata");
    }

    #[test]
    fn size_limits_are_inclusive_and_too_large_is_distinct() {
        let l = Limits { max_data_bytes: 10, max_metadata_bytes: 8, ..Limits::default() };
        let data = |n: usize| format!("\"{}\"", "x".repeat(n - 2)).into_bytes();
        assert!(l.validate_event("e", NewEvent::raw("T", data(10))).is_ok());
        let err = l.validate_event("e", NewEvent::raw("T", data(11))).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 10, actual: 11, .. }), "{err:?}");
        let err = l.validate_event("e", NewEvent::raw("T", data(4)).with_metadata_raw(&br#"{"a":"bc"}"#[..])).unwrap_err();
        assert!(matches!(err, Error::TooLarge { ref field, .. } if field == "e.metadata"), "{err:?}");
    }

    #[test]
    fn empty_and_repeated_ids_are_invalid() {
        let l = Limits::default();
        let mut seen = HashSet::new();
        assert!(l.validate_events("events", vec![], &mut seen).is_err());
        let id = Uuid::now_v7();
        let e = NewEvent::raw("T", &b"1"[..]).with_id(id);
        let err = l.validate_events("events", vec![e.clone(), e], &mut seen).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "events[1].event_id"), "{err:?}");
    }
}
