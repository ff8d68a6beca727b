//! Stream rows: locking them (appends and lifecycle changes), DCB condition
//! checks, and stream lifecycle changes.

use crate::{PgStore, col, db_error};
use chronicle_core::{DeleteMode, Error, EventQuery, ExpectedVersion, Result, StreamId, StreamInfo, StreamMetadata, StreamStatus, Uuid};
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

pub(crate) fn status_of(code: i16) -> StreamStatus {
    match code {
        1 => StreamStatus::Active,
        2 => StreamStatus::SoftDeleted,
        3 => StreamStatus::Tombstoned,
        _ => StreamStatus::Absent,
    }
}

pub(crate) fn status_code(s: StreamStatus) -> i16 {
    match s {
        StreamStatus::Absent => 0,
        StreamStatus::Active => 1,
        StreamStatus::SoftDeleted => 2,
        StreamStatus::Tombstoned => 3,
    }
}

/// A stream row: its info plus how far a soft delete reached.
pub(crate) struct StreamRow {
    pub(crate) info: StreamInfo,
    pub(crate) deleted_through: u64,
}

pub(crate) fn stream_row(r: &tokio_postgres::Row) -> Result<StreamRow> {
    let opt = |i: usize| col::<Option<i64>>(r, i).map(|v| v.map(|v| v as u64));
    Ok(StreamRow {
        info: StreamInfo {
            last_version: col::<i64>(r, 1)? as u64,
            status: status_of(col(r, 2)?),
            metadata: StreamMetadata { max_age: opt(4)?, max_count: opt(5)?, truncate_before: opt(6)? },
        },
        deleted_through: col::<i64>(r, 3)? as u64,
    })
}

pub(crate) const STREAM_COLS: &str = "stream_id, last_version, status, deleted_through, max_age, max_count, truncate_before";

/// Creates missing stream rows, locks them all (sorted, so concurrent
/// multi-stream appends cannot deadlock) and looks up `ids`, pipelined in
/// one round trip.
pub(crate) async fn lock_streams(
    tx: &impl deadpool_postgres::GenericClient,
    s: &str,
    names: &mut Vec<String>,
    ids: &[Uuid],
) -> Result<(HashMap<String, StreamRow>, Vec<tokio_postgres::Row>)> {
    names.sort();
    names.dedup();
    let sql = [
        format!("INSERT INTO {s}.streams (stream_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING"),
        format!("SELECT {STREAM_COLS} FROM {s}.streams WHERE stream_id = ANY($1) ORDER BY stream_id FOR UPDATE"),
        // One index probe per id (LATERAL + LIMIT keeps it a per-row
        // subplan): a plan cached while the table was small must not turn
        // into a scan of the whole table once it is large.
        format!(
            "SELECT e.event_id, e.stream_id, e.version, e.global_position FROM unnest($1::uuid[]) AS i(id)
             CROSS JOIN LATERAL (SELECT * FROM {s}.events x WHERE x.event_id = i.id LIMIT 1) e"
        ),
    ];
    let (create, lock, find) =
        tokio::try_join!(tx.prepare_cached(&sql[0]), tx.prepare_cached(&sql[1]), tx.prepare_cached(&sql[2])).map_err(db_error)?;
    let (by_name, by_id): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) = ([&*names], [&ids]);
    // Statements on one connection run in order: the id lookup sees every
    // append that committed before the locks were granted.
    let (_, rows, found) =
        tokio::try_join!(tx.execute(&create, &by_name), tx.query(&lock, &by_name), tx.query(&find, &by_id)).map_err(db_error)?;
    let rows = rows.iter().map(|r| Ok((col::<String>(r, 0)?, stream_row(r)?))).collect::<Result<_>>()?;
    Ok((rows, found))
}

