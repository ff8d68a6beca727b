//! [`KeyRows`]: the privacy layer's data keys in PostgreSQL
//! (`privacy_keys`, `privacy_forgotten`), shared by every node. This
//! module only speaks SQL; wrapping and unwrapping are the caller's.

use crate::{PgStore, col, db_error};
use chronicle_core::{Result, Timestamp};

/// One stored data key (wrapped).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// Subject.
    pub subject: String,
    /// Generation (numbered by the store).
    pub generation: u32,
    /// Id of the wrapping KEK.
    pub kek_id: String,
    /// The wrapped key.
    pub wrapped: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow").field("kid", &self.kid).field("generation", &self.generation).finish_non_exhaustive()
    }
}

/// SQL access to the key tables of one store's schema.
#[derive(Clone, Debug)]
pub struct KeyRows {
    store: PgStore,
}

const COLUMNS: &str = "kid, subject, generation, kek_id, wrapped, created_at";

fn row(r: &tokio_postgres::Row) -> Result<KeyRow> {
    Ok(KeyRow {
        kid: col(r, 0)?,
        subject: col(r, 1)?,
        generation: col::<i32>(r, 2)? as u32,
        kek_id: col(r, 3)?,
        wrapped: col(r, 4)?,
        created_at: Timestamp::from_micros(col(r, 5)?),
    })
}

impl PgStore {
    /// The privacy key tables of this store.
    pub fn key_rows(&self) -> KeyRows {
        KeyRows { store: self.clone() }
    }
}

impl KeyRows {
    fn s(&self) -> &str {
        self.store.schema()
    }

    /// `schema.privacy_keys`, for messages.
    pub fn describe(&self) -> String {
        format!("postgres table {}.privacy_keys", self.s())
    }

