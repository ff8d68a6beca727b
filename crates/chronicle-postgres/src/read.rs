//! Reads. Retention and lifecycle rules are applied in SQL; `data` and
//! `metadata` come back as the stored text, never parsed.

use crate::{
    PgStore,
    append::{STREAM_COLS, StreamRow, status_of, stream_row},
    col, db_error,
};
use chronicle_core::{
    Direction, Error, EventPage, RawJson, ReadAll, ReadStream, RecordedEvent, Result, StreamId, StreamInfo, Timestamp, Uuid,
};
use chronicle_core::{ListStreams, StreamPage, StreamSummary};
use std::sync::Arc;
use tokio_postgres::types::ToSql;

pub(crate) const COLS: &str =
    "e.global_position, e.stream_id, e.version, e.event_id, e.event_type, e.schema_version, e.data, e.metadata, e.recorded_at";

pub(crate) fn event(r: &tokio_postgres::Row) -> Result<RecordedEvent> {
    Ok(RecordedEvent {
        global_position: col::<i64>(r, 0)? as u64,
        stream_id: StreamId::new(col::<&str>(r, 1)?)?,
        version: col::<i64>(r, 2)? as u64,
        event_id: col(r, 3)?,
        event_type: Arc::from(col::<&str>(r, 4)?),
        schema_version: col::<i32>(r, 5)? as u32,
        data: RawJson::from_trusted(bytes::Bytes::from(col::<String>(r, 6)?)),
        metadata: RawJson::from_trusted(bytes::Bytes::from(col::<String>(r, 7)?)),
        recorded_at: Timestamp::from_micros(col(r, 8)?),
    })
}

/// The SQL condition that hides what retention and deletes hide (`s` is
/// the joined streams row, `$now` the parameter index of the current time).
fn visible(now: usize) -> String {
    format!(
        "(s.stream_id IS NULL OR (s.status <> 3 AND e.version > s.deleted_through
          AND (s.truncate_before IS NULL OR e.version >= s.truncate_before)
          AND (s.max_count IS NULL OR e.version > s.last_version - s.max_count)
          AND (s.max_age IS NULL OR e.recorded_at >= ${now} - s.max_age * 1000000)))"
    )
}

async fn row_of(store: &PgStore, stream: &StreamId) -> Result<Option<StreamRow>> {
    let client = store.client().await?;
    let sql = format!("SELECT {STREAM_COLS} FROM {}.streams WHERE stream_id = $1", store.inner.schema);
    let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
    client.query_opt(&statement, &[&stream.as_str()]).await.map_err(db_error)?.as_ref().map(stream_row).transpose()
}

pub(crate) async fn stream_info(store: &PgStore, stream: &StreamId) -> Result<StreamInfo> {
    Ok(row_of(store, stream).await?.map(|r| r.info).unwrap_or_default())
}

pub(crate) async fn read_stream(store: &PgStore, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
    options.validate()?;
    let client = store.client().await?;
    let s = &store.inner.schema;
    let (cmp, order) = match options.direction {
        Direction::Forward => (">=", "ASC"),
        Direction::Backward => ("<=", "DESC"),
    };
    let from = options.from.map_or(if options.direction == Direction::Forward { 0 } else { i64::MAX }, |v| v.min(i64::MAX as u64) as i64);
    let limit = options.limit.map_or(i64::MAX, |l| l.min(i64::MAX as usize) as i64);
    let status_sql = format!("SELECT status FROM {s}.streams WHERE stream_id = $1");
    let events_sql = format!(
        "SELECT {COLS} FROM {s}.events e LEFT JOIN {s}.streams s ON s.stream_id = e.stream_id
         WHERE e.stream_id = $1 AND e.version {cmp} $2 AND {vis} ORDER BY e.version {order} LIMIT $3",
        vis = visible(4)
    );
    // Cached statements, and both queries pipelined: one round trip.
    let (status, events) = tokio::try_join!(client.prepare_cached(&status_sql), client.prepare_cached(&events_sql)).map_err(db_error)?;
    let (name, now) = (stream.as_str(), Timestamp::now().as_micros());
    let status_params: [&(dyn ToSql + Sync); 1] = [&name];
    let events_params: [&(dyn ToSql + Sync); 4] = [&name, &from, &limit, &now];
    let (row, rows) =
        tokio::try_join!(client.query_opt(&status, &status_params), client.query(&events, &events_params)).map_err(db_error)?;
    if row.map(|r| col::<i16>(&r, 0)).transpose()? == Some(3) {
        return Err(Error::StreamDeleted { stream: stream.clone() });
    }
    rows.iter().map(event).collect()
}

