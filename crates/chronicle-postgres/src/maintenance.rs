//! The PostgreSQL backend's [`Maintenance`]: stats, storage size and
//! scavenge (deleting the rows of what deletes and retention hid for
//! good, see [`PgStore::reclaim`]). The trait's methods block: each one
//! runs its queries on the runtime that owns the store's connections (or,
//! with no store open, on a runtime of its own) and waits for them.

use crate::{PgOptions, PgStore, col, db_error};
use chronicle_core::{Error, Maintenance, Result, ScavengeReport, StoreStats};
use std::{future::Future, sync::mpsc, time::Duration};
use tokio::runtime::Handle;

/// Maintenance of a PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgMaintenance {
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    /// A store this process serves, and the runtime its connections live on.
    Open(PgStore, Handle),
    /// Connect per operation.
    Options(Box<PgOptions>),
}

impl PgMaintenance {
    /// Maintenance over an open store, on the runtime this is called from
    /// (the one that owns the store's connections; call the methods from a
    /// blocking thread, never from a task on it). Outside a runtime, each
    /// operation connects to the store's database instead.
    pub fn of(store: PgStore) -> Self {
        match Handle::try_current() {
            Ok(runtime) => Self { target: Target::Open(store, runtime) },
            Err(_) => Self::at(store.options()),
        }
    }

    /// Maintenance that connects with `options` for each operation.
    pub fn at(options: PgOptions) -> Self {
        Self { target: Target::Options(Box::new(options)) }
    }

    /// Starts `job` on a store; its answer comes on the channel.
    fn start<T, F, Fut>(&self, job: F) -> mpsc::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(PgStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        match &self.target {
            Target::Open(store, runtime) => {
                let store = store.clone();
                runtime.spawn(async move { drop(tx.send(job(store).await)) });
            }
            Target::Options(options) => {
                let options = (**options).clone();
                std::thread::spawn(move || {
                    let answer = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(runtime) => runtime.block_on(async move { job(PgStore::connect(options).await?).await }),
                        Err(e) => Err(Error::io("starting a runtime for postgres maintenance", e)),
                    };
                    drop(tx.send(answer));
                });
            }
        }
        rx
    }

    /// Runs `job` on a store and waits for its answer.
    fn run<T, F, Fut>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(PgStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        self.start(job).recv().map_err(|_| stopped())?
    }

    fn reclaim(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        let (tx, steps) = mpsc::channel();
        let answer = self.start(move |store| async move {
            store
                .reclaim(&mut |done, total| {
                    let _ = tx.send((done, total));
                })
                .await
        });
        loop {
            let waited = answer.recv_timeout(Duration::from_millis(100));
            for (done, total) in steps.try_iter() {
                progress(done, total);
            }
            match waited {
                Ok(report) => return report,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(stopped()),
            }
        }
    }
}

/// The error when a maintenance job ended without an answer.
fn stopped() -> Error {
    Error::Unavailable { reason: "the postgres maintenance task stopped without an answer".into() }
}

impl Maintenance for PgMaintenance {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn stats(&self) -> Result<StoreStats> {
        self.run(|store| async move { store.stats().await })
    }

    fn scavenge(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<ScavengeReport> {
        self.reclaim(progress)
    }

    fn storage_bytes(&self) -> Option<u64> {
        self.run(|store| async move { store.storage_bytes().await }).ok()
    }
}

impl PgStore {
    /// Bytes of every table of the store's schema, indexes included.
    pub async fn storage_bytes(&self) -> Result<u64> {
        let client = self.client().await?;
        let sql = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'";
        let row = client.query_one(sql, &[&self.inner.schema]).await.map_err(db_error)?;
        Ok(col::<i64>(&row, 0)? as u64)
    }

    /// Size and shape figures: events stored (rows), streams, head
    /// position, bytes of the schema and of the events table.
    pub async fn stats(&self) -> Result<StoreStats> {
        let s = &self.inner.schema;
        let client = self.client().await?;
        let sql = format!(
            "SELECT (SELECT count(*) FROM {s}.events), (SELECT count(*) FROM {s}.streams WHERE last_version > 0),
                    (SELECT position FROM {s}.head), pg_total_relation_size('{s}.events')"
        );
        let row = client.query_one(&sql, &[]).await.map_err(db_error)?;
        let mut stats = StoreStats::new();
        stats.insert("schema".into(), s.clone().into());
        stats.insert("events".into(), col::<i64>(&row, 0)?.into());
        stats.insert("streams".into(), col::<i64>(&row, 1)?.into());
        stats.insert("head_position".into(), col::<i64>(&row, 2)?.into());
        stats.insert("events_table_bytes".into(), col::<i64>(&row, 3)?.into());
        drop(client);
        stats.insert("bytes".into(), self.storage_bytes().await?.into());
        Ok(stats)
    }
}
