//! [`GroupRows`]: the durable state of consumer groups in PostgreSQL, so
//! consumers may connect to any node. One row per group (its settings as
//! JSON text, how far it has read the log, folded counters), one row per
//! event it has read and not yet handled (pending, or leased to a consumer
//! until a deadline; deleted once handled), one row per connected consumer
//! (heartbeat, counters) and one per pinned stream. Leases are claimed
//! with `FOR UPDATE` row locks (`SKIP LOCKED` for round robin), so nodes
//! never talk to each other. The group logic (what to park, backoff,
//! feeding) is the caller's: this module only speaks SQL. Claims and
//! heartbeats are in `group_claim.rs`.

use crate::{
    PgStore, col, db_error,
    group_claim::{ClaimedRow, claimed},
    read,
};
use chronicle_core::{Error, RecordedEvent, Result, Uuid};
use std::time::Duration;

/// A group's counters, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupRowStatus {
    /// The settings JSON the group was created with.
    pub spec: String,
    /// Every position up to here is handled.
    pub checkpoint: u64,
    /// The last log position read into the group.
    pub read_through: u64,
    /// Rows leased to consumers.
    pub in_flight: u64,
    /// Rows not yet handled.
    pub buffered: u64,
    /// Consumers with a live heartbeat, on every node.
    pub consumers: u64,
    /// Deliveries ever made.
    pub delivered: u64,
    /// Deliveries of events delivered before.
    pub redeliveries: u64,
}

/// SQL access to the consumer-group tables of one store's schema.
#[derive(Clone, Debug)]
pub struct GroupRows {
    pub(crate) store: PgStore,
}

/// Joins a group's rows (`g`) to the events (`e`) of the ids in `$2`
/// (found through `events.event_id`; the rows have no index on it).
const BY_ID: &str = "e.event_id = ANY($2) AND g.group_name = $1 AND g.position = e.global_position";

