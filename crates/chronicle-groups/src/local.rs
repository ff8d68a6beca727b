//! [`LocalGroups`]: every consumer group of a store, kept in the store itself —
//! the registry in `$groups` (`registry.rs`), each group's
//! progress as the snapshot of `$group-{name}`, its parked events in the
//! parking lot `$group-parked-{name}`. One node serves them (the file
//! engine locks its store to one process).

use crate::{
    ConsumerId, Delivery, GroupError, GroupSpec, GroupStatus, NackAction, Result, StartFrom, check_name,
    group::Group,
    groups::{Counts, replay},
};
use chronicle_core::{EventStore, ParkedEntry, Selection, Uuid};
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::Mutex;

/// Every consumer group of one store, served by this node.
#[derive(Debug)]
pub(crate) struct LocalGroups {
    store: Arc<dyn EventStore>,
    groups: Mutex<BTreeMap<String, Arc<Group>>>,
}

impl LocalGroups {
    /// Loads the registry and starts every group.
    pub(crate) async fn open(store: Arc<dyn EventStore>) -> Result<Self> {
        let (specs, _) = crate::registry::load(store.as_ref()).await?;
        let mut groups = BTreeMap::new();
        for (name, spec) in specs {
            groups.insert(name.clone(), Group::start(store.clone(), &name, spec, None).await?);
        }
        Ok(Self { store, groups: Mutex::new(groups) })
    }

    /// Creates `name` (`true`) or changes its tuning (`false`: strategy,
    /// retries, timeout, in-flight; the filter and start may not change).
    pub(crate) async fn put(&self, name: &str, spec: GroupSpec) -> Result<bool> {
        check_name(name)?;
        spec.check()?;
        let mut groups = self.groups.lock().await;
        if let Some(group) = groups.get(name) {
            let current = group.ledger().spec().clone();
            for (field, same) in [("filter", current.filter == spec.filter), ("from", current.from == spec.from)] {
                if !same {
                    return Err(GroupError::Conflict { group: name.to_owned(), field: field.to_owned() });
                }
            }
            if current != spec {
                crate::registry::created(self.store.as_ref(), name, &spec).await?;
                group.ledger().retune(spec);
                group.changed.notify_waiters();
            }
            return Ok(false);
        }
        let start = match spec.from {
            StartFrom::Start => 0,
            StartFrom::End => self.store.head().await?,
            StartFrom::Position(p) => p - 1,
        };
        crate::registry::created(self.store.as_ref(), name, &spec).await?;
        groups.insert(name.to_owned(), Group::start(self.store.clone(), name, spec, Some(start)).await?);
        Ok(true)
    }

    /// Deletes `name`: its consumers are disconnected, its parked events
    /// discarded (their records stay in the log).
    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
        let group = self.groups.lock().await.remove(name).ok_or_else(|| GroupError::NotFound(name.to_owned()))?;
        group.stop();
        crate::registry::deleted(self.store.as_ref(), name).await?;
        group.lot.discard(&Selection::All).await?;
        Ok(())
    }

    async fn group(&self, name: &str) -> Result<Arc<Group>> {
        self.groups.lock().await.get(name).cloned().ok_or_else(|| GroupError::NotFound(name.to_owned()))
    }

    async fn status_of(&self, group: &Group, head: u64) -> Result<GroupStatus> {
        let parked = group.lot.view().await?.size();
        let l = group.ledger();
        let counts = Counts {
            checkpoint: l.checkpoint(),
            in_flight: l.in_flight() as u64,
            buffered: l.outstanding() as u64,
            consumers: l.consumers() as u64,
            redeliveries: l.redeliveries,
            delivered: l.delivered,
        };
        Ok(GroupStatus::new(&group.name, l.spec().clone(), head, parked, counts))
    }

    /// One group's status.
    pub(crate) async fn status(&self, name: &str) -> Result<GroupStatus> {
        let group = self.group(name).await?;
        let head = self.store.head().await?;
        self.status_of(&group, head).await
    }

    /// Every group's status, by name.
    pub(crate) async fn list(&self) -> Result<Vec<GroupStatus>> {
        let groups: Vec<Arc<Group>> = self.groups.lock().await.values().cloned().collect();
        let head = self.store.head().await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            out.push(self.status_of(&g, head).await?);
        }
        Ok(out)
    }

    /// Connects a consumer to `name`.
    pub(crate) async fn connect(&self, name: &str) -> Result<LocalConsumer> {
        let group = self.group(name).await?;
        let id = group.ledger().connect();
        group.changed.notify_waiters();
        Ok(LocalConsumer { group, id })
    }

    /// The parked events of `name`, oldest first.
    pub(crate) async fn parked(&self, name: &str) -> Result<Vec<ParkedEntry>> {
        Ok(self.group(name).await?.lot.view().await?.entries().to_vec())
    }

    /// Sends parked events back to the group's consumers.
    pub(crate) async fn replay_parked(&self, name: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        replay(&self.group(name).await?.lot, name, selection).await
    }

    /// Waits (at most `limit`) until no consumer is connected to any group
    /// of this node (so the acks they send while closing count), then
    /// saves every group's progress.
    pub(crate) async fn shutdown(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            let connected: usize = self.groups.lock().await.values().map(|g| g.ledger().consumers()).sum();
            if connected == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for group in self.groups.lock().await.values() {
            if let Err(e) = group.flush().await {
                tracing::warn!(group = group.name, "saving progress: {e}");
            }
        }
    }
}

/// A consumer connected to this node. Dropping it disconnects: what it
/// held goes to the group's other consumers.
#[derive(Debug)]
pub(crate) struct LocalConsumer {
    group: Arc<Group>,
    id: ConsumerId,
}

impl LocalConsumer {
    /// Waits for the next deliveries (at most the group's free in-flight room).
    pub(crate) async fn next(&self) -> Result<Vec<Delivery>> {
        self.group.next(self.id).await
    }

    /// Acknowledges events.
    pub(crate) async fn ack(&self, ids: &[Uuid]) -> Result<()> {
        self.group.ack(ids).await
    }

    /// Refuses events: retry (after a backoff), park, or skip.
    pub(crate) async fn nack(&self, ids: &[Uuid], action: NackAction) -> Result<()> {
        self.group.nack(ids, action, "nacked by a consumer").await
    }
}

impl Drop for LocalConsumer {
    fn drop(&mut self) {
        let to_park = self.group.ledger().disconnect(self.id);
        self.group.changed.notify_waiters();
        if !to_park.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
            self.group.park_later(to_park);
        }
    }
}
