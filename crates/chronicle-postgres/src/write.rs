//! The one statement that writes a batch: reserve positions under the head
//! row lock, insert the events, advance their streams, notify on commit.

use crate::db_error;
use chronicle_core::{AppendResult, Error, PreparedAppend, Result, Timestamp, Uuid};
use deadpool_postgres::Transaction;
use std::collections::HashMap;
use tokio_postgres::{Statement, types::ToSql};

/// The events of a batch, column by column (one multi-row insert), and the
/// last version each stream reaches.
#[derive(Default)]
pub(crate) struct Columns {
    /// Positions relative to the head; the statement adds the head.
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
    last_versions: HashMap<String, i64>,
}

/// The identity of one event row.
struct Row<'a> {
    position: u64,
    stream: &'a chronicle_core::StreamId,
    version: u64,
    id: Uuid,
    event_type: &'a str,
    schema_version: u32,
}

impl Columns {
    /// Adds one event's columns (its well-known metadata extracted).
    fn push_row(&mut self, row: Row<'_>, data: &[u8], metadata: &[u8], wk: &chronicle_core::Metadata) {
        self.position.push(row.position as i64);
        self.stream.push(row.stream.to_string());
        self.version.push(row.version as i64);
        self.id.push(row.id);
        self.event_type.push(row.event_type.to_owned());
        self.schema_version.push(row.schema_version as i32);
        self.data.push(String::from_utf8_lossy(data).into_owned());
        self.metadata.push(String::from_utf8_lossy(metadata).into_owned());
        self.category.push(row.stream.category().to_owned());
        self.correlation.push(wk.correlation_id.clone());
        self.actor_type.push(wk.actor.as_ref().map(|a| a.kind.clone()));
        self.actor_id.push(wk.actor.as_ref().map(|a| a.id.clone()));
        self.tags.push(serde_json::to_string(&wk.tags).unwrap_or_else(|_| "[]".into()));
    }

    /// Adds one planned append (`results` from the planner, positions
    /// relative to the head).
    pub(crate) fn push(&mut self, append: &PreparedAppend, results: &[AppendResult]) {
        for (part, result) in append.streams.iter().zip(results) {
            for (i, e) in part.events.iter().enumerate() {
                let (position, version) = (result.first_position + i as u64, result.first_version + i as u64);
                let row = Row {
                    position,
                    stream: &part.stream,
                    version,
                    id: e.event_id,
                    event_type: &e.event_type,
                    schema_version: e.schema_version,
                };
                self.push_row(row, e.data.as_bytes(), e.metadata().as_bytes(), e.well_known());
            }
            let last = self.last_versions.entry(result.stream_id.to_string()).or_default();
            *last = (*last).max(result.last_version as i64);
        }
    }
}

/// The batch write of schema `s`, prepared (once per connection).
pub(crate) async fn insert_statement(tx: &impl deadpool_postgres::GenericClient, s: &str) -> Result<Statement> {
    tx.prepare_cached(&format!(
            "WITH h AS (
                 UPDATE {s}.head SET position = position + $1, recorded_at = greatest(recorded_at, $2)
                 RETURNING position - $1 AS base, recorded_at),
             inserted AS (
                 INSERT INTO {s}.events (global_position, stream_id, version, event_id, event_type, schema_version, data, metadata, recorded_at,
                                          category, correlation_id, actor_type, actor_id, tags)
                 SELECT h.base + p, st, v, id, ty, sv, d, m, h.recorded_at, c, co, at, ai, CASE WHEN tg = '[]' THEN '{{}}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(tg::jsonb)) END
                 FROM h, unnest($3::bigint[], $4::text[], $5::bigint[], $6::uuid[], $7::text[], $8::int[], $9::text[], $10::text[],
                                $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                      AS u(p, st, v, id, ty, sv, d, m, c, co, at, ai, tg)
                 RETURNING 1),
             advanced AS (
                 UPDATE {s}.streams SET last_version = u.v, status = 1 FROM unnest($16::text[], $17::bigint[]) AS u(st, v) WHERE stream_id = u.st
                 RETURNING 1)
             SELECT h.base, (SELECT count(*) FROM inserted), (SELECT count(*) FROM advanced), pg_notify($18, (h.base + $1)::text || $19), h.recorded_at FROM h"
    ))
    .await
    .map_err(db_error)
}

