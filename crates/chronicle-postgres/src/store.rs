//! `PgStore`: the pool, the breaker, the head watch, and the trait impl.

use crate::{append, breaker::Breaker, col, commit, db_error, listen, read, schema};
use chronicle_core::{
    AppendContext, AppendPipeline, AppendRequest, AppendResult, ConnectionReport, ConnectionStats, DeleteMode, Error, EventPage,
    EventStore, ExpectedVersion, Filter, Health, Metrics, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId,
    StreamInfo, StreamMetadata, SubscribeFrom, Subscription, Uuid, async_trait, validate_consumer_name,
};
use deadpool_postgres::{Hook, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

/// The `application_name` of every connection of a store (operators can
/// find and, in tests, terminate them by it).
pub fn application_name(schema: &str) -> String {
    format!("chronicle:{schema}")
}

/// How to reach the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgOptions {
    /// `postgres://user@host:port/db`.
    pub url: String,
    /// Schema holding Chronicle's tables (created and migrated on open).
    pub schema: String,
    /// Connection pool size.
    pub pool_size: usize,
    /// What every append goes through: validation limits and hooks.
    pub pipeline: AppendPipeline,
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) schema: String,
    pub(crate) pipeline: AppendPipeline,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) head: watch::Sender<u64>,
    breaker: Breaker,
    /// Connections opened and lost, change-feed wake-ups.
    pub(crate) counters: Arc<listen::Counters>,
    /// Head at which the tables are next analysed (see [`PgStore::analyze_on_growth`]).
    next_analyze: std::sync::atomic::AtomicU64,
    /// The group-commit queue (see [`commit`]).
    pub(crate) committer: commit::Queue,
    listener: tokio::task::JoinHandle<()>,
    /// For [`PgStore::connect_temporary`]: (url, schema) dropped on drop.
    cleanup: Option<String>,
    url: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
        let (Some(schema), url) = (self.cleanup.take(), self.url.clone()) else { return };
        // Drop the test schema on a thread of its own (Drop cannot await).
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(client) = async { crate::Connector::parse(&url)?.connect().await }.await {
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                }
            });
        })
        .join();
    }
}

impl PgStore {
    /// Connects, applies migrations, starts following the head.
    pub async fn connect(options: PgOptions) -> Result<Self> {
        Self::connect_inner(options, None).await
    }

    /// A store in a fresh, uniquely named schema that is dropped when the
    /// last handle drops (tests, benchmarks).
    pub async fn connect_temporary(url: &str, pipeline: AppendPipeline) -> Result<Self> {
        let schema = format!("chronicle_tmp_{}", Uuid::now_v7().simple());
        let options = PgOptions { url: url.to_owned(), schema: schema.clone(), pool_size: 8, pipeline };
        Self::connect_inner(options, Some(schema)).await
    }

