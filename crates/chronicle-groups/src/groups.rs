//! [`Groups`]: the consumer groups of one store, whichever engine keeps
//! them — the store itself when one node serves it (file, memory), or
//! PostgreSQL rows that every node shares — and [`Consumer`], one
//! connected consumer. The server and the benchmark hold these and never
//! name an engine.

use crate::{Delivery, GroupError, GroupSpec, NackAction, Result, local};
use chronicle_core::{EventStore, ParkedEntry, ParkingLot, Selection, Uuid};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};

/// A group's status (`GET /subscriptions/{group}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupStatus {
    /// The group's name.
    pub name: String,
    /// Its settings.
    pub spec: GroupSpec,
    /// Every position up to here is handled (acknowledged, skipped or parked).
    pub checkpoint: u64,
    /// The store's head.
    pub head: u64,
    /// Events between the checkpoint and the head (the filter's misses included).
    pub lag: u64,
    /// Events leased to consumers now.
    pub in_flight: u64,
    /// Events read and not yet handled.
    pub buffered: u64,
    /// Parked events.
    pub parked: u64,
    /// Consumers connected (to this node; on PostgreSQL, to any node).
    pub consumers: u64,
    /// Redeliveries (timeouts, disconnects, nacks): since the node started;
    /// on PostgreSQL, ever.
    pub redeliveries: u64,
    /// Deliveries: since the node started; on PostgreSQL, ever.
    pub delivered: u64,
    /// On PostgreSQL, the node that feeds the group from the log now (the
    /// holder of its lease `group:{name}`; absent while none does); absent
    /// in the store engine, where the serving node feeds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeder: Option<String>,
}

/// The engine-specific counts of a [`GroupStatus`].
pub(crate) struct Counts {
    pub(crate) checkpoint: u64,
    pub(crate) in_flight: u64,
    pub(crate) buffered: u64,
    pub(crate) consumers: u64,
    pub(crate) redeliveries: u64,
    pub(crate) delivered: u64,
}

impl GroupStatus {
    pub(crate) fn new(name: &str, spec: GroupSpec, head: u64, parked: u64, c: Counts) -> Self {
        Self {
            name: name.to_owned(),
            spec,
            checkpoint: c.checkpoint,
            head,
            lag: head.saturating_sub(c.checkpoint),
            in_flight: c.in_flight,
            buffered: c.buffered,
            parked,
            consumers: c.consumers,
            redeliveries: c.redeliveries,
            delivered: c.delivered,
            feeder: None,
        }
    }
}

/// Sends parked events of `group` back to its consumers; every id of a
/// selection must be parked (nothing is replayed otherwise).
pub(crate) async fn replay(lot: &ParkingLot, group: &str, selection: &Selection) -> Result<Vec<Uuid>> {
    if let Some(event_ids) = lot.not_parked(selection).await? {
        return Err(GroupError::NotParked { group: group.to_owned(), event_ids });
    }
    Ok(lot.replay(selection).await?)
}

#[derive(Debug)]
enum Engine {
    Local(local::LocalGroups),
    #[cfg(feature = "postgres")]
    Postgres(Arc<crate::pg::PgGroups>),
}

/// Every consumer group of one store.
///
/// ```
/// use chronicle_groups::{GroupSpec, Groups};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> chronicle_groups::Result<()> {
/// let store = std::sync::Arc::new(chronicle_memory::MemoryStore::new());
/// let groups = Groups::open(store).await?;
/// assert!(groups.put("billing", GroupSpec::default()).await?); // created
/// assert_eq!(groups.status("billing").await?.checkpoint, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Groups {
    engine: Engine,
}

/// A connected consumer. Dropping it disconnects: what it held goes to
/// the group's other consumers.
#[derive(Debug)]
pub struct Consumer {
    inner: ConsumerEngine,
}

#[derive(Debug)]
enum ConsumerEngine {
    Local(local::LocalConsumer),
    #[cfg(feature = "postgres")]
    Postgres(crate::pg::PgConsumer),
}

macro_rules! dispatch {
    ($self:expr, $engine:ident => $call:expr) => {
        match $self {
            Engine::Local($engine) => $call,
            #[cfg(feature = "postgres")]
            Engine::Postgres($engine) => $call,
        }
    };
}

