//! Export (see `chronicle_core::transfer`): pages of positions, each read
//! in one REPEATABLE READ snapshot — the events, the positions a reclaim
//! emptied (`removed`) and the stream changes (`stream_changes`) of the
//! page — merged in log order; then the snapshots, checkpoints and the
//! consumer groups' progress.

use crate::{PgStore, col, db_error, read};
use chronicle_core::{
    Error, ExportRange, GroupProgress, LogItem, LogReader, LogWriter, RawJson, Result, Snapshot, StreamId, StreamMetadata,
};
use std::collections::{BTreeMap, VecDeque};

/// Positions per page.
const PAGE: u64 = 1000;
/// Snapshots per query.
const SNAPSHOTS: i64 = 1000;

impl PgStore {
    /// The export of `range`, produced by a task of its own.
    pub(crate) fn export(&self, range: ExportRange) -> LogReader {
        let (tx, reader) = LogReader::channel(2 * PAGE as usize);
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.export_into(range, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        reader
    }

    async fn export_into(&self, range: ExportRange, tx: &LogWriter) -> Result<()> {
        let mut after = range.after;
        loop {
            let end = (after + PAGE).min(range.through);
            let last = end == range.through;
            for item in self.export_page(after, end, last).await? {
                if tx.send(Ok(item)).await.is_err() {
                    return Ok(());
                }
            }
            if last {
                break;
            }
            after = end;
        }
        for item in self.export_state(range.through).await? {
            if tx.send(Ok(item)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Positions `(after, end]` and the changes made at heads `[after, end)`
    /// (`[after, end]` for the last page), in log order.
    async fn export_page(&self, after: u64, end: u64, last: bool) -> Result<Vec<LogItem>> {
        let s = &self.inner.schema;
        let mut client = self.client().await?;
        let tx = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true);
        let tx = tx.start().await.map_err(db_error)?;
        let (a, b) = (after as i64, end as i64);
        let events = tx
            .query(&format!("SELECT {} FROM {s}.events e WHERE global_position > $1 AND global_position <= $2", read::COLS), &[&a, &b])
            .await
            .map_err(db_error)?;
        let removed = tx
            .query(
                &format!("SELECT stream_id, first_version, positions FROM {s}.removed WHERE max_position > $1 AND min_position <= $2"),
                &[&a, &b],
            )
            .await
            .map_err(db_error)?;
        let upto = if last { "head <= $2" } else { "head < $2" };
        let changes = tx
            .query(
                &format!(
                    "SELECT head, stream_id, tombstone, deleted_through, max_age, max_count, truncate_before FROM {s}.stream_changes
                     WHERE head >= $1 AND {upto} ORDER BY head, seq"
                ),
                &[&a, &b],
            )
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut at: BTreeMap<u64, LogItem> = BTreeMap::new();
        for row in &events {
            let e = read::event(row)?;
            at.insert(e.global_position, LogItem::Event(e));
        }
        for row in &removed {
            let (stream, first): (String, i64) = (col(row, 0)?, col(row, 1)?);
            let stream = StreamId::new(stream)?;
            for (i, position) in col::<Vec<i64>>(row, 2)?.into_iter().enumerate() {
                let position = position as u64;
                if position > after && position <= end {
                    at.insert(position, LogItem::Removed { position, stream: stream.clone(), version: first as u64 + i as u64 });
                }
            }
        }
        let mut changes = changes.iter().map(change).collect::<Result<VecDeque<_>>>()?;
        let mut items = Vec::with_capacity(at.len() + changes.len());
        for position in after + 1..=end {
            while changes.front().is_some_and(|(head, _)| *head < position) {
                items.extend(changes.pop_front().map(|(_, item)| item));
            }
            let item = at.remove(&position).ok_or_else(|| Error::Corrupted {
                location: format!("{s}.events"),
                reason: format!("position {position} is neither stored nor recorded as removed (reclaimed before schema migration 4?)"),
            })?;
            items.push(item);
        }
        items.extend(changes.into_iter().map(|(_, item)| item));
        Ok(items)
    }

    /// The latest snapshots stored at or before `through`, then every
    /// checkpoint (clamped to `through`).
    async fn export_state(&self, through: u64) -> Result<Vec<LogItem>> {
        let s = &self.inner.schema;
        let client = self.client().await?;
        let sql = format!(
            "SELECT sn.stream_id, sn.version, sn.schema_version, sn.state FROM {s}.snapshots sn
             WHERE sn.stream_id > $1 AND NOT starts_with(sn.stream_id, '$group-') AND (
                 EXISTS (SELECT 1 FROM {s}.events e WHERE e.stream_id = sn.stream_id AND e.version = sn.version AND e.global_position <= $2)
              OR EXISTS (SELECT 1 FROM {s}.removed r WHERE r.stream_id = sn.stream_id AND sn.version >= r.first_version
                           AND sn.version < r.first_version + cardinality(r.positions)
                           AND r.positions[sn.version - r.first_version + 1] <= $2))
             ORDER BY sn.stream_id LIMIT {SNAPSHOTS}"
        );
        let mut items = Vec::new();
        let mut after = String::new();
        loop {
            let rows = client.query(&sql, &[&after, &(through as i64)]).await.map_err(db_error)?;
            for row in &rows {
                after = col(row, 0)?;
                items.push(LogItem::Snapshot(Snapshot {
                    stream_id: StreamId::new(after.clone())?,
                    version: col::<i64>(row, 1)? as u64,
                    schema_version: col::<i32>(row, 2)? as u32,
                    state: RawJson::from_trusted(bytes::Bytes::from(col::<String>(row, 3)?)),
                }));
            }
            if rows.len() < SNAPSHOTS as usize {
                break;
            }
        }
        let sql = format!("SELECT name, least(position, $1) FROM {s}.checkpoints ORDER BY name");
        for row in &client.query(&sql, &[&(through as i64)]).await.map_err(db_error)? {
            items.push(LogItem::Checkpoint { consumer: col(row, 0)?, position: col::<i64>(row, 1)? as u64 });
        }
        let groups = self.groups_progress().await?;
        items.extend(groups.into_iter().map(|(name, progress)| LogItem::Group { name, progress: progress.clamped(through) }));
        Ok(items)
    }

    /// Every group's progress: from its rows when PostgreSQL serves it,
    /// else from the snapshot an import left (not yet taken over by a
    /// node, see `chronicle-groups`). Read in one snapshot of the database.
    async fn groups_progress(&self) -> Result<BTreeMap<String, GroupProgress>> {
        let s = &self.inner.schema;
        let mut client = self.client().await?;
        let tx = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true);
        let tx = tx.start().await.map_err(db_error)?;
        let mut out = BTreeMap::new();
        let sql = format!("SELECT stream_id, state FROM {s}.snapshots WHERE starts_with(stream_id, '$group-')");
        for row in &tx.query(&sql, &[]).await.map_err(db_error)? {
            let snapshot = Snapshot {
                stream_id: StreamId::new(col::<String>(row, 0)?)?,
                version: 0,
                schema_version: 1,
                state: RawJson::from_trusted(bytes::Bytes::from(col::<String>(row, 1)?)),
            };
            if let Some(LogItem::Group { name, progress }) = GroupProgress::item_of(&snapshot, u64::MAX) {
                out.insert(name, progress);
            }
        }
        let sql = format!("SELECT name, read_through FROM {s}.groups");
        for row in &tx.query(&sql, &[]).await.map_err(db_error)? {
            let read_through = col::<i64>(row, 1)? as u64;
            let progress = GroupProgress { checkpoint: read_through, read_through: Some(read_through), ..GroupProgress::default() };
            out.insert(col(row, 0)?, progress);
        }
        let sql = format!("SELECT group_name, position, retries FROM {s}.group_events WHERE NOT replayed ORDER BY group_name, position");
        for row in &tx.query(&sql, &[]).await.map_err(db_error)? {
            let Some(progress) = out.get_mut(&col::<String>(row, 0)?) else { continue };
            let (position, retries) = (col::<i64>(row, 1)? as u64, col::<i32>(row, 2)? as u32);
            if progress.unhandled.is_empty() {
                progress.checkpoint = progress.checkpoint.min(position.saturating_sub(1));
            }
            progress.unhandled.push(position);
            if retries > 0 {
                progress.retries.push((position, retries));
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(out)
    }
}

/// A `stream_changes` row as (head, item).
fn change(row: &tokio_postgres::Row) -> Result<(u64, LogItem)> {
    let head = col::<i64>(row, 0)? as u64;
    let stream = StreamId::new(col::<String>(row, 1)?)?;
    let opt = |i: usize| col::<Option<i64>>(row, i).map(|v| v.map(|v| v as u64));
    let item = match col::<Option<bool>>(row, 2)? {
        Some(tombstone) => LogItem::Delete { head, stream, tombstone, deleted_through: opt(3)?.unwrap_or(0) },
        None => {
            LogItem::Metadata { head, stream, metadata: StreamMetadata { max_age: opt(4)?, max_count: opt(5)?, truncate_before: opt(6)? } }
        }
    };
    Ok((head, item))
}