    async fn select(&self, filter: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<KeyRow>> {
        let client = self.store.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM {}.privacy_keys k {filter}", self.s());
        client.query(&sql, params).await.map_err(db_error)?.iter().map(row).collect()
    }

    /// The newest key of each subject that has one.
    pub async fn current(&self, subjects: &[String]) -> Result<Vec<KeyRow>> {
        let s = self.s();
        let filter = format!(
            "WHERE subject = ANY($1) AND generation = (SELECT max(generation) FROM {s}.privacy_keys m WHERE m.subject = k.subject)"
        );
        self.select(&filter, &[&subjects]).await
    }

    /// The keys with these ids.
    pub async fn by_kid(&self, kids: &[String]) -> Result<Vec<KeyRow>> {
        self.select("WHERE kid = ANY($1)", &[&kids]).await
    }

    /// Stores each key as its subject's next generation (past every
    /// destroyed one), unless `rotate` is false and the subject has a key:
    /// returns the keys as stored (another node's when it was first).
    pub async fn create(&self, rows: &[KeyRow], rotate: bool) -> Result<Vec<KeyRow>> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let insert = format!(
            "INSERT INTO {s}.privacy_keys ({COLUMNS})
             SELECT $1, $2, greatest((SELECT max(generation) FROM {s}.privacy_keys WHERE subject = $2),
                                     (SELECT through FROM {s}.privacy_forgotten WHERE subject = $2), 0) + 1, $3, $4, $5
             WHERE $6 OR NOT EXISTS (SELECT 1 FROM {s}.privacy_keys WHERE subject = $2)
             ON CONFLICT (subject, generation) DO NOTHING"
        );
        let current = format!("SELECT {COLUMNS} FROM {s}.privacy_keys WHERE subject = $1 ORDER BY generation DESC LIMIT 1");
        let mut stored = Vec::with_capacity(rows.len());
        for r in rows {
            tx.execute(&insert, &[&r.kid, &r.subject, &r.kek_id, &r.wrapped, &r.created_at.as_micros(), &rotate])
                .await
                .map_err(db_error)?;
            let found = tx.query_one(&current, &[&r.subject]).await.map_err(db_error)?;
            stored.push(row(&found)?);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    /// Deletes the subject's keys up to generation `through` (all when
    /// `None`) and marks it forgotten; returns the ids deleted and the
    /// generation it is forgotten through.
    pub async fn forget(&self, subject: &str, through: Option<u32>) -> Result<(Vec<String>, u32)> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let all = format!(
            "SELECT greatest((SELECT max(generation) FROM {s}.privacy_keys WHERE subject = $1),
                             (SELECT through FROM {s}.privacy_forgotten WHERE subject = $1), 0)"
        );
        let through: i32 = match through {
            Some(t) => t as i32,
            None => col(&tx.query_one(&all, &[&subject]).await.map_err(db_error)?, 0)?,
        };
        let delete = format!("DELETE FROM {s}.privacy_keys WHERE subject = $1 AND generation <= $2 RETURNING kid");
        let mut kids: Vec<String> =
            tx.query(&delete, &[&subject, &through]).await.map_err(db_error)?.iter().map(|r| col(r, 0)).collect::<Result<_>>()?;
        kids.sort();
        let mark = format!(
            "INSERT INTO {s}.privacy_forgotten (subject, through) VALUES ($1, $2)
             ON CONFLICT (subject) DO UPDATE SET through = greatest({s}.privacy_forgotten.through, excluded.through)"
        );
        tx.execute(&mark, &[&subject, &through]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok((kids, through as u32))
    }

    /// Up to `limit` keys not wrapped by `kek_id`.
    pub async fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Result<Vec<KeyRow>> {
        self.select("WHERE kek_id <> $1 ORDER BY kid LIMIT $2", &[&kek_id, &(limit as i64)]).await
    }

    /// Replaces the wrapping of stored keys, in one transaction.
    pub async fn rewrap(&self, rows: &[KeyRow]) -> Result<()> {
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let sql = format!("UPDATE {}.privacy_keys SET wrapped = $2, kek_id = $3 WHERE kid = $1", self.s());
        for r in rows {
            tx.execute(&sql, &[&r.kid, &r.wrapped, &r.kek_id]).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    /// (subjects with keys, keys, forgotten subjects, keys per KEK id).
    pub async fn counts(&self) -> Result<(u64, u64, u64, Vec<(String, u64)>)> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql = format!("SELECT count(DISTINCT subject), count(*), (SELECT count(*) FROM {s}.privacy_forgotten) FROM {s}.privacy_keys");
        let r = client.query_one(&sql, &[]).await.map_err(db_error)?;
        let n = |i: usize| col::<i64>(&r, i).map(|v| v as u64);
        let by = format!("SELECT kek_id, count(*) FROM {s}.privacy_keys GROUP BY kek_id ORDER BY kek_id");
        let by_kek = client
            .query(&by, &[])
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| Ok((col(r, 0)?, col::<i64>(r, 1)? as u64)))
            .collect::<Result<_>>()?;
        Ok((n(0)?, n(1)?, n(2)?, by_kek))
    }

    /// One key per KEK id in use.
    pub async fn samples(&self) -> Result<Vec<KeyRow>> {
        let s = self.s();
        self.select(&format!("WHERE kid IN (SELECT min(kid) FROM {s}.privacy_keys GROUP BY kek_id)"), &[]).await
    }

    /// Every forgotten subject and its generation.
    pub async fn forgotten(&self) -> Result<Vec<(String, u32)>> {
        let client = self.store.client().await?;
        let sql = format!("SELECT subject, through FROM {}.privacy_forgotten", self.s());
        client.query(&sql, &[]).await.map_err(db_error)?.iter().map(|r| Ok((col(r, 0)?, col::<i32>(r, 1)? as u32))).collect()
    }

    /// Every key.
    pub async fn all(&self) -> Result<Vec<KeyRow>> {
        self.select("ORDER BY subject, generation", &[]).await
    }

    /// Adds keys as numbered elsewhere (an id or a subject's generation
    /// taken here, or a generation forgotten here, is left out), then
    /// applies `forgotten` marks; one transaction. Returns the keys added.
    pub async fn import(&self, rows: &[KeyRow], forgotten: &[(String, u32)]) -> Result<u64> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let insert = format!(
            "INSERT INTO {s}.privacy_keys ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6
             WHERE $3 > coalesce((SELECT through FROM {s}.privacy_forgotten WHERE subject = $2), 0)
             ON CONFLICT DO NOTHING"
        );
        let mut added = 0;
        for r in rows {
            let generation = r.generation as i32;
            added += tx
                .execute(&insert, &[&r.kid, &r.subject, &generation, &r.kek_id, &r.wrapped, &r.created_at.as_micros()])
                .await
                .map_err(db_error)?;
        }
        let delete = format!("DELETE FROM {s}.privacy_keys WHERE subject = $1 AND generation <= $2");
        let mark = format!(
            "INSERT INTO {s}.privacy_forgotten (subject, through) VALUES ($1, $2)
             ON CONFLICT (subject) DO UPDATE SET through = greatest({s}.privacy_forgotten.through, excluded.through)"
        );
        for (subject, through) in forgotten {
            let through = *through as i32;
            tx.execute(&delete, &[subject, &through]).await.map_err(db_error)?;
            tx.execute(&mark, &[subject, &through]).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(added)
    }
}