impl Groups {
    /// The groups of a store one node serves (file, memory): kept in the
    /// store itself (registry `$groups`, progress `$group-{name}`, parked
    /// events `$group-parked-{name}`). Starts every group.
    pub async fn open(store: Arc<dyn EventStore>) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { engine: Engine::Local(local::LocalGroups::open(store).await?) }))
    }

    /// The groups of a PostgreSQL store, shared by every node on its
    /// database: consumers may connect to any node; one node at a time
    /// (holding the lease `group:{name}` of `leases`) feeds each group from
    /// the log. `node` names this node in lease holders.
    #[cfg(feature = "postgres")]
    pub async fn postgres(store: chronicle_postgres::PgStore, leases: Arc<dyn chronicle_core::Leases>, node: &str) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { engine: Engine::Postgres(crate::pg::PgGroups::open(store, leases, node).await?) }))
    }

    /// Creates `name` (`true`) or changes its tuning (`false`: strategy,
    /// retries, timeout, in-flight; the filter and start may not change).
    pub async fn put(&self, name: &str, spec: GroupSpec) -> Result<bool> {
        dispatch!(&self.engine, e => e.put(name, spec).await)
    }

    /// Deletes `name`: its consumers are disconnected, its parked events
    /// discarded (their records stay in the log).
    pub async fn delete(&self, name: &str) -> Result<()> {
        dispatch!(&self.engine, e => e.delete(name).await)
    }

    /// One group's status.
    pub async fn status(&self, name: &str) -> Result<GroupStatus> {
        dispatch!(&self.engine, e => e.status(name).await)
    }

    /// Every group's status, by name.
    pub async fn list(&self) -> Result<Vec<GroupStatus>> {
        dispatch!(&self.engine, e => e.list().await)
    }

    /// Connects a consumer to `name`.
    pub async fn connect(&self, name: &str) -> Result<Consumer> {
        let inner = match &self.engine {
            Engine::Local(e) => ConsumerEngine::Local(e.connect(name).await?),
            #[cfg(feature = "postgres")]
            Engine::Postgres(e) => ConsumerEngine::Postgres(e.connect(name).await?),
        };
        Ok(Consumer { inner })
    }

    /// The parked events of `name`, oldest first.
    pub async fn parked(&self, name: &str) -> Result<Vec<ParkedEntry>> {
        dispatch!(&self.engine, e => e.parked(name).await)
    }

    /// Sends parked events back to the group's consumers.
    pub async fn replay_parked(&self, name: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        dispatch!(&self.engine, e => e.replay_parked(name, selection).await)
    }

    /// On shutdown: waits (at most `limit`) until this node's consumers
    /// are gone, so the acks they send while closing count, then saves
    /// what only this node knows.
    pub async fn shutdown(&self, limit: Duration) {
        dispatch!(&self.engine, e => e.shutdown(limit).await)
    }
}

impl Consumer {
    /// Waits for the next deliveries (at most the group's free in-flight
    /// room). Cancel-safe: what it claims is returned by this call or the
    /// next one.
    pub async fn next(&self) -> Result<Vec<Delivery>> {
        match &self.inner {
            ConsumerEngine::Local(c) => c.next().await,
            #[cfg(feature = "postgres")]
            ConsumerEngine::Postgres(c) => c.next().await,
        }
    }

    /// Acknowledges events.
    pub async fn ack(&self, ids: &[Uuid]) -> Result<()> {
        match &self.inner {
            ConsumerEngine::Local(c) => c.ack(ids).await,
            #[cfg(feature = "postgres")]
            ConsumerEngine::Postgres(c) => c.ack(ids).await,
        }
    }

    /// Refuses events: retry (after a backoff), park, or skip.
    pub async fn nack(&self, ids: &[Uuid], action: NackAction) -> Result<()> {
        match &self.inner {
            ConsumerEngine::Local(c) => c.nack(ids, action).await,
            #[cfg(feature = "postgres")]
            ConsumerEngine::Postgres(c) => c.nack(ids, action).await,
        }
    }
}
