//! One enforcement pass over a store: for every stream a rule (or the
//! default) binds, find the removable prefix and hide it by raising the
//! stream's `truncate_before` (never lowering it). Every backend then
//! hides those events from every read path at once; reclaiming their
//! space is the backend's maintenance.

use crate::{Candidate, Expiry, Result, RetentionSettings};
use chronicle_core::{EventStore, ListStreams, ReadStream, StreamId, StreamStatus, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Events read per page while looking for a stream's cut.
const PAGE: usize = 1000;

/// What one rule did in a pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReport {
    /// The rule (`default`, `category=…`, `streams=…` or its name).
    pub rule: String,
    /// Streams it cut.
    pub streams: u64,
    /// Events it removed (or would, in a dry run).
    pub events: u64,
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Streams examined (bound by a rule or the default).
    pub streams_examined: u64,
    /// Per rule that removed something, by name.
    pub rules: Vec<RuleReport>,
}

impl PassReport {
    /// Events removed by every rule together.
    pub fn events(&self) -> u64 {
        self.rules.iter().map(|r| r.events).sum()
    }
}

/// Runs one pass at `now` (`dry_run`: report only).
pub async fn enforce(store: &dyn EventStore, settings: &RetentionSettings, now: Timestamp, dry_run: bool) -> Result<PassReport> {
    let mut report = PassReport { dry_run, ..PassReport::default() };
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
            let Some((cut, removed)) = cut_of(store, settings, &summary.stream_id, expiry).await? else { continue };
            if !dry_run {
                let info = store.stream_info(&summary.stream_id).await?;
                let mut metadata = info.metadata;
                metadata.truncate_before = Some(metadata.truncate_before.unwrap_or(0).max(cut));
                store.set_stream_metadata(&summary.stream_id, metadata).await?;
            }
            let entry = by_rule.entry(rule.clone()).or_insert_with(|| RuleReport { rule, ..RuleReport::default() });
            entry.streams += 1;
            entry.events += removed;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    report.rules = by_rule.into_values().collect();
    Ok(report)
}

/// The first version of `stream` to keep and how many visible events go
/// before it; `None` when none does.
async fn cut_of(store: &dyn EventStore, settings: &RetentionSettings, stream: &StreamId, expiry: Expiry) -> Result<Option<(u64, u64)>> {
    let mut from = 1;
    let mut removed = 0;
    loop {
        let page = store.read_stream(stream, ReadStream::forward().from(from).limit(PAGE)).await?;
        for event in &page {
            let kept = !settings.keep_tags.is_empty() && event.well_known_metadata().is_ok_and(|m| settings.keeps(&m.tags));
            let candidate = Candidate { version: event.version, recorded_at: event.recorded_at, kept };
            if !expiry.removes(&candidate) {
                return Ok((removed > 0).then_some((event.version, removed)));
            }
            removed += 1;
            from = event.version + 1;
        }
        if page.len() < PAGE {
            return Ok((removed > 0).then_some((from, removed)));
        }
    }
}