/// Writes the batch with `write` (see [`insert_statement`]); returns the
/// head before it (add it to the relative positions) and the batch's
/// `recorded_at`. From this statement to commit the head row stays
/// locked, so batches commit in position order and a rollback leaves no
/// hole. The statement is sent on the first poll, so a COMMIT polled after
/// it goes in the same round trip. The NOTIFY payload is the new head
/// followed by `sender` (`:` and the committing store's tag), so a
/// listener tells its own commits apart.
pub(crate) async fn insert(
    tx: &impl deadpool_postgres::GenericClient,
    write: &Statement,
    c: &Columns,
    channel: &str,
    sender: &str,
) -> Result<(u64, Timestamp)> {
    let n = c.position.len() as i64;
    let (streams, versions): (Vec<&String>, Vec<i64>) = c.last_versions.iter().map(|(k, v)| (k, *v)).unzip();
    let params: [&(dyn ToSql + Sync); 19] = [
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
        &channel,
        &sender,
    ];
    match tx.query_one(write, &params).await {
        Ok(row) => {
            let base: i64 = row.try_get(0).map_err(db_error)?;
            let recorded_at: i64 = row.try_get(4).map_err(db_error)?;
            Ok((base as u64, Timestamp::from_micros(recorded_at)))
        }
        // The caller knows which append's ids these were.
        Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "23505") => {
            Err(Error::DuplicateEventId { event_id: c.id.first().copied().unwrap_or_default() })
        }
        Err(e) => Err(db_error(e)),
    }
}

/// Inserts events exactly as given (positions, versions, ids, times), for
/// an import; the caller checked their places and holds the head lock.
pub(crate) async fn insert_exact(tx: &Transaction<'_>, s: &str, events: &[chronicle_core::RecordedEvent]) -> Result<()> {
    let mut c = Columns::default();
    let mut recorded_at = Vec::with_capacity(events.len());
    for e in events {
        let row = Row {
            position: e.global_position,
            stream: &e.stream_id,
            version: e.version,
            id: e.event_id,
            event_type: &e.event_type,
            schema_version: e.schema_version,
        };
        c.push_row(row, e.data.as_bytes(), e.metadata.as_bytes(), &e.well_known_metadata()?);
        recorded_at.push(e.recorded_at.as_micros());
    }
    let sql = format!(
        "INSERT INTO {s}.events (global_position, stream_id, version, event_id, event_type, schema_version, data, metadata, recorded_at,
                                 category, correlation_id, actor_type, actor_id, tags)
         SELECT p, st, v, id, ty, sv, d, m, ra, c, co, at, ai, CASE WHEN tg = '[]' THEN '{{}}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(tg::jsonb)) END
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::int[], $7::text[], $8::text[], $9::bigint[],
                     $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
              AS u(p, st, v, id, ty, sv, d, m, ra, c, co, at, ai, tg)"
    );
    let params: [&(dyn ToSql + Sync); 14] = [
        &c.position,
        &c.stream,
        &c.version,
        &c.id,
        &c.event_type,
        &c.schema_version,
        &c.data,
        &c.metadata,
        &recorded_at,
        &c.category,
        &c.correlation,
        &c.actor_type,
        &c.actor_id,
        &c.tags,
    ];
    // A savepoint, so that after an id stored already fails the insert the
    // transaction can still say which one (the caller then rolls back).
    tx.batch_execute("SAVEPOINT import_events").await.map_err(db_error)?;
    match tx.execute(&sql, &params).await {
        Ok(_) => Ok(()),
        Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "23505" && d.constraint() == Some("events_event_id_key")) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT import_events").await.map_err(db_error)?;
            let sql = format!("SELECT event_id FROM {s}.events WHERE event_id = ANY($1) LIMIT 1");
            let row = tx.query_opt(&sql, &[&c.id]).await.map_err(db_error)?;
            let event_id = row.map(|r| crate::col::<Uuid>(&r, 0)).transpose()?.unwrap_or_default();
            Err(Error::DuplicateEventId { event_id })
        }
        Err(e) => Err(db_error(e)),
    }
}
