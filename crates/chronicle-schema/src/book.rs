//! The registrations made through the API, kept in the store itself: the
//! `$schemas` stream, one `schema.registered` record each. They travel
//! with backups and migrations, every node of a shared store reads them,
//! and a registered version never changes.

use crate::{Catalog, Result, SchemaError, Step};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const BOOK: &str = "$schemas";
const REGISTERED: &str = "schema.registered";

/// Upcast steps that lift the version before (`from`) to the registered one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpcastFrom {
    /// The version the steps start from (below the registered one).
    #[serde(deserialize_with = "chronicle_core::json_int::u32")]
    pub from: u32,
    /// The steps.
    pub steps: Vec<Step>,
}

/// One registration: a schema, and optionally how older events reach it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The event type.
    pub event_type: String,
    /// Its version.
    pub version: u32,
    /// The JSON Schema.
    pub schema: Value,
    /// How events of an older version are lifted to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upcast: Option<UpcastFrom>,
}

impl Registration {
    /// Applies it to `catalog`: `true` when anything was new.
    fn apply(&self, catalog: &Catalog) -> Result<bool> {
        let new = catalog.register_schema(&self.event_type, self.version, self.schema.clone())?;
        if let Some(u) = &self.upcast {
            catalog.register_steps(&self.event_type, u.from, self.version, u.steps.clone())?;
        }
        Ok(new)
    }

    /// Checks it against `catalog` without changing it: `Ok(false)` when
    /// exactly this is registered, [`SchemaError::Conflict`] when the
    /// version is registered differently.
    fn check(&self, catalog: &Catalog) -> Result<bool> {
        if let Some(u) = self.upcast.as_ref().filter(|u| u.from >= self.version) {
            return Err(SchemaError::invalid(
                "upcast.from",
                format!("must be below the registered version {} (got {})", self.version, u.from),
            ));
        }
        let mut schemas = catalog.schemas();
        let new = schemas.register(&self.event_type, self.version, self.schema.clone())?;
        let existing = catalog.upcasters().chains().into_iter().find(|(t, _, to, _)| t == &self.event_type && *to == self.version);
        let same_upcast = match (&self.upcast, &existing) {
            (None, None) => true,
            (Some(u), Some((_, from, _, steps))) => u.from == *from && steps.as_ref() == Some(&u.steps),
            _ => false,
        };
        if !new && !same_upcast {
            return Err(SchemaError::Conflict { event_type: self.event_type.clone(), version: self.version });
        }
        if let Some(u) = &self.upcast {
            crate::Upcasters::new().register_steps(&self.event_type, u.from, self.version, u.steps.clone())?;
        }
        Ok(new)
    }
}

/// Reads the registrations after version `after` of `$schemas` into
/// `catalog`; returns the last version read (`after` when none is new).
pub async fn load(store: &dyn EventStore, catalog: &Catalog, after: u64) -> Result<u64> {
    let book = StreamId::new(BOOK)?;
    let mut last = after;
    loop {
        let page = store.read_stream(&book, ReadStream::forward().from(last + 1).limit(500)).await?;
        for record in &page {
            last = record.version;
            if &*record.event_type != REGISTERED {
                continue;
            }
            let r: Registration = serde_json::from_slice(record.data.as_bytes())
                .map_err(|e| SchemaError::invalid(format!("{BOOK} version {}", record.version), e.to_string()))?;
            r.apply(catalog).map_err(|e| SchemaError::invalid(format!("{BOOK} version {}", record.version), e.to_string()))?;
        }
        if page.len() < 500 {
            return Ok(last);
        }
    }
}

/// Registers `registration` for good: checked, recorded in `$schemas`,
/// then in effect. `Ok(false)` when exactly this was registered already.
pub async fn register(store: &dyn EventStore, catalog: &Catalog, registration: &Registration) -> Result<bool> {
    if !registration.check(catalog)? {
        return Ok(false);
    }
    let event = NewEvent::json(REGISTERED, registration).map_err(|e| SchemaError::invalid("schema", e.to_string()))?;
    store.append(&StreamId::new(BOOK)?, ExpectedVersion::Any, vec![event]).await?;
    registration.apply(catalog)?;
    Ok(true)
}
