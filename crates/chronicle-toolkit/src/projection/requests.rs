//! Operator requests to a running projection: `chronicle projections
//! rebuild NAME` and `chronicle projections replay-parked NAME` append a
//! request to the stream `$projection-requests-{NAME}`; the
//! [`ProjectionRunner`](super::ProjectionRunner) running NAME (in whichever
//! process) picks it up within a second, carries it out and appends a
//! `projection.request_done` record naming the request's version and what
//! came of it. A request made while no runner runs is carried out at the
//! next start. The projection's code never leaves its process: the
//! request travels through the store every process shares.

use super::{Projection, parked};
use crate::{Error, Result};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Event type of a rebuild request.
pub const REBUILD: &str = "projection.rebuild_requested";
/// Event type of a replay-parked request.
pub const REPLAY_PARKED: &str = "projection.replay_parked_requested";
/// Event type of a runner's answer.
pub const DONE: &str = "projection.request_done";

/// What an operator asks of a running projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Empty the read model ([`Projection::reset`](super::Projection::reset))
    /// and replay the log into it from position 1, in place (status
    /// `rebuilding` meanwhile).
    Rebuild,
    /// Apply the open parked events again ([`parked::replay`](super::parked::replay)).
    ReplayParked,
}

impl Request {
    fn event_type(self) -> &'static str {
        match self {
            Self::Rebuild => REBUILD,
            Self::ReplayParked => REPLAY_PARKED,
        }
    }
}

/// A runner's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// The request's version in the request stream.
    pub request: u64,
    /// What came of it, for people.
    pub outcome: String,
}

/// The request stream of `projection`.
pub fn stream_of(projection: &str) -> Result<StreamId> {
    Ok(StreamId::new(format!("$projection-requests-{projection}"))?)
}

/// Asks the runner of `projection` for `request`; returns the request's
/// version (to wait for its answer with [`wait_done`]).
pub async fn request(store: &dyn EventStore, projection: &str, request: Request) -> Result<u64> {
    let event = NewEvent::json(request.event_type(), &serde_json::json!({ "projection": projection }))
        .map_err(|e| Error::Decode { what: "a projection request".into(), reason: e.to_string() })?;
    Ok(store.append(&stream_of(projection)?, ExpectedVersion::Any, vec![event]).await?.last_version)
}

/// Waits (at most `limit`) for the answer to request `version`; `None`
/// when none came in time (no runner of `projection` is running).
pub async fn wait_done(store: &dyn EventStore, projection: &str, version: u64, limit: Duration) -> Result<Option<Done>> {
    let stream = stream_of(projection)?;
    let deadline = Instant::now() + limit;
    let mut from = version + 1;
    loop {
        for event in store.read_stream(&stream, ReadStream::forward().from(from).limit(100)).await? {
            from = event.version + 1;
            if &*event.event_type == DONE
                && let Ok(done) = serde_json::from_slice::<Done>(event.data.as_bytes())
                && done.request == version
            {
                return Ok(Some(done));
            }
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A runner's view of its request stream: what is asked and not answered.
#[derive(Debug)]
pub(crate) struct Inbox {
    stream: StreamId,
    next: u64,
    pending: Vec<(u64, Request)>,
}

impl Inbox {
    pub(crate) fn new(projection: &str) -> Result<Self> {
        Ok(Self { stream: stream_of(projection)?, next: 1, pending: Vec::new() })
    }

    /// Reads what is new; returns the unanswered requests, oldest first.
    pub(crate) async fn poll(&mut self, store: &dyn EventStore) -> Result<Vec<(u64, Request)>> {
        loop {
            let page = store.read_stream(&self.stream, ReadStream::forward().from(self.next).limit(100)).await?;
            for event in &page {
                self.next = event.version + 1;
                match &*event.event_type {
                    REBUILD => self.pending.push((event.version, Request::Rebuild)),
                    REPLAY_PARKED => self.pending.push((event.version, Request::ReplayParked)),
                    DONE => {
                        if let Ok(done) = serde_json::from_slice::<Done>(event.data.as_bytes()) {
                            self.pending.retain(|(v, _)| *v != done.request);
                        }
                    }
                    _ => {}
                }
            }
            if page.len() < 100 {
                return Ok(self.pending.clone());
            }
        }
    }

    /// Carries out the pending replays for `projection`; returns the
    /// rebuild to carry out, if one is asked (others pending at once are
    /// answered as folded into it; `current`, under way, is left alone),
    /// and how many parked events were applied.
    pub(crate) async fn serve(
        &mut self,
        store: &dyn EventStore,
        projection: &dyn Projection,
        current: Option<u64>,
    ) -> Result<(Option<u64>, u64)> {
        let (mut rebuild, mut replayed) = (None, 0);
        for (version, request) in self.poll(store).await? {
            match request {
                _ if Some(version) == current => {}
                Request::ReplayParked => {
                    let report = parked::replay(store, projection).await?;
                    replayed += report.replayed.len() as u64;
                    let outcome = format!("replayed {} parked event(s); {} failed again", report.replayed.len(), report.failed.len());
                    self.done(store, version, outcome).await?;
                }
                Request::Rebuild => match rebuild.or(current) {
                    Some(into) => self.done(store, version, format!("folded into rebuild request {into}")).await?,
                    None => rebuild = Some(version),
                },
            }
        }
        Ok((rebuild, replayed))
    }

    /// Answers request `version`.
    pub(crate) async fn done(&mut self, store: &dyn EventStore, version: u64, outcome: String) -> Result<()> {
        let done = Done { request: version, outcome };
        let event = NewEvent::json(DONE, &done).map_err(|e| Error::Decode { what: "a request answer".into(), reason: e.to_string() })?;
        store.append(&self.stream, ExpectedVersion::Any, vec![event]).await?;
        self.pending.retain(|(v, _)| *v != version);
        Ok(())
    }
}
