//! Appends (one transaction each; positions assigned at the end under the
//! head lock) and stream lifecycle changes.

use crate::{PgStore, db_error, listen::channel};
use chronicle_core::{
    AppendPlan, AppendResult, AppendView, DeleteMode, Error, EventLocation, EventQuery, ExpectedVersion, PreparedAppend, Result, StreamId,
    StreamInfo, StreamMetadata, StreamStatus, Timestamp, Uuid, plan_append,
};
use deadpool_postgres::Transaction;
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

fn status_code(s: StreamStatus) -> i16 {
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

pub(crate) fn stream_row(r: &tokio_postgres::Row) -> StreamRow {
    let opt = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v as u64);
    StreamRow {
        info: StreamInfo {
            last_version: r.get::<_, i64>(1) as u64,
            status: status_of(r.get(2)),
            metadata: StreamMetadata { max_age: opt(4), max_count: opt(5), truncate_before: opt(6) },
        },
        deleted_through: r.get::<_, i64>(3) as u64,
    }
}

pub(crate) const STREAM_COLS: &str = "stream_id, last_version, status, deleted_through, max_age, max_count, truncate_before";

/// What the planner sees: the locked stream rows and the stored ids.
struct View {
    streams: HashMap<String, StreamInfo>,
    ids: HashMap<Uuid, EventLocation>,
}

impl AppendView for View {
    fn stream_info(&self, stream: &StreamId) -> StreamInfo {
        self.streams.get(stream.as_str()).copied().unwrap_or_default()
    }
    fn locate(&self, id: &Uuid) -> Option<EventLocation> {
        self.ids.get(id).cloned()
    }
    fn first_match_after(&self, _: &EventQuery, _: Option<u64>) -> Option<u64> {
        None // checked in SQL once the head is locked
    }
    fn head(&self) -> u64 {
        0 // positions are offset once the head is locked
    }
}

/// Creates missing stream rows, locks them all (sorted, so concurrent
/// multi-stream appends cannot deadlock) and looks up `ids`, pipelined in
/// one round trip.
async fn lock_streams(
    tx: &Transaction<'_>,
    s: &str,
    names: &mut Vec<String>,
    ids: &[Uuid],
) -> Result<(HashMap<String, StreamRow>, Vec<tokio_postgres::Row>)> {
    names.sort();
    names.dedup();
    let sql = [
        format!("INSERT INTO {s}.streams (stream_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING"),
        format!("SELECT {STREAM_COLS} FROM {s}.streams WHERE stream_id = ANY($1) ORDER BY stream_id FOR UPDATE"),
        format!("SELECT event_id, stream_id, version, global_position FROM {s}.events WHERE event_id = ANY($1)"),
    ];
    let (create, lock, find) =
        tokio::try_join!(tx.prepare_cached(&sql[0]), tx.prepare_cached(&sql[1]), tx.prepare_cached(&sql[2])).map_err(db_error)?;
    let (by_name, by_id): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) = ([&*names], [&ids]);
    // Statements on one connection run in order: the id lookup sees every
    // append that committed before the locks were granted.
    let (_, rows, found) =
        tokio::try_join!(tx.execute(&create, &by_name), tx.query(&lock, &by_name), tx.query(&find, &by_id)).map_err(db_error)?;
    Ok((rows.iter().map(|r| (r.get::<_, String>(0), stream_row(r))).collect(), found))
}

async fn condition_conflict(tx: &Transaction<'_>, s: &str, query: &EventQuery, after: Option<u64>) -> Result<Option<u64>> {
    let mut clauses = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(after.unwrap_or(0) as i64)];
    for item in &query.items {
        let mut parts = Vec::new();
        if !item.types.is_empty() {
            params.push(Box::new(item.types.clone()));
            parts.push(format!("event_type = ANY(${})", params.len()));
        }
        params.push(Box::new(item.tags.clone()));
        parts.push(format!("tags @> ${}", params.len()));
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
    Ok(tx.query_opt(&sql, &refs).await.map_err(db_error)?.map(|r| r.get::<_, i64>(0) as u64))
}

