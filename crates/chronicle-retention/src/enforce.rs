//! One enforcement pass over a store: for every stream a rule (or the
//! default) binds, find the removable prefix and hide it by raising the
//! stream's `truncate_before` (never lowering it). Every backend then
//! hides those events from every read path at once; reclaiming their
//! space is the backend's maintenance.

use crate::{Candidate, Expiry, Result, RetentionSettings};
use chronicle_core::{EventStore, ListStreams, ReadStream, ScavengeReport, StreamId, StreamStatus, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Events read per page while looking for a stream's cut (small pages: on
/// the file store reads run inline, and other tasks run between them).
const PAGE: usize = 256;

/// What one rule did in a pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleReport {
    /// The rule (`default`, `category=…`, `streams=…` or its name).
    pub rule: String,
    /// Streams it cut.
    pub streams: u64,
    /// Events it removed (or would, in a dry run).
    pub events: u64,
    /// Bytes of those events' type, data and metadata (what their storage
    /// held, less the backend's framing).
    pub bytes: u64,
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PassReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// When the pass started (the time age limits were measured against).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub started_at: Timestamp,
    /// How long it took, reclaiming included, in milliseconds.
    pub duration_ms: u64,
    /// Of which reclaiming the space took this many.
    pub reclaim_ms: u64,
    /// What started it: `schedule`, `cli` or `http`.
    pub trigger: String,
    /// Streams examined (bound by a rule or the default).
    pub streams_examined: u64,
    /// Per rule that removed something, by name.
    pub rules: Vec<RuleReport>,
    /// What reclaiming the space did (file: the rewritten segments;
    /// PostgreSQL: the deleted rows); absent in a dry run and on backends
    /// without storage of their own (memory, remote).
    pub reclaimed: Option<ScavengeReport>,
}

impl PassReport {
    /// Events removed by every rule together.
    pub fn events(&self) -> u64 {
        self.rules.iter().map(|r| r.events).sum()
    }
}

/// Runs one pass at `now` (`dry_run`: report only).
pub async fn enforce(store: &dyn EventStore, settings: &RetentionSettings, now: Timestamp, dry_run: bool) -> Result<PassReport> {
    let mut report = PassReport { dry_run, started_at: now, ..PassReport::default() };
    let mut by_rule: BTreeMap<String, RuleReport> = BTreeMap::new();
    if !settings.is_active() {
        return Ok(report);
    }
    let mut after = None;
    loop {
        let page =
            store.list_streams(&ListStreams { after: after.take(), limit: Some(ListStreams::MAX_LIMIT), ..ListStreams::default() }).await?;
        for summary in page.streams.iter().filter(|s| s.status == StreamStatus::Active) {
            let Some((rule, limits)) = settings.limits_for(&summary.stream_id) else { continue };
            report.streams_examined += 1;
            let expiry = Expiry::new(limits, summary.version, now);
            let Some(Cut { first_kept: cut, events: removed, bytes }) = cut_of(store, settings, &summary.stream_id, expiry).await? else {
                continue;
            };
            if !dry_run {
                let info = store.stream_info(&summary.stream_id).await?;
                let mut metadata = info.metadata;
                metadata.truncate_before = Some(metadata.truncate_before.unwrap_or(0).max(cut));
                store.set_stream_metadata(&summary.stream_id, metadata).await?;
            }
            let entry = by_rule.entry(rule.clone()).or_insert_with(|| RuleReport { rule, ..RuleReport::default() });
            entry.streams += 1;
            entry.events += removed;
            entry.bytes += bytes;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    report.rules = by_rule.into_values().collect();
    Ok(report)
}

/// Where a stream's removable prefix ends.
#[derive(Debug, Default)]
struct Cut {
    /// The first version to keep.
    first_kept: u64,
    /// Visible events before it.
    events: u64,
    /// Their type, data and metadata bytes.
    bytes: u64,
}

/// The cut of `stream`; `None` when nothing goes.
async fn cut_of(store: &dyn EventStore, settings: &RetentionSettings, stream: &StreamId, expiry: Expiry) -> Result<Option<Cut>> {
    let mut cut = Cut { first_kept: 1, ..Cut::default() };
    loop {
        let page = store.read_stream(stream, ReadStream::forward().from(cut.first_kept).limit(PAGE)).await?;
        for event in &page {
            let kept = !settings.keep_tags.is_empty() && event.well_known_metadata().is_ok_and(|m| settings.keeps(&m.tags));
            let candidate = Candidate { version: event.version, recorded_at: event.recorded_at, kept };
            if !expiry.removes(&candidate) {
                cut.first_kept = event.version;
                return Ok((cut.events > 0).then_some(cut));
            }
            cut.events += 1;
            cut.bytes += (event.event_type.len() + event.data.len() + event.metadata.len()) as u64;
            cut.first_kept = event.version + 1;
        }
        if page.len() < PAGE {
            return Ok((cut.events > 0).then_some(cut));
        }
    }
}
