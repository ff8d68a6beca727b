//! [`PgKeys`]: data keys in PostgreSQL (`privacy_keys`,
//! `privacy_forgotten` in the store's schema), shared by every node. A
//! forget deletes the rows; PostgreSQL keeps a deleted row's bytes until
//! its space is reused (`VACUUM FULL privacy_keys` rewrites the table).

use crate::{
    Result,
    keystore::{Destroyed, KeyCounts, KeyRecord, KeyStore},
};
use chronicle_core::async_trait;
use chronicle_postgres::{KeyRow, KeyRows};

/// The key store of a PostgreSQL-backed store.
#[derive(Clone, Debug)]
pub struct PgKeys(pub KeyRows);

fn record(r: KeyRow) -> KeyRecord {
    KeyRecord { kid: r.kid, subject: r.subject, generation: r.generation, kek_id: r.kek_id, wrapped: r.wrapped, created_at: r.created_at }
}

fn row(r: KeyRecord) -> KeyRow {
    KeyRow { kid: r.kid, subject: r.subject, generation: r.generation, kek_id: r.kek_id, wrapped: r.wrapped, created_at: r.created_at }
}

fn records(rows: Vec<KeyRow>) -> Vec<KeyRecord> {
    rows.into_iter().map(record).collect()
}

#[async_trait]
impl KeyStore for PgKeys {
    fn describe(&self) -> String {
        self.0.describe()
    }
    async fn current(&self, subjects: &[String]) -> Result<Vec<KeyRecord>> {
        Ok(records(self.0.current(subjects).await?))
    }
    async fn by_kid(&self, kids: &[String]) -> Result<Vec<KeyRecord>> {
        Ok(records(self.0.by_kid(kids).await?))
    }
    async fn create(&self, new: Vec<KeyRecord>, rotate: bool) -> Result<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> = new.into_iter().map(row).collect();
        Ok(records(self.0.create(&rows, rotate).await?))
    }
    async fn forget(&self, subject: &str, through: Option<u32>) -> Result<Destroyed> {
        let (kids, through) = self.0.forget(subject, through).await?;
        Ok(Destroyed { kids, through })
    }
    async fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Result<Vec<KeyRecord>> {
        Ok(records(self.0.not_wrapped_by(kek_id, limit).await?))
    }
    async fn rewrap(&self, rewrapped: Vec<KeyRecord>) -> Result<()> {
        let rows: Vec<KeyRow> = rewrapped.into_iter().map(row).collect();
        Ok(self.0.rewrap(&rows).await?)
    }
    async fn counts(&self) -> Result<KeyCounts> {
        let (subjects, keys, forgotten, by_kek) = self.0.counts().await?;
        Ok(KeyCounts { subjects, keys, forgotten, by_kek: by_kek.into_iter().collect() })
    }
    async fn samples(&self) -> Result<Vec<KeyRecord>> {
        Ok(records(self.0.samples().await?))
    }
    async fn forgotten(&self) -> Result<Vec<(String, u32)>> {
        Ok(self.0.forgotten().await?)
    }
    async fn records(&self) -> Result<Vec<KeyRecord>> {
        Ok(records(self.0.all().await?))
    }
    async fn import(&self, new: Vec<KeyRecord>, forgotten: Vec<(String, u32)>) -> Result<u64> {
        let rows: Vec<KeyRow> = new.into_iter().map(row).collect();
        Ok(self.0.import(&rows, &forgotten).await?)
    }
}
