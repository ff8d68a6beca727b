//! Reclaiming what deletes and retention hid for good: the rows are
//! deleted, a few hundred per statement, then the table is vacuumed so new
//! rows reuse their space.
//!
//! What a stream hides is always a prefix of it (tombstone: all of it; a
//! soft delete, `truncate_before`, `max_count` and `max_age`: the oldest
//! versions, as commit times grow with versions). So each statement takes
//! the stream's first [`BATCH`] rows by version and deletes those the
//! stream's current row hides; fewer deleted than taken means the prefix
//! is gone. The stream row is read `FOR SHARE` in the same statement: a
//! concurrent change of its retention settings waits for the batch (never
//! more than one statement), so a relaxed setting is never overtaken by a
//! delete decided on the old one. Appends to the stream wait for the same
//! short statement; other streams never wait. Positions are never reused:
//! they come from the `head` row, which deletion does not touch.
//!
//! Unhandled consumer-group rows of a deleted event go with it (the event
//! no longer exists to be delivered). Each batch leaves one row in
//! `removed` (stream, first version, positions): exports list those
//! positions, so a copy keeps every later position and version in place.

use crate::{PgStore, col, db_error};
use chronicle_core::{Result, ScavengeReport, Timestamp};

/// Rows looked at (and at most deleted) per statement.
const BATCH: i64 = 500;
/// Streams listed per page.
const PAGE: i64 = 1000;

/// The streams with anything hidden, in id order (after `$1`).
const CANDIDATES: &str = "status = 3 OR deleted_through > 0 OR truncate_before > 1 OR max_count IS NOT NULL OR max_age IS NOT NULL";

impl PgStore {
    /// Deletes the rows of every event hidden for good (tombstoned, soft
    /// deleted, outside its stream's retention) and vacuums the events
    /// table when any went; `progress(done, total)` counts streams. Reads,
    /// appends and subscriptions go on meanwhile.
    pub async fn reclaim(&self, progress: &mut (dyn FnMut(usize, usize) + Send)) -> Result<ScavengeReport> {
        let s = &self.inner.schema;
        let client = self.client().await?;
        let size_sql = format!("SELECT pg_total_relation_size('{s}.events')");
        let bytes_before = col::<i64>(&client.query_one(&size_sql, &[]).await.map_err(db_error)?, 0)? as u64;
        let count_sql = format!("SELECT count(*) FROM {s}.streams WHERE {CANDIDATES}");
        let total = col::<i64>(&client.query_one(&count_sql, &[]).await.map_err(db_error)?, 0)? as usize;
        let list_sql = format!("SELECT stream_id FROM {s}.streams WHERE stream_id > $1 AND ({CANDIDATES}) ORDER BY stream_id LIMIT {PAGE}");
        let delete = delete_sql(s);
        drop(client);
        let mut report = ScavengeReport { bytes_before, ..ScavengeReport::default() };
        let (mut after, mut done) = (String::new(), 0);
        loop {
            let page = self.client().await?.query(&list_sql, &[&after]).await.map_err(db_error)?;
            for row in &page {
                let stream: String = col(row, 0)?;
                loop {
                    let client = self.client().await?;
                    let statement = client.prepare_cached(&delete).await.map_err(db_error)?;
                    let row = client.query_one(&statement, &[&stream, &BATCH, &Timestamp::now().as_micros()]).await.map_err(db_error)?;
                    let (removed, bytes) = (col::<i64>(&row, 0)? as u64, col::<i64>(&row, 1)? as u64);
                    report.events_removed += removed;
                    report.bytes_freed += bytes;
                    if removed < BATCH as u64 {
                        break;
                    }
                }
                done += 1;
                progress(done, total.max(done));
                after = stream;
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        let client = self.client().await?;
        if report.events_removed > 0 {
            // Makes the deleted rows' space reusable now rather than when
            // autovacuum gets round to it (no lock that blocks reads or appends).
            client.batch_execute(&format!("VACUUM {s}.events")).await.map_err(db_error)?;
        }
        report.bytes_after = col::<i64>(&client.query_one(&size_sql, &[]).await.map_err(db_error)?, 0)? as u64;
        Ok(report)
    }
}

/// One batch of one stream (`$1`): of its first `$2` rows, delete those its
/// row hides at time `$3`; returns (rows deleted, their bytes).
fn delete_sql(s: &str) -> String {
    format!(
        "WITH st AS (
            SELECT stream_id, status, deleted_through, truncate_before, max_count, max_age, last_version
            FROM {s}.streams WHERE stream_id = $1 FOR SHARE),
         first AS (SELECT global_position FROM {s}.events WHERE stream_id = $1 ORDER BY version LIMIT $2),
         gone AS (
            DELETE FROM {s}.events e USING st
            WHERE e.global_position IN (SELECT global_position FROM first)
              AND (st.status = 3 OR e.version <= st.deleted_through
                   OR (st.truncate_before IS NOT NULL AND e.version < st.truncate_before)
                   OR (st.max_count IS NOT NULL AND e.version <= st.last_version - st.max_count)
                   OR (st.max_age IS NOT NULL AND e.recorded_at < $3 - st.max_age * 1000000))
            RETURNING e.global_position, e.version, pg_column_size(e.*) AS bytes),
         noted AS (
            INSERT INTO {s}.removed (stream_id, first_version, positions, min_position, max_position)
            SELECT $1, min(version), array_agg(global_position ORDER BY version), min(global_position), max(global_position)
            FROM gone HAVING count(*) > 0),
         unqueued AS (
            DELETE FROM {s}.group_events g USING gone
            WHERE g.group_name IN (SELECT name FROM {s}.groups) AND g.position = gone.global_position)
         SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM gone"
    )
}