fn ids_of(ids: &[Uuid]) -> Vec<Uuid> {
    ids.to_vec()
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl PgStore {
    /// The consumer-group tables of this store.
    pub fn group_rows(&self) -> GroupRows {
        GroupRows { store: self.clone() }
    }
}

impl GroupRows {
    pub(crate) fn s(&self) -> &str {
        &self.store.inner.schema
    }

    /// Creates a group reading after `read_through`; `false` if it exists.
    pub async fn create(&self, name: &str, spec: &str, read_through: u64) -> Result<bool> {
        self.create_holding(name, spec, read_through, &[]).await
    }

    /// Creates a group that already read through `read_through` and holds
    /// `unhandled` (each with its retry count), in one transaction (a
    /// group brought over from another store); `false` if it exists.
    pub async fn create_holding(&self, name: &str, spec: &str, read_through: u64, unhandled: &[(&RecordedEvent, u32)]) -> Result<bool> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let sql = format!("INSERT INTO {s}.groups (name, spec, read_through) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        if tx.execute(&sql, &[&name, &spec, &(read_through as i64)]).await.map_err(db_error)? == 0 {
            return Ok(false);
        }
        if unhandled.is_empty() {
            tx.commit().await.map_err(db_error)?;
            return Ok(true);
        }
        let positions: Vec<i64> = unhandled.iter().map(|(e, _)| e.global_position as i64).collect();
        let ids: Vec<Uuid> = unhandled.iter().map(|(e, _)| e.event_id).collect();
        let streams: Vec<&str> = unhandled.iter().map(|(e, _)| e.stream_id.as_str()).collect();
        let retries: Vec<i32> = unhandled.iter().map(|(_, r)| *r as i32).collect();
        let sql = format!(
            "INSERT INTO {s}.group_events (group_name, position, event_id, stream_id, retries)
             SELECT $1, * FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::int[])"
        );
        tx.execute(&sql, &[&name, &positions, &ids, &streams, &retries]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    /// Changes a group's settings; `false` if it does not exist.
    pub async fn set_spec(&self, name: &str, spec: &str) -> Result<bool> {
        let client = self.store.client().await?;
        let sql = format!("UPDATE {}.groups SET spec = $2 WHERE name = $1", self.s());
        Ok(client.execute(&sql, &[&name, &spec]).await.map_err(db_error)? == 1)
    }

    /// Deletes a group and every row of it; `false` if it did not exist.
    pub async fn delete(&self, name: &str) -> Result<bool> {
        let client = self.store.client().await?;
        let sql = format!("DELETE FROM {}.groups WHERE name = $1", self.s());
        Ok(client.execute(&sql, &[&name]).await.map_err(db_error)? == 1)
    }

    /// Every group's name and settings JSON, by name.
    pub async fn list(&self) -> Result<Vec<(String, String)>> {
        let client = self.store.client().await?;
        let rows = client.query(&format!("SELECT name, spec FROM {}.groups ORDER BY name", self.s()), &[]).await.map_err(db_error)?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    /// A group's settings JSON, or `None` when it does not exist.
    pub async fn spec(&self, name: &str) -> Result<Option<String>> {
        let client = self.store.client().await?;
        let sql = format!("SELECT spec FROM {}.groups WHERE name = $1", self.s());
        client.query_opt(&sql, &[&name]).await.map_err(db_error)?.map(|r| col(&r, 0)).transpose()
    }

    /// A group's stored status, or `None`.
    pub async fn status(&self, name: &str) -> Result<Option<GroupRowStatus>> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql = format!(
            "SELECT g.spec, g.read_through,
                COALESCE((SELECT min(position) - 1 FROM {s}.group_events WHERE group_name = g.name AND NOT replayed), g.read_through),
                (SELECT count(*) FROM {s}.group_events WHERE group_name = g.name AND consumer IS NOT NULL),
                (SELECT count(*) FROM {s}.group_events WHERE group_name = g.name),
                (SELECT count(*) FROM {s}.group_consumers WHERE group_name = g.name),
                g.delivered + COALESCE((SELECT sum(delivered) FROM {s}.group_consumers WHERE group_name = g.name), 0)::bigint,
                g.redeliveries + COALESCE((SELECT sum(redeliveries) FROM {s}.group_consumers WHERE group_name = g.name), 0)::bigint
             FROM {s}.groups g WHERE g.name = $1"
        );
        let Some(r) = client.query_opt(&sql, &[&name]).await.map_err(db_error)? else { return Ok(None) };
        let n = |i| col::<i64>(&r, i).map(|v| v.max(0) as u64);
        Ok(Some(GroupRowStatus {
            spec: col(&r, 0)?,
            read_through: n(1)?,
            checkpoint: n(2)?,
            in_flight: n(3)?,
            buffered: n(4)?,
            consumers: n(5)?,
            delivered: n(6)?,
            redeliveries: n(7)?,
        }))
    }

    /// How far the group has read, and how many rows it has not handled.
    pub async fn fill(&self, name: &str) -> Result<Option<(u64, u64)>> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql =
            format!("SELECT read_through, (SELECT count(*) FROM {s}.group_events WHERE group_name = $1) FROM {s}.groups WHERE name = $1");
        let Some(r) = client.query_opt(&sql, &[&name]).await.map_err(db_error)? else { return Ok(None) };
        Ok(Some((col::<i64>(&r, 0)? as u64, col::<i64>(&r, 1)? as u64)))
    }

    /// Adds the events a group wants (`rows`) and moves its read position
    /// to `read_through`, in one transaction. Refused once the group is
    /// deleted.
    pub async fn feed(&self, name: &str, events: &[&RecordedEvent], read_through: u64) -> Result<()> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let moved = tx
            .execute(
                &format!("UPDATE {s}.groups SET read_through = GREATEST(read_through, $2) WHERE name = $1"),
                &[&name, &(read_through as i64)],
            )
            .await
            .map_err(db_error)?;
        if moved == 0 {
            return Err(Error::NotFound { what: format!("consumer group {name}") });
        }
        if !events.is_empty() {
            let positions: Vec<i64> = events.iter().map(|e| e.global_position as i64).collect();
            let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
            let streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
            let sql = format!(
                "INSERT INTO {s}.group_events (group_name, position, event_id, stream_id)
                 SELECT $1, * FROM unnest($2::bigint[], $3::uuid[], $4::text[]) ON CONFLICT DO NOTHING"
            );
            tx.execute(&sql, &[&name, &positions, &ids, &streams]).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    /// An event replayed from the parking lot, delivered once more.
    pub async fn insert_replay(&self, name: &str, event: &RecordedEvent) -> Result<()> {
        let client = self.store.client().await?;
        let sql = format!(
            "INSERT INTO {}.group_events (group_name, position, event_id, stream_id, replayed) VALUES ($1, $2, $3, $4, true)
             ON CONFLICT DO NOTHING",
            self.s()
        );
        client
            .execute(&sql, &[&name, &(event.global_position as i64), &event.event_id, &event.stream_id.as_str()])
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Which of `ids` have a row (not yet handled).
    pub async fn held(&self, name: &str, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let client = self.store.client().await?;
        let s = self.s();
        let sql = format!("SELECT g.event_id FROM {s}.group_events g JOIN {s}.events e ON {BY_ID}");
        let rows = client.query(&sql, &[&name, &ids_of(ids)]).await.map_err(db_error)?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    /// Registers a consumer of `node`.
    pub async fn join(&self, name: &str, consumer: &str, node: &str) -> Result<()> {
        let client = self.store.client().await?;
        let sql = format!("INSERT INTO {}.group_consumers (group_name, consumer, node) VALUES ($1, $2, $3)", self.s());
        match client.execute(&sql, &[&name, &consumer, &node]).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
                Err(Error::NotFound { what: format!("consumer group {name}") })
            }
            Err(e) => Err(db_error(e)),
        }
    }

    /// Deletes the rows of `ids` that were not replayed (handled); returns
    /// the replayed ones, still there (record them, then [`GroupRows::remove`]).
    pub async fn ack(&self, name: &str, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql = format!(
            "WITH gone AS (DELETE FROM {s}.group_events g USING {s}.events e WHERE {BY_ID} AND NOT g.replayed RETURNING 1)
             SELECT g.event_id FROM {s}.group_events g JOIN {s}.events e ON {BY_ID} AND g.replayed"
        );
        let rows = client.query(&sql, &[&name, &ids_of(ids)]).await.map_err(db_error)?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    /// Deletes the rows of `ids` (handled, parked or replayed and recorded).
    pub async fn remove(&self, name: &str, ids: &[Uuid]) -> Result<()> {
        let client = self.store.client().await?;
        let s = self.s();
        let sql = format!("DELETE FROM {s}.group_events g USING {s}.events e WHERE {BY_ID}");
        client.execute(&sql, &[&name, &ids_of(ids)]).await.map_err(db_error)?;
        Ok(())
    }

    /// The rows of `ids` with their events (to park them).
    pub async fn rows_of(&self, name: &str, ids: &[Uuid]) -> Result<Vec<ClaimedRow>> {
        self.select_rows(name, "e.event_id = ANY($2)", &ids_of(ids)).await
    }

    /// Rows whose failed deliveries exceed `max_retries`: to park.
    pub async fn over_limit(&self, name: &str, max_retries: u64) -> Result<Vec<ClaimedRow>> {
        let max = max_retries.min(i32::MAX as u64) as i32;
        self.select_rows(name, "g.consumer IS NULL AND g.retries > $2", &max).await
    }

    async fn select_rows(&self, name: &str, condition: &str, arg: &(dyn tokio_postgres::types::ToSql + Sync)) -> Result<Vec<ClaimedRow>> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql = format!(
            "SELECT {}, g.retries, g.replayed FROM {s}.group_events g JOIN {s}.events e ON e.global_position = g.position
             WHERE g.group_name = $1 AND {condition} ORDER BY g.position LIMIT 1000",
            read::COLS
        );
        let rows = client.query(&sql, &[&name, arg]).await.map_err(db_error)?;
        rows.iter().map(claimed).collect()
    }

    /// Sends rows back to pending with one more failed delivery, each due
    /// after its delay (`None`: at once).
    pub async fn release(&self, name: &str, rows: &[(Uuid, Option<Duration>)]) -> Result<()> {
        let s = self.s();
        let client = self.store.client().await?;
        let ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
        let delays: Vec<f64> = rows.iter().map(|(_, d)| d.map_or(0.0, ms)).collect();
        let sql = format!(
            "UPDATE {s}.group_events g SET consumer = NULL, lease_until = NULL, retries = g.retries + 1,
                not_before = CASE WHEN r.delay > 0 THEN now() + r.delay * interval '1 millisecond' END
             FROM unnest($2::uuid[], $3::float8[]) AS r(id, delay) JOIN {s}.events e ON e.event_id = r.id
             WHERE g.group_name = $1 AND g.position = e.global_position"
        );
        client.execute(&sql, &[&name, &ids, &delays]).await.map_err(db_error)?;
        Ok(())
    }

    /// Leases past their deadline go back to pending, one failed delivery more.
    pub async fn expire(&self, name: &str) -> Result<u64> {
        let client = self.store.client().await?;
        let sql = format!(
            "UPDATE {}.group_events SET consumer = NULL, lease_until = NULL, retries = retries + 1
             WHERE group_name = $1 AND consumer IS NOT NULL AND lease_until < now()",
            self.s()
        );
        client.execute(&sql, &[&name]).await.map_err(db_error)
    }

    /// A consumer left (or was silent for `stale`: see [`GroupRows::reap`]):
    /// what it held goes back to pending, its pins and row go, its counters
    /// fold into the group's.
    pub async fn leave(&self, name: &str, consumer: &str) -> Result<()> {
        self.leave_counting(name, consumer, 0, 0).await
    }

    /// [`GroupRows::leave`], adding the counts not yet reported.
    pub async fn leave_counting(&self, name: &str, consumer: &str, delivered: u64, redelivered: u64) -> Result<()> {
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute(
            &format!(
                "UPDATE {s}.group_events SET consumer = NULL, lease_until = NULL, retries = retries + 1 WHERE group_name = $1 AND consumer = $2"
            ),
            &[&name, &consumer],
        )
        .await
        .map_err(db_error)?;
        let sql = format!(
            "WITH gone AS (DELETE FROM {s}.group_consumers WHERE group_name = $1 AND consumer = $2 RETURNING delivered, redeliveries)
             UPDATE {s}.groups g SET delivered = g.delivered + gone.delivered + $3, redeliveries = g.redeliveries + gone.redeliveries + $4
             FROM gone WHERE g.name = $1"
        );
        tx.execute(&sql, &[&name, &consumer, &(delivered as i64), &(redelivered as i64)]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    /// Consumers silent for longer than `stale` (their node died) leave.
    pub async fn reap(&self, name: &str, stale: Duration) -> Result<Vec<String>> {
        let client = self.store.client().await?;
        let sql = format!(
            "SELECT consumer FROM {}.group_consumers WHERE group_name = $1 AND seen_at < now() - $2 * interval '1 millisecond'",
            self.s()
        );
        let dead: Vec<String> =
            client.query(&sql, &[&name, &ms(stale)]).await.map_err(db_error)?.iter().map(|r| col(r, 0)).collect::<Result<_>>()?;
        drop(client);
        for consumer in &dead {
            self.leave(name, consumer).await?;
        }
        Ok(dead)
    }
}
