//! Import (see `chronicle_core::transfer`): exported items stored as they
//! are, in one transaction holding the head row lock — checked first
//! (next positions, next versions, unknown ids, times in order), so a bad
//! import stores nothing.

use crate::{
    PgStore,
    append::{StreamRow, lock_streams, status_code},
    col, db_error,
};
use chronicle_core::{Error, LogItem, RecordedEvent, Result, StreamId, StreamMetadata, StreamStatus};
use deadpool_postgres::Transaction;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

fn misplaced(what: String) -> Error {
    Error::invalid("items", what)
}

/// A stream's row as the import changes it, item by item.
struct Stream {
    row: StreamRow,
    touched: bool,
}

impl Stream {
    /// The same rule as the in-process index's `apply_change`.
    fn delete(&mut self, tombstone: bool, deleted_through: u64) {
        let info = &mut self.row.info;
        if tombstone {
            info.status = StreamStatus::Tombstoned;
        } else if info.status == StreamStatus::Active || deleted_through > 0 {
            info.status = if info.last_version == 0 { StreamStatus::Absent } else { StreamStatus::SoftDeleted };
            self.row.deleted_through = deleted_through;
        }
    }
}

/// The rows an import writes, column by column.
#[derive(Default)]
struct Rows {
    events: Vec<RecordedEvent>,
    /// (stream, first version, positions).
    removed: Vec<(String, i64, Vec<i64>)>,
    changes: Vec<ChangeRow>,
    snapshots: Vec<chronicle_core::Snapshot>,
    /// (consumer, position).
    checkpoints: Vec<(String, i64)>,
    /// Groups' progress, stored as the snapshots of their `$group-` streams.
    groups: Vec<(String, String)>,
    /// Event ids of the import so far (each at most once).
    ids: std::collections::HashSet<chronicle_core::Uuid>,
    /// The next position.
    next: u64,
    /// Commit time of the last event so far (times never go back).
    last_time: i64,
}

/// A `stream_changes` row: a delete (`tombstone` set) or new settings.
struct ChangeRow {
    head: i64,
    stream: String,
    tombstone: Option<bool>,
    deleted_through: Option<i64>,
    metadata: StreamMetadata,
}

