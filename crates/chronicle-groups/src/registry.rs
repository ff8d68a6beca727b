//! The registry of a store's consumer groups: the `$groups` stream, one
//! record per creation, change of settings and deletion. Both engines
//! write it (PostgreSQL keeps its working state in rows besides), so the
//! groups travel with the log through a backup, a restore or a migration
//! between backends.

use crate::{GroupSpec, Result};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const REGISTRY: &str = "$groups";
const CREATED: &str = "group.created";
const DELETED: &str = "group.deleted";

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<GroupSpec>,
}

/// What the registry says exists: each live group's latest settings, and
/// whether the registry holds any record at all.
pub(crate) async fn load(store: &dyn EventStore) -> Result<(BTreeMap<String, GroupSpec>, bool)> {
    let registry = StreamId::new(REGISTRY)?;
    let mut specs: BTreeMap<String, GroupSpec> = BTreeMap::new();
    let (mut from, mut any) = (1, false);
    loop {
        let page = store.read_stream(&registry, ReadStream::forward().from(from).limit(1000)).await?;
        for record in &page {
            (from, any) = (record.version + 1, true);
            let Ok(r) = serde_json::from_slice::<Record>(record.data.as_bytes()) else { continue };
            match (&*record.event_type, r.spec) {
                (CREATED, Some(spec)) => specs.insert(r.name, spec),
                (DELETED, _) => specs.remove(&r.name),
                _ => None,
            };
        }
        if page.len() < 1000 {
            return Ok((specs, any));
        }
    }
}

async fn append(store: &dyn EventStore, event_type: &str, record: &Record) -> Result<()> {
    let event = NewEvent::json(event_type, record).map_err(|e| chronicle_core::Error::invalid("spec", e.to_string()))?;
    store.append(&StreamId::new(REGISTRY)?, ExpectedVersion::Any, vec![event]).await?;
    Ok(())
}

/// Records that `name` was created, or its settings changed, to `spec`.
pub(crate) async fn created(store: &dyn EventStore, name: &str, spec: &GroupSpec) -> Result<()> {
    append(store, CREATED, &Record { name: name.to_owned(), spec: Some(spec.clone()) }).await
}

/// Records that `name` was deleted.
pub(crate) async fn deleted(store: &dyn EventStore, name: &str) -> Result<()> {
    append(store, DELETED, &Record { name: name.to_owned(), spec: None }).await
}
