//! [`Schemas`]: the JSON Schemas of each (event type, schema version),
//! compiled once. A registered version never changes: registering the
//! same schema again is a no-op, a different one is refused.

use crate::{Result, SchemaError};
use serde_json::Value;
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::Arc,
};

#[derive(Clone)]
struct Registered {
    schema: Value,
    validator: Arc<jsonschema::Validator>,
}

/// Where data first fails its schema: the JSON Pointer into the data and
/// the rule (schema keyword and its place in the schema) — never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// JSON Pointer of the failing value (`""`: the data itself).
    pub pointer: String,
    /// The failed rule, e.g. `minimum (at /properties/qty/minimum)`.
    pub reason: String,
}

/// Compiled JSON Schemas by event type and version.
///
/// ```
/// use chronicle_schema::Schemas;
/// use serde_json::json;
/// let mut s = Schemas::default();
/// s.register("OrderCreated", 1, json!({"type": "object", "required": ["total"],
///     "properties": {"total": {"type": "number", "minimum": 0}}})).unwrap();
/// assert!(s.check("OrderCreated", 1, &json!({"total": 5})).is_none());
/// let failure = s.check("OrderCreated", 1, &json!({"total": -1})).unwrap();
/// assert_eq!(failure.pointer, "/total");
/// assert!(s.register("OrderCreated", 1, json!({"type": "object"})).is_err(), "versions never change");
/// ```
#[derive(Clone, Default)]
pub struct Schemas {
    types: HashMap<String, BTreeMap<u32, Registered>>,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.list().into_iter().map(|(t, v, _)| format!("{t} v{v}")).collect();
        f.debug_struct("Schemas").field("registered", &keys).finish()
    }
}

impl Schemas {
    /// Registers `schema` for `event_type` at `version`: `true` when new,
    /// `false` when that very schema is registered already.
    pub fn register(&mut self, event_type: &str, version: u32, schema: Value) -> Result<bool> {
        if event_type.is_empty()
            || event_type.len() > chronicle_core::MAX_EVENT_TYPE_BYTES
            || event_type.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            let limit = chronicle_core::MAX_EVENT_TYPE_BYTES;
            return Err(SchemaError::invalid(
                "event_type",
                format!("an event type is 1 to {limit} bytes without whitespace or control characters"),
            ));
        }
        if version == 0 {
            return Err(SchemaError::invalid("version", "versions start at 1"));
        }
        if let Some(existing) = self.types.get(event_type).and_then(|v| v.get(&version)) {
            return match existing.schema == schema {
                true => Ok(false),
                false => Err(SchemaError::Conflict { event_type: event_type.to_owned(), version }),
            };
        }
        let validator = jsonschema::validator_for(&schema).map_err(|e| SchemaError::invalid("schema", e.to_string()))?;
        let entry = Registered { schema, validator: Arc::new(validator) };
        self.types.entry(event_type.to_owned()).or_default().insert(version, entry);
        Ok(true)
    }

    /// Whether any schema is registered for `event_type`.
    pub fn knows(&self, event_type: &str) -> bool {
        self.types.contains_key(event_type)
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The versions registered for `event_type`, ascending.
    pub fn versions(&self, event_type: &str) -> Vec<u32> {
        self.types.get(event_type).map(|v| v.keys().copied().collect()).unwrap_or_default()
    }

    /// The schema of `event_type` at `version`.
    pub fn get(&self, event_type: &str, version: u32) -> Option<&Value> {
        self.types.get(event_type)?.get(&version).map(|r| &r.schema)
    }

    /// Every registered schema: (event type, version, schema), sorted.
    pub fn list(&self) -> Vec<(String, u32, Value)> {
        let mut out: Vec<_> = self.types.iter().flat_map(|(t, v)| v.iter().map(move |(n, r)| (t.clone(), *n, r.schema.clone()))).collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    /// Where `data` first fails the schema of `event_type` at `version`;
    /// `None` when it matches (or no such schema is registered).
    pub fn check(&self, event_type: &str, version: u32, data: &Value) -> Option<Failure> {
        let registered = self.types.get(event_type)?.get(&version)?;
        if registered.validator.is_valid(data) {
            return None;
        }
        let error = registered.validator.iter_errors(data).next()?;
        let rule = error.schema_path().as_str().to_owned();
        let keyword = rule.rsplit('/').next().unwrap_or_default().to_owned();
        Some(Failure { pointer: error.instance_path().as_str().to_owned(), reason: format!("fails {keyword} (at {rule} of the schema)") })
    }
}