    async fn connect_inner(options: PgOptions, cleanup: Option<String>) -> Result<Self> {
        schema::validate_schema_name(&options.schema)?;
        let connector = crate::Connector::parse(&options.url)?;
        let mut config = connector.config().clone();
        config.application_name(application_name(&options.schema));
        // Appends and reads are short OLTP statements; JIT compilation (on
        // by default since PostgreSQL 12) would cost them hundreds of ms
        // whenever the planner over-estimates a row count.
        let extra = config.get_options().map(|o| format!("{o} ")).unwrap_or_default();
        config.options(format!("{extra}-c jit=off"));
        let manager = Manager::from_config(config.clone(), connector.tls(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let counters = Arc::new(listen::Counters::default());
        let (opened, lost) = (counters.clone(), counters.clone());
        let pool = Pool::builder(manager)
            .post_create(Hook::sync_fn(move |_, _| {
                opened.opened();
                Ok(())
            }))
            // A connection the server closed (a restart, a failover) is
            // counted here and then replaced by the pool.
            .pre_recycle(Hook::sync_fn(move |client, _| {
                if client.is_closed() {
                    lost.lost();
                }
                Ok(())
            }))
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::Config { reason: format!("postgres pool: {e}") })?;
        let mut client = pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => crate::tls::unreachable(&e),
            e => Error::Unavailable { reason: format!("cannot connect to postgres: {e}") },
        })?;
        schema::migrate(&mut client, &options.schema).await?;
        let head = read_head(&client, &options.schema).await?;
        drop(client);
        let (tx, _) = watch::channel(head);
        let listener = listen::spawn(connector.with_config(config), options.schema.clone(), pool.clone(), tx.clone(), counters.clone());
        // The committer ends by itself once the last handle (and queue) drops.
        let (committer, _) = commit::spawn();
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                schema: options.schema,
                pipeline: options.pipeline,
                metrics: Arc::default(),
                head: tx,
                breaker: Breaker::default(),
                counters,
                committer,
                next_analyze: std::sync::atomic::AtomicU64::new(analyze_step(head)),
                listener,
                cleanup,
                url: options.url,
            }),
        })
    }

    /// Leases shared by every node on this database and schema.
    pub fn leases(&self) -> crate::PgLeases {
        crate::PgLeases::new(self.inner.url.clone(), self.inner.schema.clone())
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Options reaching the same database and schema (default pool size
    /// and pipeline).
    pub(crate) fn options(&self) -> PgOptions {
        PgOptions { url: self.inner.url.clone(), schema: self.inner.schema.clone(), pool_size: 2, pipeline: AppendPipeline::default() }
    }

    /// A pooled connection: retried with backoff, refused fast while the
    /// circuit is open.
    pub(crate) async fn client(&self) -> Result<Object> {
        if let Some(left) = self.inner.breaker.open_for() {
            return Err(Error::Unavailable { reason: format!("postgres unreachable; retrying in {} ms", left.as_millis()) });
        }
        let mut delay = Duration::from_millis(50);
        for attempt in 0..3 {
            match self.inner.pool.get().await {
                Ok(client) => {
                    self.inner.breaker.success();
                    return Ok(client);
                }
                Err(e) if attempt == 2 => {
                    self.inner.breaker.failure();
                    return Err(Error::Unavailable { reason: format!("cannot get a postgres connection: {e}") });
                }
                Err(_) => {
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
            }
        }
        Err(Error::Unavailable { reason: "cannot get a postgres connection".into() })
    }

    /// Statements are prepared once per connection and PostgreSQL keeps a
    /// generic plan built from the statistics of that moment; plans made
    /// while a table was nearly empty would scan it once it is large. So
    /// whenever the log has grown tenfold since the last time, analyse the
    /// tables in the background: fresh statistics invalidate the cached
    /// plans. (Autovacuum does the same later, at its own pace.)
    pub(crate) fn analyze_on_growth(&self, head: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let due = self.inner.next_analyze.load(Relaxed);
        if head < due || self.inner.next_analyze.compare_exchange(due, analyze_step(head), Relaxed, Relaxed).is_err() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            let s = &store.inner.schema;
            if let Ok(client) = store.client().await
                && let Err(e) = client.batch_execute(&format!("ANALYZE {s}.events, {s}.streams")).await
            {
                tracing::warn!(error = %e, "analysing the event tables failed");
            }
        });
    }

    pub(crate) fn publish_head(&self, head: u64) {
        self.inner.head.send_if_modified(|h| std::mem::replace(h, (*h).max(head)) < head);
    }
}

/// Stores a snapshot unless a newer one is stored (`$1` stream, `$2`
/// version, `$3` schema version, `$4` state).
pub(crate) fn snapshot_upsert(s: &str) -> String {
    format!(
        "INSERT INTO {s}.snapshots (stream_id, version, schema_version, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version, state = EXCLUDED.state
         WHERE {s}.snapshots.version <= EXCLUDED.version"
    )
}

/// The next head at which to analyse: ten times this one (at least 1,000).
fn analyze_step(head: u64) -> u64 {
    head.saturating_mul(10).max(1_000)
}

/// This node's connections now: the pool, the breaker, and the counters
/// of [`listen::Counters`].
impl ConnectionReport for PgStore {
    fn connection_stats(&self) -> ConnectionStats {
        let pool = self.inner.pool.status();
        ConnectionStats {
            pool_max: pool.max_size as u64,
            in_use: pool.size.saturating_sub(pool.available) as u64,
            idle: pool.available as u64,
            waiting: pool.waiting as u64,
            breaker: self.inner.breaker.state(),
            breaker_trips: self.inner.breaker.trips(),
            ..self.inner.counters.snapshot()
        }
    }
}

/// The `head` row's query for schema `s`.
pub(crate) fn head_sql(s: &str) -> String {
    format!("SELECT position FROM {s}.head")
}