pub(crate) async fn read_all(store: &PgStore, read: &ReadAll) -> Result<EventPage> {
    read.validate()?;
    let s = &store.inner.schema;
    let f = &read.filter;
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(Timestamp::now().as_micros())];
    let mut conds = vec![visible(1)];
    let mut add = |p: Box<dyn ToSql + Sync + Send>, cond: &dyn Fn(usize) -> String| {
        params.push(p);
        conds.push(cond(params.len()));
    };
    let forward = read.direction == Direction::Forward;
    if let Some(from) = read.from {
        let cmp = if forward { ">=" } else { "<=" };
        add(Box::new(from.min(i64::MAX as u64) as i64), &|i| format!("e.global_position {cmp} ${i}"));
    }
    if !f.event_types.is_empty() {
        add(Box::new(f.event_types.clone()), &|i| format!("e.event_type = ANY(${i})"));
    }
    if let Some(c) = &f.category {
        add(Box::new(c.clone()), &|i| format!("e.category = ${i}"));
    }
    if let Some(p) = &f.stream_prefix {
        add(Box::new(p.clone()), &|i| format!("left(e.stream_id, length(${i})) = ${i}"));
    }
    if let Some(st) = &f.stream_id {
        add(Box::new(st.to_string()), &|i| format!("e.stream_id = ${i}"));
    }
    if let Some(c) = &f.correlation_id {
        add(Box::new(c.clone()), &|i| format!("e.correlation_id = ${i}"));
    }
    if let Some(a) = &f.actor_id {
        add(Box::new(a.clone()), &|i| format!("e.actor_id = ${i}"));
    }
    if let Some(a) = &f.actor_type {
        add(Box::new(a.clone()), &|i| format!("e.actor_type = ${i}"));
    }
    if !f.tags.is_empty() {
        add(Box::new(f.tags.clone()), &|i| format!("e.tags <> '{{}}' AND e.tags @> ${i}"));
    }
    if let Some(t) = f.since {
        add(Box::new(t.as_micros()), &|i| format!("e.recorded_at >= ${i}"));
    }
    if let Some(t) = f.until {
        add(Box::new(t.as_micros()), &|i| format!("e.recorded_at < ${i}"));
    }
    let limit = read.limit.map_or(i64::MAX, |l| l.min(i64::MAX as usize) as i64);
    params.push(Box::new(limit));
    let sql = format!(
        "SELECT {COLS} FROM {s}.events e LEFT JOIN {s}.streams s ON s.stream_id = e.stream_id
         WHERE {} ORDER BY e.global_position {} LIMIT ${}",
        conds.join(" AND "),
        if forward { "ASC" } else { "DESC" },
        params.len()
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let mut client = store.client().await?;
    // One snapshot for the head and the rows: every position ≤ head is committed.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)?;
    // Both statements prepared once per connection, sent in one round trip.
    let head_sql = crate::store::head_sql(s);
    let (head, page) = tokio::try_join!(tx.prepare_cached(&head_sql), tx.prepare_cached(&sql)).map_err(db_error)?;
    let (head, rows) = tokio::try_join!(tx.query_one(&head, &[]), tx.query(&page, &refs)).map_err(db_error)?;
    let head = col::<i64>(&head, 0)? as u64;
    tx.commit().await.map_err(db_error)?;
    store.publish_head(head);
    let events = rows.iter().map(event).collect::<Result<Vec<_>>>()?;
    let next = match (events.last(), read.limit) {
        (Some(last), Some(l)) if events.len() == l => {
            if forward {
                (last.global_position < head).then_some(last.global_position + 1)
            } else {
                (last.global_position > 1).then(|| last.global_position - 1)
            }
        }
        _ => None,
    };
    Ok(EventPage { events, next, head })
}

pub(crate) async fn get_event(store: &PgStore, id: Uuid) -> Result<Option<RecordedEvent>> {
    let client = store.client().await?;
    let s = &store.inner.schema;
    let sql = format!(
        "SELECT {COLS} FROM {s}.events e LEFT JOIN {s}.streams s ON s.stream_id = e.stream_id WHERE e.event_id = $1 AND {}",
        visible(2)
    );
    let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
    client.query_opt(&statement, &[&id, &Timestamp::now().as_micros()]).await.map_err(db_error)?.as_ref().map(event).transpose()
}

/// A page of streams by id (byte order: `COLLATE "C"`, as every backend),
/// each with its last event's position and time.
pub(crate) async fn list_streams(store: &PgStore, query: &ListStreams) -> Result<StreamPage> {
    let limit = query.page_size()?;
    let client = store.client().await?;
    let s = &store.inner.schema;
    let sql = format!(
        "SELECT s.stream_id, s.last_version, s.status, coalesce(e.global_position, r.position),
                coalesce(e.recorded_at, (SELECT p.recorded_at FROM {s}.events p WHERE p.global_position < r.position
                                         ORDER BY p.global_position DESC LIMIT 1), 0)
         FROM {s}.streams s
         LEFT JOIN {s}.events e ON e.stream_id = s.stream_id AND e.version = s.last_version
         LEFT JOIN LATERAL (SELECT x.positions[s.last_version - x.first_version + 1] AS position FROM {s}.removed x
                            WHERE e.global_position IS NULL AND x.stream_id = s.stream_id AND x.first_version <= s.last_version
                            ORDER BY x.first_version DESC LIMIT 1) r ON true
         WHERE s.last_version > 0 AND (e.global_position IS NOT NULL OR r.position IS NOT NULL)
           AND ($1::text IS NULL OR s.stream_id COLLATE \"C\" > $1::text COLLATE \"C\")
           AND ($2::text IS NULL OR starts_with(s.stream_id, $2::text))
           AND ($3::text IS NULL OR split_part(s.stream_id, '-', 1) = $3::text)
         ORDER BY s.stream_id COLLATE \"C\"
         LIMIT $4"
    );
    let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
    let fetch = (limit + 1) as i64;
    let rows = client.query(&statement, &[&query.after(), &query.prefix(), &query.category(), &fetch]).await.map_err(db_error)?;
    let streams = rows
        .iter()
        .map(|r| {
            Ok(StreamSummary {
                stream_id: StreamId::new(col::<String>(r, 0)?)?,
                version: col::<i64>(r, 1)? as u64,
                status: status_of(col(r, 2)?),
                last_position: col::<i64>(r, 3)? as u64,
                last_recorded_at: Timestamp::from_micros(col(r, 4)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(StreamPage::from_sorted(streams, limit))
}
