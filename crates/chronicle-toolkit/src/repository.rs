//! `Repository`: load aggregates (snapshot + tail, or as of a version or
//! time) and execute commands with optimistic concurrency, bounded retries,
//! metadata propagation and periodic snapshots.

use crate::{Aggregate, CommandContext, CommandMetrics, DomainEvent, Error, Result, Upcasters, decode_event, encode_event};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, RawJson, ReadStream, RecordedEvent, Snapshot, StreamId, Timestamp, Uuid};
use serde_json::json;
use std::{marker::PhantomData, sync::Arc, sync::atomic::Ordering::Relaxed};

/// An aggregate's state and the stream version it reflects (0: new).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<A> {
    /// The folded state.
    pub state: A,
    /// The last version folded in.
    pub version: u64,
}

/// What a successful command did.
#[derive(Clone, Debug)]
pub struct Executed<A: Aggregate> {
    /// The state after the command.
    pub state: A,
    /// The stream version after the command.
    pub version: u64,
    /// The events recorded (empty when the command changed nothing).
    pub events: Vec<A::Event>,
    /// Conflicts retried before success.
    pub retries: u32,
}

/// Loads and saves aggregates of type `A` in any [`EventStore`].
///
/// ```no_run
/// # use chronicle_toolkit::*;
/// # async fn demo<A: Aggregate>(store: std::sync::Arc<dyn chronicle_core::EventStore>, cmd: A::Command) -> Result<()> {
/// let repo = Repository::<A>::new(store).with_snapshot_every(100).with_retries(3);
/// let done = repo.execute("42", cmd, &CommandContext::actor("user", "ann")).await?;
/// println!("now at version {}", done.version);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Repository<A: Aggregate> {
    store: Arc<dyn EventStore>,
    upcasters: Upcasters,
    snapshot_every: u64,
    max_retries: u32,
    metrics: Arc<CommandMetrics>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            upcasters: self.upcasters.clone(),
            snapshot_every: self.snapshot_every,
            max_retries: self.max_retries,
            metrics: self.metrics.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate> Repository<A> {
    /// A repository with snapshots every 100 events and 3 retries.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store, upcasters: Upcasters::new(), snapshot_every: 100, max_retries: 3, metrics: Arc::default(), _aggregate: PhantomData }
    }

    /// Snapshot every `n` events (0: never).
    pub fn with_snapshot_every(mut self, n: u64) -> Self {
        self.snapshot_every = n;
        self
    }

    /// Retry a command this many times on a concurrency conflict.
    pub fn with_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Upcasters applied to every event read.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// Shares a metrics sink.
    pub fn with_metrics(mut self, metrics: Arc<CommandMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The command counters.
    pub fn metrics(&self) -> &Arc<CommandMetrics> {
        &self.metrics
    }

    /// The stream of aggregate `id`: `"{CATEGORY}-{id}"`.
    pub fn stream(&self, id: &str) -> Result<StreamId> {
        Ok(StreamId::new(format!("{}-{id}", A::CATEGORY))?)
    }

    fn fold(&self, loaded: &mut Loaded<A>, event: RecordedEvent) -> Result<()> {
        let event = self.upcasters.upcast_event(event)?;
        let decoded: A::Event = decode_event(&event.event_type, &event.data).map_err(|e| Error::Decode {
            what: format!("{} v{} at position {}", event.event_type, event.version, event.global_position),
            reason: e.to_string(),
        })?;
        loaded.state.apply(&decoded);
        loaded.version = event.version;
        Ok(())
    }

    async fn snapshot_at_most(&self, stream: &StreamId, version: u64) -> Result<Loaded<A>> {
        let snapshot = self.store.load_snapshot(stream).await?;
        let usable = snapshot.filter(|s| s.schema_version == A::SNAPSHOT_VERSION && s.version <= version);
        Ok(match usable.map(|s| (s.version, s.state.decode::<A>())) {
            Some((version, Ok(state))) => Loaded { state, version },
            Some((version, Err(e))) => {
                tracing::warn!(%stream, version, error = %e, "ignoring an undecodable snapshot; replaying the stream");
                Loaded { state: A::default(), version: 0 }
            }
            None => Loaded { state: A::default(), version: 0 },
        })
    }

    async fn load_upto(&self, id: &str, version: u64) -> Result<Loaded<A>> {
        let stream = self.stream(id)?;
        let mut loaded = self.snapshot_at_most(&stream, version).await?;
        if loaded.version < version {
            let limit = usize::try_from(version - loaded.version).unwrap_or(usize::MAX);
            for e in self.store.read_stream(&stream, ReadStream::forward().from(loaded.version + 1).limit(limit)).await? {
                self.fold(&mut loaded, e)?;
            }
        }
        Ok(loaded)
    }

    /// The current state: the latest snapshot plus the events after it.
    pub async fn load(&self, id: &str) -> Result<Loaded<A>> {
        self.load_upto(id, u64::MAX).await
    }

    /// The state as of stream version `version` (a snapshot at or below it is used).
    pub async fn load_at_version(&self, id: &str, version: u64) -> Result<Loaded<A>> {
        self.load_upto(id, version).await
    }

    /// The state as of instant `at`: every event recorded at or before it.
    pub async fn load_at_time(&self, id: &str, at: Timestamp) -> Result<Loaded<A>> {
        let mut loaded = Loaded { state: A::default(), version: 0 };
        for e in self.store.read_stream(&self.stream(id)?, ReadStream::forward()).await? {
            if e.recorded_at > at {
                break;
            }
            self.fold(&mut loaded, e)?;
        }
        Ok(loaded)
    }

    fn new_events(&self, events: &[A::Event], context: &CommandContext, command_id: Uuid) -> Result<Vec<NewEvent>> {
        let correlation = context.correlation_id.clone().unwrap_or_else(|| command_id.to_string());
        let causation = context.causation_id.clone().unwrap_or_else(|| command_id.to_string());
        let metadata = match &context.actor {
            Some(actor) => json!({"correlation_id": correlation, "causation_id": causation, "actor": {"type": actor.kind, "id": actor.id}}),
            None => json!({"correlation_id": correlation, "causation_id": causation}),
        };
        let metadata = RawJson::from_serialize(&metadata).map_err(|e| Error::Decode { what: "metadata".into(), reason: e.to_string() })?;
        events
            .iter()
            .map(|e| {
                let (event_type, data) = encode_event(e)?;
                let version = <A::Event as DomainEvent>::schema_version(&event_type);
                Ok(NewEvent::raw(event_type, data.bytes().clone()).with_schema_version(version).with_metadata_raw(metadata.bytes().clone()))
            })
            .collect()
    }

    /// Loads aggregate `id`, lets it decide `command`, and records the
    /// events with `Exact(version)` (or `NoStream` for a new aggregate).
    /// On a concurrency conflict it reloads and decides again, up to the
    /// configured retries. Writes a snapshot when the new version crosses a
    /// multiple of the snapshot interval.
    pub async fn execute(&self, id: &str, command: A::Command, context: &CommandContext) -> Result<Executed<A>> {
        let stream = self.stream(id)?;
        let command_id = Uuid::now_v7();
        for retries in 0..=self.max_retries {
            let loaded = self.load(id).await?;
            let events = loaded.state.handle(&command, context).map_err(|e| {
                self.metrics.failed.fetch_add(1, Relaxed);
                Error::Domain(Box::new(e))
            })?;
            if events.is_empty() {
                self.metrics.succeeded.fetch_add(1, Relaxed);
                return Ok(Executed { state: loaded.state, version: loaded.version, events, retries });
            }
            let expected = if loaded.version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(loaded.version) };
            match self.store.append(&stream, expected, self.new_events(&events, context, command_id)?).await {
                Ok(result) => {
                    let mut state = loaded.state;
                    events.iter().for_each(|e| state.apply(e));
                    self.metrics.succeeded.fetch_add(1, Relaxed);
                    self.maybe_snapshot(&stream, &state, loaded.version, result.last_version).await;
                    return Ok(Executed { state, version: result.last_version, events, retries });
                }
                Err(chronicle_core::Error::WrongExpectedVersion { .. }) => {
                    self.metrics.conflicts.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    self.metrics.failed.fetch_add(1, Relaxed);
                    return Err(e.into());
                }
            }
        }
        self.metrics.failed.fetch_add(1, Relaxed);
        Err(Error::Conflict { stream: stream.to_string(), retries: self.max_retries })
    }

    async fn maybe_snapshot(&self, stream: &StreamId, state: &A, before: u64, after: u64) {
        let n = self.snapshot_every;
        if n == 0 || after / n == before / n {
            return;
        }
        let snapshot = RawJson::from_serialize(state).map(|state| Snapshot {
            stream_id: stream.clone(),
            version: after,
            schema_version: A::SNAPSHOT_VERSION,
            state,
        });
        // A snapshot is an optimisation: failing to write one never fails the command.
        match snapshot {
            Ok(s) => match self.store.save_snapshot(s).await {
                Ok(()) => {
                    self.metrics.snapshots.fetch_add(1, Relaxed);
                }
                Err(e) => tracing::warn!(%stream, error = %e, "snapshot not saved"),
            },
            Err(e) => tracing::warn!(%stream, error = %e, "state not serializable for a snapshot"),
        }
    }
}
