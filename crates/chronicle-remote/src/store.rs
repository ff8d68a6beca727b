//! The trait, route by route.

use crate::{RemoteStore, unavailable, wire};
use chronicle_core::{
    AppendContext, AppendRequest, AppendResult, Committed, DeleteMode, Direction, Error, EventPage, EventStore, ExpectedVersion, Filter,
    Health, PreparedAppend, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId, StreamInfo, StreamMetadata,
    SubscribeFrom, Subscription, Uuid, async_trait,
};
use chronicle_wire::{AppendBody, CheckpointBody, ConditionBody, NewEventBody, Object, SnapshotBody, StreamAppendBody};
use reqwest::Method;
use serde::de::DeserializeOwned;

fn json<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| unavailable(&format!("unexpected answer from the server ({what})"), e))
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Forward => "forward",
        Direction::Backward => "backward",
    }
}

impl RemoteStore {
    /// The commit step: `POST /append` with the validated events (the
    /// server runs its own pipeline again, with the caller's token as the
    /// principal); the committed events are read back when an after-store
    /// hook wants them (an atomic append's positions are consecutive).
    async fn post_append(&self, prepared: PreparedAppend, want_events: bool) -> Result<Committed> {
        let streams = prepared
            .streams
            .iter()
            .map(|p| {
                Object(StreamAppendBody {
                    stream_id: p.stream.to_string(),
                    expected_version: serde_json::to_value(p.expected).ok(),
                    events: p.events.iter().map(|e| Object(NewEventBody::from(e))).collect(),
                })
            })
            .collect();
        let condition = prepared.condition.as_ref().map(|c| Object(ConditionBody::from(c)));
        let body = serde_json::to_vec(&AppendBody { streams, condition }).map_err(|e| Error::invalid("events", e.to_string()))?;
        let context = prepared.streams.first().map(|p| &p.stream);
        let post = self.request(Method::POST, &["append"]).header("content-type", "application/json").body(body);
        let (_, answer) = self.send(post, context).await.inspect_err(|e| {
            if !matches!(e, Error::WrongExpectedVersion { .. } | Error::AppendConditionFailed { .. }) {
                self.refused_by_server.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })?;
        let results: Vec<AppendResult> = json("append results", &answer)?;
        let first = results.iter().map(|r| r.first_position).min().unwrap_or(0);
        let events = if want_events && first > 0 {
            let page = self.read_all(&ReadAll::forward().from(first).limit(prepared.event_count())).await?;
            let ids: std::collections::HashSet<Uuid> = prepared.streams.iter().flat_map(|p| p.events.iter().map(|e| e.event_id)).collect();
            page.events.into_iter().filter(|e| ids.contains(&e.event_id)).collect()
        } else {
            Vec::new()
        };
        // The server does not say whether this was a retry of an append it
        // already stored: a local after-store hook sees such events again
        // (at least once); the server's own hooks see them exactly once.
        Ok(Committed { results, idempotent: false, events })
    }

    /// Appends this client's pipeline refused (they never reached the server).
    fn refused_locally(&self) -> u64 {
        let refused = self.metrics.snapshot(0).append_rejections;
        refused.saturating_sub(self.refused_by_server.load(std::sync::atomic::Ordering::Relaxed))
    }
}

#[async_trait]
impl EventStore for RemoteStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        self.pipeline.run(context, request, &self.metrics, |prepared, want_events| self.post_append(prepared, want_events)).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        let mut query = vec![("direction", direction(options.direction).to_owned())];
        if let Some(from) = options.from {
            query.push(("from", from.to_string()));
        }
        if let Some(limit) = options.limit {
            query.push(("limit", limit.to_string()));
        }
        let get = self.read_request(&["streams", stream.as_str()]).query(&query);
        let (_, body) = self.send(get, Some(stream)).await?;
        wire::events(&body)
    }

    async fn read_all(&self, read: &ReadAll) -> Result<EventPage> {
        let mut query = wire::filter_query(&read.filter);
        query.push(("direction", direction(read.direction).to_owned()));
        if let Some(from) = read.from {
            query.push(("from", from.to_string()));
        }
        if let Some(limit) = read.limit {
            query.push(("limit", limit.to_string()));
        }
        let (_, body) = self.send(self.read_request(&["events"]).query(&query), None).await?;
        wire::page(&body)
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        let body = self.send_optional(self.read_request(&["events", &event_id.to_string()])).await?;
        body.map(|b| wire::event(&b)).transpose()
    }

    async fn read_by_correlation(&self, id: &str) -> Result<Vec<RecordedEvent>> {
        let (_, body) = self.send(self.read_request(&["correlations", id]), None).await?;
        wire::events(&body)
    }

    async fn head(&self) -> Result<u64> {
        Ok(self.read_all(&ReadAll::backward().limit(1)).await?.head)
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        crate::subscribe::open(self, from, filter).await
    }

    async fn list_streams(&self, query: &chronicle_core::ListStreams) -> Result<chronicle_core::StreamPage> {
        query.page_size()?;
        let mut params: Vec<(&str, String)> = Vec::new();
        for (name, value) in [("prefix", &query.prefix), ("category", &query.category), ("after", &query.after)] {
            if let Some(v) = value {
                params.push((name, v.clone()));
            }
        }
        if let Some(limit) = query.limit {
            params.push(("limit", limit.to_string()));
        }
        let (_, body) = self.send(self.request(Method::GET, &["streams"]).query(&params), None).await?;
        json("stream page", &body)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        let (_, body) = self.send(self.request(Method::GET, &["streams", stream.as_str(), "info"]), Some(stream)).await?;
        json("stream info", &body)
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        let put = self.request(Method::PUT, &["streams", stream.as_str(), "metadata"]).json(&metadata);
        self.send(put, Some(stream)).await.map(|_| ())
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        let mode = serde_json::to_value(mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "soft".into());
        let query = [("expected_version", wire::expected(expected)), ("mode", mode)];
        let delete = self.request(Method::DELETE, &["streams", stream.as_str()]).query(&query);
        self.send(delete, Some(stream)).await.map(|_| ())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        let body = SnapshotBody { version: snapshot.version, schema_version: Some(snapshot.schema_version), state: snapshot.state };
        let put = self.request(Method::PUT, &["streams", snapshot.stream_id.as_str(), "snapshot"]).json(&body);
        self.send(put, Some(&snapshot.stream_id)).await.map(|_| ())
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        let body = self.send_optional(self.request(Method::GET, &["streams", stream.as_str(), "snapshot"])).await?;
        body.map(|b| json("snapshot", &b)).transpose()
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        chronicle_core::validate_consumer_name(consumer)?;
        let put = self.request(Method::PUT, &["checkpoints", consumer]).json(&CheckpointBody { position });
        self.send(put, None).await.map(|_| ())
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        chronicle_core::validate_consumer_name(consumer)?;
        let body = self.send_optional(self.request(Method::GET, &["checkpoints", consumer])).await?;
        body.map(|b| {
            json::<serde_json::Value>("checkpoint", &b).map(|v| v.get("position").and_then(serde_json::Value::as_u64).unwrap_or(0))
        })
        .transpose()
    }

    async fn health(&self) -> Health {
        let answer = async {
            let response = self.request(Method::GET, &["health", "ready"]).send().await.map_err(|e| e.to_string())?;
            let v: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(Health {
                live: v.get("live").and_then(serde_json::Value::as_bool).unwrap_or(false),
                ready: v.get("ready").and_then(serde_json::Value::as_bool).unwrap_or(false),
                detail: format!("remote {}: {}", self.base, v.get("detail").and_then(serde_json::Value::as_str).unwrap_or_default()),
            })
        };
        answer.await.unwrap_or_else(|e| Health { live: false, ready: false, detail: format!("remote {} unreachable: {e}", self.base) })
    }

    async fn export_log(&self, range: chronicle_core::ExportRange) -> Result<chronicle_core::LogReader> {
        self.export(range).await
    }

    async fn import_log(&self, items: Vec<chronicle_core::LogItem>) -> Result<()> {
        self.import(items).await
    }

    async fn metrics(&self) -> StoreMetrics {
        let text = match self.request(Method::GET, &["metrics"]).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        StoreMetrics {
            appends: value("chronicle_appends_total"),
            events_appended: value("chronicle_events_appended_total"),
            idempotent_appends: value("chronicle_idempotent_appends_total"),
            append_conflicts: value("chronicle_append_conflicts_total"),
            // Plus what this client's pipeline refused before sending.
            append_rejections: value("chronicle_append_rejections_total") + self.refused_locally(),
            reads: value("chronicle_reads_total"),
            events_read: value("chronicle_events_read_total"),
            active_subscriptions: value("chronicle_subscriptions"),
            head_position: value("chronicle_head_position"),
        }
    }
}
