//! [`Publisher`]: every configured sink's relay, started together, with
//! the operator surface (status, DLQ list / replay / discard) the server
//! and the CLI share.

use crate::{
    Dlq, DlqEntry, PublishError, PublishHook, PublishSettings, Relay, RelayCounters, RelayState, Result, Selection, relay::checkpoint_name,
    relay::lease_name,
};
use chronicle_core::{EventStore, Leases, Uuid};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::{sync::watch, task::JoinHandle};

/// One sink's status, as `GET /publish` and `chronicle publish status`
/// show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: String,
    /// `nats`, `rabbitmq` or `webhook`.
    pub kind: String,
    /// The relay's state on this node (`standby` when another node holds
    /// the lease, `stopped` when no relay runs here).
    pub state: RelayState,
    /// The node relaying the sink now (`None`: nobody).
    pub holder: Option<String>,
    /// The durable checkpoint: every position up to it is handled.
    pub checkpoint: u64,
    /// The store's head.
    pub head: u64,
    /// Events between the checkpoint and the head.
    pub lag: u64,
    /// Entries in the DLQ.
    pub dlq_size: u64,
    /// The DLQ bound.
    pub dlq_max: u64,
    /// Counters of this node's relay since it started.
    pub delivered: u64,
    /// Failed deliveries (each retry counts).
    pub failures: u64,
    /// Repeats the broker reported and dropped.
    pub duplicates: u64,
    /// Events sent to the DLQ.
    pub dead_lettered: u64,
    /// The last failure on this node.
    pub last_error: Option<String>,
}

/// Every sink's relay.
#[derive(Debug)]
pub struct Publisher {
    store: Arc<dyn EventStore>,
    leases: Arc<dyn Leases>,
    relays: Vec<Relay>,
    shutdown: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Publisher {
    /// The relays of `settings` over `store`, taking leases as `node`.
    /// Nothing runs until [`Publisher::start`].
    pub fn new(store: Arc<dyn EventStore>, leases: Arc<dyn Leases>, settings: &PublishSettings, node: &str) -> Self {
        let relays = settings.sinks.iter().map(|s| Relay::new(s.clone(), store.clone(), leases.clone(), node)).collect();
        Self { store, leases, relays, shutdown: watch::channel(false).0, tasks: std::sync::Mutex::default() }
    }

    /// Adds `hook` to every sink (after the built-ins).
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn PublishHook>) -> Self {
        self.relays.iter_mut().for_each(|r| r.hooks.push(hook.clone()));
        self
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.relays.is_empty()
    }

    /// The relays.
    pub fn relays(&self) -> &[Relay] {
        &self.relays
    }

    /// Starts every relay on the current tokio runtime.
    pub fn start(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for relay in &self.relays {
            relay.status.set_state(RelayState::Standby);
            tasks.push(tokio::spawn(relay.clone().run(self.shutdown.subscribe())));
        }
    }

    /// Stops every relay, saving their checkpoints.
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }

    fn relay(&self, sink: &str) -> Result<&Relay> {
        self.relays.iter().find(|r| r.config.name() == sink).ok_or_else(|| PublishError::UnknownSink(sink.to_owned()))
    }

    /// Every sink's status (reads the checkpoints, the head, the DLQs and
    /// the lease holders).
    pub async fn status(&self) -> Result<Vec<SinkStatus>> {
        let head = self.store.head().await?;
        let mut out = Vec::with_capacity(self.relays.len());
        for relay in &self.relays {
            let name = relay.config.name();
            let checkpoint = self.store.load_checkpoint(&checkpoint_name(name)).await?.unwrap_or(0);
            let dlq_size = Dlq::new(self.store.clone(), name)?.view().await?.size();
            let holder = self.leases.holder(&lease_name(name)).await?;
            let RelayCounters { state, delivered, failures, duplicates, dead_lettered, position, last_error, .. } = relay.status.snapshot();
            let checkpoint = checkpoint.max(if state == RelayState::Standby { 0 } else { position });
            out.push(SinkStatus {
                name: name.to_owned(),
                kind: relay.config.kind.as_str().to_owned(),
                state,
                holder,
                checkpoint,
                head,
                lag: head.saturating_sub(checkpoint),
                dlq_size,
                dlq_max: relay.config.toml.dlq_max,
                delivered,
                failures,
                duplicates,
                dead_lettered,
                last_error,
            });
        }
        Ok(out)
    }

    /// The DLQ entries of `sink`, oldest first.
    pub async fn dlq_list(&self, sink: &str) -> Result<Vec<DlqEntry>> {
        self.relay(sink)?;
        Ok(Dlq::new(self.store.clone(), sink)?.view().await?.entries().to_vec())
    }

    /// Replays entries of `sink`'s DLQ (the relay delivers them again).
    pub async fn dlq_replay(&self, sink: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        let relay = self.relay(sink)?;
        let ids = Dlq::new(self.store.clone(), sink)?.replay(selection).await?;
        relay.wake.notify_one();
        Ok(ids)
    }

    /// Discards entries of `sink`'s DLQ.
    pub async fn dlq_discard(&self, sink: &str, selection: &Selection) -> Result<Vec<Uuid>> {
        let relay = self.relay(sink)?;
        let ids = Dlq::new(self.store.clone(), sink)?.discard(selection).await?;
        relay.wake.notify_one();
        Ok(ids)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