/// One append: decide under the stream locks, then take the head lock,
/// number, insert, notify, commit. Returns the results and whether the
/// append was an idempotent retry.
pub(crate) async fn append(store: &PgStore, prepared: PreparedAppend) -> Result<(Vec<AppendResult>, bool)> {
    let s = store.inner.schema.as_str();
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let mut names: Vec<String> = prepared.streams.iter().map(|p| p.stream.to_string()).collect();
    let ids: Vec<Uuid> = prepared.streams.iter().flat_map(|p| p.events.iter().map(|e| e.event_id)).collect();
    let (rows, found) = lock_streams(&tx, s, &mut names, &ids).await?;
    let view = View {
        streams: rows.iter().map(|(k, r)| (k.clone(), r.info)).collect(),
        ids: found
            .iter()
            .filter_map(|r| {
                let stream = StreamId::new(r.get::<_, String>(1)).ok()?;
                Some((r.get(0), EventLocation { stream, version: r.get::<_, i64>(2) as u64, position: r.get::<_, i64>(3) as u64 }))
            })
            .collect(),
    };
    let mut results = match plan_append(&view, &prepared)? {
        AppendPlan::AlreadyStored(results) => return Ok((results, true)),
        AppendPlan::Write(results) => results,
    };
    let n = prepared.event_count() as i64;
    if let Some(cond) = &prepared.condition {
        // A DCB condition is checked with the head locked, so no event can
        // slip in between the check and the write.
        let lock = tx.prepare_cached(&format!("SELECT position FROM {s}.head FOR UPDATE")).await.map_err(db_error)?;
        tx.query_one(&lock, &[]).await.map_err(db_error)?;
        if let Some(position) = condition_conflict(&tx, s, &cond.query, cond.after).await? {
            return Err(Error::AppendConditionFailed { position });
        }
    }
    // Positions relative to the head; the write statement adds the head.
    let mut c = Columns::default();
    for (part, result) in prepared.streams.iter().zip(results.iter()) {
        for (i, e) in part.events.iter().enumerate() {
            let wk = e.well_known();
            c.position.push((result.first_position + i as u64) as i64);
            c.stream.push(part.stream.to_string());
            c.version.push((result.first_version + i as u64) as i64);
            c.id.push(e.event_id);
            c.event_type.push(e.event_type.to_string());
            c.schema_version.push(e.schema_version as i32);
            c.data.push(String::from_utf8_lossy(e.data.as_bytes()).into_owned());
            c.metadata.push(String::from_utf8_lossy(e.metadata().as_bytes()).into_owned());
            c.category.push(part.stream.category().to_owned());
            c.correlation.push(wk.correlation_id.clone());
            c.actor_type.push(wk.actor.as_ref().map(|a| a.kind.clone()));
            c.actor_id.push(wk.actor.as_ref().map(|a| a.id.clone()));
            c.tags.push(serde_json::to_string(&wk.tags).unwrap_or_else(|_| "[]".into()));
        }
    }
    let (streams, versions): (Vec<String>, Vec<i64>) = results.iter().map(|r| (r.stream_id.to_string(), r.last_version as i64)).unzip();
    // One statement: reserve positions under the head row lock (held from
    // here to commit, so appends commit in position order), insert the
    // events, advance the streams, and notify on commit.
    let write = tx
        .prepare_cached(&format!(
            "WITH h AS (
                 UPDATE {s}.head SET position = position + $1, recorded_at = greatest(recorded_at, $2)
                 RETURNING position - $1 AS base, recorded_at),
             inserted AS (
                 INSERT INTO {s}.events (global_position, stream_id, version, event_id, event_type, schema_version, data, metadata, recorded_at,
                                          category, correlation_id, actor_type, actor_id, tags)
                 SELECT h.base + p, st, v, id, ty, sv, d, m, h.recorded_at, c, co, at, ai, ARRAY(SELECT jsonb_array_elements_text(tg::jsonb))
                 FROM h, unnest($3::bigint[], $4::text[], $5::bigint[], $6::uuid[], $7::text[], $8::int[], $9::text[], $10::text[],
                                $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                      AS u(p, st, v, id, ty, sv, d, m, c, co, at, ai, tg)
                 RETURNING 1),
             advanced AS (
                 UPDATE {s}.streams SET last_version = u.v, status = 1 FROM unnest($16::text[], $17::bigint[]) AS u(st, v) WHERE stream_id = u.st
                 RETURNING 1)
             SELECT h.base, (SELECT count(*) FROM inserted), (SELECT count(*) FROM advanced), pg_notify($18, (h.base + $1)::text) FROM h"
        ))
        .await
        .map_err(db_error)?;
    let channel_name = channel(s);
    let params: [&(dyn ToSql + Sync); 18] = [
        &n,
        &Timestamp::now().as_micros(),
        &c.position,
        &c.stream,
        &c.version,
        &c.id,
        &c.event_type,
        &c.schema_version,
        &c.data,
        &c.metadata,
        &c.category,
        &c.correlation,
        &c.actor_type,
        &c.actor_id,
        &c.tags,
        &streams,
        &versions,
        &channel_name,
    ];
    let base = match tx.query_one(&write, &params).await {
        Ok(row) => row.get::<_, i64>(0) as u64,
        Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "23505") => {
            return Err(Error::DuplicateEventId { event_id: ids.first().copied().unwrap_or_default() });
        }
        Err(e) => return Err(db_error(e)),
    };
    for result in &mut results {
        result.first_position += base;
        result.last_position += base;
    }
    let new_head = base + n as u64;
    tx.commit().await.map_err(db_error)?;
    store.publish_head(new_head);
    Ok((results, false))
}

/// The events of one append, column by column (one multi-row insert).
#[derive(Default)]
struct Columns {
    position: Vec<i64>,
    stream: Vec<String>,
    version: Vec<i64>,
    id: Vec<Uuid>,
    event_type: Vec<String>,
    schema_version: Vec<i32>,
    data: Vec<String>,
    metadata: Vec<String>,
    category: Vec<String>,
    correlation: Vec<Option<String>>,
    actor_type: Vec<Option<String>>,
    actor_id: Vec<Option<String>>,
    /// JSON arrays, expanded to `text[]` in SQL (arrays of arrays cannot be ragged).
    tags: Vec<String>,
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
            let sql = format!("UPDATE {s}.streams SET max_age = $2, max_count = $3, truncate_before = $4 WHERE stream_id = $1");
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
            let sql = format!("UPDATE {s}.streams SET status = $2, deleted_through = $3 WHERE stream_id = $1");
            tx.execute(&sql, &[&stream.as_str(), &status_code(status), &(through as i64)]).await.map_err(db_error)?;
        }
    }
    tx.commit().await.map_err(db_error)
}
