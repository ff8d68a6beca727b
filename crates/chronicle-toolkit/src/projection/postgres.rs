//! PostgreSQL read models: the model update and the checkpoint are written
//! in one transaction, so a crash can never apply an event twice or skip
//! one (exactly-once effect, whatever the delivery).

use super::memory::handler_error;
use crate::{Error, Projection, Result};
use chronicle_core::{Filter, RecordedEvent, async_trait};
use deadpool_postgres::{Pool, Transaction};
use std::sync::Mutex;

/// A read model kept in PostgreSQL tables. Every method runs inside the
/// projection's transaction.
#[async_trait]
pub trait PgReadModel: Send + Sync + 'static {
    /// Creates the model's tables if missing.
    async fn setup(&self, tx: &Transaction<'_>) -> std::result::Result<(), tokio_postgres::Error>;
    /// Applies one event.
    async fn handle(&self, tx: &Transaction<'_>, event: &RecordedEvent) -> std::result::Result<(), String>;
    /// Empties the model (before a rebuild into it).
    async fn clear(&self, tx: &Transaction<'_>) -> std::result::Result<(), tokio_postgres::Error>;
    /// Makes this (rebuilt) model the live one, e.g. by renaming tables.
    async fn promote(&self, tx: &Transaction<'_>) -> std::result::Result<(), tokio_postgres::Error> {
        let _ = tx;
        Ok(())
    }
}

/// The checkpoints table (in the `public` schema of the model's database).
const TABLE: &str = "chronicle_projection_checkpoints";

/// A [`Projection`] over a [`PgReadModel`].
#[derive(Debug)]
pub struct PgProjection<M> {
    name: String,
    /// The checkpoint row's key: `name`, or `name.rebuild` until promoted.
    key: Mutex<String>,
    pool: Pool,
    model: M,
    filter: Filter,
}

fn db(what: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Handler { what: what.to_owned(), reason: format!("postgres: {e}") }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    Error::Store(chronicle_core::Error::Unavailable { reason: format!("read-model database: {e}") })
}

impl<M: PgReadModel> PgProjection<M> {
    /// The live projection `name` over `model`; creates the checkpoint
    /// table and the model's tables if missing.
    pub async fn new(pool: Pool, name: &str, model: M) -> Result<Self> {
        let this = Self { name: name.to_owned(), key: Mutex::new(name.to_owned()), pool, model, filter: Filter::default() };
        this.setup().await?;
        Ok(this)
    }

    /// A second instance of projection `name` to rebuild into (its
    /// checkpoint is kept apart until [`Projection::promote`]).
    pub async fn rebuilding(pool: Pool, name: &str, model: M) -> Result<Self> {
        let this = Self { name: name.to_owned(), key: Mutex::new(format!("{name}.rebuild")), pool, model, filter: Filter::default() };
        this.setup().await?;
        Ok(this)
    }

    /// Only the events `filter` matches are delivered.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    fn key(&self) -> String {
        self.key.lock().map(|k| k.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    async fn setup(&self) -> Result<()> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db(&self.name))?;
        tx.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {TABLE} (name text PRIMARY KEY, position bigint NOT NULL)"))
            .await
            .map_err(db(&self.name))?;
        self.model.setup(&tx).await.map_err(db(&self.name))?;
        tx.commit().await.map_err(db(&self.name))
    }

    /// Applies `event` in one transaction; `advance` moves the checkpoint.
    async fn apply_in_tx(&self, event: &RecordedEvent, advance: bool) -> Result<()> {
        let what = format!("{} at position {}", self.name, event.global_position);
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db(&what))?;
        let key = self.key();
        let row = tx.query_opt(&format!("SELECT position FROM {TABLE} WHERE name = $1 FOR UPDATE"), &[&key]).await.map_err(db(&what))?;
        let at = row.map_or(0, |r| r.get::<_, i64>(0)) as u64;
        if advance && event.global_position <= at {
            return Ok(()); // applied before (a redelivery)
        }
        self.model.handle(&tx, event).await.map_err(|reason| handler_error(&self.name, event, reason))?;
        if advance {
            let sql = format!("INSERT INTO {TABLE} (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = $2");
            tx.execute(&sql, &[&key, &(event.global_position as i64)]).await.map_err(db(&what))?;
        }
        tx.commit().await.map_err(db(&what))
    }
}

#[async_trait]
impl<M: PgReadModel> Projection for PgProjection<M> {
    fn name(&self) -> &str {
        &self.name
    }
    fn filter(&self) -> Filter {
        self.filter.clone()
    }
    async fn checkpoint(&self) -> Result<u64> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row =
            client.query_opt(&format!("SELECT position FROM {TABLE} WHERE name = $1"), &[&self.key()]).await.map_err(db(&self.name))?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0)) as u64)
    }
    async fn apply(&self, event: &RecordedEvent) -> Result<()> {
        self.apply_in_tx(event, true).await
    }
    async fn replay_parked(&self, event: &RecordedEvent) -> Result<()> {
        self.apply_in_tx(event, false).await
    }
    async fn reset(&self) -> Result<()> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db(&self.name))?;
        self.model.clear(&tx).await.map_err(db(&self.name))?;
        tx.execute(&format!("DELETE FROM {TABLE} WHERE name = $1"), &[&self.key()]).await.map_err(db(&self.name))?;
        tx.commit().await.map_err(db(&self.name))
    }
    async fn promote(&self) -> Result<()> {
        let key = self.key();
        if key == self.name {
            return Ok(());
        }
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db(&self.name))?;
        self.model.promote(&tx).await.map_err(db(&self.name))?;
        tx.execute(&format!("DELETE FROM {TABLE} WHERE name = $1"), &[&self.name]).await.map_err(db(&self.name))?;
        tx.execute(&format!("UPDATE {TABLE} SET name = $1 WHERE name = $2"), &[&self.name, &key]).await.map_err(db(&self.name))?;
        tx.commit().await.map_err(db(&self.name))?;
        if let Ok(mut k) = self.key.lock() {
            *k = self.name.clone();
        }
        Ok(())
    }
}
