//! The state record of a projection: where it is, how far behind, what
//! last went wrong. Runners append it to the `$projections` stream when
//! their status changes and periodically while running, so any process
//! (`chronicle projections`) can read the latest record per projection.

use crate::{Error, Result};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId, StreamMetadata, Timestamp};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt::Write as _};

/// The stream holding projection state records.
pub const PROJECTIONS_STREAM: &str = "$projections";
/// The event type of a state record.
const RECORD_TYPE: &str = "ProjectionStateRecorded";
/// Records kept in `$projections` (older ones are dropped by retention).
const KEEP_RECORDS: u64 = 10_000;

/// What a projection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionStatus {
    /// Reading history towards the head.
    CatchingUp,
    /// At the head, following new events.
    Live,
    /// A fresh read model is being built beside the live one.
    Rebuilding,
    /// Stopped on request.
    Stopped,
    /// Stopped by an event that kept failing (policy [`OnFailure::Stop`](crate::OnFailure)).
    Failed,
    /// Waiting: its parked store is full (`RunnerOptions::max_parked`); replay parked events to resume.
    Paused,
}

/// One projection's state record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectionState {
    /// The projection's name.
    pub name: String,
    /// What it is doing.
    pub status: ProjectionStatus,
    /// Position of the last event applied.
    pub position: u64,
    /// The store's head when recorded.
    pub head: u64,
    /// Events behind the head (0 once live and idle).
    pub lag_events: u64,
    /// Seconds between the newest event applied and now, while behind; 0 when caught up.
    pub lag_seconds: f64,
    /// Events applied by this runner since it started.
    pub applied: u64,
    /// Events parked (dead-lettered) by this runner since it started.
    pub parked: u64,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When this record was made.
    pub recorded_at: Timestamp,
}

impl ProjectionState {
    /// A fresh record for `name` at `position`.
    pub fn new(name: &str, position: u64) -> Self {
        Self {
            name: name.to_owned(),
            status: ProjectionStatus::CatchingUp,
            position,
            head: position,
            lag_events: 0,
            lag_seconds: 0.0,
            applied: 0,
            parked: 0,
            last_error: None,
            recorded_at: Timestamp::now(),
        }
    }
}

fn stream() -> Result<StreamId> {
    Ok(StreamId::new(PROJECTIONS_STREAM)?)
}

/// Appends `state` to `$projections` (bounding the stream on first use).
pub(crate) async fn record(store: &dyn EventStore, state: &ProjectionState) -> Result<()> {
    let stream = stream()?;
    let event =
        NewEvent::json(RECORD_TYPE, state).map_err(|e| Error::Decode { what: "a projection state".into(), reason: e.to_string() })?;
    let appended = store.append(&stream, ExpectedVersion::Any, vec![event]).await?;
    if appended.first_version == 1 {
        let keep = StreamMetadata { max_count: Some(KEEP_RECORDS), ..StreamMetadata::default() };
        store.set_stream_metadata(&stream, keep).await?;
    }
    Ok(())
}

/// The latest state record of every projection, by name.
pub async fn latest_states(store: &dyn EventStore) -> Result<Vec<ProjectionState>> {
    let records = store.read_stream(&stream()?, ReadStream::backward()).await?;
    let mut latest = BTreeMap::new();
    for e in records.iter().filter(|e| &*e.event_type == RECORD_TYPE) {
        let state: ProjectionState = e
            .data
            .decode()
            .map_err(|err| Error::Decode { what: format!("$projections version {}", e.version), reason: err.to_string() })?;
        latest.entry(state.name.clone()).or_insert(state);
    }
    Ok(latest.into_values().collect())
}

/// A metric: name, help text, value of one state.
type Gauge = (&'static str, &'static str, fn(&ProjectionState) -> f64);

/// Prometheus text for `states` (gauges labelled by projection name).
///
/// ```
/// # use chronicle_toolkit::{ProjectionState, render_prometheus};
/// let text = render_prometheus(&[ProjectionState::new("orders", 7)]);
/// assert!(text.contains("chronicle_projection_position{projection=\"orders\"} 7"));
/// ```
pub fn render_prometheus(states: &[ProjectionState]) -> String {
    let mut out = String::new();
    let gauges: [Gauge; 5] = [
        ("chronicle_projection_position", "Position of the last event applied", |s| s.position as f64),
        ("chronicle_projection_lag_events", "Events behind the head", |s| s.lag_events as f64),
        ("chronicle_projection_lag_seconds", "Age of the newest applied event while behind", |s| s.lag_seconds),
        ("chronicle_projection_parked_total", "Events parked since the runner started", |s| s.parked as f64),
        ("chronicle_projection_live", "1 when following live, 0 otherwise", |s| f64::from(u8::from(s.status == ProjectionStatus::Live))),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for s in states {
            let _ = writeln!(out, "{name}{{projection=\"{}\"}} {}", s.name.replace(['"', '\\', '\n'], "_"), value(s));
        }
    }
    out
}