/// The last position of schema `s` (the statement prepared once per connection).
pub(crate) async fn read_head(client: &impl deadpool_postgres::GenericClient, s: &str) -> Result<u64> {
    let statement = client.prepare_cached(&head_sql(s)).await.map_err(db_error)?;
    Ok(col::<i64>(&client.query_one(&statement, &[]).await.map_err(db_error)?, 0)? as u64)
}

#[async_trait]
impl EventStore for PgStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        let inner = &self.inner;
        inner.pipeline.run(context, request, &inner.metrics, |prepared, want_events| commit::append(self, prepared, want_events)).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        let events = read::read_stream(self, stream, options).await?;
        self.inner.metrics.record_read(events.len());
        Ok(events)
    }

    async fn read_all(&self, read_all: &ReadAll) -> Result<EventPage> {
        let page = read::read_all(self, read_all).await?;
        self.inner.metrics.record_read(page.events.len());
        Ok(page)
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        let event = read::get_event(self, event_id).await?;
        self.inner.metrics.record_read(usize::from(event.is_some()));
        Ok(event)
    }

    async fn head(&self) -> Result<u64> {
        let head = read_head(&self.client().await?, &self.inner.schema).await?;
        self.publish_head(head);
        Ok(head)
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let gauge = self.inner.metrics.subscription_opened();
        Ok(Subscription::spawn(Arc::new(self.clone()), self.inner.head.subscribe(), from, filter, gauge))
    }

    async fn list_streams(&self, query: &chronicle_core::ListStreams) -> Result<chronicle_core::StreamPage> {
        read::list_streams(self, query).await
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        read::stream_info(self, stream).await
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        metadata.validate()?;
        append::change_stream(self, stream, append::Change::Metadata(metadata)).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        append::change_stream(self, stream, append::Change::Delete(expected, mode)).await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        let client = self.client().await?;
        let sql = snapshot_upsert(&self.inner.schema);
        let state = String::from_utf8_lossy(snapshot.state.as_bytes()).into_owned();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&snapshot.stream_id.as_str(), &(snapshot.version as i64), &(snapshot.schema_version as i32), &state];
        client.execute(&sql, &params).await.map_err(db_error)?;
        Ok(())
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        let client = self.client().await?;
        let sql = format!("SELECT version, schema_version, state FROM {}.snapshots WHERE stream_id = $1", self.inner.schema);
        let row = client.query_opt(&sql, &[&stream.as_str()]).await.map_err(db_error)?;
        row.map(|r| {
            Ok(Snapshot {
                stream_id: stream.clone(),
                version: col::<i64>(&r, 0)? as u64,
                schema_version: col::<i32>(&r, 1)? as u32,
                state: chronicle_core::RawJson::from_trusted(bytes::Bytes::from(col::<String>(&r, 2)?)),
            })
        })
        .transpose()
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        validate_consumer_name(consumer)?;
        let client = self.client().await?;
        let sql = format!(
            "INSERT INTO {}.checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
            self.inner.schema
        );
        client.execute(&sql, &[&consumer, &(position as i64)]).await.map_err(db_error)?;
        Ok(())
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        validate_consumer_name(consumer)?;
        let client = self.client().await?;
        let sql = format!("SELECT position FROM {}.checkpoints WHERE name = $1", self.inner.schema);
        Ok(client.query_opt(&sql, &[&consumer]).await.map_err(db_error)?.map(|r| col::<i64>(&r, 0).map(|p| p as u64)).transpose()?)
    }

    async fn health(&self) -> Health {
        let probe = async { self.client().await?.query_one("SELECT 1", &[]).await.map_err(db_error) };
        match tokio::time::timeout(Duration::from_secs(2), probe).await {
            Ok(Ok(_)) => Health::ok(format!("postgres backend, schema {}", self.inner.schema)),
            Ok(Err(e)) => Health { live: true, ready: false, detail: e.to_string() },
            Err(_) => Health { live: true, ready: false, detail: "postgres did not answer within 2 s".into() },
        }
    }

    async fn metrics(&self) -> StoreMetrics {
        self.inner.metrics.snapshot(*self.inner.head.borrow())
    }

    async fn export_log(&self, range: chronicle_core::ExportRange) -> Result<chronicle_core::LogReader> {
        Ok(self.export(range))
    }

    async fn import_log(&self, items: Vec<chronicle_core::LogItem>) -> Result<()> {
        self.import(items).await
    }
}