impl PgStore {
    pub(crate) async fn import(&self, items: Vec<LogItem>) -> Result<()> {
        let s = self.inner.schema.clone();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let head_row = tx.query_one(&format!("SELECT position, recorded_at FROM {s}.head FOR UPDATE"), &[]).await.map_err(db_error)?;
        let (head, last_time) = (col::<i64>(&head_row, 0)? as u64, col::<i64>(&head_row, 1)?);
        let mut names: Vec<String> = items.iter().filter_map(stream_of).map(|s| s.to_string()).collect();
        // An id stored already fails the insert (the unique index), which
        // rolls everything back: no look-up of every id first.
        let (locked, _) = lock_streams(&tx, &s, &mut names, &[]).await?;
        let mut streams: HashMap<String, Stream> = locked.into_iter().map(|(k, row)| (k, Stream { row, touched: false })).collect();
        let mut rows = Rows { next: head + 1, last_time, ..Rows::default() };
        for item in items {
            rows.add(item, &mut streams)?;
        }
        write(&tx, &s, &rows, &streams).await?;
        write_state(&tx, &s, &rows).await?;
        let new_head = rows.next - 1;
        let sql = format!(
            "UPDATE {s}.head SET position = $1::bigint, recorded_at = greatest(recorded_at, $2) RETURNING pg_notify($3, $1::bigint::text)"
        );
        tx.query_one(&sql, &[&(new_head as i64), &rows.last_time, &crate::listen::channel(&s)]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.publish_head(new_head);
        Ok(())
    }
}

impl Rows {
    /// Checks `item` against the rows so far and the locked streams, and
    /// adds it.
    fn add(&mut self, item: LogItem, streams: &mut HashMap<String, Stream>) -> Result<()> {
        let name = stream_of(&item).map(StreamId::to_string);
        let stream = name.as_ref().and_then(|n| streams.get_mut(n));
        match (item, stream) {
            (LogItem::Event(e), Some(st)) => {
                check_place(e.global_position, &e.stream_id, e.version, self.next, st)?;
                if !self.ids.insert(e.event_id) {
                    return Err(Error::DuplicateEventId { event_id: e.event_id });
                }
                if e.recorded_at.as_micros() < self.last_time {
                    return Err(misplaced(format!("position {} was recorded before the event ahead of it", e.global_position)));
                }
                self.last_time = e.recorded_at.as_micros();
                self.next += 1;
                self.events.push(e);
            }
            (LogItem::Removed { position, stream, version }, Some(st)) => {
                check_place(position, &stream, version, self.next, st)?;
                self.next += 1;
                match self.removed.last_mut() {
                    Some((name, first, positions)) if *name == stream.as_str() && *first + positions.len() as i64 == version as i64 => {
                        positions.push(position as i64)
                    }
                    _ => self.removed.push((stream.to_string(), version as i64, vec![position as i64])),
                }
            }
            (LogItem::Metadata { head, stream, metadata }, Some(st)) => {
                metadata.validate()?;
                st.row.info.metadata = metadata;
                st.touched = true;
                let stream = stream.to_string();
                self.changes.push(ChangeRow { head: head as i64, stream, tombstone: None, deleted_through: None, metadata });
            }
            (LogItem::Delete { head, stream, tombstone, deleted_through }, Some(st)) => {
                st.delete(tombstone, deleted_through);
                st.touched = true;
                self.changes.push(ChangeRow {
                    head: head as i64,
                    stream: stream.to_string(),
                    tombstone: Some(tombstone),
                    deleted_through: Some(deleted_through as i64),
                    metadata: StreamMetadata::default(),
                });
            }
            (LogItem::Snapshot(snap), _) => self.snapshots.push(snap),
            (LogItem::Group { name, progress }, _) => {
                let stream = chronicle_core::GroupProgress::stream(&name)?;
                self.groups.push((stream.to_string(), progress.to_state()?.to_string()));
            }
            (LogItem::Checkpoint { consumer, position }, _) => {
                chronicle_core::validate_consumer_name(&consumer)?;
                self.checkpoints.push((consumer, position as i64));
            }
            (_, None) => return Err(Error::Unavailable { reason: "a stream row vanished during an import".into() }),
        }
        Ok(())
    }
}

/// Writes the snapshots, checkpoints and groups' progress of an import.
async fn write_state(tx: &Transaction<'_>, s: &str, rows: &Rows) -> Result<()> {
    for snap in &rows.snapshots {
        let state = String::from_utf8_lossy(snap.state.as_bytes()).into_owned();
        let params: [&(dyn ToSql + Sync); 4] = [&snap.stream_id.as_str(), &(snap.version as i64), &(snap.schema_version as i32), &state];
        tx.execute(&crate::store::snapshot_upsert(s), &params).await.map_err(db_error)?;
    }
    for (name, position) in &rows.checkpoints {
        let sql = format!(
            "INSERT INTO {s}.checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position"
        );
        tx.execute(&sql, &[name, position]).await.map_err(db_error)?;
    }
    for (stream, state) in &rows.groups {
        let sql = format!(
            "INSERT INTO {s}.snapshots (stream_id, version, schema_version, state) VALUES ($1, 1, 1, $2)
             ON CONFLICT (stream_id) DO UPDATE SET version = {s}.snapshots.version + 1, schema_version = 1, state = EXCLUDED.state"
        );
        tx.execute(&sql, &[stream, state]).await.map_err(db_error)?;
    }
    Ok(())
}

fn stream_of(item: &LogItem) -> Option<&StreamId> {
    match item {
        LogItem::Event(e) => Some(&e.stream_id),
        LogItem::Removed { stream, .. } | LogItem::Metadata { stream, .. } | LogItem::Delete { stream, .. } => Some(stream),
        LogItem::Snapshot(_) | LogItem::Checkpoint { .. } | LogItem::Group { .. } => None,
    }
}

/// Checks that `position`/`version` are the next ones, and takes them.
fn check_place(position: u64, stream: &StreamId, version: u64, next: u64, st: &mut Stream) -> Result<()> {
    let next_version = st.row.info.last_version + 1;
    if position != next || version != next_version {
        return Err(misplaced(format!(
            "position {position} (version {version} of {stream}) where position {next} / version {next_version} was next"
        )));
    }
    st.row.info.last_version = version;
    st.row.info.status = StreamStatus::Active;
    st.touched = true;
    Ok(())
}

/// Writes the checked rows: events (positions and times as given), removed
/// positions, the change log and the streams' new rows.
async fn write(tx: &Transaction<'_>, s: &str, rows: &Rows, streams: &HashMap<String, Stream>) -> Result<()> {
    if !rows.events.is_empty() {
        crate::write::insert_exact(tx, s, &rows.events).await?;
    }
    for (stream, first, positions) in &rows.removed {
        let (min, max) = (positions.iter().min().copied().unwrap_or(0), positions.iter().max().copied().unwrap_or(0));
        let sql = format!(
            "INSERT INTO {s}.removed (stream_id, first_version, positions, min_position, max_position) VALUES ($1, $2, $3, $4, $5)"
        );
        tx.execute(&sql, &[stream, first, positions, &min, &max]).await.map_err(db_error)?;
    }
    for ChangeRow { head, stream, tombstone, deleted_through: through, metadata: m } in &rows.changes {
        let v = |x: Option<u64>| x.map(|x| x as i64);
        let sql = format!(
            "INSERT INTO {s}.stream_changes (head, stream_id, tombstone, deleted_through, max_age, max_count, truncate_before)
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        );
        let params: [&(dyn ToSql + Sync); 7] = [head, stream, tombstone, through, &v(m.max_age), &v(m.max_count), &v(m.truncate_before)];
        tx.execute(&sql, &params).await.map_err(db_error)?;
    }
    for (name, st) in streams.iter().filter(|(_, st)| st.touched) {
        let (info, v) = (&st.row.info, |x: Option<u64>| x.map(|x| x as i64));
        let sql = format!(
            "UPDATE {s}.streams SET last_version = $2, status = $3, deleted_through = $4, max_age = $5, max_count = $6, truncate_before = $7
             WHERE stream_id = $1"
        );
        let params: [&(dyn ToSql + Sync); 7] = [
            name,
            &(info.last_version as i64),
            &status_code(info.status),
            &(st.row.deleted_through as i64),
            &v(info.metadata.max_age),
            &v(info.metadata.max_count),
            &v(info.metadata.truncate_before),
        ];
        tx.execute(&sql, &params).await.map_err(db_error)?;
    }
    Ok(())
}