pub(crate) async fn condition_conflict(
    tx: &impl deadpool_postgres::GenericClient,
    s: &str,
    query: &EventQuery,
    after: Option<u64>,
) -> Result<Option<u64>> {
    let mut clauses = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(after.unwrap_or(0) as i64)];
    for item in &query.items {
        let mut parts = Vec::new();
        if !item.types.is_empty() {
            params.push(Box::new(item.types.clone()));
            parts.push(format!("event_type = ANY(${})", params.len()));
        }
        if !item.tags.is_empty() {
            // `tags <> '{}'` lets the planner use the partial GIN index.
            params.push(Box::new(item.tags.clone()));
            parts.push(format!("tags <> '{{}}' AND tags @> ${}", params.len()));
        }
        if let Some(prefix) = &item.stream_prefix {
            params.push(Box::new(prefix.clone()));
            parts.push(format!("starts_with(stream_id, ${})", params.len()));
        }
        if parts.is_empty() {
            parts.push("TRUE".to_owned()); // an empty item matches every event
        }
        clauses.push(format!("({})", parts.join(" AND ")));
    }
    if clauses.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT global_position FROM {s}.events WHERE global_position > $1 AND ({}) ORDER BY global_position LIMIT 1",
        clauses.join(" OR ")
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    tx.query_opt(&sql, &refs).await.map_err(db_error)?.map(|r| col::<i64>(&r, 0).map(|p| p as u64)).transpose()
}

/// A stream lifecycle change.
pub(crate) enum Change {
    Metadata(StreamMetadata),
    Delete(ExpectedVersion, DeleteMode),
}

pub(crate) async fn change_stream(store: &PgStore, stream: &StreamId, change: Change) -> Result<()> {
    let s = store.inner.schema.as_str();
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let (rows, _) = lock_streams(&tx, s, &mut vec![stream.to_string()], &[]).await?;
    let row = rows.get(stream.as_str()).ok_or_else(|| Error::Unavailable { reason: "stream row vanished".into() })?;
    if row.info.status == StreamStatus::Tombstoned {
        return Err(Error::StreamDeleted { stream: stream.clone() });
    }
    match change {
        Change::Metadata(m) => {
            let sql = format!(
                "WITH u AS (UPDATE {s}.streams SET max_age = $2, max_count = $3, truncate_before = $4 WHERE stream_id = $1)
                 INSERT INTO {s}.stream_changes (head, stream_id, max_age, max_count, truncate_before)
                 SELECT position, $1, $2, $3, $4 FROM {s}.head"
            );
            let v = |x: Option<u64>| x.map(|x| x as i64);
            tx.execute(&sql, &[&stream.as_str(), &v(m.max_age), &v(m.max_count), &v(m.truncate_before)]).await.map_err(db_error)?;
        }
        Change::Delete(expected, mode) => {
            let actual = row.info.current_version();
            if !expected.accepts(actual) {
                return Err(Error::WrongExpectedVersion { stream: stream.clone(), expected, actual });
            }
            let (status, through) = match (mode, row.info.status) {
                (DeleteMode::Tombstone, _) => (StreamStatus::Tombstoned, row.deleted_through),
                (DeleteMode::Soft, StreamStatus::Active) => (StreamStatus::SoftDeleted, row.info.last_version),
                (DeleteMode::Soft, other) => (other, row.deleted_through),
            };
            // What the change log replays: the same rule as the in-process
            // index (a soft delete of a deleted stream changes nothing).
            let sql = format!(
                "WITH u AS (UPDATE {s}.streams SET status = $2, deleted_through = $3 WHERE stream_id = $1)
                 INSERT INTO {s}.stream_changes (head, stream_id, tombstone, deleted_through)
                 SELECT position, $1, $4, $3 FROM {s}.head"
            );
            let tombstone = mode == DeleteMode::Tombstone;
            tx.execute(&sql, &[&stream.as_str(), &status_code(status), &(through as i64), &tombstone]).await.map_err(db_error)?;
        }
    }
    tx.commit().await.map_err(db_error)
}
