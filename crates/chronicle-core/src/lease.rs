//! Leases: "exactly one node does this job at a time" (relay a sink, run
//! a consumer group's dispatcher). A backend shared by several processes
//! (PostgreSQL) implements [`Leases`] with its own locking; a store one
//! process owns (the file engine locks its directory, memory is private)
//! uses [`LocalLeases`].

use crate::Result;
use async_trait::async_trait;
use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
};
use tokio::sync::watch;

/// Takes named leases. Holding a [`Lease`] keeps it; dropping it gives it
/// up.
#[async_trait]
pub trait Leases: Send + Sync + fmt::Debug {
    /// Takes `name` for `holder` (a node description shown in status), or
    /// `None` when someone else holds it now.
    async fn try_acquire(&self, name: &str, holder: &str) -> Result<Option<Lease>>;

    /// Who holds `name` now (`None`: nobody).
    async fn holder(&self, name: &str) -> Result<Option<String>>;
}

/// A held lease. It stays held until dropped, unless the backend loses it
/// (a dropped database session): then [`Lease::is_held`] turns false and
/// [`Lease::lost`] returns, and the holder must stop its job.
pub struct Lease {
    held: watch::Receiver<bool>,
    _release: Box<dyn Send + Sync>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("held", &self.is_held()).finish_non_exhaustive()
    }
}

impl Lease {
    /// A lease that is held while `held` says `true`; `release` is dropped
    /// with the lease (put the lock's guard or connection there).
    pub fn new(held: watch::Receiver<bool>, release: Box<dyn Send + Sync>) -> Self {
        Self { held, _release: release }
    }

    /// Whether the lease is still held.
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// Returns once the lease is lost (never, while it is held).
    pub async fn lost(&mut self) {
        let _ = self.held.wait_for(|held| !held).await;
    }
}

/// Leases within one process.
///
/// ```
/// use chronicle_core::{Leases, LocalLeases};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> chronicle_core::Result<()> {
/// let leases = LocalLeases::default();
/// let lease = leases.try_acquire("publish:orders", "node-a").await?.expect("free");
/// assert!(leases.try_acquire("publish:orders", "node-b").await?.is_none());
/// assert_eq!(leases.holder("publish:orders").await?.as_deref(), Some("node-a"));
/// drop(lease);
/// assert!(leases.try_acquire("publish:orders", "node-b").await?.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default, Clone)]
pub struct LocalLeases {
    held: Arc<Mutex<HashMap<String, String>>>,
}

struct LocalRelease {
    held: Arc<Mutex<HashMap<String, String>>>,
    name: String,
    _alive: watch::Sender<bool>,
}

impl Drop for LocalRelease {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&self.name);
        }
    }
}

#[async_trait]
impl Leases for LocalLeases {
    async fn try_acquire(&self, name: &str, holder: &str) -> Result<Option<Lease>> {
        let mut held = self.held.lock().map_err(|_| crate::Error::Unavailable { reason: "the lease table lock is poisoned".into() })?;
        if held.contains_key(name) {
            return Ok(None);
        }
        held.insert(name.to_owned(), holder.to_owned());
        let (alive, rx) = watch::channel(true);
        let release = LocalRelease { held: self.held.clone(), name: name.to_owned(), _alive: alive };
        Ok(Some(Lease::new(rx, Box::new(release))))
    }

    async fn holder(&self, name: &str) -> Result<Option<String>> {
        let held = self.held.lock().map_err(|_| crate::Error::Unavailable { reason: "the lease table lock is poisoned".into() })?;
        Ok(held.get(name).cloned())
    }
}
