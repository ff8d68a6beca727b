//! Claiming a group's rows for a consumer, and the heartbeat that comes
//! before each claim (see `group_rows.rs` for the tables).

use crate::{GroupRows, col, db_error, group_rows::ms, read};
use chronicle_core::{RecordedEvent, Result};
use std::time::Duration;

/// One delivery claimed from the rows.
#[derive(Clone, Debug)]
pub struct ClaimedRow {
    /// The event.
    pub event: RecordedEvent,
    /// Failed deliveries before this one.
    pub retries: u32,
    /// Replayed from the parking lot.
    pub replayed: bool,
}

/// What a consumer's heartbeat learns: how many rows it holds, how many
/// consumers the group has and where this one ranks (to share streams),
/// and the group's settings.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    /// Rows leased to this consumer.
    pub held: u64,
    /// Consumers of the group.
    pub consumers: u64,
    /// This consumer's rank among them (by id).
    pub rank: u64,
    /// The group's settings JSON.
    pub spec: String,
}

/// How a claim picks rows.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRules {
    /// At most this many rows.
    pub limit: u64,
    /// Leased for this long.
    pub lease: Duration,
    /// Rows with more failed deliveries wait to be parked.
    pub max_retries: u64,
    /// Keep each stream on one consumer, in order (else round robin).
    pub pinned: bool,
}

/// A claimed row as `SELECT {read::COLS}, g.retries, g.replayed` returns it.
pub(crate) fn claimed(r: &tokio_postgres::Row) -> Result<ClaimedRow> {
    Ok(ClaimedRow { event: read::event(r)?, retries: col::<i32>(r, 9)?.max(0) as u32, replayed: col(r, 10)? })
}

impl GroupRows {
    /// A consumer is alive (adding its new counts); `None` when it is
    /// not registered (reaped, or the group deleted).
    pub async fn heartbeat(&self, name: &str, consumer: &str, delivered: u64, redelivered: u64) -> Result<Option<Heartbeat>> {
        let s = self.s();
        let client = self.store.client().await?;
        let sql = format!(
            "UPDATE {s}.group_consumers c SET seen_at = now(), delivered = c.delivered + $3, redeliveries = c.redeliveries + $4
             FROM {s}.groups g WHERE c.group_name = $1 AND c.consumer = $2 AND g.name = $1
             RETURNING (SELECT count(*) FROM {s}.group_events WHERE group_name = $1 AND consumer = $2),
                (SELECT count(*) FROM {s}.group_consumers WHERE group_name = $1),
                (SELECT count(*) FROM {s}.group_consumers WHERE group_name = $1 AND consumer < $2),
                g.spec"
        );
        let row = client.query_opt(&sql, &[&name, &consumer, &(delivered as i64), &(redelivered as i64)]).await.map_err(db_error)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Heartbeat {
            held: col::<i64>(&r, 0)? as u64,
            consumers: col::<i64>(&r, 1)? as u64,
            rank: col::<i64>(&r, 2)? as u64,
            spec: col(&r, 3)?,
        }))
    }

    /// Leases rows to `consumer` (ranked `rank` of `consumers`), oldest
    /// first, with their events.
    pub async fn claim(&self, name: &str, consumer: &str, beat: &Heartbeat, rules: ClaimRules) -> Result<Vec<ClaimedRow>> {
        if rules.limit == 0 {
            return Ok(Vec::new());
        }
        let s = self.s();
        let mut client = self.store.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let (limit, max) = (rules.limit as i64, rules.max_retries.min(i32::MAX as u64) as i32);
        let positions: Vec<i64> = if rules.pinned {
            // A pin lasts while its consumer holds events of the stream:
            // then the stream is placed again among the consumers of now.
            let sql = format!(
                "DELETE FROM {s}.group_pins p WHERE p.group_name = $1 AND p.consumer = $2 AND NOT EXISTS
                   (SELECT 1 FROM {s}.group_events e WHERE e.group_name = $1 AND e.stream_id = p.stream_id AND e.consumer = $2)"
            );
            tx.execute(&sql, &[&name, &consumer]).await.map_err(db_error)?;
            // Streams pinned to this consumer, or unpinned ones its rank
            // owns; never past an earlier event of the stream that waits.
            let sql = format!(
                "SELECT e.position, e.stream_id FROM {s}.group_events e
                 LEFT JOIN {s}.group_pins p ON p.group_name = e.group_name AND p.stream_id = e.stream_id
                 WHERE e.group_name = $1 AND e.consumer IS NULL AND e.retries <= $3 AND (e.not_before IS NULL OR e.not_before <= now())
                   AND (p.consumer = $2 OR (p.consumer IS NULL AND (hashtext(e.stream_id)::bigint & 2147483647) % $5 = $6))
                   AND NOT EXISTS (SELECT 1 FROM {s}.group_events b WHERE b.group_name = e.group_name AND b.stream_id = e.stream_id
                       AND b.position < e.position AND b.consumer IS NULL AND (b.retries > $3 OR b.not_before > now()))
                 ORDER BY e.position LIMIT $4 FOR UPDATE OF e"
            );
            let (n, rank) = (beat.consumers.max(1) as i64, beat.rank as i64);
            let rows = tx.query(&sql, &[&name, &consumer, &max, &limit, &n, &rank]).await.map_err(db_error)?;
            let picked: Vec<(i64, String)> = rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect::<Result<_>>()?;
            let mut streams: Vec<&str> = picked.iter().map(|(_, s)| s.as_str()).collect();
            streams.sort_unstable();
            streams.dedup();
            // Take the unpinned streams; a concurrent claim may win some.
            let sql = format!(
                "WITH taken AS (INSERT INTO {s}.group_pins (group_name, stream_id, consumer) SELECT $1, unnest($2::text[]), $3
                   ON CONFLICT DO NOTHING RETURNING stream_id)
                 SELECT stream_id FROM taken UNION SELECT stream_id FROM {s}.group_pins
                 WHERE group_name = $1 AND consumer = $3 AND stream_id = ANY($2)"
            );
            let mine: Vec<String> =
                tx.query(&sql, &[&name, &streams, &consumer]).await.map_err(db_error)?.iter().map(|r| col(r, 0)).collect::<Result<_>>()?;
            picked.into_iter().filter(|(_, s)| mine.contains(s)).map(|(p, _)| p).collect()
        } else {
            let sql = format!(
                "SELECT position FROM {s}.group_events
                 WHERE group_name = $1 AND consumer IS NULL AND retries <= $2 AND (not_before IS NULL OR not_before <= now())
                 ORDER BY position LIMIT $3 FOR UPDATE SKIP LOCKED"
            );
            tx.query(&sql, &[&name, &max, &limit]).await.map_err(db_error)?.iter().map(|r| col(r, 0)).collect::<Result<_>>()?
        };
        if positions.is_empty() {
            tx.commit().await.map_err(db_error)?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE {s}.group_events g SET consumer = $2, lease_until = now() + $3 * interval '1 millisecond', not_before = NULL
             FROM {s}.events e WHERE g.group_name = $1 AND g.position = ANY($4) AND e.global_position = g.position
             RETURNING {}, g.retries, g.replayed",
            read::COLS
        );
        let rows = tx.query(&sql, &[&name, &consumer, &ms(rules.lease), &positions]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut out = rows.iter().map(claimed).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|c| c.event.global_position);
        Ok(out)
    }
}
