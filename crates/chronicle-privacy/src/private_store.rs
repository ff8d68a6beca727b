//! [`PrivateStore`]: any store, read by one caller — every read path
//! (`read_stream`, `read_all`, `get_event`, correlation look-ups,
//! subscriptions, snapshots) reveals encrypted fields by the caller's
//! [`Clearance`]. Snapshots of a stream that holds encrypted events are
//! stored sealed under the keys of every subject in it, so forgetting any
//! of them erases the snapshot too. Exports pass through as stored
//! (ciphertext: backups never hold plaintext or keys).

use crate::{Clearance, Keyring, Revealer, envelope};
use chronicle_core::{
    AppendContext, AppendRequest, AppendResult, DeleteMode, EventPage, EventStore, ExpectedVersion, ExportRange, Filter, Health,
    ListStreams, LogItem, LogReader, RawJson, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId, StreamInfo,
    StreamMetadata, StreamPage, SubscribeFrom, Subscription, Uuid, async_trait,
};
use serde_json::Value;
use std::{collections::BTreeSet, sync::Arc};

/// A store whose reads reveal encrypted fields to one caller.
#[derive(Debug, Clone)]
pub struct PrivateStore {
    inner: Arc<dyn EventStore>,
    revealer: Revealer,
}

impl PrivateStore {
    /// `inner` (which stores sealed fields), read by `who` with `clearance`.
    pub fn new(inner: Arc<dyn EventStore>, keyring: Arc<Keyring>, clearance: Clearance, who: &str) -> Self {
        Self { inner, revealer: Revealer::new(keyring, clearance, who) }
    }

    /// Also clears the streams where `principal`'s grants allow `pii`.
    pub fn with_grants(mut self, principal: &chronicle_core::Principal) -> Self {
        self.revealer = self.revealer.with_grants(principal);
        self
    }

    /// The store underneath (reads give sealed fields).
    pub fn sealed(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    fn keyring(&self) -> &Arc<Keyring> {
        self.revealer.keyring()
    }

    /// The subjects whose keys sealed something in `stream` up to `version`.
    async fn subjects_of(&self, stream: &StreamId, version: u64) -> Result<BTreeSet<String>> {
        if version == 0 {
            return Ok(BTreeSet::new());
        }
        let events = self.inner.read_stream(stream, ReadStream { limit: Some(version as usize), ..ReadStream::forward() }).await?;
        let values: Vec<Value> = events
            .iter()
            .flat_map(|e| [&e.data, &e.metadata])
            .filter(|raw| envelope::may_contain(raw.as_bytes()))
            .filter_map(|raw| raw.to_value().ok())
            .collect();
        let mut kids = Vec::new();
        values.iter().for_each(|v| envelope::kids(v, &mut kids));
        let slots = self.keyring().resolve(&kids).await?;
        Ok(slots.into_iter().filter_map(|s| s.subject().map(str::to_owned)).collect())
    }

    /// `state` sealed under each subject's current key in turn.
    async fn seal_state(&self, state: &RawJson, subjects: BTreeSet<String>) -> Result<RawJson> {
        let subjects: Vec<String> = subjects.into_iter().collect();
        let keys = self.keyring().keys_for(&subjects, self.revealer.who()).await?;
        let mut value = state.to_value().map_err(|e| chronicle_core::Error::invalid("state", e.to_string()))?;
        for subject in &subjects {
            if let Some(key) = keys.get(subject) {
                value = key.seal(&value)?;
            }
        }
        RawJson::from_serialize(&value).map_err(|e| chronicle_core::Error::invalid("state", e.to_string()))
    }

    /// A snapshot's state opened layer by layer.
    async fn reveal_state(&self, mut snapshot: Snapshot) -> Result<Snapshot> {
        if !envelope::may_contain(snapshot.state.as_bytes()) {
            return Ok(snapshot);
        }
        let bad = |e: serde_json::Error| chronicle_core::Error::invalid("state", e.to_string());
        let mut value = snapshot.state.to_value().map_err(bad)?;
        let mut layers = 0;
        while envelope::parse(&value).is_some() && layers < 64 {
            value = self.revealer.value(&snapshot.stream_id, value).await?;
            layers += 1;
        }
        if layers > 0 {
            snapshot.state = RawJson::from_serialize(&value).map_err(bad)?;
        }
        Ok(snapshot)
    }
}

#[async_trait]
impl EventStore for PrivateStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        self.inner.append_with(context, request).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        self.revealer.events(self.inner.read_stream(stream, options).await?).await
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        let mut page = self.inner.read_all(read).await?;
        page.events = self.revealer.events(std::mem::take(&mut page.events)).await?;
        Ok(page)
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        match self.inner.get_event(event_id).await? {
            Some(e) => Ok(Some(self.revealer.event(e).await?)),
            None => Ok(None),
        }
    }

    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        self.revealer.events(self.inner.read_by_correlation(id).await?).await
    }

    async fn head(&self) -> Result<u64> {
        self.inner.head().await
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let revealer = self.revealer.clone();
        Ok(self.inner.subscribe(from, filter).await?.then(move |e| {
            let revealer = revealer.clone();
            async move { revealer.event(e).await }
        }))
    }

    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        self.inner.list_streams(query).await
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        self.inner.stream_info(stream).await
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        self.inner.set_stream_metadata(stream, metadata).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        self.inner.delete_stream(stream, expected, mode).await
    }

    async fn save_snapshot(&self, mut snapshot: Snapshot) -> Result<()> {
        let subjects = self.subjects_of(&snapshot.stream_id, snapshot.version).await?;
        if !subjects.is_empty() {
            snapshot.state = self.seal_state(&snapshot.state, subjects).await?;
        }
        self.inner.save_snapshot(snapshot).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        match self.inner.load_snapshot(stream).await? {
            Some(s) => Ok(Some(self.reveal_state(s).await?)),
            None => Ok(None),
        }
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        self.inner.save_checkpoint(consumer, position).await
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        self.inner.load_checkpoint(consumer).await
    }

    async fn health(&self) -> Health {
        self.inner.health().await
    }

    async fn metrics(&self) -> StoreMetrics {
        self.inner.metrics().await
    }

    async fn export_log(&self, range: ExportRange) -> Result<LogReader> {
        self.inner.export_log(range).await
    }

    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        self.inner.import_log(items).await
    }
}
