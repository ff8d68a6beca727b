//! A relay: one per sink. It takes the sink's lease (so exactly one node
//! relays a sink at a time), then leads: reads the global log from the
//! sink's durable checkpoint and delivers (see [`crate::leader`]). When
//! the lease is lost it stops leading and waits to take it again.

use crate::{HookChain, PublishHook, SharedStatus, SinkConfig, leader::Leader, status::RelayState};
use chronicle_core::{EventStore, Leases};
use std::{sync::Arc, time::Duration};
use tokio::sync::{Notify, watch};

/// How often a standby node tries to take the lease.
const STANDBY_POLL: Duration = Duration::from_millis(500);

/// The checkpoint name of a sink (in the store's checkpoints).
pub fn checkpoint_name(sink: &str) -> String {
    format!("$publish-{sink}")
}

/// The lease name of a sink.
pub fn lease_name(sink: &str) -> String {
    format!("publish:{sink}")
}

/// Everything a relay needs, cheap to share with its leader.
#[derive(Clone, Debug)]
pub struct Relay {
    pub(crate) config: Arc<SinkConfig>,
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) leases: Arc<dyn Leases>,
    pub(crate) node: String,
    pub(crate) hooks: HookChain,
    pub(crate) status: SharedStatus,
    /// Woken when an operator replays DLQ entries through this process.
    pub(crate) wake: Arc<Notify>,
}

impl Relay {
    /// A relay of `config` over `store`, taking leases from `leases` as
    /// `node` (shown as the holder in status).
    pub fn new(config: SinkConfig, store: Arc<dyn EventStore>, leases: Arc<dyn Leases>, node: impl Into<String>) -> Self {
        let hooks = HookChain::of(&config);
        Self { config: Arc::new(config), store, leases, node: node.into(), hooks, status: SharedStatus::default(), wake: Arc::default() }
    }

    /// Adds a publish hook after the built-in ones.
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn PublishHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// The relay's status (shared with the running task).
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    /// The sink's configuration.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// Runs until `shutdown` turns true (or its sender drops).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let name = lease_name(self.config.name());
        while !stop_requested(&shutdown) {
            match self.leases.try_acquire(&name, &self.node).await {
                Ok(Some(mut lease)) => {
                    tracing::info!(sink = self.config.name(), "relaying (lease taken by {})", self.node);
                    let mut leader = Leader::new(self.clone());
                    tokio::select! {
                        () = leader.lead() => {}
                        () = lease.lost() => tracing::warn!(sink = self.config.name(), "lost the lease; standing by"),
                        () = stopped(&mut shutdown) => {}
                    }
                    leader.save_checkpoint().await;
                    self.status.set_state(RelayState::Standby);
                }
                Ok(None) => self.status.set_state(RelayState::Standby),
                Err(e) => self.status.update(|c| c.last_error = Some(format!("taking the lease: {e}"))),
            }
            tokio::select! {
                () = tokio::time::sleep(STANDBY_POLL) => {}
                () = stopped(&mut shutdown) => {}
            }
        }
        self.status.set_state(RelayState::Stopped);
    }
}

fn stop_requested(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Returns once `shutdown` turns true or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
