//! A PostgreSQL read model: model update and checkpoint in one
//! transaction. Crash the runner in the middle of an event's transaction,
//! restart, and the table equals a rebuild; rebuild-and-swap by table rename.

use chronicle_core::{EventStore, ExpectedVersion as Ev, RecordedEvent, async_trait};
use chronicle_testkit::{event, sid};
use chronicle_toolkit::{MemoryProjection, PgProjection, PgReadModel, Projection, ProjectionRunner};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use std::{
    collections::BTreeMap,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn pool() -> Option<(Pool, String)> {
    let config = tokio_postgres::Config::from_str(&url()).unwrap();
    let pool =
        Pool::builder(Manager::from_config(config, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast }))
            .max_size(4)
            .build()
            .unwrap();
    let client = chronicle_testkit::service_or_skip("PostgreSQL", pool.get().await)?;
    let schema = format!("proj_{}", chronicle_core::Uuid::now_v7().simple());
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    Some((pool, schema))
}

async fn drop_schema(pool: &Pool, schema: &str) {
    let client = pool.get().await.unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE; DELETE FROM chronicle_projection_checkpoints WHERE name LIKE '{schema}%'"))
        .await
        .unwrap();
}

/// Per-stream sum of positions in `{schema}.{table}`; hangs inside the
/// transaction of position `hang_at` (once), after writing the row.
struct Totals {
    table: std::sync::Mutex<String>,
    schema: String,
    hang_at: u64,
    hung: AtomicBool,
    reached: Arc<AtomicU64>,
}

impl Totals {
    fn new(schema: &str, table: &str, hang_at: u64) -> Self {
        Self { table: table.to_owned().into(), schema: schema.to_owned(), hang_at, hung: AtomicBool::new(false), reached: Arc::default() }
    }
    fn table(&self) -> String {
        format!("{}.{}", self.schema, self.table.lock().unwrap())
    }
}

#[async_trait]
impl PgReadModel for Totals {
    async fn setup(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        tx.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {} (stream text PRIMARY KEY, total bigint NOT NULL)", self.table())).await
    }
    async fn handle(&self, tx: &Transaction<'_>, e: &RecordedEvent) -> Result<(), String> {
        let sql = format!("INSERT INTO {} VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE SET total = {0}.total + $2", self.table());
        tx.execute(&sql, &[&e.stream_id.as_str(), &(e.global_position as i64)]).await.map_err(|e| e.to_string())?;
        self.reached.store(e.global_position, Ordering::SeqCst);
        if e.global_position == self.hang_at && !self.hung.swap(true, Ordering::SeqCst) {
            std::future::pending::<()>().await; // the process "dies" mid-transaction
        }
        Ok(())
    }
    async fn clear(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        tx.batch_execute(&format!("TRUNCATE {}", self.table())).await
    }
    async fn promote(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {s}.totals; ALTER TABLE {} RENAME TO totals", self.table(), s = self.schema))
            .await?;
        *self.table.lock().unwrap() = "totals".into();
        Ok(())
    }
}

async fn table(pool: &Pool, schema: &str) -> BTreeMap<String, u64> {
    let client = pool.get().await.unwrap();
    let rows = client.query(&format!("SELECT stream, total FROM {schema}.totals"), &[]).await.unwrap();
    rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect()
}

async fn reference(store: &Arc<dyn EventStore>) -> BTreeMap<String, u64> {
    let fresh = Arc::new(MemoryProjection::new("reference", |m: &mut BTreeMap<String, u64>, e: &RecordedEvent| {
        *m.entry(e.stream_id.to_string()).or_default() += e.global_position;
        Ok(())
    }));
    let running = ProjectionRunner::new(store.clone()).start(fresh.clone());
    running.wait_for(store.head().await.unwrap()).await.unwrap();
    running.stop().await.unwrap();
    fresh.model().into_iter().filter(|(k, _)| !k.starts_with('$')).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_transaction_then_restart_equals_a_rebuild_and_rebuild_swaps_tables() {
    let Some((pool, schema)) = pool().await else { return };
    let store: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::new());
    for i in 0..400u64 {
        store.append(&sid(&format!("s-{}", i % 9)), Ev::Any, vec![event("T", i)]).await.unwrap();
    }
    let name = format!("{schema}_totals");
    let model = Totals::new(&schema, "totals", 173);
    let reached = model.reached.clone();
    let projection = Arc::new(PgProjection::new(pool.clone(), &name, model).await.unwrap());
    let runner = ProjectionRunner::new(store.clone());
    let running = runner.start(projection.clone());
    while reached.load(Ordering::SeqCst) < 173 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort();
    tokio::time::sleep(Duration::from_millis(100)).await; // the dropped transaction rolls back
    assert_eq!(projection.checkpoint().await.unwrap(), 172, "173's row and checkpoint were never committed");
    let running = runner.start(projection.clone());
    running.wait_for(400).await.unwrap();
    assert_eq!(table(&pool, &schema).await, reference(&store).await);

    // Rebuild into a second table while the first serves, then swap.
    let fresh = Arc::new(PgProjection::rebuilding(pool.clone(), &name, Totals::new(&schema, "totals_next", 0)).await.unwrap());
    let running = runner.rebuild(running, fresh.clone()).await.unwrap();
    let p = store.append(&sid("s-1"), Ev::Any, vec![event("T", 1)]).await.unwrap().last_position;
    running.wait_for(p).await.unwrap();
    running.stop().await.unwrap();
    assert_eq!(table(&pool, &schema).await, reference(&store).await);
    assert_eq!(fresh.checkpoint().await.unwrap(), projection.checkpoint().await.unwrap().max(p), "the promoted checkpoint is the live one");
    drop_schema(&pool, &schema).await;
}
